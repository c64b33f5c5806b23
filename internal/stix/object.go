package stix

import (
	"bytes"
	"encoding/json"
	"iter"
	"strconv"
	"time"
)

// Object is one STIX object kept as the JSON it came in: every property,
// custom or unknown, survives a decode→encode round trip byte for byte (the
// member order and spelling included). Accessors read the common properties
// on demand; they return the zero value when a property is absent or of
// the wrong JSON type, which Validate reports.
//
// An Object is not safe for concurrent mutation; reading is.
type Object struct {
	raw     []byte   // the object's JSON
	members []member // its top-level members in order; values alias raw
	typ, id string   // cached: read on every hot path
}

type member struct {
	name  string
	value json.RawMessage
}

// ParseObject reads one STIX object from its JSON. It checks only that data
// is a JSON object with a string "type" and no property given twice (two
// readers could otherwise disagree about which one counts, e.g. for
// object_marking_refs); the rest is Validate's job. data is copied.
func ParseObject(data []byte) (*Object, error) {
	if err := checkJSON(data); err != nil {
		return nil, &Error{Code: CodeBadJSON, Message: "not valid JSON", Err: err}
	}
	return parseObject(bytes.Clone(data))
}

// parseObject is ParseObject for JSON known to be valid, which it keeps
// without copying.
func parseObject(data []byte) (*Object, error) {
	o := &Object{raw: data}
	if err := o.split(); err != nil {
		return nil, err
	}
	typ, ok := o.Get("type")
	if !ok {
		return nil, newError(CodeMissing, "type", "required")
	}
	s, ok := rawString(typ)
	if !ok {
		return nil, newError(CodeBadValue, "type", "not a string")
	}
	o.typ = s
	if id, ok := o.Get("id"); ok {
		o.id, _ = rawString(id)
	}
	return o, nil
}

// Raw returns the object's JSON. The caller must not modify it.
func (o *Object) Raw() json.RawMessage { return o.raw }

// MarshalJSON returns the object's JSON as it was read or last set.
func (o *Object) MarshalJSON() ([]byte, error) { return o.raw, nil }

// UnmarshalJSON reads an object, as ParseObject does.
func (o *Object) UnmarshalJSON(data []byte) error {
	p, err := ParseObject(data)
	if err != nil {
		return err
	}
	*o = *p
	return nil
}

// Type is the object's type property.
func (o *Object) Type() string { return o.typ }

// ID is the object's id property ("" if absent or not a string).
func (o *Object) ID() string { return o.id }

// Get returns a top-level property's raw JSON.
func (o *Object) Get(name string) (json.RawMessage, bool) {
	for i := range o.members {
		if o.members[i].name == name {
			return o.members[i].value, true
		}
	}
	return nil, false
}

// Has reports whether the object has the property.
func (o *Object) Has(name string) bool {
	_, ok := o.Get(name)
	return ok
}

// Members yields the top-level properties in the order they were written.
func (o *Object) Members() iter.Seq2[string, json.RawMessage] {
	return func(yield func(string, json.RawMessage) bool) {
		for _, m := range o.members {
			if !yield(m.name, m.value) {
				return
			}
		}
	}
}

// String returns a string property, "" if absent or not a string.
func (o *Object) String(name string) string {
	v, _ := o.Get(name)
	s, _ := rawString(v)
	return s
}

// Strings returns a list-of-strings property, nil if absent or malformed.
func (o *Object) Strings(name string) []string {
	v, ok := o.Get(name)
	if !ok {
		return nil
	}
	out, _ := rawStrings(v)
	return out
}

// Int returns an integer property and whether it is present and an
// integer.
func (o *Object) Int(name string) (int64, bool) {
	v, ok := o.Get(name)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil
}

// Bool returns a boolean property, false if absent or not a boolean.
func (o *Object) Bool(name string) bool {
	v, _ := o.Get(name)
	return string(v) == "true"
}

// Time returns a timestamp property and whether it is present and a valid
// STIX timestamp.
func (o *Object) Time(name string) (time.Time, bool) {
	v := o.lookup(name)
	if len(v) < 2 || v[0] != '"' {
		return time.Time{}, false
	}
	t, _, err := parseTimestamp(v[1 : len(v)-1])
	return t, err == nil
}

