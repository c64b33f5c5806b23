// Package notify tells organisations' systems about events of the hub:
// webhooks signed the Standard Webhooks way (webhook-id,
// webhook-timestamp, webhook-signature: HMAC-SHA256), delivered from a
// durable outbox with retries, backoff and a dead-letter state, with a
// delivery log per webhook. A capability enqueues an event in the
// transaction of the change it tells of (Enqueue); every webhook whose
// org may see the object gets its own delivery, judged by the same rule
// book as a member of that org who is not named anywhere (TLP:RED and
// named people never leave by webhook). The deliverer (Run) sends what is
// due after the commit.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Severity ranks events that have one (incidents); 0 is none.
type Severity int

// The severities, in order.
const (
	SeverityNone Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = []string{"", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return ""
	}
	return severityNames[s]
}

// ParseSeverity reads "low" … "critical" ("" is none).
func ParseSeverity(v string) (Severity, error) {
	if i := slices.Index(severityNames, strings.ToLower(strings.TrimSpace(v))); i >= 0 {
		return Severity(i), nil
	}
	return 0, fault.BadInput("min_severity", "bad_severity", `min_severity is "low", "medium", "high" or "critical"`)
}

// Event is what a capability tells webhooks about.
type Event struct {
	Type     string       // e.g. "intel.sighting", "incident.created"
	Share    policy.Share // the envelope of what it is about, with its audience's orgs and people
	Severity Severity     // SeverityNone: every webhook of the type takes it
	Data     map[string]any
	// By is the person whose change it tells of: they get no mail of it
	// ("" for none).
	By string
	// People, when set, are the only people it is mailed to (a training
	// reminder to those who have not passed yet), each still only if they
	// may see Share. Webhooks ignore it.
	People []string
}

// Service keeps webhooks and delivers events to them.
type Service struct {
	DB  *db.DB
	Log *slog.Logger
	// AllowPrivate lets webhooks reach loopback and private addresses
	// (serve --webhook-allow-private): off, a target there is refused when
	// it is made and again when a delivery connects (a name that resolves
	// there later).
	AllowPrivate bool
	client       *http.Client
	wake         chan struct{}

	mu    sync.RWMutex
	types []string // the event types capabilities enqueue (AddEventTypes)

	mail *mailer // e-mail (SetMail); nil: off
}

// New returns the service.
func New(d *db.DB, log *slog.Logger, allowPrivate bool) *Service {
	s := &Service{DB: d, Log: log, AllowPrivate: allowPrivate, wake: make(chan struct{}, 1)}
	s.client = newClient(s)
	return s
}

// AddEventTypes registers event types a capability enqueues: webhooks may
// subscribe to them.
func (s *Service) AddEventTypes(types ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range types {
		if !slices.Contains(s.types, t) {
			s.types = append(s.types, t)
		}
	}
	slices.Sort(s.types)
}

// EventTypes lists the registered event types.
func (s *Service) EventTypes() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.types)
}

