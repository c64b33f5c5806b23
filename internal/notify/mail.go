package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"verbund/internal/db"
	"verbund/internal/i18n"
	"verbund/internal/policy"
)

// E-mail notifications: a person chooses per group of events (incidents,
// intel, training) whether they get a mail at once, in the digest or not
// at all (mailprefs.go). Enqueue writes, in the transaction of the
// change, one outbox row per person who chose a mail for the event's
// group, is addressed by the object's audience and may see it (the same
// rule book as every reader: TLP:RED and named-people objects reach only
// named people). The mail deliverer (RunMail, maildeliver.go) judges
// each row again right before sending, gathers digests, and sends with
// retries and backoff; rows a crash left are taken again after their
// lease (at least once).

// MailConfig is how the hub sends e-mail (serve --smtp-*).
type MailConfig struct {
	Addr     string // host:port of the mail server
	User     string // "" for no login
	Password string
	From     string // the sender
	TLS      string // none, starttls or tls
	BaseURL  string // mails link to the hub here
	Digest   time.Duration
	Backoff  []time.Duration // nil: mailBackoff
}

// mailer is the e-mail part of the service; nil when no mail server is
// configured (e-mail off).
type mailer struct {
	cfg     MailConfig
	cat     *i18n.Catalog
	wake    chan struct{}
	backoff []time.Duration
}

// mailBackoff is how long a mail waits after its nth failed attempt;
// after the last it is dead (kept in the log): about a day of trying,
// as for webhooks.
var mailBackoff = []time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour}