func (o *Object) lookup(name string) json.RawMessage {
	v, _ := o.Get(name)
	return v
}

// The common properties, by name (STIX 2.1 §3.2 and the SDO/SRO sections).

func (o *Object) SpecVersion() string          { return o.String("spec_version") }
func (o *Object) Created() time.Time           { t, _ := o.Time("created"); return t }
func (o *Object) Modified() time.Time          { t, _ := o.Time("modified"); return t }
func (o *Object) Revoked() bool                { return o.Bool("revoked") }
func (o *Object) CreatedByRef() string         { return o.String("created_by_ref") }
func (o *Object) ObjectMarkingRefs() []string  { return o.Strings("object_marking_refs") }
func (o *Object) Labels() []string             { return o.Strings("labels") }
func (o *Object) Name() string                 { return o.String("name") }
func (o *Object) Description() string          { return o.String("description") }
func (o *Object) Pattern() string              { return o.String("pattern") }
func (o *Object) PatternType() string          { return o.String("pattern_type") }
func (o *Object) ValidFrom() time.Time         { t, _ := o.Time("valid_from"); return t }
func (o *Object) ValidUntil() time.Time        { t, _ := o.Time("valid_until"); return t }
func (o *Object) SightingOfRef() string        { return o.String("sighting_of_ref") }
func (o *Object) SourceRef() string            { return o.String("source_ref") }
func (o *Object) TargetRef() string            { return o.String("target_ref") }
func (o *Object) RelationshipType() string     { return o.String("relationship_type") }
func (o *Object) WhereSightedRefs() []string   { return o.Strings("where_sighted_refs") }
func (o *Object) Confidence() (int64, bool)    { return o.Int("confidence") }
func (o *Object) Count() (int64, bool)         { return o.Int("count") }
func (o *Object) FirstSeen() (time.Time, bool) { return o.Time("first_seen") }
func (o *Object) LastSeen() (time.Time, bool)  { return o.Time("last_seen") }

// GranularMarking applies a marking (or a language) to parts of an object.
type GranularMarking struct {
	Selectors  []string `json:"selectors"`
	MarkingRef string   `json:"marking_ref,omitempty"`
	Lang       string   `json:"lang,omitempty"`
}

// GranularMarkings returns the granular_markings, nil if absent or
// malformed.
func (o *Object) GranularMarkings() []GranularMarking {
	v, ok := o.Get("granular_markings")
	if !ok {
		return nil
	}
	var out []GranularMarking
	if json.Unmarshal(v, &out) != nil {
		return nil
	}
	return out
}

// Set sets a top-level property to value's JSON (a json.RawMessage is used
// as it is), keeping its place if it exists, appending it otherwise.
func (o *Object) Set(name string, value any) error {
	v, err := json.Marshal(value)
	if err != nil {
		return &Error{Code: CodeBadValue, Property: name, Message: "cannot encode", Err: err}
	}
	ms := make([]member, 0, len(o.members)+1)
	found := false
	for _, m := range o.members {
		if m.name == name {
			m.value, found = v, true
		}
		ms = append(ms, m)
	}
	if !found {
		ms = append(ms, member{name, v})
	}
	return o.rebuild(ms)
}

// Delete removes a top-level property. The type cannot be removed.
func (o *Object) Delete(name string) error {
	if name == "type" {
		return newError(CodeMissing, "type", "required")
	}
	ms := make([]member, 0, len(o.members))
	for _, m := range o.members {
		if m.name != name {
			ms = append(ms, m)
		}
	}
	return o.rebuild(ms)
}

func (o *Object) rebuild(ms []member) error {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.name)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	p, err := parseObject(b.Bytes())
	if err != nil {
		return err
	}
	*o = *p
	return nil
}

