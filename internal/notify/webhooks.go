package notify

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/netguard"
	"verbund/internal/policy"
)

// MaxWebhooks is how many webhooks an org may have: each event is sent to
// each of them, so more would let one org make the hub an amplifier and
// hold up every other org's deliveries.
const MaxWebhooks = 50

// Webhook is an org's endpoint for events. Secret is set only in the
// answer that made it.
type Webhook struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	MinSeverity string   `json:"min_severity,omitempty"`
	Secret      string   `json:"secret,omitempty"`
	CreatedAt   int64    `json:"created_at"`
	Pending     int      `json:"pending"` // deliveries waiting (to be sent or retried)
	Dead        int      `json:"dead"`    // deliveries given up on
}

// WebhookInput makes a webhook.
type WebhookInput struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	MinSeverity string   `json:"min_severity,omitempty"`
}

// Delivery is one entry of a webhook's delivery log.
type Delivery struct {
	ID         string `json:"id"` // the webhook-id header
	Type       string `json:"type"`
	State      string `json:"state"` // pending, delivered, dead
	Attempts   int    `json:"attempts"`
	LastStatus int    `json:"last_status,omitempty"`
	LastError  string `json:"last_error,omitempty"` // a code: answer, unreachable, deleted, not_visible, plain_http
	CreatedAt  int64  `json:"created_at"`
	NextAt     int64  `json:"next_at,omitempty"` // pending: the next attempt
	DoneAt     int64  `json:"done_at,omitempty"`
}

// checkTarget refuses a URL a webhook may not have: not https (http only
// where private targets are allowed), with credentials, or naming a
// private or loopback host (unless allowed). A name is checked again at
// every connection (newClient).
func (s *Service) checkTarget(raw string) (string, error) {
	u, err := netguard.CheckURL(raw, s.AllowPrivate)
	if errors.Is(err, netguard.ErrPrivate) {
		return "", fault.BadInput("url", "private_target", "the webhook URL points to a private or loopback address; the operator allows those with --webhook-allow-private")
	}
	if err != nil {
		return "", fault.BadInput("url", "bad_url", "the webhook URL must be an https:// address of a server on the internet")
	}
	return u.String(), nil
}

// CreateWebhook makes a webhook of the actor's org (its admins only).
func (s *Service) CreateWebhook(ctx context.Context, a policy.Actor, in WebhookInput) (Webhook, error) {
	if !a.CanAdmin() {
		return Webhook{}, fault.New(fault.Forbidden, "admin_required", "only an administrator of your organisation may manage webhooks")
	}
	target, err := s.checkTarget(in.URL)
	if err != nil {
		return Webhook{}, err
	}
	known := s.EventTypes()
	var events []string
	for _, e := range in.Events {
		e = strings.TrimSpace(e)
		if !slices.Contains(known, e) {
			return Webhook{}, fault.BadInput("events", "unknown_event", `unknown event type "{event}"; known: {known}`).With("event", e).With("known", strings.Join(known, ", "))
		}
		if !slices.Contains(events, e) {
			events = append(events, e)
		}
	}
	if len(events) == 0 {
		return Webhook{}, fault.BadInput("events", "no_events", "name at least one event type the webhook receives")
	}
	sev, err := ParseSeverity(in.MinSeverity)
	if err != nil {
		return Webhook{}, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return Webhook{}, fmt.Errorf("webhook secret: %w", err)
	}
	var have int
	if err := s.DB.R().QueryRow(ctx, `SELECT COUNT(*) FROM webhooks WHERE org_id = ? AND deleted_at = 0`, a.OrgID).Scan(&have); err != nil {
		return Webhook{}, fmt.Errorf("count webhooks: %w", err)
	}
	if have >= MaxWebhooks {
		return Webhook{}, fault.BadInput("url", "too_many_webhooks", "an organisation has at most {max} webhooks: delete one first").With("max", MaxWebhooks)
	}
	w := Webhook{ID: db.NewID(), URL: target, Events: events, MinSeverity: sev.String(), Secret: "whsec_" + base64.StdEncoding.EncodeToString(key), CreatedAt: db.Now()}
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO webhooks (id, org_id, url, secret, events, min_severity, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			w.ID, a.OrgID, w.URL, w.Secret, strings.Join(events, " "), int(sev), a.UserID, w.CreatedAt); err != nil {
			return fmt.Errorf("create webhook: %w", err)
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "webhook.create", ObjectType: "webhook", ObjectID: w.ID, Touches: audit.Nothing(),
			// The host only: a receiver's path or query often holds a
			// secret of its own, and auditors read the trail.
			Detail: map[string]any{"host": hostOf(w.URL), "events": events, "min_severity": w.MinSeverity}})
	})
	if err != nil {
		return Webhook{}, err
	}
	return w, nil
}

