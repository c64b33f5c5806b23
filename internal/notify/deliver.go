package notify

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"verbund/internal/db"
	"verbund/internal/netguard"
	"verbund/internal/policy"
)

// backoff is how long a delivery waits after its nth failed attempt
// (Standard Webhooks suggests a schedule like it); after the last it is
// dead (kept in the log, not retried): about a day of trying.
var backoff = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour}

// lease is how long a claimed delivery is left to its sender before
// another round (or replica, or the next process after a crash) may take
// it again: longer than a send may take (the client gives up after 10 s).
const lease = 15 * time.Second

// senders is how many deliveries go out at once.
const senders = 16

// newClient is the deliveries' HTTP client: it checks the address it
// connects to (after the name was resolved, so a name that points inside
// later is refused too), uses no proxy from the environment, follows no
// redirect (a 3xx is a failed attempt) and gives up after 10 s.
func newClient(s *Service) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: netguard.Control(s.AllowPrivate)}
	return &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: senders, IdleConnTimeout: time.Minute, TLSHandshakeTimeout: 5 * time.Second},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Run delivers what is due until ctx ends: at once after a commit that
// enqueued something, else every second (retries, other replicas'
// deliveries, those a crash left).
func (s *Service) Run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		n, err := s.DeliverDue(ctx, 200)
		if err != nil && ctx.Err() == nil {
			s.Log.Warn("webhook deliveries", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-tick.C:
		}
	}
}

// delivery is one claimed delivery.
type delivery struct {
	id, typ, payload, url, secret, org, share string
	attempts                                  int
	status                                    int
	err                                       string // an error code (notify.error.*), "" when delivered
}

// The error codes a delivery's log shows (catalogue notify.error.<code>).
// A connection's failures are one code whatever the cause (no such
// name, refused, a private address, a timeout): the log must not let an
// org's admin map which names the hub's network resolves.
const (
	errAnswer      = "answer"      // the receiver answered, but not 2xx (last_status)
	errUnreachable = "unreachable" // no answer: the receiver could not be reached
	errDeleted     = "deleted"     // the webhook was deleted (DeleteWebhook gives up what waits)
	errNotVisible  = "not_visible" // the org may no longer see what the event is about
	errPlainHTTP   = "plain_http"  // an http:// target, allowed only with --webhook-allow-private
)

// perWebhook is how many of one webhook's due deliveries a round takes at
// most: every webhook with due deliveries gets its share of each round.
const perWebhook = 20

// DeliverDue sends up to limit due deliveries and records the outcomes;
// it returns how many it sent.
func (s *Service) DeliverDue(ctx context.Context, limit int) (int, error) {
	now := db.Now()
	// A read first: an idle hub must not take the write lock every second
	// (SQLite has one writer, and under load every writer waits for it).
	var waiting int
	err := s.DB.R().QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM webhook_deliveries WHERE state = 'pending' AND next_at <= ? LIMIT 1) x`, now).Scan(&waiting)
	if err != nil || waiting == 0 {
		return 0, err
	}
	var due []*delivery
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		tx.Bookkeeping() // the enqueue was audited with its change; this is the outbox's own state
		due = nil
		rows, err := tx.Query(ctx, `SELECT id, org_id, url, secret FROM webhooks WHERE deleted_at = 0 ORDER BY id`)
		if err != nil {
			return fmt.Errorf("claim deliveries: %w", err)
		}
		type hook struct {
			id, org, url, secret string
		}
		hooks, err := db.Collect(rows, "claim deliveries", func(r db.Scanner) (h hook, err error) {
			err = r.Scan(&h.id, &h.org, &h.url, &h.secret)
			return h, err
		})
		if err != nil {
			return err
		}
		q := `SELECT id, share_id, type, body, attempts FROM webhook_deliveries WHERE webhook_id = ? AND state = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?`
		if tx.Dialect() == db.Postgres {
			q += ` FOR UPDATE SKIP LOCKED` // replicas take different ones
		}
		for _, h := range hooks {
			if len(due) >= limit {
				break
			}
			rows, err := tx.Query(ctx, q, h.id, now, min(perWebhook, limit-len(due)))
			if err != nil {
				return fmt.Errorf("claim deliveries: %w", err)
			}
			ds, err := db.Collect(rows, "claim deliveries", func(r db.Scanner) (*delivery, error) {
				d := &delivery{url: h.url, secret: h.secret, org: h.org}
				return d, r.Scan(&d.id, &d.share, &d.typ, &d.payload, &d.attempts)
			})
			if err != nil {
				return err
			}
			due = append(due, ds...)
		}
		if len(due) == 0 {
			return nil
		}
		ids := make([]any, 0, len(due)+1)
		ids = append(ids, now+lease.Microseconds())
		for _, d := range due {
			ids = append(ids, d.id)
		}
		_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET next_at = ? WHERE id IN (`+db.Placeholders(len(due))+`)`, ids...)
		return err
	})
	if err != nil || len(due) == 0 {
		return 0, err
	}
	if err := s.stillVisible(ctx, due, now); err != nil {
		return 0, err
	}
	work := make(chan *delivery)
	var wg sync.WaitGroup
	for range min(senders, len(due)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				s.send(ctx, d)
			}
		}()
	}
	for _, d := range due {
		work <- d
	}
	close(work)
	wg.Wait()
	return len(due), s.record(context.WithoutCancel(ctx), due)
}