// split fills o.members from o.raw, which is valid JSON.
func (o *Object) split() error {
	d := o.raw
	i := skipWS(d, 0)
	if i >= len(d) || d[i] != '{' {
		return newError(CodeBadJSON, "", "not a JSON object")
	}
	o.members = make([]member, 0, 24)
	i = skipWS(d, i+1)
	if d[i] == '}' {
		return nil
	}
	for {
		end := endOfString(d, i)
		name, ok := propertyName(d[i:end])
		if !ok {
			return newError(CodeBadJSON, "", "malformed property name")
		}
		i = skipWS(d, end) + 1 // past ':'
		i = skipWS(d, i)
		vend := endOfValue(d, i)
		for _, m := range o.members {
			if m.name == name {
				return newError(CodeBadJSON, name, "property given twice")
			}
		}
		o.members = append(o.members, member{name, json.RawMessage(d[i:vend:vend])})
		i = skipWS(d, vend)
		if d[i] == '}' {
			return nil
		}
		i = skipWS(d, i+1) // past ','
	}
}

// The scanners below run on JSON already known to be valid.

func skipWS(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\n' || d[i] == '\r' || d[i] == '\t') {
		i++
	}
	return i
}

// endOfString returns the index after the string starting at d[i] == '"'.
func endOfString(d []byte, i int) int {
	for i++; i < len(d); i++ {
		switch d[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(d)
}

func endOfValue(d []byte, i int) int {
	switch d[i] {
	case '"':
		return endOfString(d, i)
	case '{', '[':
		depth := 0
		for ; i < len(d); i++ {
			switch d[i] {
			case '"':
				i = endOfString(d, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(d)
	}
	for ; i < len(d); i++ {
		switch d[i] {
		case ',', '}', ']', ' ', '\n', '\r', '\t':
			return i
		}
	}
	return i
}

// commonNames are property names shared by all objects that use them, so
// splitting an object does not allocate a string per property.
var commonNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{
		"type", "spec_version", "id", "created", "modified", "created_by_ref", "revoked", "labels",
		"confidence", "lang", "external_references", "object_marking_refs", "granular_markings",
		"extensions", "name", "description", "pattern", "pattern_type", "pattern_version",
		"valid_from", "valid_until", "indicator_types", "kill_chain_phases", "aliases",
		"sighting_of_ref", "observed_data_refs", "where_sighted_refs", "first_seen", "last_seen",
		"count", "summary", "relationship_type", "source_ref", "target_ref", "start_time",
		"stop_time", "value", "hashes", "object_refs", "published", "report_types", "is_family",
		"malware_types", "source_name", "url", "external_id", "x_mitre_version",
		"x_mitre_domains", "x_mitre_modified_by_ref", "x_mitre_deprecated",
		"x_mitre_attack_spec_version", "x_mitre_platforms", "x_mitre_contributors",
		"x_mitre_is_subtechnique", "x_mitre_detection", "x_mitre_aliases",
		"definition_type", "definition", "identity_class", "sectors", "roles",
	} {
		m[n] = n
	}
	return m
}()

// propertyName decodes a property name, taking the shared string for
// common names.
func propertyName(v []byte) (string, bool) {
	if len(v) >= 2 {
		if n, ok := commonNames[string(v[1:len(v)-1])]; ok {
			return n, true
		}
	}
	return rawString(v)
}

// rawStrings decodes a JSON list of strings without reflection.
func rawStrings(v []byte) ([]string, bool) {
	i := skipWS(v, 0)
	if i >= len(v) || v[i] != '[' {
		return nil, false
	}
	out := []string{}
	i = skipWS(v, i+1)
	if i < len(v) && v[i] == ']' {
		return out, true
	}
	for i < len(v) && v[i] == '"' {
		end := endOfString(v, i)
		s, ok := rawString(v[i:end])
		if !ok {
			return nil, false
		}
		out = append(out, s)
		i = skipWS(v, end)
		if i >= len(v) {
			return nil, false
		}
		if v[i] == ']' {
			return out, true
		}
		if v[i] != ',' {
			return nil, false
		}
		i = skipWS(v, i+1)
	}
	return nil, false
}

// rawString decodes a JSON string, with a fast path for the common case of
// no escapes.
func rawString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1]), true
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}
