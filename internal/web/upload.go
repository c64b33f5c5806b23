package web

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
)

// markUpload tells the guard that next's route streams its multipart body
// (Router.HandleUpload).
func markUpload(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), uploadKey, true)))
	})
}

// streamed reports whether r is a multipart body of an upload route, which
// the guard leaves to the handler.
func streamed(r *http.Request) bool {
	if up, _ := r.Context().Value(uploadKey).(bool); !up {
		return false
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "multipart/form-data"
}

// maxTokenPeek bounds what the guard reads of an upload to find its CSRF
// field: the field comes first, so a few kilobytes hold it.
const maxTokenPeek = 64 << 10

// uploadToken reads the CSRF token of a streamed upload from its first
// part, which must be the field _csrf ("" otherwise), and puts back every
// byte it read: the handler reads the body from its start.
func uploadToken(r *http.Request) string {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" || r.Body == nil {
		return ""
	}
	body := r.Body
	var seen bytes.Buffer
	mr := multipart.NewReader(io.TeeReader(io.LimitReader(body, maxTokenPeek), &seen), params["boundary"])
	token := ""
	if p, err := mr.NextPart(); err == nil && p.FormName() == "_csrf" {
		b, err := io.ReadAll(io.LimitReader(p, 1024))
		if err == nil {
			token = string(b)
		}
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(seen.Bytes()), body), body}
	return token
}

// ValidText reports whether s is text the hub stores (UTF-8 without NUL):
// what the guard checks of every form field, for the fields an upload's
// handler reads itself.
func ValidText(s string) bool { return validText(s) }
