package notify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/i18n"
	"verbund/internal/policy"
)

// MailPref is a person's choice for one group of events.
type MailPref struct {
	Group   string `json:"group"`   // incidents, intel, training
	Mode    string `json:"mode"`    // instant, digest, off
	Default string `json:"default"` // the group's mode when none is chosen
	Chosen  bool   `json:"chosen"`  // the person chose Mode (else it is the default)
}

// MailPrefs is a person's e-mail settings.
type MailPrefs struct {
	Enabled     bool       `json:"enabled"` // the hub sends e-mail (a mail server is configured)
	Digest      string     `json:"digest"`  // how often the digest comes, e.g. "24h0m0s"
	Preferences []MailPref `json:"preferences"`
}

// MailPrefsInput sets modes by group: {"incidents": "instant", …}.
// Groups left out keep their mode.
type MailPrefsInput struct {
	Preferences map[string]string `json:"preferences"`
}

// MailDelivery is one entry of a mail log.
type MailDelivery struct {
	ID        string `json:"id"`
	Person    string `json:"person,omitempty"` // the recipient's user id (the org log)
	Name      string `json:"name,omitempty"`   // the recipient's name (the org log)
	Kind      string `json:"kind"`             // instant, item (waits for or went with a digest), digest, test
	Type      string `json:"type"`             // the event type, "digest" or "test"
	State     string `json:"state"`            // waiting, gathered, pending, delivered, dead, skipped
	Items     int    `json:"items,omitempty"`  // a digest's items
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"` // a code: unreachable, tls, auth, temporary, rejected, not_visible, disabled, off
	CreatedAt int64  `json:"created_at"`
	NextAt    int64  `json:"next_at,omitempty"`
	DoneAt    int64  `json:"done_at,omitempty"`
	Label     string `json:"-"` // the page's name of Type
}

// loadPrefs reads a person's chosen modes by group.
func loadPrefs(ctx context.Context, h db.Handle, user string) (map[string]string, error) {
	rows, err := h.Query(ctx, `SELECT topic, mode FROM mail_prefs WHERE user_id = ?`, user)
	if err != nil {
		return nil, fmt.Errorf("load mail settings: %w", err)
	}
	pairs, err := db.Collect(rows, "load mail settings", func(r db.Scanner) (p [2]string, err error) { err = r.Scan(&p[0], &p[1]); return p, err })
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, p := range pairs {
		out[p[0]] = p[1]
	}
	return out, nil
}

// person refuses an actor that is no person (the operator at the command
// line has no mail settings).
func person(a policy.Actor) error {
	if a.UserID == "" {
		return fault.ErrNotFound
	}
	return nil
}

// MailPreferences are the actor's own e-mail settings.
func (s *Service) MailPreferences(ctx context.Context, a policy.Actor) (MailPrefs, error) {
	if err := person(a); err != nil {
		return MailPrefs{}, err
	}
	chosen, err := loadPrefs(ctx, s.DB.R(), a.UserID)
	if err != nil {
		return MailPrefs{}, err
	}
	out := MailPrefs{Enabled: s.MailOn(), Preferences: []MailPref{}}
	if s.mail != nil {
		out.Digest = s.mail.cfg.Digest.String()
	}
	for _, g := range MailGroups() {
		p := MailPref{Group: g, Default: DefaultMode(g), Mode: DefaultMode(g)}
		if m, ok := chosen[g]; ok {
			p.Mode, p.Chosen = m, true
		}
		out.Preferences = append(out.Preferences, p)
	}
	return out, nil
}

// SetMailPreferences changes the actor's own e-mail settings (audited).
func (s *Service) SetMailPreferences(ctx context.Context, a policy.Actor, in MailPrefsInput) (MailPrefs, error) {
	if err := person(a); err != nil {
		return MailPrefs{}, err
	}
	if len(in.Preferences) == 0 {
		return MailPrefs{}, fault.BadInput("preferences", "no_preferences", `name at least one group and its mode, e.g. {"preferences": {"intel": "instant"}}`)
	}
	groups := make([]string, 0, len(in.Preferences))
	for g, m := range in.Preferences {
		if !slices.Contains(MailGroups(), g) {
			return MailPrefs{}, fault.BadInput("preferences", "unknown_group", `unknown group "{group}"; known: {known}`).With("group", g).With("known", strings.Join(MailGroups(), ", "))
		}
		if m != ModeInstant && m != ModeDigest && m != ModeOff {
			return MailPrefs{}, fault.BadInput("preferences", "bad_mode", `the mode of "{group}" is "instant", "digest" or "off"`).With("group", g)
		}
		groups = append(groups, g)
	}
	slices.Sort(groups)
	now := db.Now()
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		for _, g := range groups {
			if _, err := tx.Exec(ctx, `INSERT INTO mail_prefs (user_id, topic, mode, updated_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (user_id, topic) DO UPDATE SET mode = excluded.mode, updated_at = excluded.updated_at`, a.UserID, g, in.Preferences[g], now); err != nil {
				return fmt.Errorf("save mail settings: %w", err)
			}
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "mail.preferences", ObjectType: "user", ObjectID: a.UserID, Touches: audit.Nothing(),
			Detail: map[string]any{"preferences": in.Preferences}})
	})
	if err != nil {
		return MailPrefs{}, err
	}
	return s.MailPreferences(ctx, a)
}