// Webhooks lists the actor's org's webhooks (admins only, not with a
// read-only token: a receiver's URL often holds a secret of its own),
// without their signing secrets.
func (s *Service) Webhooks(ctx context.Context, a policy.Actor) ([]Webhook, error) {
	if !a.CanAdmin() {
		return nil, fault.New(fault.Forbidden, "admin_required", "only an administrator of your organisation may manage webhooks")
	}
	rows, err := s.DB.R().Query(ctx, `SELECT w.id, w.url, w.events, w.min_severity, w.created_at,
		(SELECT COUNT(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.state = 'pending'),
		(SELECT COUNT(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.state = 'dead')
		FROM webhooks w WHERE w.org_id = ? AND w.deleted_at = 0 ORDER BY w.created_at`, a.OrgID)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return db.Collect(rows, "list webhooks", func(r db.Scanner) (w Webhook, err error) {
		var events string
		var sev Severity
		err = r.Scan(&w.ID, &w.URL, &events, &sev, &w.CreatedAt, &w.Pending, &w.Dead)
		w.Events, w.MinSeverity = strings.Fields(events), sev.String()
		return w, err
	})
}

// own checks that webhook id is the actor's org's (and not deleted): any
// other is not found.
func (s *Service) own(ctx context.Context, h db.Handle, a policy.Actor, id string) error {
	if !a.CanAdmin() {
		return fault.New(fault.Forbidden, "admin_required", "only an administrator of your organisation may manage webhooks")
	}
	var n int
	if err := h.QueryRow(ctx, `SELECT COUNT(*) FROM webhooks WHERE id = ? AND org_id = ? AND deleted_at = 0`, id, a.OrgID).Scan(&n); err != nil {
		return fmt.Errorf("find webhook: %w", err)
	}
	if n == 0 {
		return fault.ErrNotFound
	}
	return nil
}

// DeleteWebhook stops a webhook: it gets nothing more, and what waits for
// it is given up (its log stays).
func (s *Service) DeleteWebhook(ctx context.Context, a policy.Actor, id string) error {
	if !a.CanAdmin() {
		return fault.New(fault.Forbidden, "admin_required", "only an administrator of your organisation may manage webhooks")
	}
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		if err := s.own(ctx, tx.Handle, a, id); err != nil {
			return err
		}
		now := db.Now()
		if _, err := tx.Exec(ctx, `UPDATE webhooks SET deleted_at = ? WHERE id = ?`, now, id); err != nil {
			return fmt.Errorf("delete webhook: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET state = 'dead', last_error = ?, done_at = ? WHERE webhook_id = ? AND state = 'pending'`, errDeleted, now, id); err != nil {
			return fmt.Errorf("delete webhook: %w", err)
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "webhook.delete", ObjectType: "webhook", ObjectID: id, Touches: audit.Nothing()})
	})
}

// Deliveries lists a webhook's newest deliveries (at most limit, 1 to
// 500; default 100).
func (s *Service) Deliveries(ctx context.Context, a policy.Actor, id string, limit int) ([]Delivery, error) {
	h := s.DB.R()
	if err := s.own(ctx, h, a, id); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := h.Query(ctx, `SELECT id, type, state, attempts, last_status, last_error, created_at, next_at, done_at FROM webhook_deliveries
		WHERE webhook_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, id, limit)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return db.Collect(rows, "list deliveries", func(r db.Scanner) (d Delivery, err error) {
		err = r.Scan(&d.ID, &d.Type, &d.State, &d.Attempts, &d.LastStatus, &d.LastError, &d.CreatedAt, &d.NextAt, &d.DoneAt)
		if d.State != "pending" {
			d.NextAt = 0
		}
		return d, err
	})
}

// hostOf is the host of a webhook URL.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}
