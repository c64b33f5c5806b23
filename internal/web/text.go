package web

import (
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"verbund/internal/fault"
)

// badText is the answer for text the hub does not take: a NUL character or
// bytes that are not UTF-8. PostgreSQL refuses to store or compare either
// (SQLSTATE 22021) while SQLite stores both, so such input would reach the
// database and be answered differently by the two engines, or kept on one.
func badText(field string) *fault.Error {
	return fault.BadInput(field, "bad_text", "the input contains bytes or values that are not valid text (for example a NUL character)")
}

// validText reports whether s is text the hub stores: UTF-8 without NUL.
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.Contains(s, "\x00")
}

// checkText refuses a request whose path, query or form carries bad text,
// before any handler sees it: ids in the path, search terms and cursors in
// the query and every form field are text that goes to the database. JSON
// bodies are checked where they are decoded (DecodeJSON). A form is parsed
// here (bounded like every body) so that handlers read the checked values.
func checkText(w http.ResponseWriter, r *http.Request) error {
	if !validText(r.URL.Path) {
		return badText("path")
	}
	for k, vs := range r.URL.Query() {
		if !validText(k) {
			return badText("query")
		}
		for _, v := range vs {
			if !validText(v) {
				return badText(k)
			}
		}
	}
	// The form types as net/http reads them (any case, with parameters):
	// a handler's PostFormValue parses both.
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Body == nil || r.Body == http.NoBody || ct != "application/x-www-form-urlencoded" && ct != "multipart/form-data" || streamed(r) {
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	parse := r.ParseForm
	if ct == "multipart/form-data" {
		parse = func() error { return r.ParseMultipartForm(MaxBody) } // #nosec G120 -- the body is bounded by the MaxBytesReader above
	}
	if err := parse(); err != nil {
		// A body over the limit stays a *http.MaxBytesError in the chain
		// (413); anything else is a malformed form.
		return fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
	}
	for k, vs := range r.PostForm {
		if !validText(k) {
			return badText("form")
		}
		for _, v := range vs {
			if !validText(v) {
				return badText(k)
			}
		}
	}
	return nil
}
