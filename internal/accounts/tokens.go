package accounts

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"verbund/internal/audit"
	"verbund/internal/auth"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Token is an API token as listed (never the secret).
type Token struct {
	ID         string `json:"id"`
	UserID     string `json:"user_id"`
	Name       string `json:"name"`
	Prefix     string `json:"prefix"`
	Scope      string `json:"scope"`
	CreatedAt  int64  `json:"created_at"`
	ExpiresAt  int64  `json:"expires_at,omitempty"`
	RevokedAt  int64  `json:"revoked_at,omitempty"`
	LastUsedAt int64  `json:"last_used_at,omitempty"`
}

// NewToken is the input for creating a token.
type NewToken struct {
	Name    string `json:"name"`
	Scope   string `json:"scope"`
	Expires string `json:"expires"` // e.g. "90d", "12h", "" for never
}

// ParseDuration accepts Go durations plus days ("90d").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 3650 {
			return 0, fault.BadInput("expires", "bad_duration", `"{value}" is not a duration: use e.g. 90d or 12h`).With("value", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fault.BadInput("expires", "bad_duration", `"{value}" is not a duration: use e.g. 90d or 12h`).With("value", s)
	}
	return d, nil
}

// CreateToken creates a token for userID and returns it with its secret,
// which is shown once and stored only as a hash. Users create tokens for
// themselves; a token never has more rights than its user.
func (s *Service) CreateToken(ctx context.Context, a policy.Actor, userID string, in NewToken) (Token, string, error) {
	if !a.IsSystem() && userID != a.UserID {
		return Token{}, "", fault.ErrNotFound
	}
	// Tokens are made in a signed-in session (or by the operator), never
	// by another token: a stolen token could otherwise make new ones that
	// outlive its revocation. The route says so too (web.SessionOnly).
	if !a.IsSystem() && a.Scope != policy.ScopeSession {
		return Token{}, "", fault.New(fault.Forbidden, "session_required", "sign in with the web interface to do this: API tokens cannot create tokens or change how their person signs in")
	}
	scope := strings.ToLower(strings.TrimSpace(in.Scope))
	if scope != "read" && scope != "write" {
		return Token{}, "", fault.BadInput("scope", "bad_scope", "scope must be read or write")
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = scope + " token"
	}
	if len(name) > 100 {
		return Token{}, "", fault.BadInput("name", "name_too_long", "the name is longer than {max} characters").With("max", 100)
	}
	d, err := ParseDuration(in.Expires)
	if err != nil {
		return Token{}, "", err
	}
	secret, err := auth.NewToken()
	if err != nil {
		return Token{}, "", err
	}
	t := Token{ID: db.NewID(), UserID: userID, Name: name, Prefix: secret[:10], Scope: scope, CreatedAt: db.Now()}
	var expires any
	if d > 0 {
		t.ExpiresAt = t.CreatedAt + d.Microseconds()
		expires = t.ExpiresAt
	}
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		var org string
		if err := tx.QueryRow(ctx, `SELECT org_id FROM users WHERE id = ?`, userID).Scan(&org); err != nil {
			return db.NotFound(err, "token user")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO tokens (id, user_id, org_id, name, hash, prefix, scope, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, userID, org, t.Name, auth.HashSecret(secret), t.Prefix, scope, t.CreatedAt, expires); err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "token.create", ObjectType: "token", ObjectID: t.ID, Orgs: []string{org},
			Detail: map[string]any{"name": t.Name, "scope": scope, "expires_at": t.ExpiresAt, "user": userID}, Touches: audit.Nothing()})
	})
	return t, secret, err
}

