package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"verbund/internal/audit"
	"verbund/internal/auth"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

var errBadLogin = fault.New(fault.Unauthenticated, "invalid_credentials", "e-mail address or password is wrong")

var errBadCode = fault.New(fault.Unauthenticated, "invalid_code", "the code is wrong or expired: enter the current code from your app")

// Login checks e-mail and password, throttled per account and per address.
// It returns a new session id (raw, for the cookie). With TOTP enabled the
// session is only half signed in until VerifyMFA.
func (s *Service) Login(ctx context.Context, email, password, ip, userAgent string) (sessionID string, mfa bool, err error) {
	email, _ = NormaliseEmail(email)
	ok, retry, err := s.Throttle.Allow(ctx, email, ip)
	if err != nil {
		return "", false, err
	}
	if !ok {
		if err := s.auditAnon(ctx, "auth.login.throttled", email, ip); err != nil {
			return "", false, err
		}
		mins := int(math.Ceil(retry.Minutes()))
		return "", false, fault.New(fault.RateLimited, "too_many_attempts", "too many failed sign-ins: try again in {minutes} minutes").
			With("minutes", mins)
	}
	var id, org, hash, role string
	var totp, disabled int
	var mark int64
	err = s.DB.R().QueryRow(ctx, `SELECT id, org_id, password_hash, role, totp_enabled, disabled, sessions_valid_after FROM users WHERE email = ?`, email).
		Scan(&id, &org, &hash, &role, &totp, &disabled, &mark)
	if errors.Is(err, sql.ErrNoRows) || err == nil && (hash == "" || disabled != 0) {
		// Spend the same time as a real check: timing must not tell which
		// addresses have accounts.
		s.Password.DummyVerify(password)
		if err := s.Throttle.Failure(ctx, email, ip); err != nil {
			return "", false, err
		}
		if err := s.auditAnon(ctx, "auth.login.failed", email, ip); err != nil {
			return "", false, err
		}
		return "", false, errBadLogin
	}
	if err != nil {
		return "", false, fmt.Errorf("login: %w", db.Map(err))
	}
	ok, err = auth.VerifyPassword(hash, password)
	if err != nil {
		// The stored hash is unreadable: the operator must learn of it,
		// the person cannot sign in either way.
		return "", false, fmt.Errorf("login of user %s: %w", id, err)
	}
	if !ok {
		if err := s.Throttle.Failure(ctx, email, ip); err != nil {
			return "", false, err
		}
		actor := policy.Actor{UserID: id, OrgID: org, Via: "web", IP: ip}
		if err := s.DB.Tx(ctx, func(tx *db.Tx) error {
			return audit.Write(ctx, tx, actor, audit.Entry{Action: "auth.login.failed", ObjectType: "user", ObjectID: id, Touches: audit.Nothing()})
		}); err != nil {
			return "", false, fmt.Errorf("audit failed login: %w", err)
		}
		return "", false, errBadLogin
	}
	if err := s.Throttle.Success(ctx, email, ip); err != nil {
		return "", false, err
	}
	sid, err := s.newSession(ctx, policy.Actor{UserID: id, OrgID: org, Role: policy.Role(role), Via: "web", IP: ip}, totp != 0, userAgent, mark)
	return sid, totp != 0, err
}

// shortText makes s storable text of at most n bytes: the User-Agent
// header is the client's, and PostgreSQL refuses NUL characters and bytes
// that are not UTF-8 (a cut in the middle of a character makes such
// bytes too), so a sign-in with such a header failed there.
func shortText(s string, n int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "")
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// errSessionEnded answers a sign-in whose person's credentials changed
// while it ran, and a second step whose half session was ended meanwhile.
var errSessionEnded = fault.New(fault.Unauthenticated, "session_expired", "your session has ended: sign in again")

