package vulns

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"verbund/internal/audit"
	"verbund/internal/csaf"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/netguard"
	"verbund/internal/policy"
)

// Subscriptions to CSAF trusted providers: an org names a provider by its
// provider-metadata.json URL; the hub reads the provider's ROLIE feeds
// (else its directory distribution), downloads each new or changed
// document with its digest and signature, checks them (the digest, the
// OpenPGP signature against the keys the metadata names, fingerprint
// checked) and imports the documents through Import, shared as the
// subscription says. A subscription is the org's own, never shared.
//
// Every request goes through netguard: https only, no private, loopback,
// link-local or reserved address (checked when the URL is saved and at
// every connection), unless the operator allows them (serve
// --csaf-allow-private); no redirect is followed (a provider must not
// redirect: the run names it), no proxy from the environment, timeouts
// and size limits on every answer.

// Subscription is one of an org's provider subscriptions with its last
// run.
type Subscription struct {
	ID        string `json:"id"`
	URL       string `json:"url"`
	Publisher string `json:"publisher"`
	// TLP and Community say how the documents are shared, as an import's
	// options do ("" TLP: the document's; "" community: the org).
	TLP       string `json:"tlp,omitempty"`
	Community string `json:"community_id,omitempty"`
	CreatedBy string `json:"created_by"`
	CreatedAt int64  `json:"created_at"`
	NextRun   int64  `json:"next_run"`
	LastRun   int64  `json:"last_run,omitempty"`
	// LastError is why the last run failed as a whole (a code:
	// unreachable, redirect, http_status, too_large, bad_metadata,
	// no_distribution, bad_feed, bad_index, key_unavailable, bad_key,
	// key_fingerprint, bad_url, owner_gone); "" when it ran.
	LastError   string `json:"last_error,omitempty"`
	LastMessage string `json:"last_message,omitempty"`
	// What the last run found: documents the provider lists, those
	// fetched and checked (new or changed), imported, refused.
	Listed   int `json:"listed"`
	Checked  int `json:"checked"`
	Imported int `json:"imported"`
	Rejected int `json:"rejected"`
	// Errors are the last run's refused documents and unreadable feeds
	// (only by id).
	Errors []ItemError `json:"errors,omitempty"`
}

// SubscriptionInput is a new subscription.
type SubscriptionInput struct {
	URL       string `json:"url"`
	TLP       string `json:"tlp"`
	Community string `json:"community_id"`
}