// FindTokens lists the actor's own tokens.
func (s *Service) FindTokens(ctx context.Context, a policy.Actor) ([]Token, error) {
	rows, err := s.DB.R().Query(ctx, `SELECT id, user_id, name, prefix, scope, created_at, COALESCE(expires_at, 0), COALESCE(revoked_at, 0), COALESCE(last_used_at, 0)
		FROM tokens WHERE user_id = ? ORDER BY created_at DESC`, a.UserID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return db.Collect(rows, "list tokens", func(r db.Scanner) (t Token, err error) {
		err = r.Scan(&t.ID, &t.UserID, &t.Name, &t.Prefix, &t.Scope, &t.CreatedAt, &t.ExpiresAt, &t.RevokedAt, &t.LastUsedAt)
		return t, err
	})
}

// RevokeToken revokes one of the actor's tokens (admins: any token of their
// org). Open live streams using it close at once.
func (s *Service) RevokeToken(ctx context.Context, a policy.Actor, id string) error {
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		var user, org string
		var revoked sql.NullInt64
		err := tx.QueryRow(ctx, `SELECT user_id, org_id, revoked_at FROM tokens WHERE id = ?`, id).Scan(&user, &org, &revoked)
		if err != nil {
			return db.NotFound(err, "load token")
		}
		if !a.IsSystem() && user != a.UserID && !(a.CanAdmin() && org == a.OrgID) {
			return fault.ErrNotFound
		}
		if revoked.Valid {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = ? WHERE id = ?`, db.Now(), id); err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		tx.AfterCommit(func() { s.Events.Publish(events.Event{Type: events.PolicyChanged}) })
		return audit.Write(ctx, tx, a, audit.Entry{Action: "token.revoke", ObjectType: "token", ObjectID: id, Orgs: []string{org}, Touches: audit.Nothing()})
	})
}

// StartTOTP creates a new secret for the actor (not yet enabled) and
// returns it with its otpauth URI.
func (s *Service) StartTOTP(ctx context.Context, a policy.Actor) (secret, uri string, err error) {
	secret, err = auth.NewTOTPSecret()
	if err != nil {
		return "", "", err
	}
	var email string
	var enabled int
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT email, totp_enabled FROM users WHERE id = ?`, a.UserID).Scan(&email, &enabled); err != nil {
			return db.NotFound(err, "load user")
		}
		if enabled != 0 {
			return fault.New(fault.Conflict, "totp_enabled", "two-factor authentication is already on: turn it off first to set up a new app")
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET totp_secret = ? WHERE id = ?`, secret, a.UserID); err != nil {
			return fmt.Errorf("store totp secret: %w", err)
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "user.totp.start", ObjectType: "user", ObjectID: a.UserID, Touches: audit.Nothing()})
	})
	return secret, auth.TOTPURI(secret, "verbund", email), err
}

// EnableTOTP turns the second factor on once the user proves their app
// works with a current code; it returns ten one-time recovery codes. Every
// other session of the person (signed in without it) ends; keep is the
// raw id of the session that turned it on.
func (s *Service) EnableTOTP(ctx context.Context, a policy.Actor, code, keep string) ([]string, error) {
	codes, err := auth.NewRecoveryCodes(10)
	if err != nil {
		return nil, err
	}
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		var secret string
		var enabled int
		var last int64
		if err := tx.QueryRow(ctx, `SELECT totp_secret, totp_enabled, totp_last_step FROM users WHERE id = ?`, a.UserID).Scan(&secret, &enabled, &last); err != nil {
			return db.NotFound(err, "load user")
		}
		if enabled != 0 {
			return fault.New(fault.Conflict, "totp_enabled", "two-factor authentication is already on")
		}
		if secret == "" {
			return fault.New(fault.Invalid, "totp_not_started", "start the set-up first")
		}
		step, ok := auth.VerifyTOTP(secret, code, time.Now(), last)
		if !ok {
			return fault.BadInput("code", "invalid_code", "the code is wrong or expired: enter the current code from your app")
		}
		// As at sign-in (VerifyMFA): the code counts only if its step is
		// still unused when it is stored, whatever ran concurrently.
		res, err := tx.Exec(ctx, `UPDATE users SET totp_enabled = 1, totp_last_step = ? WHERE id = ? AND totp_enabled = 0 AND totp_last_step < ?`,
			step, a.UserID, step)
		if err != nil {
			return fmt.Errorf("enable totp: %w", err)
		}
		if n, err := db.Affected(res); err != nil {
			return fmt.Errorf("enable totp: %w", err)
		} else if n != 1 {
			return fault.BadInput("code", "invalid_code", "the code is wrong or expired: enter the current code from your app")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, a.UserID); err != nil {
			return fmt.Errorf("clear recovery codes: %w", err)
		}
		for _, c := range codes {
			if _, err := tx.Exec(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)`, a.UserID, auth.HashSecret(auth.NormaliseRecoveryCode(c))); err != nil {
				return fmt.Errorf("store recovery code: %w", err)
			}
		}
		if err := s.endOtherSessions(ctx, tx, a.UserID, keep); err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "user.totp.enable", ObjectType: "user", ObjectID: a.UserID, Touches: audit.Nothing()})
	})
	return codes, err
}

// DisableTOTP turns the second factor off, confirmed with the password.
// Every other session of the person ends; keep is the raw id of the
// session that turned it off.
func (s *Service) DisableTOTP(ctx context.Context, a policy.Actor, password, keep string) error {
	var hash string
	if err := s.DB.R().QueryRow(ctx, `SELECT password_hash FROM users WHERE id = ?`, a.UserID).Scan(&hash); err != nil {
		return db.NotFound(err, "load user")
	}
	if ok, err := checkPassword(hash, password); err != nil {
		return fmt.Errorf("check password of user %s: %w", a.UserID, err)
	} else if !ok {
		return fault.BadInput("password", "wrong_password", "the password is wrong")
	}
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET totp_enabled = 0, totp_secret = '' WHERE id = ?`, a.UserID); err != nil {
			return fmt.Errorf("disable totp: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, a.UserID); err != nil {
			return fmt.Errorf("clear recovery codes: %w", err)
		}
		if err := s.endOtherSessions(ctx, tx, a.UserID, keep); err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "user.totp.disable", ObjectType: "user", ObjectID: a.UserID, Touches: audit.Nothing()})
	})
}
