package web

import (
	"bytes"
	"mime/multipart"
	"net/http/httptest"
	"strings"
	"testing"

	"verbund/internal/fault"
)

// TestCheckText (issue 7, item 22): bad text is refused in the path, the
// query and forms of every type net/http reads, before a handler sees it.
func TestCheckText(t *testing.T) {
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("body", "a\x00b")
	_ = mw.Close()
	for _, c := range []struct {
		name, target, ctype, body, field string
	}{
		{"good", "/api/v1/posts/abc?q=Phishing%20%C3%A4", "application/x-www-form-urlencoded", "body=ok%C3%A4", ""},
		{"NUL in the path", "/api/v1/posts/a%00", "", "", "path"},
		{"not UTF-8 in the path", "/api/v1/posts/%FF", "", "", "path"},
		{"NUL in the query", "/api/v1/posts?q=%00", "", "", "q"},
		{"not UTF-8 in a query name", "/api/v1/posts?%FF=1", "", "", "query"},
		{"NUL in a form", "/forum", "application/x-www-form-urlencoded", "body=a%00b", "body"},
		{"a form type in capitals", "/forum", "Application/X-WWW-Form-Urlencoded; charset=utf-8", "body=%FF", "body"},
		{"multipart", "/forum", mw.FormDataContentType(), mp.String(), "body"},
	} {
		r := httptest.NewRequest("POST", c.target, strings.NewReader(c.body))
		if c.ctype != "" {
			r.Header.Set("Content-Type", c.ctype)
		}
		err := checkText(httptest.NewRecorder(), r)
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if e, ok := fault.As(err); !ok || e.Code != "bad_text" || e.Field != c.field {
			t.Errorf("%s: %v, want bad_text on %q", c.name, err, c.field)
		}
	}
}