// RunReport is what one run of a subscription did.
type RunReport struct {
	Listed   int         `json:"listed"`
	Checked  int         `json:"checked"`
	Imported int         `json:"imported"`
	Rejected int         `json:"rejected"`
	Errors   []ItemError `json:"errors"`
	// Error and Message say why the run failed as a whole ("" when it
	// ran): nothing was imported then, except for timeout (the run's
	// time was up: what came in is kept, the next run goes on). Message
	// is a fixed text with the URL concerned, never a network error's
	// own text (which goes to the server's log).
	Error   string `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
}

// SubscriptionErrors are the codes a run's failure may have
// (vulns.sub.error.<code>); a refused document's code is one of
// RejectCodes (vulns.reject.<code>) or one of these.
var SubscriptionErrors = []string{"unreachable", "dns", "tls", "timeout", "refused_private", "redirect", "http_status", "too_large", "bad_metadata", "no_distribution",
	"bad_feed", "bad_index", "key_unavailable", "bad_key", "key_fingerprint", "bad_url", "owner_gone",
	"hash_unavailable", "signature_unavailable", "sharing"}

// maxSubscriptions bounds an org's subscriptions (each is polled).
const maxSubscriptions = 50

// pollEvery is how often a subscription is read again.
const pollEvery = time.Hour

// runLimit bounds one run: a run cut short records what it imported and
// is due again at the next round, where it goes on with the rest.
const runLimit = 2 * time.Minute

// maxManualRuns bounds the runs started by hand (RunSubscription) at
// once on this process; an org has at most one at a time.
const maxManualRuns = 4

// perOrgRound bounds how many subscriptions of one org a Round runs, and
// perRound how many it runs in all (the longest waiting first).
const (
	perOrgRound = 2
	perRound    = 20
)

// maxBatchBytes bounds the documents imported in one transaction.
const maxBatchBytes = 64 << 20

// fetchConfig is how the service reaches providers.
type fetchConfig struct {
	mu sync.Mutex
	// allowPrivate lets subscriptions reach http:// and internal
	// addresses (serve --csaf-allow-private).
	allowPrivate bool
	roots        *x509.CertPool // nil: the system's
	// running are the subscriptions this process is reading now; manual
	// the orgs with a run started by hand.
	running map[string]bool
	manual  map[string]bool
}

// SetFetch sets whether providers on private, loopback or otherwise
// internal addresses (and plain http) may be reached, and the
// certificate authorities trusted (nil: the system's; a test's own).
func (s *Service) SetFetch(allowPrivate bool, roots *x509.CertPool) {
	s.fetch.mu.Lock()
	defer s.fetch.mu.Unlock()
	s.fetch.allowPrivate, s.fetch.roots = allowPrivate, roots
}

func (s *Service) fetcher() (*csaf.Fetcher, bool) {
	s.fetch.mu.Lock()
	allow, roots := s.fetch.allowPrivate, s.fetch.roots
	s.fetch.mu.Unlock()
	t := netguard.Transport(allow)
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	c := &http.Client{Transport: t, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &csaf.Fetcher{Client: c, Check: func(u *url.URL) error {
		_, err := netguard.CheckURL(u.String(), allow)
		return err
	}}, allow
}

// CreateSubscription subscribes the actor's org to the provider whose
// provider-metadata.json is at in.URL: the URL is checked (netguard), the
// metadata read and validated, then the subscription is saved; its first
// run is due at once (Round, or RunSubscription).
func (s *Service) CreateSubscription(ctx context.Context, a policy.Actor, in SubscriptionInput) (Subscription, error) {
	if !a.CanWrite() || a.OrgID == "" || a.IsSystem() {
		return Subscription{}, fault.New(fault.Forbidden, "forbidden", "only analysts and admins of an organisation subscribe to providers")
	}
	f, allow := s.fetcher()
	defer f.Client.CloseIdleConnections()
	u, err := netguard.CheckURL(in.URL, allow)
	switch {
	case errors.Is(err, netguard.ErrPrivate):
		return Subscription{}, fault.BadInput("url", "provider_private", "the provider URL points to a private or loopback address; the operator allows those with --csaf-allow-private")
	case err != nil:
		return Subscription{}, fault.BadInput("url", "provider_url", "the provider URL must be the https:// address of a provider-metadata.json on the internet")
	case !strings.HasSuffix(u.Path, "/provider-metadata.json"):
		return Subscription{}, fault.BadInput("url", "provider_url", "the provider URL must be the https:// address of a provider-metadata.json on the internet")
	}
	in.URL = u.String()
	if in.TLP = strings.ToUpper(strings.TrimSpace(in.TLP)); in.TLP != "" {
		if _, err := policy.ParseTLP(in.TLP); err != nil {
			return Subscription{}, err
		}
	}
	if in.Community = strings.TrimSpace(in.Community); in.Community != "" {
		cs, err := circles(ctx, s.DB.R(), a.OrgID)
		if err != nil {
			return Subscription{}, err
		}
		if !slices.ContainsFunc(cs, func(o option) bool { return o.ID == in.Community }) {
			return Subscription{}, fault.BadInput("community_id", "not_member", "your organisation is no active member of that trust circle")
		}
	}
	mctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	p, err := f.Metadata(mctx, in.URL)
	if err != nil {
		return Subscription{}, s.providerFault(err)
	}
	sub := Subscription{ID: db.NewID(), URL: in.URL, Publisher: p.Publisher, TLP: in.TLP, Community: in.Community, CreatedBy: a.UserID, CreatedAt: db.Now()}
	sub.NextRun = sub.CreatedAt
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM vuln_subscriptions WHERE org_id = ?`, a.OrgID).Scan(&n); err != nil {
			return fmt.Errorf("count subscriptions: %w", db.Map(err))
		}
		if n >= maxSubscriptions {
			return fault.BadInput("url", "too_many_subscriptions", "an organisation subscribes to at most {max} providers").With("max", maxSubscriptions)
		}
		var dup string
		err := tx.QueryRow(ctx, `SELECT id FROM vuln_subscriptions WHERE org_id = ? AND url = ?`, a.OrgID, in.URL).Scan(&dup)
		if err == nil {
			return fault.BadInput("url", "already_subscribed", "your organisation already subscribes to this provider")
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("find subscription: %w", db.Map(err))
		}
		if _, err := tx.Exec(ctx, `INSERT INTO vuln_subscriptions (id, org_id, url, publisher, tlp, community_id, created_by, created_at, next_run)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, sub.ID, a.OrgID, sub.URL, sub.Publisher, sub.TLP, sub.Community, a.UserID, sub.CreatedAt, sub.NextRun); err != nil {
			return fmt.Errorf("save subscription: %w", err)
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "vulns.subscription.create", ObjectType: "vuln_subscription", ObjectID: sub.ID,
			Detail:  map[string]any{"url": sub.URL, "publisher": sub.Publisher, "tlp": sub.TLP, "community_id": sub.Community},
			Touches: []string{"vuln_subscriptions:" + a.OrgID}})
	})
	if err != nil {
		return Subscription{}, err
	}
	return sub, nil
}

// providerFault names why a provider's metadata could not be used: a
// code and a fixed text; a network error's own text (resolved addresses,
// the hub's resolver) goes to the server's log only.
func (s *Service) providerFault(err error) error {
	var p *csaf.Problem
	if !errors.As(err, &p) {
		return err
	}
	s.logProblem("csaf provider refused", p)
	switch p.Code {
	case "unreachable":
		return fault.BadInput("url", "provider_unreachable", "the provider could not be reached: it refused or dropped the connection")
	case "dns":
		return fault.BadInput("url", "provider_dns", "the provider could not be reached: its name could not be resolved")
	case "tls":
		return fault.BadInput("url", "provider_tls", "the provider could not be reached: no trusted TLS connection could be made (certificate or handshake)")
	case "timeout":
		return fault.BadInput("url", "provider_timeout", "the provider could not be reached: it did not answer in time")
	case "refused_private":
		return fault.BadInput("url", "provider_private", "the provider URL points to a private or loopback address; the operator allows those with --csaf-allow-private")
	case "redirect":
		return fault.BadInput("url", "provider_redirect", "the provider answered with a redirect, which CSAF providers must not do: {reason}").With("reason", p.Message)
	case "bad_metadata", "no_distribution":
		return fault.BadInput("url", "provider_metadata", "the provider-metadata.json is not valid: {reason}").With("reason", p.Message)
	case "bad_url":
		return fault.BadInput("url", "provider_url", "the provider URL must be the https:// address of a provider-metadata.json on the internet")
	}
	return fault.BadInput("url", "provider_answer", "the provider's answer cannot be used: {reason}").With("reason", p.Message)
}

// logProblem writes a provider problem with its cause to the server's
// log (the cause is never shown to users).
func (s *Service) logProblem(msg string, p *csaf.Problem) {
	if p.Cause == nil {
		return
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log.Info(msg, "code", p.Code, "problem", p.Message, "err", p.Cause)
}

const subColumns = `id, url, publisher, tlp, community_id, created_by, created_at, next_run, last_run, last_error, last_message, listed, checked, imported, rejected`

func scanSubscription(r db.Scanner) (x Subscription, err error) {
	err = r.Scan(&x.ID, &x.URL, &x.Publisher, &x.TLP, &x.Community, &x.CreatedBy, &x.CreatedAt, &x.NextRun, &x.LastRun, &x.LastError, &x.LastMessage,
		&x.Listed, &x.Checked, &x.Imported, &x.Rejected)
	return x, err
}

// FindSubscriptions lists the actor's org's subscriptions.
func (s *Service) FindSubscriptions(ctx context.Context, a policy.Actor) ([]Subscription, error) {
	rows, err := s.DB.R().Query(ctx, `SELECT `+subColumns+` FROM vuln_subscriptions WHERE org_id = ? ORDER BY url, id`, a.OrgID)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return db.Collect(rows, "list subscriptions", scanSubscription)
}

// FindSubscription reads one of the actor's org's subscriptions with the
// last run's refused documents; another org's is not found.
func (s *Service) FindSubscription(ctx context.Context, a policy.Actor, id string) (Subscription, error) {
	h := s.DB.R()
	x, err := scanSubscription(h.QueryRow(ctx, `SELECT `+subColumns+` FROM vuln_subscriptions WHERE id = ? AND org_id = ?`, id, a.OrgID))
	if err != nil {
		return x, db.NotFound(err, "load subscription")
	}
	rows, err := h.Query(ctx, `SELECT url, code, message FROM vuln_subscription_errors WHERE subscription_id = ? ORDER BY seq`, id)
	if err != nil {
		return x, fmt.Errorf("list subscription errors: %w", err)
	}
	x.Errors, err = db.Collect(rows, "list subscription errors", func(r db.Scanner) (e ItemError, err error) {
		err = r.Scan(&e.File, &e.Code, &e.Message)
		return e, err
	})
	return x, err
}

// DeleteSubscription ends one of the actor's org's subscriptions; the
// advisories it brought stay.
func (s *Service) DeleteSubscription(ctx context.Context, a policy.Actor, id string) error {
	if !a.CanWrite() {
		return fault.New(fault.Forbidden, "forbidden", "only analysts and admins of an organisation subscribe to providers")
	}
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		var u string
		if err := tx.QueryRow(ctx, `SELECT url FROM vuln_subscriptions WHERE id = ? AND org_id = ?`, id, a.OrgID).Scan(&u); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fault.ErrNotFound
			}
			return fmt.Errorf("load subscription: %w", db.Map(err))
		}
		for _, t := range []string{"vuln_subscription_errors", "vuln_subscription_docs"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE subscription_id = ?`, id); err != nil {
				return fmt.Errorf("delete %s: %w", t, err)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM vuln_subscriptions WHERE id = ? AND org_id = ?`, id, a.OrgID); err != nil {
			return fmt.Errorf("delete subscription: %w", err)
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "vulns.subscription.delete", ObjectType: "vuln_subscription", ObjectID: id,
			Detail: map[string]any{"url": u}, Touches: []string{"vuln_subscriptions:" + a.OrgID}})
	})
}

// RunSubscription runs one of the actor's org's subscriptions now, as
// the actor, and returns what it did. A run already under way answers
// busy.
func (s *Service) RunSubscription(ctx context.Context, a policy.Actor, id string) (RunReport, error) {
	if !a.CanWrite() {
		return RunReport{}, fault.New(fault.Forbidden, "forbidden", "only analysts and admins of an organisation subscribe to providers")
	}
	sub, err := s.FindSubscription(ctx, a, id)
	if err != nil {
		return RunReport{}, err
	}
	busy := fault.New(fault.Conflict, "subscription_busy", "a subscription of your organisation is being read right now: try again in a few minutes")
	if !s.claimManual(a.OrgID) {
		return RunReport{}, busy
	}
	defer s.releaseManual(a.OrgID)
	if !s.claim(id) {
		return RunReport{}, busy
	}
	defer s.release(id)
	return s.run(ctx, a, sub)
}

// claimManual takes the org's one run by hand, unless the process runs
// maxManualRuns already; releaseManual gives it back. A run by hand
// holds its request for minutes: without the bound, an org could hold
// many of the hub's connections and workers at once.
func (s *Service) claimManual(org string) bool {
	s.fetch.mu.Lock()
	defer s.fetch.mu.Unlock()
	if s.fetch.manual == nil {
		s.fetch.manual = map[string]bool{}
	}
	if s.fetch.manual[org] || len(s.fetch.manual) >= maxManualRuns {
		return false
	}
	s.fetch.manual[org] = true
	return true
}

func (s *Service) releaseManual(org string) {
	s.fetch.mu.Lock()
	defer s.fetch.mu.Unlock()
	delete(s.fetch.manual, org)
}

// claim takes a subscription for one run of this process; release
// gives it back. (Replicas may each run a due subscription: the import is
// idempotent, so that costs only the fetching.)
func (s *Service) claim(id string) bool {
	s.fetch.mu.Lock()
	defer s.fetch.mu.Unlock()
	if s.fetch.running == nil {
		s.fetch.running = map[string]bool{}
	}
	if s.fetch.running[id] {
		return false
	}
	s.fetch.running[id] = true
	return true
}

func (s *Service) release(id string) {
	s.fetch.mu.Lock()
	defer s.fetch.mu.Unlock()
	delete(s.fetch.running, id)
}

// Round runs the subscriptions that are due, each as the person who
// made it, one after the other, the longest waiting first: at most
// perRound, and at most perOrgRound of one org (the others wait for the
// next round), so that an org with many slow providers cannot hold the
// poller from the others'. It returns how many ran.
func (s *Service) Round(ctx context.Context) (int, error) {
	rows, err := s.DB.R().Query(ctx, `SELECT s.`+strings.ReplaceAll(subColumns, ", ", ", s.")+`, s.org_id, u.role, u.name, u.disabled, u.org_id
		FROM vuln_subscriptions s JOIN users u ON u.id = s.created_by WHERE s.next_run <= ? ORDER BY s.next_run, s.id LIMIT 500`, db.Now())
	if err != nil {
		return 0, fmt.Errorf("due subscriptions: %w", err)
	}
	type due struct {
		sub   Subscription
		actor policy.Actor
		gone  bool
	}
	list, err := db.Collect(rows, "due subscriptions", func(r db.Scanner) (d due, err error) {
		x := &d.sub
		var disabled int
		var userOrg string
		err = r.Scan(&x.ID, &x.URL, &x.Publisher, &x.TLP, &x.Community, &x.CreatedBy, &x.CreatedAt, &x.NextRun, &x.LastRun, &x.LastError, &x.LastMessage,
			&x.Listed, &x.Checked, &x.Imported, &x.Rejected, &d.actor.OrgID, &d.actor.Role, &d.actor.Name, &disabled, &userOrg)
		d.actor.UserID, d.actor.Scope, d.actor.Via = x.CreatedBy, policy.ScopeWrite, "subscription"
		d.gone = disabled != 0 || userOrg != d.actor.OrgID || !d.actor.CanWrite()
		return d, err
	})
	if err != nil {
		return 0, err
	}
	ran := 0
	perOrg := map[string]int{}
	for _, d := range list {
		if ran >= perRound {
			break
		}
		if perOrg[d.actor.OrgID] >= perOrgRound {
			continue
		}
		perOrg[d.actor.OrgID]++
		if !s.claim(d.sub.ID) {
			continue
		}
		if d.gone {
			// The person who subscribed may no longer write for the org:
			// the subscription waits until someone subscribes anew.
			err = s.finish(ctx, d.actor, d.sub, RunReport{Errors: []ItemError{}, Error: "owner_gone",
				Message: "the person who made this subscription can no longer import for the organisation"}, nil)
		} else {
			_, err = s.run(ctx, d.actor, d.sub)
		}
		s.release(d.sub.ID)
		if err != nil {
			return ran, err
		}
		ran++
	}
	return ran, nil
}

// Rounds runs Round every interval until ctx ends.
func (s *Service) Rounds(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Round(ctx); err != nil && ctx.Err() == nil {
				log.Warn("csaf subscriptions", "err", err)
			}
		}
	}
}

// run reads the provider and imports what is new or changed, as a.
func (s *Service) run(ctx context.Context, a policy.Actor, sub Subscription) (RunReport, error) {
	rep := RunReport{Errors: []ItemError{}}
	rctx, cancel := context.WithTimeout(ctx, runLimit)
	defer cancel()
	f, _ := s.fetcher()
	defer f.Client.CloseIdleConnections()
	fail := func(err error) (RunReport, error) {
		var p *csaf.Problem
		if !errors.As(err, &p) {
			return rep, err
		}
		s.logProblem("csaf subscription failed", p)
		rep.Error, rep.Message = p.Code, p.Message
		return rep, s.finish(ctx, a, sub, rep, nil)
	}
	p, err := f.Metadata(rctx, sub.URL)
	if err != nil {
		return fail(err)
	}
	var keys csaf.Keys
	if len(p.Keys) > 0 {
		if keys, err = f.Keys(rctx, p); err != nil {
			return fail(err)
		}
	}
	entries, skipped, err := f.Entries(rctx, p)
	if err != nil {
		return fail(err)
	}
	// A feed the hub may not read (TLP:AMBER behind the provider's access
	// control) is named; the others' documents come in.
	for _, sk := range skipped {
		s.logProblem("csaf subscription feed skipped", sk.Problem)
		rep.Errors = append(rep.Errors, ItemError{File: sk.URL, Code: sk.Problem.Code, Message: sk.Problem.Message})
	}
	rep.Listed = len(entries)
	seen, err := s.seenDocs(ctx, sub.ID)
	if err != nil {
		return rep, err
	}
	var todo []csaf.Listed
	for _, e := range entries {
		if t, ok := seen[e.URL]; ok && (e.Updated.IsZero() || e.Updated.UnixMicro() <= t) {
			continue // imported before, unchanged since
		}
		todo = append(todo, e)
	}
	csaf.SortEntries(todo)
	opts := ImportOptions{TLP: sub.TLP, Via: "subscription", Keys: keys}
	if sub.Community != "" {
		opts.Sharing = policy.Sharing{Audience: "community", Community: sub.Community}
	}
	done := map[string]int64{}
	// Documents are imported in batches of at most batch documents and
	// maxBatchBytes bytes.
	var inputs []Input
	var from []csaf.Listed
	size := 0
	flush := func() (stop bool, err error) {
		if len(inputs) == 0 {
			return false, nil
		}
		from2 := from
		ir, err := s.Import(ctx, a, inputs, opts)
		inputs, from, size = nil, nil, 0
		if err != nil {
			if e, ok := fault.As(err); ok && e.Kind != fault.Internal {
				rep.Error, rep.Message = "sharing", e.Message
				return true, nil
			}
			return true, err
		}
		rep.Imported += ir.Documents.Imported
		rep.Rejected += ir.Documents.Rejected
		rep.Errors = append(rep.Errors, ir.Errors...)
		refused := map[string]bool{}
		for _, e := range ir.Errors {
			refused[e.File] = true
		}
		for _, e := range from2 {
			if !refused[e.URL] {
				done[e.URL] = e.Updated.UnixMicro()
			}
		}
		return false, nil
	}
	for _, e := range todo {
		if rctx.Err() != nil {
			// Out of time: what came in is kept, the rest waits for the
			// next run.
			rep.Error, rep.Message = "timeout", fmt.Sprintf("the run took longer than %s and stopped; the next run goes on with the rest", runLimit)
			break
		}
		rep.Checked++
		doc, err := f.Document(rctx, e)
		if err != nil {
			var pr *csaf.Problem
			if !errors.As(err, &pr) {
				return rep, err
			}
			if rctx.Err() != nil {
				rep.Checked--
				continue // out of time: stops above
			}
			s.logProblem("csaf subscription document refused", pr)
			rep.Rejected++
			rep.Errors = append(rep.Errors, ItemError{File: e.URL, Code: pr.Code, Message: pr.Message})
			continue
		}
		if len(inputs) > 0 && (len(inputs) >= batch || size+len(doc.Data) > maxBatchBytes) {
			if stop, err := flush(); err != nil || stop {
				if err != nil {
					return rep, err
				}
				return rep, s.finish(ctx, a, sub, rep, done)
			}
		}
		inputs = append(inputs, Input{Name: e.URL, Data: doc.Data, SHA256: doc.SHA256, SHA512: doc.SHA512, Signature: doc.Signature})
		from = append(from, e)
		size += len(doc.Data)
	}
	if _, err := flush(); err != nil {
		return rep, err
	}
	return rep, s.finish(ctx, a, sub, rep, done)
}

func (s *Service) seenDocs(ctx context.Context, id string) (map[string]int64, error) {
	rows, err := s.DB.R().Query(ctx, `SELECT url, updated FROM vuln_subscription_docs WHERE subscription_id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("read subscription documents: %w", err)
	}
	out := map[string]int64{}
	_, err = db.Collect(rows, "read subscription documents", func(r db.Scanner) (struct{}, error) {
		var u string
		var t int64
		err := r.Scan(&u, &t)
		out[u] = t
		return struct{}{}, err
	})
	return out, err
}

