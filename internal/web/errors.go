package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"verbund/internal/fault"
	"verbund/internal/i18n"
)

// Status maps a fault kind to its HTTP status.
func Status(k fault.Kind) int {
	switch k {
	case fault.Invalid:
		return http.StatusBadRequest
	case fault.Unauthenticated:
		return http.StatusUnauthorized
	case fault.Forbidden:
		return http.StatusForbidden
	case fault.NotFound:
		return http.StatusNotFound
	case fault.Conflict:
		return http.StatusConflict
	case fault.TooLarge:
		return http.StatusRequestEntityTooLarge
	case fault.RateLimited:
		return http.StatusTooManyRequests
	case fault.Unavailable:
		return http.StatusServiceUnavailable
	case fault.Unsupported:
		return http.StatusUnsupportedMediaType
	case fault.NotAllowed:
		return http.StatusMethodNotAllowed
	}
	return http.StatusInternalServerError
}

// APIError is the JSON error body of every /api route.
type APIError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

// publicError turns any error into what may be shown: faults as they are,
// everything else as an opaque internal error (the cause is logged).
func publicError(log *slog.Logger, r *http.Request, err error) *fault.Error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fault.New(fault.TooLarge, "body_too_large", "the request body is larger than {max} bytes").With("max", mbe.Limit)
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away (a browser abandoned a live-update fetch):
		// nobody reads the answer, and it is no failure of the hub's.
		log.Debug("request abandoned by the client", "method", r.Method, "path", r.URL.Path)
		return fault.New(fault.Unavailable, "request_abandoned", "the request was abandoned")
	}
	if e, ok := fault.As(err); ok {
		switch {
		case e.Code == errBusy.Code:
			// Counted (verbund_http_requests_total by status), not
			// logged: under an overload it would fill the log.
		case e.Kind == fault.Internal || e.Kind == fault.Unavailable:
			log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		return e
	}
	log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	return fault.New(fault.Internal, "internal", "something went wrong on our side; the error has been logged")
}

// IsAPI reports whether the request is for the JSON API (errors as JSON).
func IsAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/events" && !strings.Contains(r.Header.Get("Accept"), "text/html") ||
		strings.Contains(r.Header.Get("Accept"), "application/json")
}

// writeAPIError writes e as the API's error object. Its message is
// English, the API's language, unless the client asks for another
// language with Accept-Language (a program's own setting, not the
// signed-in user's, decides what it has to parse).
func (s *Server) writeAPIError(w http.ResponseWriter, r *http.Request, e *fault.Error) {
	var body APIError
	body.Error.Code, body.Error.Message, body.Error.Field = e.Code, e.Message, e.Field
	if al := r.Header.Get("Accept-Language"); al != "" {
		if lang := i18n.Negotiate(al); lang != i18n.DefaultLanguage {
			body.Error.Message = s.Catalog.Fault(lang, e)
		}
	}
	WriteJSON(w, Status(e.Kind), body)
}

// jsonHeaders sets the headers of every JSON answer. Answers are per
// caller and often TLP-marked: no shared or disk cache keeps them (pages
// say the same).
func jsonHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	jsonHeaders(w)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}
