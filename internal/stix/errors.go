package stix

import (
	"strconv"
	"strings"
)

// Code names a kind of problem. Codes are stable: callers match on them and
// may use them as message keys.
type Code string

const (
	CodeBadJSON      Code = "stix_bad_json"      // not JSON, or not the JSON type expected
	CodeTooLarge     Code = "stix_too_large"     // an object above the decoder's size limit
	CodeNotBundle    Code = "stix_not_bundle"    // the stream is not a STIX 2.1 bundle
	CodeMissing      Code = "stix_missing"       // a required property is absent
	CodeNotAllowed   Code = "stix_not_allowed"   // a property that must be absent is present
	CodeBadType      Code = "stix_bad_type"      // the type property is malformed
	CodeBadID        Code = "stix_bad_id"        // an id or reference is malformed or of the wrong type
	CodeSpecVersion  Code = "stix_spec_version"  // spec_version is not "2.1"
	CodeBadTimestamp Code = "stix_bad_timestamp" // not RFC 3339 UTC with Z, or too coarse
	CodeBadOrder     Code = "stix_bad_order"     // e.g. modified before created
	CodeOutOfRange   Code = "stix_out_of_range"  // a number outside its range
	CodeBadValue     Code = "stix_bad_value"     // a value of the wrong JSON type or form
	CodeBadPattern   Code = "stix_bad_pattern"   // an indicator's STIX pattern does not parse
	CodeSchema       Code = "stix_schema"        // the official JSON schema rejects the object
	CodeNoIDProps    Code = "stix_no_id_props"   // an SCO without id contributing properties
)

// Error is one problem with one object. Property names the property at
// fault as a dotted path ("" for the object as a whole), so a report can
// point at it.
type Error struct {
	Code     Code
	Property string
	Message  string
	Err      error // cause, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("stix: ")
	if e.Property != "" {
		b.WriteString(e.Property)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func newError(code Code, prop, msg string) *Error {
	return &Error{Code: code, Property: prop, Message: msg}
}

// Errors is every problem found with one object. errors.As finds each
// *Error in it.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// err returns es as an error, or nil when there is no problem: a nil
// Errors in an error interface would not compare equal to nil.
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// ObjectError reports one bad object of a bundle. The stream it came from
// goes on: the caller records it and asks for the next object.
type ObjectError struct {
	Index int    // position in the bundle's "objects", from 0
	ID    string // the object's id, if it could be read
	Err   error  // *Error or Errors
}

func (e *ObjectError) Error() string {
	s := "stix: object " + strconv.Itoa(e.Index)
	if e.ID != "" {
		s += " (" + e.ID + ")"
	}
	return s + ": " + strings.TrimPrefix(e.Err.Error(), "stix: ")
}

func (e *ObjectError) Unwrap() error { return e.Err }
