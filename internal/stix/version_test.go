package stix

import (
	"errors"
	"testing"
)

func TestVersions(t *testing.T) {
	v1 := obj(t, ind1)
	v2 := obj(t, ind1, `modified="2016-05-01T00:00:00.000Z"`)
	if CompareVersions(v1, v2) >= 0 || CompareVersions(v2, v1) <= 0 || CompareVersions(v1, v1) != 0 {
		t.Error("CompareVersions orders by modified")
	}
	a, _ := v1.Version()
	b, ok := v2.Version()
	if !ok || a.Key() == b.Key() || b.ID != v1.ID() {
		t.Errorf("versions %v %v", a, b)
	}
	if _, ok := obj(t, scoIPv4).Version(); ok {
		t.Error("SCOs are not versioned")
	}
	md, ok := obj(t, mdStmt).Version()
	if !ok || md.Time.IsZero() {
		t.Error("a marking-definition's version is its created")
	}
	if err := CheckNewVersion(v1, v2); err != nil {
		t.Errorf("a later modified is a new version: %v", err)
	}
	bad := []struct {
		prev, next *Object
		code       Code
	}{
		{v2, v1, CodeBadOrder},
		{v1, v1, CodeBadOrder},
		{obj(t, ind1, `revoked=true`), v2, CodeNotAllowed},
		{v1, obj(t, ind2, `modified="2016-05-01T00:00:00.000Z"`), CodeBadID},
		{v1, obj(t, ind1, `modified="2016-05-01T00:00:00.000Z"`, `created_by_ref="identity--b67d30ff-02ac-498a-92f9-32f845f448cf"`), CodeBadValue},
		{obj(t, mdStmt), obj(t, mdStmt), CodeNotAllowed},
		{obj(t, scoIPv4), obj(t, scoIPv4), CodeNotAllowed},
	}
	for i, c := range bad {
		var es Errors
		if err := CheckNewVersion(c.prev, c.next); !errors.As(err, &es) {
			t.Errorf("case %d: no error", i)
			continue
		}
		found := false
		for _, e := range es {
			found = found || e.Code == c.code
		}
		if !found {
			t.Errorf("case %d: %v, want %s", i, es, c.code)
		}
	}
}
