package taxii

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// Error is a TAXII error (§3.6.1): the error object sent to the client and
// the HTTP status it goes with. Backends return it for what the client
// must be told (not found, forbidden, unprocessable); any other error is a
// 500 whose cause the server's OnError logs and the client never sees
// (Appendix B: error text must not reveal resources).
type Error struct {
	Status      int               `json:"-"`
	Title       string            `json:"title"`
	Description string            `json:"description,omitempty"`
	ErrorID     string            `json:"error_id,omitempty"`
	ErrorCode   string            `json:"error_code,omitempty"`
	HTTPStatus  string            `json:"http_status,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
}

func (e *Error) Error() string { return e.Title + ": " + e.Description }

// Errorf makes an error with status, a stable code and a description.
func Errorf(status int, code, description string) *Error {
	return &Error{Status: status, Title: http.StatusText(status), ErrorCode: code, Description: description}
}

// The errors every backend needs.
var (
	// ErrNotFound: no such API root, collection, object or status, or
	// one the caller may not know of; the two are never told apart.
	ErrNotFound = Errorf(http.StatusNotFound, "not_found", "no such resource")
	// ErrForbidden: the collection exists for the caller but does not
	// allow the operation (can_read or can_write false).
	ErrForbidden = Errorf(http.StatusForbidden, "forbidden", "the collection does not allow this operation")
	// ErrUnauthorized: no or wrong credentials.
	ErrUnauthorized = Errorf(http.StatusUnauthorized, "unauthorized", "send HTTP Basic credentials (user e-mail and API token) or a Bearer token")
)

// WriteError writes err as a TAXII error object. A non-TAXII error is
// written as an opaque 500.
func WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = Errorf(http.StatusInternalServerError, "internal", "the server could not complete the request; the error has been logged")
	}
	out := *e
	if out.Status == 0 {
		out.Status = http.StatusInternalServerError
	}
	if out.Title == "" {
		out.Title = http.StatusText(out.Status)
	}
	out.HTTPStatus = strconv.Itoa(out.Status)
	if out.Status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="TAXII", charset="UTF-8"`)
	}
	writeJSON(w, out.Status, out)
}

// writeEnvelope writes an envelope (200) as encoding/json would write the
// envelope type (without escaping <, > and & for HTML: this is not a
// page), but copies the objects as they are: they are the
// backend's stored JSON (Record.Object), and json.Marshal would scan and
// compact each again, which was a third of a page's time.
func writeEnvelope(w http.ResponseWriter, more *bool, next string, objects []json.RawMessage) {
	n := 64 + len(next)
	for _, o := range objects {
		n += len(o) + 1
	}
	body := make([]byte, 0, n)
	body = append(body, '{')
	sep := ""
	if more != nil {
		body = append(body, `"more":`...)
		body = strconv.AppendBool(body, *more)
		sep = ","
	}
	if next != "" {
		var nb bytes.Buffer
		enc := json.NewEncoder(&nb)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(next) // a string always encodes
		body = append(append(append(body, sep...), `"next":`...), bytes.TrimSuffix(nb.Bytes(), []byte("\n"))...)
		sep = ","
	}
	if len(objects) > 0 {
		body = append(append(body, sep...), `"objects":[`...)
		for i, o := range objects {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, o...)
		}
		body = append(body, ']')
	}
	body = append(body, '}')
	w.Header().Set("Content-Type", MediaTAXII)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// writeJSON writes v as a TAXII resource with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"title":"Internal Server Error","http_status":"500"}`)
	}
	w.Header().Set("Content-Type", MediaTAXII)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
