// Package accounts owns people and their credentials: users and roles,
// password sign-in with throttling, TOTP second factor with recovery codes,
// browser sessions and API tokens. It implements web.Authenticator.
package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"

	"verbund/internal/audit"
	"verbund/internal/auth"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// SessionLifetime is how long a browser session lasts.
const SessionLifetime = 12 * time.Hour

// mfaLifetime is how long a half-signed-in session waits for its TOTP code.
const mfaLifetime = 5 * time.Minute

// Service is the accounts capability.
type Service struct {
	DB       *db.DB
	Events   *events.Broker
	Throttle *Throttle
	Password auth.PasswordParams

	lastUsed sync.Map    // token id → unix seconds of the last last_used_at write
	tokens   *tokenCache // nil: every token is read (tokencache.go)
}

// New returns the service with default settings.
func New(d *db.DB, b *events.Broker) *Service {
	return &Service{DB: d, Events: b, Throttle: NewThrottle(d, auth.ThrottleConfig{}), Password: auth.DefaultPasswordParams()}
}

// User is a person with an account.
type User struct {
	ID          string      `json:"id"`
	OrgID       string      `json:"org_id"`
	OrgName     string      `json:"org_name,omitempty"`
	Email       string      `json:"email"`
	Name        string      `json:"name"`
	Role        policy.Role `json:"role"`
	Lang        string      `json:"lang,omitempty"`
	TOTPEnabled bool        `json:"totp_enabled"`
	Disabled    bool        `json:"disabled"`
	CreatedAt   int64       `json:"created_at"`
}

// NewUser is the input for creating a user.
type NewUser struct {
	OrgID    string `json:"org_id,omitempty"` // CLI only; the API uses the actor's org
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Lang     string `json:"lang"`
	Password string `json:"password"`
}

// weakPassword is auth's verdict on a new password as a fault; pages show
// the policy's bounds in the reader's language instead of auth's English.
func weakPassword(err error) *fault.Error {
	return fault.Wrap(fault.Invalid, "weak_password", err.Error(), err).
		With("min", auth.MinPasswordRunes).With("max", auth.MaxPasswordBytes)
}

// NormaliseEmail validates and lower-cases an e-mail address.
func NormaliseEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", fault.BadInput("email", "bad_email", `"{email}" is not a valid e-mail address`).With("email", s)
	}
	return s, nil
}

// CreateUser adds a user to an org. Org admins create users only in their
// own org (a client-sent org is ignored); the operator (CLI) names the org.
func (s *Service) CreateUser(ctx context.Context, a policy.Actor, in NewUser) (User, error) {
	org := a.OrgID
	if a.IsSystem() {
		org = in.OrgID
	} else if !a.CanAdmin() {
		return User{}, fault.New(fault.Forbidden, "admin_required", "only an admin of your organisation may add people")
	}
	email, err := NormaliseEmail(in.Email)
	if err != nil {
		return User{}, err
	}
	role, err := policy.ParseRole(in.Role)
	if err != nil {
		return User{}, err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = strings.Split(email, "@")[0]
	}
	if len(name) > 200 {
		return User{}, fault.BadInput("name", "name_too_long", "the name is longer than {max} characters").With("max", 200)
	}
	lang := in.Lang
	if lang != "" && lang != "en" && lang != "de" {
		return User{}, fault.BadInput("lang", "bad_lang", "language must be en or de")
	}
	var hash string
	if in.Password != "" {
		if err := auth.CheckPasswordPolicy(in.Password); err != nil {
			return User{}, weakPassword(err)
		}
		if hash, err = auth.HashPassword(in.Password, s.Password); err != nil {
			return User{}, fmt.Errorf("hash password: %w", err)
		}
	}
	u := User{ID: db.NewID(), OrgID: org, Email: email, Name: name, Role: role, Lang: lang, CreatedAt: db.Now()}
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		var orgName string
		err := tx.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, org).Scan(&orgName)
		if errors.Is(err, sql.ErrNoRows) {
			return fault.BadInput("org", "unknown_org", `unknown organisation "{org}"`).With("org", org)
		}
		if err != nil {
			return fmt.Errorf("find org: %w", db.Map(err))
		}
		u.OrgName = orgName
		if _, err := tx.Exec(ctx, `INSERT INTO users (id, org_id, email, name, role, lang, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.OrgID, u.Email, u.Name, string(u.Role), u.Lang, hash, u.CreatedAt); err != nil {
			if fault.Is(err, fault.Conflict) {
				return fault.BadInput("email", "email_taken", "a person with the e-mail address {email} already exists").With("email", email)
			}
			return fmt.Errorf("insert user: %w", err)
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "user.create", ObjectType: "user", ObjectID: u.ID, Orgs: []string{org},
			Detail: map[string]string{"email": email, "role": string(role)}, Touches: audit.Nothing()})
	})
	return u, err
}

// UserUpdate changes a user (fields left nil stay).
type UserUpdate struct {
	Name     *string `json:"name,omitempty"`
	Role     *string `json:"role,omitempty"`
	Lang     *string `json:"lang,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
}

