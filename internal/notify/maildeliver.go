package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"verbund/internal/db"
	"verbund/internal/policy"
)

// mailLease is how long a claimed mail is left to its round before
// another round (or replica, or the next process after a crash) may take
// it again. A round stops sending after mailBudget, so that no mail it
// still holds outlives its lease; the rest it gives back untried.
const (
	mailLease  = 30 * time.Second
	mailBudget = 15 * time.Second
	mailBatch  = 50
)

// The error codes of the mail log (catalogue notify.mail.error.<code>):
// what an admin may read about a person's mail, never the server's words
// (which can quote addresses) nor what the mail was about.
const (
	mailUnreachable = "unreachable" // no connection to the mail server (or it broke)
	mailTLS         = "tls"         // the encrypted connection failed (certificate, no STARTTLS)
	mailAuth        = "auth"        // the server refused the hub's login
	mailTemporary   = "temporary"   // the server answered 4xx: try again
	mailRejected    = "rejected"    // the server refused the mail for good (5xx)
	mailNotVisible  = "not_visible" // the person may no longer see what it was about: not sent
	mailDisabled    = "disabled"    // the person's account is disabled or gone
	mailOff         = "off"         // the person turned this group off since
)

// RunMail sends what is due until ctx ends: at once after a commit that
// enqueued a mail, else every second (retries, digests, other replicas'
// mails, those a crash left). Without a mail server it says so once and
// returns.
func (s *Service) RunMail(ctx context.Context) {
	m := s.mail
	if m == nil {
		s.Log.Info("e-mail notifications are off: no mail server is configured (serve --smtp-addr)")
		return
	}
	s.Log.Info("e-mail notifications on", "smtp", m.cfg.Addr, "tls", m.cfg.TLS, "digest_every", m.cfg.Digest.String())
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if _, err := s.GatherDigests(ctx, db.Now()); err != nil && ctx.Err() == nil {
			s.Log.Warn("mail digests", "err", err)
		}
		n, err := s.DeliverMail(ctx, mailBatch)
		if err != nil && ctx.Err() == nil {
			s.Log.Warn("mail deliveries", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-tick.C:
		}
	}
}

// digestStart is the start of the digest period now falls in: periods
// of the digest interval, for a day's interval from 05:00 UTC (the mail
// is there in the European morning). An item is gathered in the first
// round after the period it was written in ended.
func digestStart(now int64, every time.Duration) int64 {
	d := every.Microseconds()
	off := (5 * time.Hour).Microseconds() % d
	return (now-off)/d*d + off
}

// GatherDigests makes one digest mail per person of the items that
// waited through a whole digest period (at clock time at, which tests
// move on); it returns how many digests it made. Replicas may race: an item is gathered once (the
// update takes only waiting ones), and a digest that got none is
// dropped.
func (s *Service) GatherDigests(ctx context.Context, at int64) (int, error) {
	m := s.mail
	if m == nil {
		return 0, nil
	}
	before, now := digestStart(at, m.cfg.Digest), db.Now()
	rows, err := s.DB.R().Query(ctx, `SELECT DISTINCT o.user_id, u.org_id FROM mail_outbox o JOIN users u ON u.id = o.user_id
		WHERE o.state = 'waiting' AND o.next_at < ? LIMIT 500`, before)
	if err != nil {
		return 0, fmt.Errorf("find digests: %w", err)
	}
	people, err := db.Collect(rows, "find digests", func(r db.Scanner) (p [2]string, err error) { err = r.Scan(&p[0], &p[1]); return p, err })
	if err != nil || len(people) == 0 {
		return 0, err
	}
	made := 0
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		tx.Bookkeeping() // the items were audited with their changes; this is the outbox's own state
		made = 0
		for _, p := range people {
			id := "mail_" + db.NewID()
			if _, err := tx.Exec(ctx, `INSERT INTO mail_outbox (id, user_id, org_id, kind, type, state, next_at, created_at) VALUES (?, ?, ?, 'digest', 'digest', 'pending', ?, ?)`,
				id, p[0], p[1], now, now); err != nil {
				return fmt.Errorf("make a digest: %w", err)
			}
			res, err := tx.Exec(ctx, `UPDATE mail_outbox SET state = 'gathered', digest_id = ? WHERE user_id = ? AND state = 'waiting' AND next_at < ?`, id, p[0], before)
			if err != nil {
				return fmt.Errorf("gather a digest: %w", err)
			}
			if n, err := db.Affected(res); err != nil {
				return err
			} else if n == 0 { // another replica gathered them
				if _, err := tx.Exec(ctx, `DELETE FROM mail_outbox WHERE id = ?`, id); err != nil {
					return fmt.Errorf("drop an empty digest: %w", err)
				}
				continue
			}
			made++
		}
		return nil
	})
	if err == nil && made > 0 {
		m.kick()
	}
	return made, err
}

