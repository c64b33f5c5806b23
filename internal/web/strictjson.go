package web

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"verbund/internal/fault"
)

// strictJSON refuses what encoding/json lets through when it decodes data
// into a value of type t: a member named twice in one object (the last
// would silently win, so a reviewer and the hub could read different
// values), a name that matches a field only when case is ignored ("Body"
// for "body": clients must say what they mean, and a proxy or log that
// matches exactly would not see the field) and NUL characters in any
// string (badText). data is one valid JSON value (DecodeJSON has decoded
// it already).
func strictJSON(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return strictValue(dec, t, "")
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// strictValue checks the next value of dec, to be decoded into t (nil:
// anything; field names the value's place for errors).
func strictValue(dec *json.Decoder, t reflect.Type, field string) error {
	if t != nil && t.Kind() == reflect.Slice && t.Elem() == reflect.TypeFor[string]() {
		// A list of strings (a lookup's ten thousand values) has no names
		// to check, only its strings: decoded at once, not token by token
		// (five times faster).
		var xs []string
		if err := dec.Decode(&xs); err != nil {
			return fault.Wrap(fault.Invalid, "malformed_json", "the body is not valid JSON", err)
		}
		for _, x := range xs {
			if strings.Contains(x, "\x00") {
				return badText(field)
			}
		}
		return nil
	}
	tok, err := dec.Token()
	if err != nil {
		return fault.Wrap(fault.Invalid, "malformed_json", "the body is not valid JSON", err)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)) {
		t = nil // the type reads the value itself: names and shape are its business
	}
	switch v := tok.(type) {
	case string:
		if strings.Contains(v, "\x00") {
			return badText(field)
		}
	case json.Delim:
		switch v {
		case '{':
			return strictObject(dec, t, field)
		case '[':
			var elem reflect.Type
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				elem = t.Elem()
			}
			for dec.More() {
				if err := strictValue(dec, elem, field); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil { // ]
				return fault.Wrap(fault.Invalid, "malformed_json", "the body is not valid JSON", err)
			}
		}
	}
	return nil
}

// strictObject checks the members of an object whose "{" was read.
func strictObject(dec *json.Decoder, t reflect.Type, field string) error {
	var fields map[string]reflect.Type // nil: any name (a map, or anything)
	var elem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = map[string]reflect.Type{}
			jsonFields(t, fields)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fault.Wrap(fault.Invalid, "malformed_json", "the body is not valid JSON", err)
		}
		name, _ := tok.(string)
		if strings.Contains(name, "\x00") {
			return badText(field)
		}
		if seen[name] {
			return fault.BadInput(name, "duplicate_key", `field "{field}" is given twice`).With("field", name)
		}
		seen[name] = true
		next := elem
		if fields != nil {
			ft, ok := fields[name]
			if !ok {
				return fault.BadInput(name, "unknown_field", `unknown field "{field}"`).With("field", name)
			}
			next = ft
		}
		if err := strictValue(dec, next, name); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return fault.Wrap(fault.Invalid, "malformed_json", "the body is not valid JSON", err)
	}
	return nil
}

// jsonFields adds the exact JSON names of struct t's fields, as
// encoding/json names them, to out: the tag's name or the field's, no
// unexported or "-" fields, and the fields of embedded structs promoted
// (the outer struct's own fields first: they win).
func jsonFields(t reflect.Type, out map[string]reflect.Type) {
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, ok := out[name]; !ok {
			out[name] = f.Type
		}
	}
	for _, e := range embedded {
		inner := map[string]reflect.Type{}
		jsonFields(e, inner)
		for n, ft := range inner {
			if _, ok := out[n]; !ok {
				out[n] = ft
			}
		}
	}
}

// errStrictType is returned for a destination that is not a pointer.
var errStrictType = errors.New("web: DecodeJSON needs a pointer")

// decodeTarget is the type DecodeJSON's v points to.
func decodeTarget(v any) (reflect.Type, error) {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return nil, fmt.Errorf("decode into %T: %w", v, errStrictType)
	}
	return t.Elem(), nil
}
