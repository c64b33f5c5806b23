package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"verbund/internal/db"
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

// errPrivate refuses a connection to a private or loopback address.
var errPrivate = errors.New("the target is a private, loopback or otherwise internal address (the operator allows those with --webhook-allow-private)")

// Public reports whether a is an address on the internet: not loopback,
// private, link-local, shared (CGNAT), multicast or otherwise reserved.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("240.0.0.0/4"), netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("2002::/16"),
}

// newClient is the deliveries' HTTP client: it checks the address it
// connects to (after the name was resolved, so a name that points inside
// later is refused too), uses no proxy from the environment, follows no
// redirect (a 3xx is a failed attempt) and gives up after 10 s.
func newClient(s *Service) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			return err
		}
		if !s.AllowPrivate && !Public(a) {
			return errPrivate
		}
		return nil
	}}
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
	id, typ, payload, url, secret string
	attempts                      int
	deleted                       bool
	status                        int
	err                           string
}

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
		q := `SELECT d.id, d.type, d.body, d.attempts, w.url, w.secret, w.deleted_at <> 0 FROM webhook_deliveries d
			JOIN webhooks w ON w.id = d.webhook_id WHERE d.state = 'pending' AND d.next_at <= ? ORDER BY d.next_at LIMIT ?`
		if tx.Dialect() == db.Postgres {
			q += ` FOR UPDATE OF d SKIP LOCKED` // replicas take different ones
		}
		rows, err := tx.Query(ctx, q, now, limit)
		if err != nil {
			return fmt.Errorf("claim deliveries: %w", err)
		}
		due, err = db.Collect(rows, "claim deliveries", func(r db.Scanner) (*delivery, error) {
			d := &delivery{}
			return d, r.Scan(&d.id, &d.typ, &d.payload, &d.attempts, &d.url, &d.secret, &d.deleted)
		})
		if err != nil || len(due) == 0 {
			return err
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

// send makes one attempt.
func (s *Service) send(ctx context.Context, d *delivery) {
	if d.deleted {
		d.err = "the webhook was deleted"
		return
	}
	req, err := request(ctx, d.url, d.secret, d.id, []byte(d.payload), time.Now())
	if err != nil {
		d.err = err.Error()
		return
	}
	resp, err := s.client.Do(req)
	if err != nil {
		d.err = err.Error()
		if errors.Is(err, errPrivate) {
			d.err = errPrivate.Error()
		}
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	d.status = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		d.err = "the receiver answered " + resp.Status
	}
}

// record writes the outcomes of a round in one transaction.
func (s *Service) record(ctx context.Context, done []*delivery) error {
	now := db.Now()
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		tx.Bookkeeping()
		for _, d := range done {
			n := d.attempts + 1
			var err error
			switch {
			case d.err == "":
				_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET state = 'delivered', attempts = ?, last_status = ?, last_error = '', done_at = ? WHERE id = ?`, n, d.status, now, d.id)
			case d.deleted || n > len(backoff):
				_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET state = 'dead', attempts = ?, last_status = ?, last_error = ?, done_at = ? WHERE id = ?`, n, d.status, clip(d.err), now, d.id)
			default:
				_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET attempts = ?, last_status = ?, last_error = ?, next_at = ? WHERE id = ?`,
					n, d.status, clip(d.err), now+backoff[n-1].Microseconds(), d.id)
			}
			if err != nil {
				return fmt.Errorf("record a delivery: %w", err)
			}
		}
		return nil
	})
}

// clip keeps an error message short for the log.
func clip(s string) string {
	if len(s) > 500 {
		s = s[:500]
	}
	return strings.ToValidUTF8(s, "")
}