// maxRunErrors bounds the refused documents a run keeps.
const maxRunErrors = 500

// finish records a run: its counts and errors, the documents it imported
// (so that the next run skips them while unchanged), the next run's time;
// audited.
func (s *Service) finish(ctx context.Context, a policy.Actor, sub Subscription, rep RunReport, done map[string]int64) error {
	// A run cut short by shutdown still records what it imported.
	ctx = context.WithoutCancel(ctx)
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		now := db.Now()
		next := now + pollEvery.Microseconds()
		if rep.Error == "timeout" && len(done) > 0 {
			next = now // cut short after some progress: on at the next round
		}
		res, err := tx.Exec(ctx, `UPDATE vuln_subscriptions SET last_run = ?, last_error = ?, last_message = ?, listed = ?, checked = ?, imported = ?, rejected = ?,
			next_run = ? WHERE id = ?`, now, rep.Error, truncate(rep.Message, 2000), rep.Listed, rep.Checked, rep.Imported, rep.Rejected,
			next, sub.ID)
		if err != nil {
			return fmt.Errorf("record run: %w", err)
		}
		if n, err := db.Affected(res); err != nil || n == 0 {
			return err // deleted while it ran: nothing to record
		}
		if _, err := tx.Exec(ctx, `DELETE FROM vuln_subscription_errors WHERE subscription_id = ?`, sub.ID); err != nil {
			return fmt.Errorf("replace run errors: %w", err)
		}
		var errs []any
		for i, e := range rep.Errors[:min(len(rep.Errors), maxRunErrors)] {
			errs = append(errs, sub.ID, i, truncate(e.File, 2000), e.Code, truncate(e.Message, 2000))
		}
		if len(errs) > 0 {
			if err := tx.InsertMany(ctx, `vuln_subscription_errors (subscription_id, seq, url, code, message)`, 5, errs); err != nil {
				return err
			}
		}
		urls := make([]string, 0, len(done))
		for u := range done {
			urls = append(urls, u)
		}
		slices.Sort(urls)
		for _, u := range urls {
			if _, err := tx.Exec(ctx, `DELETE FROM vuln_subscription_docs WHERE subscription_id = ? AND url = ?`, sub.ID, u); err != nil {
				return fmt.Errorf("record document: %w", err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO vuln_subscription_docs (subscription_id, url, updated) VALUES (?, ?, ?)`, sub.ID, u, done[u]); err != nil {
				return fmt.Errorf("record document: %w", err)
			}
		}
		detail := map[string]any{"url": sub.URL, "listed": rep.Listed, "checked": rep.Checked, "imported": rep.Imported, "rejected": rep.Rejected}
		if rep.Error != "" {
			detail["error"] = rep.Error
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "vulns.subscription.run", ObjectType: "vuln_subscription", ObjectID: sub.ID,
			Detail: detail, Touches: []string{"vuln_subscriptions:" + a.OrgID}})
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Roots are the system's certificate authorities and those of the PEM
// file named (serve --csaf-ca-file), for SetFetch; "" the system's alone
// (nil).
func Roots(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(file) // #nosec G304 -- the operator names the file
	if err != nil {
		return nil, fmt.Errorf("--csaf-ca-file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--csaf-ca-file: %s holds no PEM certificate", file)
	}
	return pool, nil
}