// body is a delivery's JSON: type, timestamp and data (with data.id).
type body struct {
	Type      string         `json:"type"`
	Timestamp string         `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// Enqueue writes a delivery of e for every webhook that subscribed to its
// type (at its severity) and whose org may see e.Share, and a mail for
// every person who chose one for its group and may see e.Share, in tx:
// both commit with the change or not at all. They are sent after the
// commit.
func (s *Service) Enqueue(ctx context.Context, tx *db.Tx, e Event) error {
	return s.EnqueueAll(ctx, tx, []Event{e})
}

// EnqueueAll is Enqueue for many events (an import's sightings): the
// webhooks and each org's view are read once. With e-mail on it also
// writes the events' mails (enqueueMail).
func (s *Service) EnqueueAll(ctx context.Context, tx *db.Tx, events []Event) error {
	if s == nil || len(events) == 0 {
		return nil
	}
	cs, err := containersOf(ctx, tx.Handle, events)
	if err != nil {
		return err
	}
	if err := s.enqueueHooks(ctx, tx, events, cs); err != nil {
		return err
	}
	return s.enqueueMail(ctx, tx, events, cs)
}

// containers are the envelopes of the containers events' objects sit in,
// by the object's id.
type containers map[string]policy.Share

// containersOf reads, in the change's transaction, the containers of the
// events' objects as they are now (an incident narrowed since its task
// was shared): an event about a contained object reaches only who may
// see its container too, as the kernel answers 404 for the object
// otherwise (POLICY rule 5). The shares rows say, not the events: an
// envelope read back from a list may not carry its container.
func containersOf(ctx context.Context, h db.Handle, events []Event) (containers, error) {
	ids := make([]any, 0, len(events))
	for _, e := range events {
		if e.Share.ID != "" {
			ids = append(ids, e.Share.ID)
		}
	}
	out := containers{}
	for len(ids) > 0 {
		part := ids[:min(len(ids), 500)]
		ids = ids[len(part):]
		rows, err := h.Query(ctx, `SELECT id, container_id FROM shares WHERE container_id IS NOT NULL AND id IN (`+db.Placeholders(len(part))+`)`, part...)
		if err != nil {
			return nil, fmt.Errorf("find containers: %w", err)
		}
		pairs, err := db.Collect(rows, "find containers", func(r db.Scanner) (p [2]string, err error) {
			err = r.Scan(&p[0], &p[1])
			return p, err
		})
		if err != nil {
			return nil, err
		}
		loaded := map[string]policy.Share{}
		for _, p := range pairs {
			c, ok := loaded[p[1]]
			if !ok {
				var found bool
				if c, found, err = policy.LoadShare(ctx, h, p[1]); err != nil {
					return nil, err
				}
				if !found {
					// A container gone: nobody sees what was in it.
					c = policy.Share{ID: p[1], TLP: policy.Red, Audience: policy.Audience{Kind: policy.AudPeople}}
				}
				loaded[p[1]] = c
			}
			out[p[0]] = c
		}
	}
	return out, nil
}

// sees reports whether v may see e's object and its container.
func (cs containers) sees(v *policy.View, e Event) bool {
	if !v.CanSee(e.Share) {
		return false
	}
	c, ok := cs[e.Share.ID]
	return !ok || v.CanSee(c)
}

// enqueueHooks writes the webhook deliveries of events.
func (s *Service) enqueueHooks(ctx context.Context, tx *db.Tx, events []Event, cs containers) error {
	rows, err := tx.Query(ctx, `SELECT id, org_id, events, min_severity FROM webhooks WHERE deleted_at = 0`)
	if err != nil {
		return fmt.Errorf("enqueue events: %w", err)
	}
	type hook struct {
		id, org, events string
		min             Severity
	}
	hooks, err := db.Collect(rows, "enqueue events", func(r db.Scanner) (h hook, err error) {
		err = r.Scan(&h.id, &h.org, &h.events, &h.min)
		return h, err
	})
	if err != nil || len(hooks) == 0 {
		return err
	}
	now := db.Now()
	views := map[string]*policy.View{}
	var values []any
	for _, e := range events {
		var payload []byte
		for _, h := range hooks {
			if !slices.Contains(strings.Fields(h.events), e.Type) || e.Severity != SeverityNone && e.Severity < h.min {
				continue
			}
			v, ok := views[h.org]
			if !ok {
				if v, err = orgView(ctx, tx.Handle, h.org, now); err != nil {
					return err
				}
				views[h.org] = v
			}
			if !cs.sees(v, e) {
				continue
			}
			if payload == nil {
				if payload, err = json.Marshal(body{Type: e.Type, Timestamp: time.UnixMicro(now).UTC().Format(time.RFC3339Nano), Data: e.Data}); err != nil {
					return fmt.Errorf("enqueue %s: %w", e.Type, err)
				}
			}
			values = append(values, "msg_"+db.NewID(), h.id, e.Share.ID, e.Type, string(payload), now, now)
		}
	}
	if len(values) == 0 {
		return nil
	}
	if err := tx.InsertMany(ctx, `webhook_deliveries (id, webhook_id, share_id, type, body, next_at, created_at)`, 7, values); err != nil {
		return fmt.Errorf("enqueue events: %w", err)
	}
	tx.AfterCommit(s.kick)
	return nil
}

// orgView is what an org's webhooks may be told of: the org as a member
// no one named (CanSee needs a person's id; "webhook" names nobody), so
// neither TLP:RED nor a named-people audience ever leaves by webhook.
func orgView(ctx context.Context, h db.Handle, org string, now int64) (*policy.View, error) {
	v, err := policy.LoadView(ctx, h, policy.Actor{OrgID: org}, now)
	if err != nil {
		return nil, err
	}
	v.UserID = "webhook"
	return v, nil
}

// kick wakes the deliverer.
func (s *Service) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Sign is the webhook-signature of a delivery (Standard Webhooks: "v1,"
// and the base64 HMAC-SHA256 of "id.timestamp.body" under the secret's
// key).
func Sign(secret, id, timestamp string, payload []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(payload)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// request builds a delivery's request.
func request(ctx context.Context, url, secret, id string, payload []byte, at time.Time) (*http.Request, error) {
	ts := fmt.Sprint(at.Unix())
	sig, err := Sign(secret, id, ts, payload)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "verbund-webhooks")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", sig)
	return req, nil
}
