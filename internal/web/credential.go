package web

import (
	"context"
	"net/http"
	"strings"

	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Credential is what a request authenticated with: a bearer token or a
// session cookie, and the client address. Long-lived responses (live
// streams, internal/live) keep it to check again later whether it is
// still good.
type Credential struct {
	Token, Session, IP string
	// Basic: Token came as the password of HTTP Basic (protocols that
	// take it), with BasicUser as its user name.
	Basic     bool
	BasicUser string
}

// Credential copies the request's credential out of it (the copy outlives
// the request, whose memory is not kept).
func (s *Server) Credential(r *http.Request) Credential {
	c := Credential{IP: strings.Clone(s.ClientIP(r))}
	if user, tok, ok := r.BasicAuth(); ok && s.basicAllowed(r) {
		c.Basic, c.BasicUser, c.Token = true, strings.Clone(user), strings.Clone(tok)
	} else if tok, ok := bearer(r); ok {
		c.Token = strings.Clone(tok)
	} else if ck, err := r.Cookie(SessionCookie); err == nil {
		c.Session = strings.Clone(ck.Value)
	}
	return c
}

// CheckCredential returns nil while c is still good for a: the token is
// valid, or the session still belongs to a and has passed its second
// factor, and its person still has a's role (a stream filters notices by
// role: after a change it ends, and the browser reconnects with the new
// one). Any error (including a database error) means it is not.
func (s *Server) CheckCredential(ctx context.Context, c Credential, a policy.Actor) error {
	ended := fault.New(fault.Unauthenticated, "session_expired", "your session has ended: sign in again")
	if c.Token != "" {
		var got policy.Actor
		var err error
		if c.Basic {
			got, err = s.Auth.BasicToken(ctx, c.BasicUser, c.Token, c.IP)
		} else {
			got, err = s.Auth.Token(ctx, c.Token, c.IP)
		}
		switch {
		case err != nil:
			return err
		case got.UserID != a.UserID || got.OrgID != a.OrgID || got.Role != a.Role:
			return ended
		}
		return nil
	}
	if c.Session == "" {
		return ended
	}
	got, sess, err := s.Auth.Session(ctx, c.Session, c.IP)
	switch {
	case err != nil:
		return err
	case sess.MFAPending || got.UserID != a.UserID || got.OrgID != a.OrgID || got.Role != a.Role:
		return ended
	}
	return nil
}

type recheckKey struct{}

// WithRecheck gives work done in ctx the means to ask, between its
// batches, whether its credential is still good (Recheck). The guard gives
// every long request (HandleLong: an import or export that works batch by
// batch for up to a minute) a check of the credential it authenticated
// with (CheckCredential).
func WithRecheck(ctx context.Context, check func(context.Context) error) context.Context {
	return context.WithValue(ctx, recheckKey{}, check)
}

// Recheck returns nil while the credential of the long request whose
// context ctx is is still good for its actor (CheckCredential), and nil
// outside such a request (the command line, tests). Work that stores or
// reads batch by batch asks it before each batch after the first: a token
// revoked, or a role changed, while it runs ends it there.
func Recheck(ctx context.Context) error {
	if f, ok := ctx.Value(recheckKey{}).(func(context.Context) error); ok {
		return f(ctx)
	}
	return nil
}