// newSession makes a session for a, whose credentials were checked
// against the user row as it was when its sessions_valid_after was mark.
// If a credential changed since (endOtherSessions moves the mark on), the
// session is not made: it would have outlived the change that ended all
// others. The check takes the user row's lock (a no-op update), so on
// PostgreSQL a change either waits for this session and then ends it, or
// has committed and this one sees the new mark.
func (s *Service) newSession(ctx context.Context, a policy.Actor, mfa bool, userAgent string, mark int64) (string, error) {
	sid, err := auth.NewSessionID()
	if err != nil {
		return "", err
	}
	csrf, err := auth.NewCSRFToken()
	if err != nil {
		return "", err
	}
	now := db.Now()
	life := SessionLifetime
	if mfa {
		life = mfaLifetime
	}
	userAgent = shortText(userAgent, 300)
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE users SET sessions_valid_after = sessions_valid_after WHERE id = ? AND sessions_valid_after = ?`, a.UserID, mark)
		if err != nil {
			return fmt.Errorf("check credentials mark: %w", err)
		}
		if n, err := db.Affected(res); err != nil {
			return fmt.Errorf("check credentials mark: %w", err)
		} else if n != 1 {
			return errSessionEnded
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (id_hash, user_id, csrf, mfa_pending, created_at, expires_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			auth.HashSecret(sid), a.UserID, csrf, b2i(mfa), now, now+life.Microseconds(), a.IP, userAgent); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		action := "auth.login"
		if mfa {
			action = "auth.login.password_ok"
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: action, ObjectType: "user", ObjectID: a.UserID, Touches: audit.Nothing()})
	})
	return sid, err
}

// VerifyMFA completes a half-signed-in session with a TOTP code or a
// recovery code. It returns a fresh session id: the id changes when the
// privilege does (no session fixation).
func (s *Service) VerifyMFA(ctx context.Context, sessionID, code, recovery, ip, userAgent string) (string, error) {
	a, sess, err := s.Session(ctx, sessionID, ip)
	if err != nil {
		return "", err
	}
	if !sess.MFAPending {
		return "", fault.New(fault.Invalid, "mfa_not_pending", "this session is already signed in")
	}
	ok, retry, err := s.Throttle.Allow(ctx, "mfa:"+a.UserID, ip)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fault.New(fault.RateLimited, "too_many_attempts", "too many wrong codes: try again in {minutes} minutes").
			With("minutes", int(math.Ceil(retry.Minutes())))
	}
	var secret string
	var last, mark int64
	if err := s.DB.R().QueryRow(ctx, `SELECT totp_secret, totp_last_step, sessions_valid_after FROM users WHERE id = ?`, a.UserID).Scan(&secret, &last, &mark); err != nil {
		return "", fmt.Errorf("load totp: %w", db.Map(err))
	}
	var newSID string
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		used := "totp"
		if recovery != "" {
			res, err := tx.Exec(ctx, `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL`,
				db.Now(), a.UserID, auth.HashSecret(auth.NormaliseRecoveryCode(recovery)))
			if err != nil {
				return fmt.Errorf("use recovery code: %w", err)
			}
			if n, err := db.Affected(res); err != nil {
				return fmt.Errorf("use recovery code: %w", err)
			} else if n != 1 {
				return fault.New(fault.Unauthenticated, "invalid_code", "the recovery code is wrong or was already used")
			}
			used = "recovery_code"
		} else {
			step, ok := auth.VerifyTOTP(secret, code, time.Now(), last)
			if !ok {
				return errBadCode
			}
			// The step was checked against a value read before this
			// transaction: another sign-in may have used the same code
			// since. Storing the step only if it is still newer than the
			// last one used makes the check and its update one atomic
			// step on both engines, so one code signs in once.
			res, err := tx.Exec(ctx, `UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?`, step, a.UserID, step)
			if err != nil {
				return fmt.Errorf("store totp step: %w", err)
			}
			if n, err := db.Affected(res); err != nil {
				return fmt.Errorf("store totp step: %w", err)
			} else if n != 1 {
				return errBadCode
			}
		}
		// A credential change may have ended the half session since it
		// was read above (and moved the mark on after it was read).
		res, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, auth.HashSecret(sessionID))
		if err != nil {
			return fmt.Errorf("end half session: %w", err)
		}
		if n, err := db.Affected(res); err != nil {
			return fmt.Errorf("end half session: %w", err)
		} else if n != 1 {
			return errSessionEnded
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "auth.mfa.ok", ObjectType: "user", ObjectID: a.UserID, Detail: map[string]string{"method": used}, Touches: audit.Nothing()})
	})
	if err != nil {
		if fault.Is(err, fault.Unauthenticated) && !errors.Is(err, errSessionEnded) {
			if terr := s.Throttle.Failure(ctx, "mfa:"+a.UserID, ip); terr != nil {
				return "", terr
			}
			if aerr := s.DB.Tx(ctx, func(tx *db.Tx) error {
				return audit.Write(ctx, tx, a, audit.Entry{Action: "auth.mfa.failed", ObjectType: "user", ObjectID: a.UserID, Touches: audit.Nothing()})
			}); aerr != nil {
				return "", fmt.Errorf("audit failed second factor: %w", aerr)
			}
		}
		return "", err
	}
	if err := s.Throttle.Success(ctx, "mfa:"+a.UserID, ip); err != nil {
		return "", err
	}
	a.IP = ip
	newSID, err = s.newSession(ctx, a, false, userAgent, mark)
	return newSID, err
}

// Session implements web.Authenticator.
func (s *Service) Session(ctx context.Context, id, ip string) (policy.Actor, web.Session, error) {
	var a policy.Actor
	var sess web.Session
	var mfa, disabled int
	var expires int64
	var role string
	err := s.DB.R().QueryRow(ctx, `SELECT s.user_id, s.csrf, s.mfa_pending, s.expires_at, u.org_id, u.role, u.name, u.lang, u.disabled
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?`, auth.HashSecret(id)).
		Scan(&a.UserID, &sess.CSRF, &mfa, &expires, &a.OrgID, &role, &a.Name, &a.Lang, &disabled)
	if errors.Is(err, sql.ErrNoRows) || err == nil && (expires < db.Now() || disabled != 0) {
		return policy.Actor{}, sess, fault.New(fault.Unauthenticated, "session_expired", "your session has ended: sign in again")
	}
	if err != nil {
		return policy.Actor{}, sess, fmt.Errorf("load session: %w", db.Map(err))
	}
	a.Role, a.Scope, a.Via, a.IP = policy.Role(role), policy.ScopeSession, "web", ip
	sess.ID, sess.MFAPending = id, mfa != 0
	return a, sess, nil
}

// Token implements web.Authenticator.
func (s *Service) Token(ctx context.Context, token, ip string) (policy.Actor, error) {
	var a policy.Actor
	var scope, role string
	var expires, revoked sql.NullInt64
	var disabled int
	// Kept (tokencache.go) as read after the trail's head, read first
	// (a shared state read).
	var at int64
	keep := false
	if s.tokens != nil {
		at, keep = s.tokens.head(ctx)
	}
	err := s.DB.R().QueryRow(ctx, `SELECT t.id, t.user_id, t.scope, t.expires_at, t.revoked_at, u.org_id, u.role, u.name, u.lang, u.disabled
		FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?`, auth.HashSecret(token)).
		Scan(&a.Token, &a.UserID, &scope, &expires, &revoked, &a.OrgID, &role, &a.Name, &a.Lang, &disabled)
	now := db.Now()
	if s.tokens != nil && (err != nil || revoked.Valid || expires.Valid && expires.Int64 <= now || disabled != 0) {
		s.tokens.forget(token)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return policy.Actor{}, fault.New(fault.Unauthenticated, "token_invalid", "the API token is not valid")
	case err != nil:
		return policy.Actor{}, fmt.Errorf("load token: %w", db.Map(err))
	case revoked.Valid:
		return policy.Actor{}, fault.New(fault.Unauthenticated, "token_revoked", "the API token was revoked: create a new one")
	case expires.Valid && expires.Int64 <= now:
		return policy.Actor{}, fault.New(fault.Unauthenticated, "token_expired", "the API token has expired: create a new one")
	case disabled != 0:
		return policy.Actor{}, fault.New(fault.Unauthenticated, "token_invalid", "the API token is not valid")
	}
	a.Role, a.Scope, a.Via, a.IP = policy.Role(role), policy.Scope(scope), "token:"+a.Token, ip
	if keep {
		s.tokens.keep(token, a, expires.Int64, at)
	}
	s.touchToken(ctx, a.Token, now)
	return a, nil
}

// touchToken records when a token was last used, at most once a minute per
// token: a write on every API request would halve read throughput.
func (s *Service) touchToken(ctx context.Context, id string, now int64) {
	sec := now / 1e6
	if v, ok := s.lastUsed.Load(id); ok && sec-v.(int64) < 60 {
		return
	}
	s.lastUsed.Store(id, sec)
	// Best effort: failing to note the time must not refuse a valid
	// token, and a database that fails here fails the request's own
	// queries next.
	_ = s.DB.Tx(ctx, func(tx *db.Tx) error {
		tx.Bookkeeping() // a use of a token changes no right or data
		_, err := tx.Exec(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ?`, now, id)
		return err
	})
}

