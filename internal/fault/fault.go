// Package fault is verbund's one error type. Every error that reaches a user
// carries a Kind (which decides the HTTP status or CLI exit), a stable Code
// that clients can match on, and a Message that is safe to show. The wrapped
// cause is only logged, never shown: it may name tables, files or objects the
// user must not learn about.
//
// Message is English (the API's default and the logs' language). Pages show
// the catalogue's message "fault.<Code>" in the reader's language instead,
// filled from Params; so a message's variable parts are never formatted into
// the text alone but named: New(…, "no trust circle named \"{name}\"").With("name", n)
// fills "{name}" in Message and keeps the value for the translation.
package fault

import (
	"errors"
	"fmt"
	"slices"
	"strings"
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
	// NotAllowed: the address exists but does not take the request's
	// method (HTTP 405).
	NotAllowed
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
	case NotAllowed:
		return "not_allowed"
	}
	return "internal"
}

// Error is the error type shown to users.
type Error struct {
	Kind    Kind
	Code    string  // stable, snake_case, e.g. "agreement_missing"; names the catalogue key "fault.<Code>"
	Message string  // safe to show; English, with its placeholders filled
	Field   string  // optional: the input field at fault
	Params  []Param // the message's variable parts, for translations
	Err     error   // cause, logged only

	text string // Message before its placeholders were filled
}

// Param is a named variable part of a message: "{Name}" in the text.
type Param struct {
	Name  string
	Value any // shown as it is; translations format numbers for their language
	// Key, if set, is the catalogue key of Value's own translation (a
	// category or role name): translations show that message instead.
	Key string
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

// BadInput reports bad input in one field (kind Invalid).
func BadInput(field, code, msg string) *Error {
	return &Error{Kind: Invalid, Code: code, Field: field, Message: msg}
}

// With returns a copy of e that carries value as the parameter name: it
// fills "{name}" in Message and the translation's message. A copy, because
// faults are often package-level values shared by every request.
func (e *Error) With(name string, value any) *Error {
	return e.with(Param{Name: name, Value: value})
}

// WithKey is With for a value that has its own catalogue message (key), such
// as a category: English shows value, translations show key's message.
func (e *Error) WithKey(name string, value any, key string) *Error {
	return e.with(Param{Name: name, Value: value, Key: key})
}

func (e *Error) with(p Param) *Error {
	c := *e
	if c.text == "" {
		c.text = e.Message
	}
	c.Params = append(slices.Clip(e.Params), p)
	c.Message = fill(c.text, func(name string) (string, bool) {
		for _, p := range slices.Backward(c.Params) {
			if p.Name == name {
				return fmt.Sprint(p.Value), true
			}
		}
		return "", false
	})
	return &c
}

// fill replaces each placeholder "{name}" in text by value(name); one that
// value does not know stays as it is. Values are not expanded again.
func fill(text string, value func(name string) (string, bool)) string {
	if !strings.Contains(text, "{") {
		return text
	}
	var b strings.Builder
	b.Grow(len(text) + 16)
	for {
		i := strings.IndexByte(text, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(text[i:], '}')
		if j < 0 {
			break
		}
		if v, ok := value(text[i+1 : i+j]); ok {
			b.WriteString(text[:i])
			b.WriteString(v)
		} else {
			b.WriteString(text[:i+j+1])
		}
		text = text[i+j+1:]
	}
	b.WriteString(text)
	return b.String()
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