// outMail is one claimed mail of the outbox.
type outMail struct {
	id, user, kind, typ, share, data string
	attempts                         int

	to, name, lang string
	items          []mailItem  // what it tells of (one, or a digest's)
	skipped        [][2]string // a digest's items not sent: id and code (not_visible, off)
	err            string      // a code; "" when sent
	final          bool        // the code is final: no retry
	untried        bool        // the round's time ran out before it
}

// DeliverMail sends up to limit due mails and records the outcomes; it
// returns how many it handled.
func (s *Service) DeliverMail(ctx context.Context, limit int) (int, error) {
	m := s.mail
	if m == nil {
		return 0, nil
	}
	now := db.Now()
	// A read first: an idle hub must not take the write lock every second.
	var waiting int
	err := s.DB.R().QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM mail_outbox WHERE state = 'pending' AND next_at <= ? LIMIT 1) x`, now).Scan(&waiting)
	if err != nil || waiting == 0 {
		return 0, err
	}
	var due []*outMail
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		tx.Bookkeeping()
		q := `SELECT id, user_id, kind, type, share_id, data, attempts FROM mail_outbox WHERE state = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?`
		if tx.Dialect() == db.Postgres {
			q += ` FOR UPDATE SKIP LOCKED` // replicas take different ones
		}
		rows, err := tx.Query(ctx, q, now, limit)
		if err != nil {
			return fmt.Errorf("claim mails: %w", err)
		}
		due, err = db.Collect(rows, "claim mails", func(r db.Scanner) (*outMail, error) {
			o := &outMail{}
			return o, r.Scan(&o.id, &o.user, &o.kind, &o.typ, &o.share, &o.data, &o.attempts)
		})
		if err != nil || len(due) == 0 {
			return err
		}
		args := []any{now + mailLease.Microseconds()}
		for _, o := range due {
			args = append(args, o.id)
		}
		_, err = tx.Exec(ctx, `UPDATE mail_outbox SET next_at = ? WHERE id IN (`+db.Placeholders(len(due))+`)`, args...)
		return err
	})
	if err != nil || len(due) == 0 {
		return 0, err
	}
	s.sendAll(ctx, due)
	return len(due), s.recordMail(context.WithoutCancel(ctx), due)
}

// judge judges one mail again right before it is sent (the person's
// account, their org and standing now, their choice, whether they may
// still see each object) and fills in what it tells of. It runs for each
// mail just before its own attempt, with a view loaded then: a change
// that commits while a round is under way holds for every mail after it.
func (s *Service) judge(ctx context.Context, o *outMail) error {
	h := s.DB.R()
	var org string
	var disabled int
	err := h.QueryRow(ctx, `SELECT email, name, lang, org_id, disabled FROM users WHERE id = ?`, o.user).Scan(&o.to, &o.name, &o.lang, &org, &disabled)
	if err != nil || disabled != 0 {
		o.err, o.final = mailDisabled, true
		s.Log.Info("mail skipped", "id", o.id, "reason", o.err)
		return nil
	}
	if o.kind == "test" {
		o.items = []mailItem{{Type: o.typ}}
		return nil
	}
	v, err := policy.LoadView(ctx, h, policy.Actor{OrgID: org, UserID: o.user}, db.Now())
	if err != nil {
		return err
	}
	prefs, err := loadPrefs(ctx, h, o.user)
	if err != nil {
		return err
	}
	var cands []mailItem
	if o.kind == "digest" {
		rows, err := h.Query(ctx, `SELECT id, type, share_id, data FROM mail_outbox WHERE digest_id = ? AND state = 'gathered' ORDER BY created_at, id`, o.id)
		if err != nil {
			return fmt.Errorf("load a digest: %w", err)
		}
		if cands, err = db.Collect(rows, "load a digest", func(r db.Scanner) (it mailItem, err error) {
			var data string
			err = r.Scan(&it.id, &it.Type, &it.share, &data)
			if err == nil {
				err = json.Unmarshal([]byte(data), &it.Data)
			}
			return it, err
		}); err != nil {
			return err
		}
	} else {
		it := mailItem{id: o.id, Type: o.typ, share: o.share}
		if err := json.Unmarshal([]byte(o.data), &it.Data); err != nil {
			return fmt.Errorf("mail %s: %w", o.id, err)
		}
		cands = []mailItem{it}
	}
	reason := mailNotVisible
	o.items, o.skipped = nil, nil
	for _, it := range cands {
		if prefs[GroupOf(it.Type)] == ModeOff {
			o.skipped = append(o.skipped, [2]string{it.id, mailOff})
			reason = mailOff
			continue
		}
		ok, err := v.SeesShare(ctx, h, it.share)
		if err != nil {
			return err
		}
		if !ok {
			o.skipped = append(o.skipped, [2]string{it.id, mailNotVisible})
			s.Log.Info("mail item skipped", "id", it.id, "mail", o.id, "reason", mailNotVisible)
			continue
		}
		o.items = append(o.items, it)
	}
	if len(o.items) == 0 {
		o.err, o.final = reason, true
		s.Log.Info("mail skipped", "id", o.id, "reason", o.err)
	}
	return nil
}

// sendAll judges and sends the round's mails one after the other over
// one connection (a new one after a failure), until the round's time is
// up.
func (s *Service) sendAll(ctx context.Context, due []*outMail) {
	m := s.mail
	start := time.Now()
	var c *gomail.Client
	defer func() {
		if c != nil {
			_ = c.Close() // sent or not is recorded per mail; a failed QUIT changes nothing
		}
	}()
	for _, o := range due {
		if time.Since(start) > mailBudget || ctx.Err() != nil {
			o.untried = true
			continue
		}
		if err := s.judge(ctx, o); err != nil {
			o.untried = true // the database failed us: the mail waits for the next round
			s.Log.Warn("mail not judged", "id", o.id, "err", err)
			continue
		}
		if o.err != "" {
			continue
		}
		msg, err := m.message(o)
		if err != nil {
			o.err, o.final = mailRejected, true
			s.Log.Warn("mail not composed", "id", o.id, "err", err)
			continue
		}
		if c == nil {
			if c, err = m.dial(ctx); err != nil {
				o.err, o.final = classify(err)
				s.Log.Warn("mail server", "err", err, "code", o.err)
				c = nil
				continue
			}
		}
		if err := c.Send(msg); err != nil {
			o.err, o.final = classify(err)
			s.Log.Warn("mail not sent", "id", o.id, "code", o.err, "err", err)
			if o.err != mailRejected {
				_ = c.Close() // the connection may be broken: the next mail dials anew
				c = nil
			}
		}
	}
}

// dial connects and logs in to the mail server.
func (m *mailer) dial(ctx context.Context) (*gomail.Client, error) {
	c, err := newMailClient(m.cfg)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.DialWithContext(dctx); err != nil {
		return nil, err
	}
	return c, nil
}

// newMailClient is a go-mail client for cfg.
func newMailClient(cfg MailConfig) (*gomail.Client, error) {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("--smtp-addr: %w", err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("--smtp-addr: the port %q is no number", port)
	}
	opts := []gomail.Option{gomail.WithPort(p), gomail.WithTimeout(10 * time.Second)}
	switch cfg.TLS {
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "tls":
		opts = append(opts, gomail.WithSSL())
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if cfg.User != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(cfg.User), gomail.WithPassword(cfg.Password))
	}
	return gomail.NewClient(host, opts...)
}

// classify turns a sending error into a log code and whether it is
// final (a permanent refusal of the mail; everything else is retried).
func classify(err error) (code string, final bool) {
	var se *gomail.SendError
	if errors.As(err, &se) {
		if se.IsTemp() {
			return mailTemporary, false
		}
		if se.ErrorCode() >= 500 || se.Reason == gomail.ErrSMTPRcptTo || se.Reason == gomail.ErrSMTPMailFrom || se.Reason == gomail.ErrSMTPData {
			return mailRejected, true
		}
		return mailUnreachable, false
	}
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var rh tls.RecordHeaderError
	msg := err.Error()
	switch {
	case errors.As(err, &cv), errors.As(err, &ua), errors.As(err, &hn), errors.As(err, &rh),
		strings.Contains(msg, "STARTTLS"), strings.Contains(msg, "tls:"):
		return mailTLS, false
	case strings.Contains(msg, "SMTP AUTH"), strings.Contains(msg, "AUTH not supported"), strings.Contains(msg, "does not support SMTP AUTH"):
		return mailAuth, false
	}
	return mailUnreachable, false
}

// recordMail writes the outcomes of a round in one transaction.
func (s *Service) recordMail(ctx context.Context, done []*outMail) error {
	m := s.mail
	now := db.Now()
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		tx.Bookkeeping()
		for _, o := range done {
			var err error
			n := o.attempts + 1
			state := ""
			switch {
			case o.untried:
				_, err = tx.Exec(ctx, `UPDATE mail_outbox SET next_at = ? WHERE id = ?`, now, o.id)
			case o.err == "":
				state = "delivered"
				_, err = tx.Exec(ctx, `UPDATE mail_outbox SET state = 'delivered', attempts = ?, last_error = '', done_at = ? WHERE id = ?`, n, now, o.id)
			case o.err == mailNotVisible || o.err == mailDisabled || o.err == mailOff:
				state = "skipped"
				_, err = tx.Exec(ctx, `UPDATE mail_outbox SET state = 'skipped', last_error = ?, done_at = ? WHERE id = ?`, o.err, now, o.id)
			case o.final || n > len(m.backoff):
				state = "dead"
				_, err = tx.Exec(ctx, `UPDATE mail_outbox SET state = 'dead', attempts = ?, last_error = ?, done_at = ? WHERE id = ?`, n, o.err, now, o.id)
			default:
				_, err = tx.Exec(ctx, `UPDATE mail_outbox SET attempts = ?, last_error = ?, next_at = ? WHERE id = ?`, n, o.err, now+m.backoff[n-1].Microseconds(), o.id)
			}
			if err != nil {
				return fmt.Errorf("record a mail: %w", err)
			}
			if o.kind != "digest" || state == "" {
				continue
			}
			// A digest's items share its outcome; those the person may no
			// longer see were skipped.
			for _, sk := range o.skipped {
				if _, err := tx.Exec(ctx, `UPDATE mail_outbox SET state = 'skipped', last_error = ?, done_at = ? WHERE id = ?`, sk[1], now, sk[0]); err != nil {
					return fmt.Errorf("record a digest: %w", err)
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE mail_outbox SET state = ?, last_error = ?, done_at = ? WHERE digest_id = ? AND state = 'gathered'`, state, o.err, now, o.id); err != nil {
				return fmt.Errorf("record a digest: %w", err)
			}
		}
		return nil
	})
}