// MyMails is the actor's own mail log, newest first (at most limit, 1 to
// 500; default 100). It names no object: only the event type, the state
// and the error code.
func (s *Service) MyMails(ctx context.Context, a policy.Actor, limit int) ([]MailDelivery, error) {
	if err := person(a); err != nil {
		return nil, err
	}
	return s.mailLog(ctx, "o.user_id = ?", a.UserID, limit, false)
}

// OrgMails is the mail log of the actor's org's people (its admins
// only): who got what kind of mail when, with error codes, never what
// it was about (an admin need not see every object a colleague may).
func (s *Service) OrgMails(ctx context.Context, a policy.Actor, limit int) ([]MailDelivery, error) {
	if !a.CanAdmin() {
		return nil, fault.New(fault.Forbidden, "admin_required", "only an administrator of your organisation may read its mail log")
	}
	return s.mailLog(ctx, "o.org_id = ?", a.OrgID, limit, true)
}

func (s *Service) mailLog(ctx context.Context, where, arg string, limit int, names bool) ([]MailDelivery, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := s.DB.R().Query(ctx, `SELECT o.id, o.user_id, u.name, o.kind, o.type, o.state, o.attempts, o.last_error, o.created_at, o.next_at, o.done_at,
		CASE WHEN o.kind = 'digest' THEN (SELECT COUNT(*) FROM mail_outbox i WHERE i.digest_id = o.id) ELSE 0 END
		FROM mail_outbox o JOIN users u ON u.id = o.user_id
		WHERE `+where+` ORDER BY o.created_at DESC, o.id DESC LIMIT ?`, arg, limit)
	if err != nil {
		return nil, fmt.Errorf("mail log: %w", err)
	}
	return db.Collect(rows, "mail log", func(r db.Scanner) (d MailDelivery, err error) {
		err = r.Scan(&d.ID, &d.Person, &d.Name, &d.Kind, &d.Type, &d.State, &d.Attempts, &d.LastError, &d.CreatedAt, &d.NextAt, &d.DoneAt, &d.Items)
		if !names {
			d.Person, d.Name = "", ""
		}
		if d.State != "pending" {
			d.NextAt = 0
		}
		return d, err
	})
}

// SendTestMail sends one test mail to address with cfg at once (not
// through the outbox): verbund mail test. The error says what failed.
func SendTestMail(ctx context.Context, cfg MailConfig, to, lang string) error {
	cat, err := i18n.Load()
	if err != nil {
		return err
	}
	if err := cat.Add(files, "i18n"); err != nil {
		return err
	}
	s := &Service{}
	s.SetMail(cfg, cat)
	m := s.mail
	o := &outMail{id: "mail_" + db.NewID(), kind: "test", typ: "test", to: to, lang: lang, items: []mailItem{{Type: "test"}}}
	msg, err := m.message(o)
	if err != nil {
		return fmt.Errorf("--to %q: %w", to, err)
	}
	c, err := m.dial(ctx)
	if err != nil {
		code, _ := classify(err)
		return fmt.Errorf("%s (%w)", MailHint(code, cfg), err)
	}
	defer func() { _ = c.Close() }()
	if err := c.Send(msg); err != nil {
		code, _ := classify(err)
		return fmt.Errorf("%s (%w)", MailHint(code, cfg), err)
	}
	return nil
}

// MailHint says, for an operator, what an error code means and what to
// do about it.
func MailHint(code string, cfg MailConfig) string {
	switch code {
	case mailTLS:
		return fmt.Sprintf("the encrypted connection to %s failed: check --smtp-tls (%s; tls for port 465, starttls for 587) and the server's certificate", cfg.Addr, cfg.TLS)
	case mailAuth:
		return fmt.Sprintf("the mail server refused the login of --smtp-user %q: check the user and the password (VERBUND_SMTP_PASSWORD)", cfg.User)
	case mailTemporary:
		return "the mail server refused the mail for now (4xx): try again later, or ask its operator"
	case mailRejected:
		return "the mail server refused the mail (5xx): check --smtp-from (may the hub send as it?) and the address of --to"
	}
	return fmt.Sprintf("the mail server %s could not be reached: check --smtp-addr, and that it runs and lets this machine connect", cfg.Addr)
}
