package web

import (
	"net/http/httptest"
	"strings"
	"testing"

	"verbund/internal/fault"
)

type innerInput struct {
	TLP    string   `json:"tlp"`
	People []string `json:"people,omitempty"`
}

type testInput struct {
	Title string            `json:"title"`
	Body  string            `json:"body"`
	Tags  map[string]string `json:"tags"`
	Items []innerInput      `json:"items"`
	Skip  string            `json:"-"`
	Plain string
	innerInput
}

// TestDecodeJSONIsStrict (issue 7, item 22): encoding/json takes a field
// given twice (the last wins), matches names case-insensitively and keeps
// NUL characters in strings, which SQLite stores and PostgreSQL refuses
// (answered 500 there before it was mapped). Each is refused with its own
// code.
func TestDecodeJSONIsStrict(t *testing.T) {
	for _, c := range []struct {
		body, code, field string
	}{
		{`{"title":"a","body":"b","tlp":"AMBER","people":["x"],"tags":{"k":"v"},"items":[{"tlp":"RED"}],"Plain":"p"}`, "", ""},
		{`{"title":"a","title":"b"}`, "duplicate_key", "title"},
		{`{"items":[{"tlp":"RED","tlp":"CLEAR"}]}`, "duplicate_key", "tlp"},
		{`{"tags":{"k":"v","k":"w"}}`, "duplicate_key", "k"},
		{`{"Body":"b"}`, "unknown_field", "Body"},
		{`{"TLP":"RED"}`, "unknown_field", "TLP"},
		{`{"items":[{"Tlp":"RED"}]}`, "unknown_field", "Tlp"},
		{`{"plain":"p"}`, "unknown_field", "plain"},
		{`{"Skip":"s"}`, "unknown_field", "Skip"},
		{`{"body":"a\u0000b"}`, "bad_text", "body"},
		{`{"people":["\u0000"]}`, "bad_text", "people"},
		{`{"tags":{"a\u0000":"v"}}`, "bad_text", "tags"},
		{`{"colour":"red"}`, "unknown_field", "colour"},
		{`{"title":"a"} {}`, "malformed_json", ""},
		{`{"title":`, "malformed_json", ""},
		{``, "body_missing", ""},
		// Invalid UTF-8 and lone surrogates: json would store U+FFFD.
		{"{\"body\":\"Tom\xc3Richter\"}", "bad_text", ""},
		{"{\"body\":\"a\xff\"}", "bad_text", ""},
		{"{\"b\xffody\":\"a\"}", "bad_text", ""},
		{`{"body":"a\ud800"}`, "bad_text", ""},
		{`{"body":"a\udc00b"}`, "bad_text", ""},
		{`{"body":"a\ud800\u0041"}`, "bad_text", ""},
		// A valid pair, an escaped backslash before "ud800", and U+FFFD
		// itself are text.
		{`{"body":"\ud83d\ude00 \\ud800 \ufffd"}`, "", ""},
	} {
		r := httptest.NewRequest("POST", "/api/v1/x", strings.NewReader(c.body))
		r.Header.Set("Content-Type", "application/json")
		var in testInput
		err := DecodeJSON(httptest.NewRecorder(), r, &in)
		if c.code == "" {
			if err != nil {
				t.Errorf("%s: %v", c.body, err)
			}
			continue
		}
		e, ok := fault.As(err)
		if !ok || e.Code != c.code || e.Kind != fault.Invalid || c.field != "" && e.Field != c.field {
			t.Errorf("%s: %v (field %q), want %s on %q", c.body, err, fieldOf(e), c.code, c.field)
		}
	}
}

func fieldOf(e *fault.Error) string {
	if e == nil {
		return ""
	}
	return e.Field
}