// Logout ends one session.
func (s *Service) Logout(ctx context.Context, a policy.Actor, sessionID string) error {
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, auth.HashSecret(sessionID)); err != nil {
			return fmt.Errorf("logout: %w", err)
		}
		tx.AfterCommit(func() { s.Events.Publish(events.Event{Type: events.PolicyChanged}) })
		return audit.Write(ctx, tx, a, audit.Entry{Action: "auth.logout", ObjectType: "user", ObjectID: a.UserID, Touches: audit.Nothing()})
	})
}

// LogoutAll ends every session of the actor ("sign out everywhere"); open
// live streams close at once.
func (s *Service) LogoutAll(ctx context.Context, a policy.Actor) error {
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, a.UserID); err != nil {
			return fmt.Errorf("logout everywhere: %w", err)
		}
		tx.AfterCommit(func() { s.Events.Publish(events.Event{Type: events.PolicyChanged}) })
		return audit.Write(ctx, tx, a, audit.Entry{Action: "auth.logout_all", ObjectType: "user", ObjectID: a.UserID, Touches: audit.Nothing()})
	})
}

// SetPassword changes a password. Users confirm with their current one; the
// operator (CLI) does not need it. Every session of the person but keep
// (the raw id of the session that made the change; "" for none) ends, and
// with them their live streams: whoever knew the old password, or had
// taken over a session, is out.
func (s *Service) SetPassword(ctx context.Context, a policy.Actor, userID, current, next, keep string) error {
	if err := auth.CheckPasswordPolicy(next); err != nil {
		return weakPassword(err)
	}
	if !a.IsSystem() {
		if userID != a.UserID {
			return fault.ErrNotFound
		}
		var hash string
		if err := s.DB.R().QueryRow(ctx, `SELECT password_hash FROM users WHERE id = ?`, userID).Scan(&hash); err != nil {
			return db.NotFound(err, "load password")
		}
		if ok, err := checkPassword(hash, current); err != nil {
			return fmt.Errorf("check current password of user %s: %w", userID, err)
		} else if !ok {
			return fault.BadInput("current_password", "wrong_password", "the current password is wrong")
		}
	}
	hash, err := auth.HashPassword(next, s.Password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID)
		if err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		if n, err := db.Affected(res); err != nil {
			return fmt.Errorf("set password: %w", err)
		} else if n != 1 {
			return fault.ErrNotFound
		}
		if err := s.endOtherSessions(ctx, tx, userID, keep); err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "user.password", ObjectType: "user", ObjectID: userID, Touches: audit.Nothing()})
	})
}