// SetMail turns e-mail on with cfg; the catalogue gives the mails their
// words in each person's language. Call it before the hub serves.
func (s *Service) SetMail(cfg MailConfig, cat *i18n.Catalog) {
	if cfg.Addr == "" {
		s.mail = nil
		return
	}
	if cfg.Digest <= 0 {
		cfg.Digest = 24 * time.Hour
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	b := cfg.Backoff
	if len(b) == 0 {
		b = mailBackoff
	}
	s.mail = &mailer{cfg: cfg, cat: cat, wake: make(chan struct{}, 1), backoff: b}
}

// MailOn reports whether the hub sends e-mail.
func (s *Service) MailOn() bool { return s != nil && s.mail != nil }

func (m *mailer) kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// The groups of events a person chooses for, and their modes.
const (
	GroupIncidents = "incidents"
	GroupIntel     = "intel"
	GroupTraining  = "training"

	ModeInstant = "instant"
	ModeDigest  = "digest"
	ModeOff     = "off"
)

// MailGroups lists the groups in the order the settings show them.
func MailGroups() []string { return []string{GroupIncidents, GroupIntel, GroupTraining} }

// GroupOf is the group of an event type ("incident.created" is an
// incident's); "" for types no mail is sent for.
func GroupOf(typ string) string {
	switch prefix, _, _ := strings.Cut(typ, "."); prefix {
	case "incident":
		return GroupIncidents
	case "intel":
		return GroupIntel
	case "training":
		return GroupTraining
	}
	return ""
}

// DefaultMode is a group's mode for a person who chose none: incidents
// at once (someone waits for an answer), the rest in the daily digest.
func DefaultMode(group string) string {
	if group == GroupIncidents {
		return ModeInstant
	}
	return ModeDigest
}

// mailKeys are the only keys of an event's data a mail shows: what the
// object's list and page show anyone who may see it. Nothing else of
// Data (a description, a file name) leaves by mail. A value may be a
// map of language → text (kept as "title.de", …).
var mailKeys = []string{"id", "title", "path", "status", "severity", "summary", "due"}

// mailData is the JSON of the keys of e a mail may show.
func mailData(e Event) (string, error) {
	out := map[string]string{}
	for _, k := range mailKeys {
		switch v := e.Data[k].(type) {
		case nil:
		case map[string]string: // a text per language (a module's title): each mail takes its reader's
			for lang, t := range v {
				if lang != "" && len(lang) <= 8 {
					out[k+"."+lang] = clip(t, 300)
				}
			}
		default:
			out[k] = clip(fmt.Sprint(v), 300)
		}
	}
	if out["severity"] == "" && e.Severity != SeverityNone {
		out["severity"] = e.Severity.String()
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// candidate is a person an event may be mailed to.
type candidate struct {
	id, org, mode string
}

// enqueueMail writes the mails of events in tx: for each person the
// object is addressed to (its owner org, the orgs or circle of its
// audience, named people; for TLP:RED only the named people and the
// author; for Event.People only those), who did not turn the group off
// and may see the object. The people are read with their choice for the
// group in one query per audience (not every person of the hub), each
// org's view once.
func (s *Service) enqueueMail(ctx context.Context, tx *db.Tx, events []Event, in containers) error {
	m := s.mail
	if m == nil {
		return nil
	}
	now := db.Now()
	views := map[string]*policy.View{}
	cands := map[string][]candidate{}
	var values []any
	for _, e := range events {
		group := GroupOf(e.Type)
		if group == "" || e.Share.ID == "" {
			continue
		}
		key, err := s.audienceKey(e, group)
		if err != nil {
			return err
		}
		cs, ok := cands[key]
		if !ok {
			if cs, err = candidates(ctx, tx.Handle, e, group); err != nil {
				return err
			}
			cands[key] = cs
		}
		var data string
		for _, c := range cs {
			mode := c.mode
			if mode == "" {
				mode = DefaultMode(group)
			}
			if mode == ModeOff || c.id == e.By {
				continue
			}
			v, ok := views[c.org]
			if !ok {
				if v, err = policy.LoadView(ctx, tx.Handle, policy.Actor{OrgID: c.org}, now); err != nil {
					return err
				}
				views[c.org] = v
			}
			pv := *v // the org's standing, as this person
			pv.UserID = c.id
			if !in.sees(&pv, e) {
				continue
			}
			if data == "" {
				if data, err = mailData(e); err != nil {
					return fmt.Errorf("mail %s: %w", e.Type, err)
				}
			}
			// A digest's item waits with next_at at its creation: the
			// gathering finds those of ended periods on the (state,
			// next_at) index without reading the others.
			kind, state := "instant", "pending"
			if mode == ModeDigest {
				kind, state = "item", "waiting"
			}
			values = append(values, "mail_"+db.NewID(), c.id, c.org, kind, e.Type, e.Share.ID, data, state, now, now)
		}
	}
	if len(values) == 0 {
		return nil
	}
	if err := tx.InsertMany(ctx, `mail_outbox (id, user_id, org_id, kind, type, share_id, data, state, next_at, created_at)`, 10, values); err != nil {
		return fmt.Errorf("enqueue mails: %w", err)
	}
	tx.AfterCommit(m.kick)
	return nil
}

// audienceKey names the set of candidates of e: events with the same
// audience and group (an import's sightings) read their people once.
func (s *Service) audienceKey(e Event, group string) (string, error) {
	b, err := json.Marshal([]any{group, e.People, e.Share.Owner, e.Share.Author, e.Share.TLP == policy.Red, e.Share.Audience})
	return string(b), err
}

// candidates reads the people e is addressed to, with their choice for
// group ("" for none: the default).
func candidates(ctx context.Context, h db.Handle, e Event, group string) ([]candidate, error) {
	sh := e.Share
	var orgs, people []string
	switch {
	case len(e.People) > 0:
		people = e.People
	case sh.TLP == policy.Red:
		// Only named people (and the author) may see RED: no org is
		// read whole.
		people = append(slices.Clone(sh.Audience.People), sh.Author)
	default:
		orgs = []string{sh.Owner}
		switch sh.Audience.Kind {
		case policy.AudOrgs:
			orgs = append(orgs, sh.Audience.Orgs...)
		case policy.AudPeople:
			people = sh.Audience.People
		case policy.AudCommunity:
			rows, err := h.Query(ctx, `SELECT org_id FROM community_members WHERE community_id = ? AND status = 'active'`, sh.Audience.Community)
			if err != nil {
				return nil, fmt.Errorf("mail recipients: %w", err)
			}
			members, err := db.Collect(rows, "mail recipients", func(r db.Scanner) (o string, err error) { err = r.Scan(&o); return o, err })
			if err != nil {
				return nil, err
			}
			orgs = append(orgs, members...)
		}
	}
	people = slices.DeleteFunc(slices.Clone(people), func(p string) bool { return p == "" })
	if len(orgs) == 0 && len(people) == 0 {
		return nil, nil
	}
	var where []string
	args := []any{group}
	if len(orgs) > 0 {
		where = append(where, `u.org_id IN (`+db.Placeholders(len(orgs))+`)`)
		for _, o := range orgs {
			args = append(args, o)
		}
	}
	if len(people) > 0 {
		where = append(where, `u.id IN (`+db.Placeholders(len(people))+`)`)
		for _, p := range people {
			args = append(args, p)
		}
	}
	rows, err := h.Query(ctx, `SELECT u.id, u.org_id, COALESCE(p.mode, '') FROM users u
		LEFT JOIN mail_prefs p ON p.user_id = u.id AND p.topic = ?
		WHERE u.disabled = 0 AND (`+strings.Join(where, " OR ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("mail recipients: %w", err)
	}
	return db.Collect(rows, "mail recipients", func(r db.Scanner) (c candidate, err error) {
		err = r.Scan(&c.id, &c.org, &c.mode)
		return c, err
	})
}