// UpdateUser changes a user. Admins change people of their own org (others
// are not found); everyone may change their own name and language.
func (s *Service) UpdateUser(ctx context.Context, a policy.Actor, id string, in UserUpdate) (User, error) {
	self := id == a.UserID
	if !self && !a.CanAdmin() {
		return User{}, fault.ErrNotFound
	}
	if self && (in.Role != nil || in.Disabled != nil) && !a.IsSystem() {
		return User{}, fault.New(fault.Forbidden, "self_change", "you cannot change your own role or deactivate yourself; ask another admin")
	}
	var u User
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		var err error
		if u, err = getUser(ctx, tx.Handle, id); err != nil {
			return err
		}
		if !a.IsSystem() && u.OrgID != a.OrgID {
			return fault.ErrNotFound
		}
		changes := map[string]string{}
		if in.Name != nil {
			n := strings.TrimSpace(*in.Name)
			if n == "" || len(n) > 200 {
				return fault.BadInput("name", "bad_name", "the name must have 1 to {max} characters").With("max", 200)
			}
			u.Name, changes["name"] = n, n
		}
		if in.Lang != nil {
			if *in.Lang != "" && *in.Lang != "en" && *in.Lang != "de" {
				return fault.BadInput("lang", "bad_lang", "language must be en or de")
			}
			u.Lang, changes["lang"] = *in.Lang, *in.Lang
		}
		if in.Role != nil {
			r, err := policy.ParseRole(*in.Role)
			if err != nil {
				return err
			}
			u.Role, changes["role"] = r, string(r)
		}
		if in.Disabled != nil {
			u.Disabled, changes["disabled"] = *in.Disabled, fmt.Sprint(*in.Disabled)
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET name = ?, lang = ?, role = ?, disabled = ? WHERE id = ?`,
			u.Name, u.Lang, string(u.Role), b2i(u.Disabled), u.ID); err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		if u.Disabled {
			if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, u.ID); err != nil {
				return fmt.Errorf("end sessions: %w", err)
			}
		}
		if in.Role != nil || in.Disabled != nil {
			tx.AfterCommit(func() { s.Events.Publish(events.Event{Type: events.PolicyChanged}) })
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "user.update", ObjectType: "user", ObjectID: u.ID, Orgs: []string{u.OrgID}, Detail: changes})
	})
	return u, err
}

// FindUserByID returns a user of the actor's own org (others are not found).
func (s *Service) FindUserByID(ctx context.Context, a policy.Actor, id string) (User, error) {
	u, err := getUser(ctx, s.DB.R(), id)
	if err != nil {
		return u, err
	}
	if u.OrgID != a.OrgID && !a.IsSystem() {
		return User{}, fault.ErrNotFound
	}
	return u, nil
}

// FindUsers lists the people of the actor's org.
func (s *Service) FindUsers(ctx context.Context, a policy.Actor) ([]User, error) {
	rows, err := s.DB.R().Query(ctx, userSelect+` WHERE u.org_id = ? ORDER BY u.name, u.email`, a.OrgID)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return db.Collect(rows, "list users", scanUser)
}

// FindPeople lists the active people the actor may address (own org and
// orgs sharing an active community), for "named people" audiences.
func (s *Service) FindPeople(ctx context.Context, a policy.Actor) ([]User, error) {
	rows, err := s.DB.R().Query(ctx, userSelect+` WHERE u.disabled = 0 AND (u.org_id = ? OR u.org_id IN (
		SELECT m2.org_id FROM community_members m1 JOIN community_members m2 ON m2.community_id = m1.community_id AND m2.status = 'active'
		WHERE m1.org_id = ? AND m1.status = 'active')) ORDER BY o.name, u.name`, a.OrgID, a.OrgID)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	return db.Collect(rows, "directory", scanUser)
}

// FindUserByEmail returns the user with that e-mail (operator use).
func (s *Service) FindUserByEmail(ctx context.Context, email string) (User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	row := s.DB.R().QueryRow(ctx, userSelect+` WHERE u.email = ?`, email)
	u, err := scanUser(row)
	if err != nil {
		return u, db.NotFound(err, "find user")
	}
	return u, nil
}

const userSelect = `SELECT u.id, u.org_id, o.name, u.email, u.name, u.role, u.lang, u.totp_enabled, u.disabled, u.created_at
	FROM users u JOIN orgs o ON o.id = u.org_id`

func scanUser(r db.Scanner) (User, error) {
	var u User
	var role string
	var totp, disabled int
	err := r.Scan(&u.ID, &u.OrgID, &u.OrgName, &u.Email, &u.Name, &role, &u.Lang, &totp, &disabled, &u.CreatedAt)
	u.Role, u.TOTPEnabled, u.Disabled = policy.Role(role), totp != 0, disabled != 0
	return u, err
}

func getUser(ctx context.Context, h db.Handle, id string) (User, error) {
	u, err := scanUser(h.QueryRow(ctx, userSelect+` WHERE u.id = ?`, id))
	if err != nil {
		return u, db.NotFound(err, "get user")
	}
	return u, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