// endOtherSessions ends, in tx, every session of userID but keep (a raw
// session id; "" ends all) after one of the person's credentials changed
// (password, second factor). It moves the person's credentials mark
// (users.sessions_valid_after) on first, which takes the user row's lock:
// a sign-in that checked the old credentials and has not yet made its
// session then makes none (newSession). After the commit, open live
// streams re-check their sessions (policy.changed) and the ended ones
// receive "revoked" and close.
func (s *Service) endOtherSessions(ctx context.Context, tx *db.Tx, userID, keep string) error {
	now := db.Now()
	if _, err := tx.Exec(ctx, `UPDATE users SET sessions_valid_after = CASE WHEN sessions_valid_after < ? THEN ? ELSE sessions_valid_after + 1 END WHERE id = ?`,
		now, now, userID); err != nil {
		return fmt.Errorf("move credentials mark: %w", err)
	}
	keepHash := "" // no session's hash: all end
	if keep != "" {
		keepHash = auth.HashSecret(keep)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id_hash <> ?`, userID, keepHash); err != nil {
		return fmt.Errorf("end other sessions: %w", err)
	}
	tx.AfterCommit(func() { s.Events.Publish(events.Event{Type: events.PolicyChanged}) })
	return nil
}

// checkPassword is auth.VerifyPassword for a stored hash that may be
// empty: a person without a password (signed in with a token the
// operator made) cannot confirm with one. Any other unreadable hash is an
// error, not a wrong password.
func checkPassword(hash, password string) (bool, error) {
	if hash == "" {
		return false, nil
	}
	return auth.VerifyPassword(hash, password)
}

// auditAnon records a sign-in event of nobody in particular (unknown
// address, throttled).
func (s *Service) auditAnon(ctx context.Context, action, email, ip string) error {
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		return audit.Write(ctx, tx, policy.Actor{Via: "web", IP: ip}, audit.Entry{Action: action, Detail: map[string]string{"email": email}, Touches: audit.Nothing()})
	})
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// BasicToken resolves HTTP Basic credentials as TAXII clients send them:
// the user's e-mail address and one of their API tokens. A token of
// another person is refused like an unknown one.
func (s *Service) BasicToken(ctx context.Context, email, token, ip string) (policy.Actor, error) {
	a, err := s.Token(ctx, token, ip)
	if err != nil {
		return a, err
	}
	var own string
	if err := s.DB.R().QueryRow(ctx, `SELECT email FROM users WHERE id = ?`, a.UserID).Scan(&own); err != nil {
		return policy.Actor{}, fmt.Errorf("load the token's user: %w", db.Map(err))
	}
	if !strings.EqualFold(strings.TrimSpace(email), own) {
		return policy.Actor{}, fault.New(fault.Unauthenticated, "token_invalid", "the API token is not valid")
	}
	return a, nil
}
