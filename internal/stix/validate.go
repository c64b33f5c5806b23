package stix

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// Validate checks the rules of STIX 2.1 that matter for exchange and that
// the JSON schemas cannot express (STANDARDS.md §2.1–2.8): the id's form and
// that its prefix is the type; spec_version; timestamps in RFC 3339 UTC
// with "Z", created and modified to the millisecond, modified not before
// created; confidence 0–100; references of the right types; an indicator's
// pattern, pattern_type and validity window, and that a "stix" pattern
// parses; a sighting's sighting_of_ref, count and seen times; a
// relationship's refs and type; a marking-definition without modified.
// Types the specification does not define get the common rules only.
//
// It returns nil or Errors, each naming the property at fault. It does not
// run the JSON schemas: see Schemas.
func Validate(o *Object) error {
	c := checker{o: o}
	c.common()
	c.required()
	switch o.typ {
	case "indicator":
		c.indicator()
	case "sighting":
		c.sighting()
	case "relationship":
		c.relationship()
	case "observed-data":
		c.window("first_observed", "last_observed", false)
		c.intRange("number_observed", 1, 999_999_999)
	case "marking-definition":
		c.markingDefinition()
	}
	return c.errs.err()
}

type checker struct {
	o    *Object
	errs Errors
}

func (c *checker) add(code Code, prop, msg string) {
	c.errs = append(c.errs, newError(code, prop, msg))
}

func (c *checker) common() {
	o := c.o
	class := o.Class()
	if !ValidType(o.typ) {
		c.add(CodeBadType, "type", "malformed type "+quote(o.typ))
	}
	switch v, ok := o.Get("id"); {
	case !ok:
		c.add(CodeMissing, "id", "required")
	case o.id == "" && !bytes.Equal(v, []byte(`""`)):
		c.add(CodeBadValue, "id", "not a string")
	default:
		typ, _, err := ParseID(o.id)
		switch {
		case err != nil:
			c.add(CodeBadID, "id", err.(*Error).Message)
		case typ != o.typ:
			c.add(CodeBadID, "id", "prefix "+quote(typ)+" is not the object's type "+quote(o.typ))
		}
	}

	sv, hasSV := c.str("spec_version", false)
	switch {
	case class == ClassBundle && hasSV:
		c.add(CodeNotAllowed, "spec_version", "a STIX 2.1 bundle has no spec_version")
	case class == ClassSDO || class == ClassSRO || class == ClassSMO:
		if !hasSV && !o.Has("spec_version") {
			c.add(CodeMissing, "spec_version", "required")
		} else if hasSV && sv != "2.1" {
			c.add(CodeSpecVersion, "spec_version", "is "+quote(sv)+", not \"2.1\"")
		}
	case hasSV && sv != "2.1":
		c.add(CodeSpecVersion, "spec_version", "is "+quote(sv)+", not \"2.1\"")
	}

	// created and modified: required on SDOs, SROs and the SMOs but
	// marking-definition, which has created and never modified (it cannot
	// be versioned, §7.2.1); checked wherever they appear.
	needTimes := class == ClassSDO || class == ClassSRO || o.typ == "language-content" || o.typ == "extension-definition"
	created, hasC := c.timestamp("created", needTimes || o.typ == "marking-definition", true)
	modified, hasM := c.timestamp("modified", needTimes, true)
	if hasC && hasM && modified.Before(created) {
		c.add(CodeBadOrder, "modified", "earlier than created")
	}

	if v, ok := o.Get("revoked"); ok && !isBool(v) {
		c.add(CodeBadValue, "revoked", "not a boolean")
	}
	c.ref("created_by_ref", false, "an identity", isType("identity"))
	c.refs("object_marking_refs", "marking definitions", isType("marking-definition"))
	c.granularMarkings()
	c.intRange("confidence", 0, 100)
	if v, ok := o.Get("labels"); ok && !isStringList(v) {
		c.add(CodeBadValue, "labels", "not a list of strings")
	}
}

func (c *checker) indicator() {
	c.str("pattern", true)
	pt, _ := c.str("pattern_type", true)
	from, hasFrom := c.timestamp("valid_from", true, false)
	until, hasUntil := c.timestamp("valid_until", false, false)
	if hasFrom && hasUntil && !until.After(from) {
		c.add(CodeBadOrder, "valid_until", "not later than valid_from")
	}
	if pt == "stix" {
		if p, ok := c.str("pattern", false); ok {
			if _, err := ParsePattern(p); err != nil {
				c.errs = append(c.errs, &Error{Code: CodeBadPattern, Property: "pattern", Message: "not a valid STIX pattern", Err: err})
			}
		}
	}
}

func (c *checker) sighting() {
	// "SDO only" (§5.2): the ref must not name an SCO, SRO, SMO or bundle;
	// a custom type may be a custom SDO and passes.
	c.ref("sighting_of_ref", true, "an SDO", func(typ string) bool {
		cl := ClassOf(typ)
		return cl == ClassSDO || cl == ClassCustom
	})
	c.intRange("count", 0, 999_999_999)
	c.window("first_seen", "last_seen", false)
	c.refs("observed_data_refs", "observed-data objects", isType("observed-data"))
	c.refs("where_sighted_refs", "identities or locations", isType("identity", "location"))
	if v, ok := c.o.Get("summary"); ok && !isBool(v) {
		c.add(CodeBadValue, "summary", "not a boolean")
	}
}

