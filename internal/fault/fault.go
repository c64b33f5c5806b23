// Package fault is verbund's one error type. Every error that reaches a user
// carries a Kind (which decides the HTTP status or CLI exit), a stable Code
// that clients can match on, and a Message that is safe to show. The wrapped
// cause is only logged, never shown: it may name tables, files or objects the
// user must not learn about.
package fault

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the transport layer.
type Kind int

const (
	Internal Kind = iota
	Invalid
	Unauthenticated
	Forbidden
	NotFound
	Conflict
	TooLarge
	RateLimited
	Unavailable
	Unsupported
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case Unauthenticated:
		return "unauthenticated"
	case Forbidden:
		return "forbidden"
	case NotFound:
		return "not_found"
	case Conflict:
		return "conflict"
	case TooLarge:
		return "too_large"
	case RateLimited:
		return "rate_limited"
	case Unavailable:
		return "unavailable"
	case Unsupported:
		return "unsupported"
	}
	return "internal"
}

// Error is the error type shown to users.
type Error struct {
	Kind    Kind
	Code    string // stable, snake_case, e.g. "agreement_missing"
	Message string // safe to show
	Field   string // optional: the input field at fault
	Err     error  // cause, logged only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind with a stable code and a safe message.
func New(kind Kind, code, msg string) *Error {
	return &Error{Kind: kind, Code: code, Message: msg}
}

// Wrap is New with a logged cause.
func Wrap(kind Kind, code, msg string, err error) *Error {
	return &Error{Kind: kind, Code: code, Message: msg, Err: err}
}

// Invalidf reports bad input in one field.
func Invalidf(field, code, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrNotFound is the single answer for "does not exist" and "you may not see
// it": both must be indistinguishable.
var ErrNotFound = New(NotFound, "not_found", "not found")

// ErrForbidden is for actions on objects the actor can see but may not change.
var ErrForbidden = New(Forbidden, "forbidden", "your role does not allow this action")

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// KindOf returns the kind of err, Internal when it is not a *Error.
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	return Internal
}

// Is reports whether err is a fault of kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