// stillVisible judges each delivery again before it is sent: an org that
// lost sight of the object since the event (a membership ended, an
// agreement revoked, the object deleted) gets nothing more of it.
func (s *Service) stillVisible(ctx context.Context, due []*delivery, now int64) error {
	h := s.DB.R()
	views := map[string]*policy.View{}
	for _, d := range due {
		if d.share == "" {
			continue
		}
		v, ok := views[d.org]
		if !ok {
			var err error
			if v, err = orgView(ctx, h, d.org, now); err != nil {
				return err
			}
			views[d.org] = v
		}
		ok, err := v.SeesShare(ctx, h, d.share)
		if err != nil {
			return err
		}
		if !ok {
			d.err = errNotVisible
		}
	}
	return nil
}

// send makes one attempt.
func (s *Service) send(ctx context.Context, d *delivery) {
	if d.err != "" {
		return // not visible any more
	}
	if !s.AllowPrivate && strings.HasPrefix(d.url, "http:") {
		d.err = errPlainHTTP
		return
	}
	req, err := request(ctx, d.url, d.secret, d.id, []byte(d.payload), time.Now())
	if err != nil {
		d.err = errUnreachable
		return
	}
	resp, err := s.client.Do(req)
	if err != nil {
		d.err = errUnreachable
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close() // the status decides; a close error changes nothing
	d.status = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		d.err = errAnswer
	}
}

// record writes the outcomes of a round in one transaction. What cannot
// succeed later (not visible, a plain http target) is given up
// at once.
func (s *Service) record(ctx context.Context, done []*delivery) error {
	now := db.Now()
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		tx.Bookkeeping()
		for _, d := range done {
			n := d.attempts + 1
			final := d.err == errNotVisible || d.err == errPlainHTTP
			var err error
			switch {
			case d.err == "":
				_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET state = 'delivered', attempts = ?, last_status = ?, last_error = '', done_at = ? WHERE id = ?`, n, d.status, now, d.id)
			case final || n > len(backoff):
				_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET state = 'dead', attempts = ?, last_status = ?, last_error = ?, done_at = ? WHERE id = ?`, n, d.status, d.err, now, d.id)
			default:
				_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET attempts = ?, last_status = ?, last_error = ?, next_at = ? WHERE id = ?`,
					n, d.status, d.err, now+backoff[n-1].Microseconds(), d.id)
			}
			if err != nil {
				return fmt.Errorf("record a delivery: %w", err)
			}
		}
		return nil
	})
}
