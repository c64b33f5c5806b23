package web

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"verbund/internal/fault"
)

// An upload route takes a body larger than any form, as a stream: the
// guard finds the CSRF token in the first field and leaves every byte for
// the handler; a token elsewhere or wrong is refused like a form's.
func TestUploadCSRF(t *testing.T) {
	big := strings.Repeat("x", 3*MaxBody)
	body := func(first, token string) (string, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		if first == "_csrf" {
			_ = mw.WriteField("_csrf", token)
		}
		fw, _ := mw.CreateFormFile("bundle", "bundle.json")
		_, _ = io.WriteString(fw, big)
		if first != "_csrf" {
			_ = mw.WriteField("_csrf", token)
		}
		_ = mw.Close()
		return b.String(), mw.FormDataContentType()
	}
	sess := Session{CSRF: "secret-token"}
	req := func(b, ct string, upload bool) *http.Request {
		r := httptest.NewRequest("POST", "/intel/import", strings.NewReader(b))
		r.Header.Set("Content-Type", ct)
		if upload {
			r = r.WithContext(context.WithValue(r.Context(), uploadKey, true))
		}
		return r
	}
	s := &Server{}

	b, ct := body("_csrf", "secret-token")
	r := req(b, ct, true)
	if err := s.checkCSRF(r, true, sess); err != nil {
		t.Fatalf("the token in the first field: %v", err)
	}
	if err := checkText(httptest.NewRecorder(), r); err != nil {
		t.Fatalf("checkText on an upload: %v", err)
	}
	mr, err := r.MultipartReader()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var file int
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, p.FormName())
		n, _ := io.Copy(io.Discard, p)
		if p.FormName() == "bundle" {
			file = int(n)
		}
	}
	if strings.Join(names, ",") != "_csrf,bundle" || file != len(big) {
		t.Errorf("the handler reads %v and a file of %d bytes, want _csrf,bundle and %d", names, file, len(big))
	}

	for _, c := range []struct {
		name, first, token string
	}{{"a wrong token", "_csrf", "guess"}, {"the token after the file", "bundle", "secret-token"}} {
		b, ct := body(c.first, c.token)
		if e, ok := fault.As(s.checkCSRF(req(b, ct, true), true, sess)); !ok || e.Code != "csrf_failed" {
			t.Errorf("%s: %v, want csrf_failed", c.name, e)
		}
	}
	// Any other route reads the form, bounded.
	b, ct = body("_csrf", "secret-token")
	if e, ok := fault.As(s.checkCSRF(req(b, ct, false), true, sess)); !ok || e.Code != "body_too_large" {
		t.Errorf("a large form on a route that is no upload route: %v, want body_too_large", e)
	}
}
