package stix

import (
	"errors"
	"strings"
	"testing"
)

// obj builds an object from a base and property overrides ("-name" removes).
func obj(t *testing.T, base string, props ...string) *Object {
	t.Helper()
	o, err := ParseObject([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range props {
		name, val, _ := strings.Cut(p, "=")
		if rest, ok := strings.CutPrefix(name, "-"); ok {
			if err := o.Delete(rest); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := o.Set(name, rawJSON(val)); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

const (
	sighting1 = `{"type":"sighting","spec_version":"2.1","id":"sighting--ee20065d-2555-424f-ad9e-0f8428623c75","created":"2016-04-06T20:08:31.000Z","modified":"2016-04-06T20:08:31.000Z","sighting_of_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","first_seen":"2016-04-06T20:00:00Z","last_seen":"2016-04-06T21:00:00Z","count":2,"where_sighted_refs":["identity--b67d30ff-02ac-498a-92f9-32f845f448cf"]}`
	rel1      = `{"type":"relationship","spec_version":"2.1","id":"relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad","created":"2016-04-06T20:06:37.000Z","modified":"2016-04-06T20:06:37.000Z","relationship_type":"indicates","source_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","target_ref":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"}`
	scoIPv4   = `{"type":"ipv4-addr","id":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"198.51.100.3"}`
	mdStmt    = `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da","created":"2017-01-20T00:00:00.000Z","definition_type":"statement","definition":{"statement":"x"}}`
)

func TestValidateGood(t *testing.T) {
	for _, s := range []string{ind1, ind2, sighting1, rel1, scoIPv4, mdStmt, tlpObjects[TLPAmber].json} {
		o := obj(t, s)
		if err := Validate(o); err != nil {
			t.Errorf("%s: %v", o.ID(), err)
		}
	}
	// A custom object gets the common rules only.
	o := obj(t, `{"type":"x-mitre-tactic","id":"x-mitre-tactic--2d9f6b0e-3c2b-4a4b-9d6e-2b1f5a3c7d8e","x_mitre_shortname":"a"}`)
	if err := Validate(o); err != nil {
		t.Errorf("custom object: %v", err)
	}
}

func TestValidateRules(t *testing.T) {
	cases := []struct {
		base  string
		props []string
		code  Code
		prop  string
	}{
		{ind1, []string{`id="indicator--8e2e2d2b"`}, CodeBadID, "id"},
		{ind1, []string{`id="malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"`}, CodeBadID, "id"},
		{ind1, []string{`-id`}, CodeMissing, "id"},
		{ind1, []string{`type="Indicator"`, `id="Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"`}, CodeBadType, "type"},
		{ind1, []string{`-spec_version`}, CodeMissing, "spec_version"},
		{ind1, []string{`spec_version="2.0"`}, CodeSpecVersion, "spec_version"},
		{scoIPv4, []string{`spec_version="2.0"`}, CodeSpecVersion, "spec_version"},
		{ind1, []string{`-created`}, CodeMissing, "created"},
		{ind1, []string{`created="2016-04-06T20:03:48Z"`}, CodeBadTimestamp, "created"},
		{ind1, []string{`modified="2016-04-06T20:03:48.1Z"`}, CodeBadTimestamp, "modified"},
		{ind1, []string{`created="2016-04-06T20:03:48.000+00:00"`}, CodeBadTimestamp, "created"},
		{ind1, []string{`created="2016-04-06 20:03:48.000Z"`}, CodeBadTimestamp, "created"},
		{ind1, []string{`created="2016-02-30T20:03:48.000Z"`}, CodeBadTimestamp, "created"},
		{ind1, []string{`modified="2016-04-06T20:03:47.999Z"`}, CodeBadOrder, "modified"},
		{ind1, []string{`confidence=101`}, CodeOutOfRange, "confidence"},
		{ind1, []string{`confidence=-1`}, CodeOutOfRange, "confidence"},
		{ind1, []string{`confidence="high"`}, CodeBadValue, "confidence"},
		{ind1, []string{`revoked="yes"`}, CodeBadValue, "revoked"},
		{ind1, []string{`labels="x"`}, CodeBadValue, "labels"},
		{ind1, []string{`created_by_ref="malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"`}, CodeBadID, "created_by_ref"},
		{ind1, []string{`object_marking_refs=["identity--31b940d4-6f7f-459a-80ea-9c1f17b5891b"]`}, CodeBadID, "object_marking_refs.0"},
		{ind1, []string{`granular_markings=[{"selectors":["name"]}]`}, CodeBadValue, "granular_markings.0"},
		{ind1, []string{`granular_markings=[{"selectors":["name"],"lang":"en","marking_ref":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"}]`}, CodeBadValue, "granular_markings.0"},
		{ind1, []string{`granular_markings=[{"selectors":[],"lang":"en"}]`}, CodeMissing, "granular_markings.0.selectors"},
		{ind1, []string{`-pattern`}, CodeMissing, "pattern"},
		{ind1, []string{`-pattern_type`}, CodeMissing, "pattern_type"},
		{ind1, []string{`-valid_from`}, CodeMissing, "valid_from"},
		{ind1, []string{`valid_until="2016-01-01T00:00:00Z"`}, CodeBadOrder, "valid_until"},
		{ind1, []string{`valid_until="2015-01-01T00:00:00Z"`}, CodeBadOrder, "valid_until"},
		{ind1, []string{`valid_from="yesterday"`}, CodeBadTimestamp, "valid_from"},
		{ind1, []string{`pattern="[ipv4-addr:value = '1.2.3.4'"`}, CodeBadPattern, "pattern"},
		{sighting1, []string{`-sighting_of_ref`}, CodeMissing, "sighting_of_ref"},
		{sighting1, []string{`sighting_of_ref="ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"`}, CodeBadID, "sighting_of_ref"},
		{sighting1, []string{`sighting_of_ref="relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad"`}, CodeBadID, "sighting_of_ref"},
		{sighting1, []string{`count=1000000000`}, CodeOutOfRange, "count"},
		{sighting1, []string{`count=-1`}, CodeOutOfRange, "count"},
		{sighting1, []string{`last_seen="2016-04-06T19:00:00Z"`}, CodeBadOrder, "last_seen"},
		{sighting1, []string{`where_sighted_refs=["malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"]`}, CodeBadID, "where_sighted_refs.0"},
		{sighting1, []string{`observed_data_refs=["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]`}, CodeBadID, "observed_data_refs.0"},
		{rel1, []string{`-source_ref`}, CodeMissing, "source_ref"},
		{rel1, []string{`-target_ref`}, CodeMissing, "target_ref"},
		{rel1, []string{`-relationship_type`}, CodeMissing, "relationship_type"},
		{rel1, []string{`target_ref="nonsense"`}, CodeBadID, "target_ref"},
		{rel1, []string{`start_time="2020-01-01T00:00:00Z"`, `stop_time="2020-01-01T00:00:00Z"`}, CodeBadOrder, "stop_time"},
		{mdStmt, []string{`modified="2017-01-20T00:00:00.000Z"`}, CodeNotAllowed, "modified"},
		{mdStmt, []string{`-created`}, CodeMissing, "created"},
		{mdStmt, []string{`-definition`}, CodeMissing, "definition"},
		{scoIPv4, []string{`id="ipv6-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"`}, CodeBadID, "id"},
		{`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","spec_version":"2.1"}`, nil, CodeNotAllowed, "spec_version"},
	}
	for _, c := range cases {
		o := obj(t, c.base, c.props...)
		err := Validate(o)
		var es Errors
		if !errors.As(err, &es) {
			t.Errorf("%s %v: no error", o.Type(), c.props)
			continue
		}
		found := false
		for _, e := range es {
			found = found || e.Code == c.code && e.Property == c.prop
		}
		if !found {
			t.Errorf("%s %v: %v; want %s on %q", o.Type(), c.props, err, c.code, c.prop)
		}
	}
}

func TestSchemas(t *testing.T) {
	s := NewSchemas()
	for _, src := range []string{ind1, ind2, sighting1, rel1, scoIPv4, mdStmt, tlpObjects[TLPRed].json} {
		if err := s.Validate(obj(t, src)); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
	cases := []struct {
		base  string
		props []string
	}{
		{ind1, []string{`-pattern`}},
		{ind1, []string{`name=5`}},
		{ind1, []string{`indicator_types="malicious-activity"`}},
		{rel1, []string{`relationship_type="Not Valid"`}},
		{scoIPv4, []string{`value=["1.2.3.4"]`}},
		{`{"type":"email-addr","id":"email-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"not an address"}`, nil},
	}
	for _, c := range cases {
		err := s.Validate(obj(t, c.base, c.props...))
		var es Errors
		if !errors.As(err, &es) || es[0].Code != CodeSchema {
			t.Errorf("%s %v: %v, want schema errors", c.base[:30], c.props, err)
		}
	}
	// Custom types have no schema.
	if err := s.Validate(obj(t, `{"type":"x-foo","id":"x-foo--2d9f6b0e-3c2b-4a4b-9d6e-2b1f5a3c7d8e","a":1}`)); err != nil {
		t.Errorf("custom type: %v", err)
	}
	// Every type the specification defines has an embedded schema that compiles.
	for typ := range specTypes {
		if sch, err := s.schema(typ); err != nil || sch == nil {
			t.Errorf("schema of %s: %v", typ, err)
		}
	}
}

// TestRequiredByType: each type's own required properties (from the
// official schemas) are checked without running the schemas.
func TestRequiredByType(t *testing.T) {
	for _, c := range []struct{ obj, missing string }{
		{`{"type":"malware","spec_version":"2.1","id":"malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"x"}`, "is_family"},
		{`{"type":"report","spec_version":"2.1","id":"report--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"x","object_refs":["malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061"]}`, "published"},
		{`{"type":"identity","spec_version":"2.1","id":"identity--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z"}`, "name"},
		{`{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--0c7b5b88-8ff7-5a4d-aa9d-feb398cd0061"}`, "value"},
	} {
		o, err := ParseObject([]byte(c.obj))
		if err != nil {
			t.Fatal(err)
		}
		err = Validate(o)
		if err == nil || !strings.Contains(err.Error(), c.missing) {
			t.Errorf("%s without %s: %v", o.Type(), c.missing, err)
		}
	}
}
