package stix

import "time"

// Version identifies one version of an object (§3.6): its id and its
// modified timestamp, or created for objects that have no modified
// (marking-definitions, which cannot be versioned). TAXII's "version" of
// an object is the same timestamp.
type Version struct {
	ID   string
	Time time.Time
}

// Key is a string form of the version for maps and indexes.
func (v Version) Key() string {
	return v.ID + "|" + v.Time.UTC().Format(time.RFC3339Nano)
}

// Version returns the object's version. SCOs are not versioned, and an
// object without a valid modified or created has no version: both give
// false.
func (o *Object) Version() (Version, bool) {
	if o.Class() == ClassSCO {
		return Version{}, false
	}
	t, ok := o.Time("modified")
	if !ok && !o.Has("modified") {
		t, ok = o.Time("created")
	}
	if !ok {
		return Version{}, false
	}
	return Version{ID: o.id, Time: t}, true
}

// CompareVersions orders two versions of one object by their timestamps:
// negative if a is older, positive if newer, 0 if the same version. An
// object without a version sorts before one with.
func CompareVersions(a, b *Object) int {
	va, okA := a.Version()
	vb, okB := b.Version()
	switch {
	case !okA && !okB:
		return 0
	case !okA:
		return -1
	case !okB:
		return 1
	}
	return va.Time.Compare(vb.Time)
}

// CheckNewVersion checks that next may follow prev as a new version of the
// same object (§3.6): same id, type, created and creator; a later modified;
// prev not revoked (revocation is final); and neither an SCO nor a
// marking-definition, which are never versioned.
func CheckNewVersion(prev, next *Object) error {
	var es Errors
	add := func(code Code, prop, msg string) { es = append(es, newError(code, prop, msg)) }
	if prev.id != next.id {
		add(CodeBadID, "id", "a new version keeps the id")
	}
	switch {
	case prev.Class() == ClassSCO:
		add(CodeNotAllowed, "", "cyber-observables are not versioned")
	case prev.typ == "marking-definition":
		add(CodeNotAllowed, "", "marking definitions cannot be versioned")
	case prev.Revoked():
		add(CodeNotAllowed, "revoked", "a revoked object has no later versions")
	}
	if prev.String("created") != next.String("created") {
		add(CodeBadValue, "created", "a new version keeps created")
	}
	if prev.CreatedByRef() != next.CreatedByRef() {
		add(CodeBadValue, "created_by_ref", "only the creator makes new versions")
	}
	if CompareVersions(next, prev) <= 0 {
		add(CodeBadOrder, "modified", "not later than the previous version's")
	}
	return es.err()
}