func (c *checker) relationship() {
	anyType := func(string) bool { return true }
	c.ref("source_ref", true, "an object", anyType)
	c.ref("target_ref", true, "an object", anyType)
	c.str("relationship_type", true)
	c.window("start_time", "stop_time", true)
}

func (c *checker) markingDefinition() {
	if c.o.Has("modified") {
		c.add(CodeNotAllowed, "modified", "a marking-definition cannot be versioned")
	}
	if !c.o.Has("extensions") {
		// definition_type and definition are deprecated, but required
		// when no extension defines the marking.
		c.str("definition_type", true)
		if !c.o.Has("definition") {
			c.add(CodeMissing, "definition", "required without extensions")
		}
	}
}

// window checks two optional timestamps; the second may not be earlier
// than the first (or not equal either, when strict).
func (c *checker) window(first, last string, strict bool) {
	a, okA := c.timestamp(first, false, false)
	b, okB := c.timestamp(last, false, false)
	if okA && okB && (b.Before(a) || strict && b.Equal(a)) {
		what := "earlier than "
		if strict {
			what = "not later than "
		}
		c.add(CodeBadOrder, last, what+first)
	}
}

func (c *checker) str(prop string, required bool) (string, bool) {
	v, ok := c.o.Get(prop)
	if !ok {
		if required {
			c.add(CodeMissing, prop, "required")
		}
		return "", false
	}
	s, ok := rawString(v)
	if !ok {
		c.add(CodeBadValue, prop, "not a string")
		return "", false
	}
	if required && s == "" {
		c.add(CodeMissing, prop, "empty")
	}
	return s, true
}

func (c *checker) timestamp(prop string, required, millis bool) (time.Time, bool) {
	v, ok := c.o.Get(prop)
	if !ok {
		if required {
			c.add(CodeMissing, prop, "required")
		}
		return time.Time{}, false
	}
	if len(v) < 2 || v[0] != '"' {
		c.add(CodeBadValue, prop, "not a string")
		return time.Time{}, false
	}
	t, frac, err := parseTimestamp(v[1 : len(v)-1]) // escapes cannot form a valid timestamp
	if err != nil {
		c.errs = append(c.errs, &Error{Code: CodeBadTimestamp, Property: prop, Message: string(v) + " is not a STIX timestamp", Err: err})
		return time.Time{}, false
	}
	if millis && frac < 3 {
		c.add(CodeBadTimestamp, prop, "must be precise to the millisecond")
	}
	return t, true
}

func (c *checker) intRange(prop string, min, max int64) {
	v, ok := c.o.Get(prop)
	if !ok {
		return
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		c.add(CodeBadValue, prop, "not an integer")
		return
	}
	if n < min || n > max {
		c.add(CodeOutOfRange, prop, strconv.FormatInt(n, 10)+" is not in "+strconv.FormatInt(min, 10)+"–"+strconv.FormatInt(max, 10))
	}
}

func isType(types ...string) func(string) bool {
	return func(typ string) bool {
		for _, t := range types {
			if t == typ {
				return true
			}
		}
		return false
	}
}

// ref checks a reference property: an identifier whose type passes ok.
func (c *checker) ref(prop string, required bool, want string, ok func(string) bool) {
	s, present := c.str(prop, required)
	if present {
		c.checkRef(prop, s, want, ok)
	}
}

func (c *checker) refs(prop, want string, ok func(string) bool) {
	v, present := c.o.Get(prop)
	if !present {
		return
	}
	list, isList := rawStrings(v)
	if !isList {
		c.add(CodeBadValue, prop, "not a list of identifiers")
		return
	}
	for i, s := range list {
		c.checkRef(prop+"."+strconv.Itoa(i), s, want, ok)
	}
}

func (c *checker) checkRef(prop, s, want string, ok func(string) bool) {
	typ, _, err := ParseID(s)
	switch {
	case err != nil:
		c.add(CodeBadID, prop, err.(*Error).Message)
	case !ok(typ):
		c.add(CodeBadID, prop, quote(s)+" does not refer to "+want)
	}
}

func (c *checker) granularMarkings() {
	v, ok := c.o.Get("granular_markings")
	if !ok {
		return
	}
	var gms []struct {
		Selectors  []string `json:"selectors"`
		MarkingRef *string  `json:"marking_ref"`
		Lang       *string  `json:"lang"`
	}
	if json.Unmarshal(v, &gms) != nil {
		c.add(CodeBadValue, "granular_markings", "not a list of granular markings")
		return
	}
	for i, gm := range gms {
		prop := "granular_markings." + strconv.Itoa(i)
		if len(gm.Selectors) == 0 {
			c.add(CodeMissing, prop+".selectors", "required")
		}
		switch {
		case (gm.MarkingRef == nil) == (gm.Lang == nil):
			c.add(CodeBadValue, prop, "needs exactly one of marking_ref and lang")
		case gm.MarkingRef != nil:
			c.checkRef(prop+".marking_ref", *gm.MarkingRef, "a marking definition", isType("marking-definition"))
		}
	}
}

func isBool(v []byte) bool { return string(v) == "true" || string(v) == "false" }

func isStringList(v []byte) bool {
	_, ok := rawStrings(v)
	return ok
}
