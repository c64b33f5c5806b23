package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"verbund/internal/fault"
	"verbund/internal/jsonenc"
)

// MaxBody is the largest request body accepted by default (1 MiB).
const MaxBody = 1 << 20

// DecodeJSON reads a JSON request body into v: unknown fields, trailing
// data, wrong types and oversize bodies are each a clear 4xx error, and so
// are a field given twice, a field name in the wrong case and a NUL
// character in a string (strictJSON).
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return DecodeJSONLimit(w, r, v, MaxBody)
}

// DecodeJSONLimit is DecodeJSON for a body of up to limit bytes (a batch
// that is larger than a form, such as 10,000 values to look up).
func DecodeJSONLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	ct := r.Header.Get("Content-Type")
	if ct != "" && !strings.HasPrefix(ct, "application/json") {
		return fault.New(fault.Unsupported, "unsupported_media_type", "send the body as application/json")
	}
	target, err := decodeTarget(v)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fault.New(fault.TooLarge, "body_too_large", "the request body is larger than {max} bytes").With("max", limit)
		}
		return fault.Wrap(fault.Invalid, "malformed_json", "the body could not be read", err)
	}
	// encoding/json turns invalid UTF-8 and lone surrogate escapes into
	// U+FFFD without a word: the stored text would differ from what the
	// client sent. Refused like the same bytes in a form.
	if !utf8.Valid(data) || loneSurrogate(data) {
		return badText("")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return fault.New(fault.TooLarge, "body_too_large", "the request body is larger than {max} bytes").With("max", limit)
		case errors.Is(err, io.EOF):
			return fault.New(fault.Invalid, "body_missing", "send a JSON object in the request body")
		case errors.As(err, &se):
			return fault.New(fault.Invalid, "malformed_json", "the body is not valid JSON (at byte {offset})").With("offset", se.Offset)
		case errors.As(err, &te):
			return fault.BadInput(te.Field, "wrong_type", `field "{field}" must be of type {type}`).
				With("field", te.Field).With("type", te.Type.String())
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return fault.BadInput(field, "unknown_field", `unknown field "{field}"`).With("field", field)
		default:
			return fault.Wrap(fault.Invalid, "malformed_json", "the body is not valid JSON", err)
		}
	}
	if dec.More() {
		return fault.New(fault.Invalid, "malformed_json", "the body must hold exactly one JSON object")
	}
	return strictJSON(data[:dec.InputOffset()], target)
}

// Limit reads the "limit" query parameter (default def, at most max).
func Limit(r *http.Request, def, maxN int) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxN {
		return 0, fault.BadInput("limit", "bad_limit", "limit must be a number from 1 to {max}").With("max", maxN)
	}
	return n, nil
}

// List is a page of API results with an opaque cursor for the next page.
type List[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// WriteList writes a page of items (an empty list, never null) with the
// cursor of the next page.
func WriteList[T any](w http.ResponseWriter, items []T, next string) {
	if body, ok := appendList(items, next); ok {
		WriteJSONBytes(w, http.StatusOK, body)
		return
	}
	if items == nil {
		items = []T{}
	}
	WriteJSON(w, http.StatusOK, List[T]{Items: items, Next: next})
}

// jsonAppender is a type that appends its own JSON, byte for byte as
// encoding/json would write it (package jsonenc). AppendsJSONOf names the
// type whose fields AppendJSON writes: a struct that embeds such a type
// inherits both methods, and its own fields would be left out, so the
// methods are used only for the type they name.
type jsonAppender interface {
	AppendJSON(b []byte) ([]byte, error)
	AppendsJSONOf() reflect.Type
}

// appendList encodes a page of items that append their own JSON (ok false
// for other types, or if one of them fails: encoding/json then reports it).
// The answer is the same bytes as List[T] through WriteJSON's encoder.
func appendList[T any](items []T, next string) (body []byte, ok bool) {
	if len(items) == 0 {
		return nil, false
	}
	if a, ok := any(&items[0]).(jsonAppender); !ok || a.AppendsJSONOf() != reflect.TypeFor[T]() {
		return nil, false
	}
	b := make([]byte, 0, 1024*len(items))
	b = append(b, `{"items":[`...)
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = any(&items[i]).(jsonAppender).AppendJSON(b); err != nil {
			return nil, false
		}
	}
	b = append(b, ']')
	if next != "" {
		b = jsonenc.String(append(b, `,"next":`...), next)
	}
	return append(b, '}', '\n'), true
}

// ListJSON encodes a page of items exactly as WriteList writes it, for
// responses that are kept (internal/readcache).
func ListJSON[T any](items []T, next string) ([]byte, error) {
	if body, ok := appendList(items, next); ok {
		return body, nil
	}
	if items == nil {
		items = []T{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(List[T]{Items: items, Next: next}); err != nil {
		return nil, fmt.Errorf("encode list: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteJSONBytes writes an already encoded JSON body with status.
func WriteJSONBytes(w http.ResponseWriter, status int, body []byte) {
	jsonHeaders(w)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// loneSurrogate reports whether data (JSON text) has a \u escape of a
// UTF-16 surrogate that is not half of a pair. Backslashes occur only in
// strings, so the escapes are found without tracking them.
func loneSurrogate(data []byte) bool {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
		return rune(v), err == nil // #nosec G115 -- four hex digits: at most 0xFFFF
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		r, ok := hex4(i)
		switch {
		case !ok:
			i++ // another escape: skip its character (it may be a backslash)
		case r >= 0xD800 && r <= 0xDBFF:
			lo, ok := hex4(i + 6)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		default:
			i += 5
		}
	}
	return false
}
