// Package app builds the whole hub from its configuration: database,
// services, HTTP server. cmd/verbund only parses arguments and calls it.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"verbund/internal/accounts"
	"verbund/internal/agreements"
	"verbund/internal/audit"
	"verbund/internal/config"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/forum"
	"verbund/internal/home"
	"verbund/internal/i18n"
	"verbund/internal/incidents"
	"verbund/internal/intel"
	"verbund/internal/knowledge"
	"verbund/internal/live"
	"verbund/internal/notify"
	"verbund/internal/orgs"
	"verbund/internal/playbooks"
	"verbund/internal/policy"
	"verbund/internal/readcache"
	"verbund/internal/risks"
	"verbund/internal/search"
	"verbund/internal/training"
	"verbund/internal/vulns"
	"verbund/internal/web"
)

// drainTime is how long requests in flight may take to finish after the
// signal to stop.
const drainTime = 20 * time.Second

// threadCachePosts is how many posts an entry of the thread cache keeps
// (a thread's first, the feed's newest): twenty full pages of 50; a page
// further on is read from the database.
const threadCachePosts = 1000

// App is a running hub's parts.
type App struct {
	Config     *config.Config
	Log        *slog.Logger
	DB         *db.DB
	Broker     *events.Broker
	Web        *web.Server
	Live       *live.Hub // the live-update streams (GET /events)
	Accounts   *accounts.Service
	Orgs       *orgs.Service
	Agreements *agreements.Service
	Forum      *forum.Service
	Intel      *intel.Service
	Notify     *notify.Service // webhooks: the outbox and its deliverer
	Training   *training.Service
	Knowledge  *knowledge.Service
	Risks      *risks.Service
	Incidents  *incidents.Service
	Vulns      *vulns.Service
	Playbooks  *playbooks.Service
	Search     *search.Service  // the hub's one search over every searchable kind
	Sharing    *policy.Kernel   // every shareable kind, registered by its capability
	Pages      *readcache.Cache // API pages of posts; nil when --read-cache 0
	Registry   *prometheus.Registry
}

// Open opens and migrates the database only (admin commands).
func Open(ctx context.Context, cfg *config.Config) (*db.DB, error) {
	d, err := db.Open(ctx, cfg.DB, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if _, err := d.Migrate(ctx); err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

// OpenExisting opens the hub's database for an admin command, which needs
// one that exists: a missing or mistyped --data folder (or --db naming a
// database without the hub's schema) is an error that names it, never a
// new empty database that the command would then report on ("audit trail
// intact: 0 records") or write into. Only serve and migrate create a
// database. With migrate an older schema is upgraded, as Open does.
func OpenExisting(ctx context.Context, cfg *config.Config, migrate bool) (*db.DB, error) {
	postgres := strings.HasPrefix(cfg.DB, "postgres://") || strings.HasPrefix(cfg.DB, "postgresql://")
	where := "the PostgreSQL database of --db"
	if !postgres {
		dir := cfg.DataDir
		if dir == "" {
			dir = "verbund-data"
		}
		path := filepath.Join(dir, "verbund.db")
		where = "the data folder " + dir
		if p, ok := strings.CutPrefix(cfg.DB, "sqlite:"); ok && p != "" {
			path, where = p, "the database file "+p
		}
		fi, err := os.Stat(path)
		if err != nil {
			if _, derr := os.Stat(filepath.Dir(path)); derr != nil {
				return nil, fmt.Errorf("%s does not exist: give the folder the hub uses with --data (or VERBUND_DATA), or create a new hub there with verbund migrate", where)
			}
			return nil, fmt.Errorf("%s has no verbund database (%s): give the folder the hub uses with --data (or VERBUND_DATA), or create a new hub there with verbund migrate", where, path)
		}
		if fi.Size() == 0 {
			// An empty file is no database; opening it would make it one
			// (and leave a write-ahead log beside it).
			return nil, fmt.Errorf("%s has an empty file where the database should be (%s): give the folder the hub uses with --data (or VERBUND_DATA), or create a new hub there with verbund migrate", where, path)
		}
	}
	d, err := db.Open(ctx, cfg.DB, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if d.Dialect == db.Postgres {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`
	}
	var n int
	if err := d.R().QueryRow(ctx, q).Scan(&n); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("look for the hub's schema: %w", db.Map(err))
	}
	if n == 0 {
		_ = d.Close()
		return nil, fmt.Errorf("%s has no verbund schema: give the database the hub uses, or create a new hub there with verbund migrate", where)
	}
	if migrate {
		if _, err := d.Migrate(ctx); err != nil {
			_ = d.Close()
			return nil, err
		}
	}
	return d, nil
}

// New builds the hub on an open database.
func New(ctx context.Context, cfg *config.Config, d *db.DB, log *slog.Logger) (*App, error) {
	origin := make([]byte, 8)
	_, _ = rand.Read(origin)
	a := &App{Config: cfg, Log: log, DB: d, Broker: events.New(hex.EncodeToString(origin))}
	if d.Dialect == db.Postgres {
		if err := events.StartPostgresRelay(ctx, d.URL, a.Broker, log); err != nil {
			return nil, fmt.Errorf("start event relay: %w", err)
		}
	}
	cat, err := i18n.Load()
	if err != nil {
		return nil, err
	}
	a.Registry = prometheus.NewRegistry()
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "verbund_write_groups_total", Help: "SQLite: transactions that committed short writes together (group commit)."},
		func() float64 { g, _ := a.DB.GroupStats(); return float64(g) }))
	a.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "verbund_grouped_writes_total", Help: "SQLite: short writes committed in groups (divided by verbund_write_groups_total: the mean group)."},
		func() float64 { _, w := a.DB.GroupStats(); return float64(w) }))
	a.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "verbund_sse_subscribers", Help: "Open live-update streams."},
		func() float64 { return float64(a.Live.Streams()) }))
	a.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "verbund_sse_dropped_total", Help: "Streams dropped for being too slow."},
		func() float64 { return float64(a.Live.Dropped() + a.Broker.Dropped.Load()) }))
	a.Accounts = accounts.New(d, a.Broker)
	a.Orgs = orgs.New(d, a.Broker)
	a.Agreements = agreements.New(d, a.Broker)
	// Audit records wait from their change's commit until the sequencer
	// chains them: records a crash left waiting are chained now, and a
	// background round catches any whose writer's chaining failed.
	if _, err := audit.Chain(ctx, d); err != nil {
		return nil, fmt.Errorf("chain waiting audit records: %w", err)
	}
	go audit.Sequence(ctx, d, time.Second, log)
	a.Sharing = policy.NewKernel()
	a.Notify = notify.New(d, log, cfg.WebhookAllowPrivate)
	go a.Notify.Run(ctx)
	// E-mail (serve --smtp-*): off without a mail server. Its deliverer
	// starts once every capability has added its texts (below).
	a.Notify.SetMail(notify.MailConfig{Addr: cfg.SMTP.Addr, User: cfg.SMTP.User, Password: cfg.SMTP.Password, From: cfg.SMTP.From,
		TLS: cfg.SMTP.TLS, BaseURL: cfg.BaseURL, Digest: cfg.MailDigest, Backoff: cfg.MailBackoff}, cat)
	a.Forum = forum.New(d, a.Broker, a.Sharing)
	if cfg.SearchRate > 0 {
		a.Forum.SetSearchRate(cfg.SearchRate)
	}
	a.Intel = intel.New(d, a.Broker, a.Sharing)
	a.Intel.Notify = a.Notify
	a.Notify.AddEventTypes(intel.EventSighting)
	if cfg.SearchRate > 0 {
		a.Intel.SetSearchRate(cfg.SearchRate)
	}
	a.Training = training.New(d, a.Broker, a.Sharing)
	a.Training.Notify = a.Notify
	// Reminders before due dates: live, and by e-mail to those who chose
	// it (notify, group training).
	go a.Training.Reminders(ctx, 10*time.Minute, log)
	a.Knowledge = knowledge.New(d, a.Broker, a.Sharing)
	a.Incidents = incidents.New(d, a.Broker, a.Sharing)
	a.Incidents.Notify = a.Notify
	a.Notify.AddEventTypes(incidents.EventTypes()...)
	// Missed response targets and near reporting deadlines, each told once.
	go a.Incidents.Rounds(ctx, time.Minute, log)
	a.Vulns = vulns.New(d, a.Broker, a.Sharing)
	a.Vulns.Notify = a.Notify
	a.Vulns.Log = log
	a.Vulns.Provider = vulns.ProviderConfig{BaseURL: cfg.BaseURL, WellKnown: cfg.CSAFProviderOrg}
	// CSAF provider subscriptions: due ones are read each minute.
	roots, err := vulns.Roots(cfg.CSAFCAFile)
	if err != nil {
		return nil, err
	}
	a.Vulns.SetFetch(cfg.CSAFAllowPrivate, roots)
	go a.Vulns.Rounds(ctx, time.Minute, log)
	a.Notify.AddEventTypes(vulns.EventMatch)
	if a.Playbooks, err = playbooks.New(d, a.Broker, a.Sharing); err != nil {
		return nil, err
	}
	a.Incidents.Playbooks, a.Playbooks.Proposals = a.Playbooks, a.Incidents.ProposeFromRun // playbook runs
	a.Risks = risks.New(d, a.Broker, a.Sharing)
	a.Risks.Advisory = func(ctx context.Context, actor policy.Actor, id string) (float64, bool, error) {
		adv, err := a.Vulns.FindAdvisoryByID(ctx, actor, id)
		return adv.Score, adv.KEV, err
	}
	a.Search = search.New(d, a.Sharing)
	// SQLite's full-text index is merged into one segment whenever the
	// hub is idle: a search then costs half (internal/search, merge.go).
	if cfg.IndexMergeLook >= 0 {
		go search.KeepIndexMerged(ctx, d, log, cfg.IndexMergeLook)
	}
	if cfg.SearchRate > 0 {
		a.Search.SetSearchRate(cfg.SearchRate)
	}
	if u, err := url.Parse(cfg.BaseURL); err == nil && u.Hostname() != "" {
		// The hub's own domain never lands on a block list.
		a.Intel.Benign = intel.NewBenign([]string{u.Hostname()})
	}
	// The caches below follow the audit trail through one Trail: within
	// a safe request its state is read once, and the newest records are
	// read once for all of them.
	trail := audit.NewTrail(d)
	var readContext func(context.Context) context.Context
	if cfg.ViewCache || cfg.ThreadCache > 0 || cfg.ReadCache > 0 {
		readContext = audit.Remember
	}
	if cfg.ViewCache {
		// Orgs' views between requests, until a change to memberships or
		// agreements or an agreement's start or end (policy, views.go).
		views := policy.NewViews(policy.ViewSource{
			State: func(ctx context.Context) (int64, bool, error) {
				st, err := trail.State(ctx)
				return st.Head, slices.Contains(st.Waiting, "*"), err
			},
			LastAll: func(ctx context.Context, from, to int64) (int64, error) {
				cs, err := trail.Changes(ctx, from, to)
				last := int64(0)
				for _, c := range cs {
					if c.Touches == "*" {
						last = c.Seq
					}
				}
				return last, err
			},
		})
		readContext = func(ctx context.Context) context.Context {
			return policy.WithViews(audit.Remember(ctx), views)
		}
		// API tokens' holders too, confirmed against the same state
		// (internal/accounts, tokencache.go).
		a.Accounts.CacheTokens(accounts.TokenSource{
			State: func(ctx context.Context) (int64, bool, error) {
				st, err := trail.State(ctx)
				for _, c := range st.WaitingChanges {
					if accounts.ChangesTokens(c.Action, c.ObjectType, c.Touches) {
						return st.Head, true, err
					}
				}
				return st.Head, false, err
			},
			LastChange: func(ctx context.Context, from, to int64) (int64, error) {
				cs, err := trail.Changes(ctx, from, to)
				last := int64(0)
				for _, c := range cs {
					if accounts.ChangesTokens(c.Action, c.ObjectType, c.Touches) {
						last = c.Seq
					}
				}
				return last, err
			},
		})
		a.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "verbund_token_cache_hits_total", Help: "API tokens answered from memory (then confirmed or read again)."},
			func() float64 { h, _ := a.Accounts.TokenCacheStats(); return float64(h) }))
		a.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "verbund_view_cache_hits_total", Help: "Readers' views (circles, partners) taken from memory."},
			func() float64 { return float64(views.Hits.Load()) }))
		a.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "verbund_view_cache_misses_total", Help: "Readers' views read from the database."},
			func() float64 { return float64(views.Misses.Load()) }))
	}
	if cfg.ThreadCache > 0 {
		// Threads' first posts and the feed's newest in memory, judged
		// per reader with the view (internal/forum, threadcache.go).
		perEntry := cfg.ThreadCachePosts
		if perEntry <= 0 {
			perEntry = threadCachePosts
		}
		a.Forum.CacheThreads(cfg.ThreadCache<<20, perEntry, trail)
		a.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "verbund_thread_cache_hits_total", Help: "Thread and feed pages cut from the thread cache."},
			func() float64 { return float64(a.Forum.CacheStats().Hits) }))
		a.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "verbund_thread_cache_misses_total", Help: "Thread and feed pages read from the database because the thread cache could not answer."},
			func() float64 { return float64(a.Forum.CacheStats().Misses) }))
		a.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "verbund_thread_cache_bytes", Help: "Memory the thread cache holds (estimated)."},
			func() float64 { return float64(a.Forum.CacheStats().Bytes) }))
	}
	if cfg.ReadCache > 0 {
		// A page is valid until a change that touches it (the audit trail
		// says what each change touches; internal/readcache) or until an
		// agreement starts or ends by the clock.
		a.Pages = readcache.New(cfg.ReadCache<<20, readcache.Source{
			State: func(ctx context.Context) (int64, []string, error) {
				st, err := trail.State(ctx)
				return st.Head, st.Waiting, err
			},
			Changes: func(ctx context.Context, from, to int64) ([]readcache.Change, error) {
				cs, err := trail.Changes(ctx, from, to)
				out := make([]readcache.Change, len(cs))
				for i, c := range cs {
					out[i] = readcache.Change{Seq: c.Seq, Touches: c.Touches}
				}
				return out, err
			},
			NextChange: func(ctx context.Context, now int64) (int64, error) { return policy.NextChange(ctx, d.R(), now) },
		})
		a.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "verbund_read_cache_hits_total", Help: "API pages served from the read cache."},
			func() float64 { return float64(a.Pages.Hits.Load()) }))
		a.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "verbund_read_cache_misses_total", Help: "API pages built because none was cached or valid."},
			func() float64 { return float64(a.Pages.Misses.Load()) }))
	}
	proxies, err := cfg.Proxies()
	if err != nil {
		return nil, err
	}
	a.Web, err = web.NewServer(web.Config{Log: log, DB: d, Auth: a.Accounts, Catalog: cat,
		SecureCookies: cfg.Secure(), Registry: a.Registry, ReadContext: readContext, TrustProxy: cfg.TrustProxy, TrustedProxies: proxies, TraceKinds: cfg.TraceKinds, MaxActive: cfg.MaxActive})
	if err != nil {
		return nil, err
	}
	a.Live = live.New(live.Config{Broker: a.Broker, Log: log, Heartbeat: cfg.StreamHeartbeat,
		LoadView: func(ctx context.Context, actor policy.Actor, now int64) (*policy.View, error) {
			return policy.LoadView(ctx, d.R(), actor, now)
		},
		CheckCredential: a.Web.CheckCredential})
	live.Register(a.Web, a.Live)
	if err := a.Web.AddOpenAPI(openapiFS, "openapi.json"); err != nil {
		return nil, err
	}
	for _, reg := range []func() error{
		func() error { return accounts.Register(a.Web, a.Accounts) },
		func() error { return orgs.Register(a.Web, a.Orgs, a.Agreements) },
		func() error { return agreements.Register(a.Web, a.Agreements, a.Orgs) },
		func() error { return forum.Register(a.Web, a.Forum, a.Pages) },
		func() error { return intel.Register(a.Web, a.Intel) },
		func() error { return notify.Register(a.Web, a.Notify) },
		func() error { return training.Register(a.Web, a.Training) },
		func() error { return knowledge.Register(a.Web, a.Knowledge) },
		func() error { return incidents.Register(a.Web, a.Incidents) },
		func() error { return vulns.Register(a.Web, a.Vulns) },
		func() error { return playbooks.Register(a.Web, a.Playbooks) },
		func() error { return risks.Register(a.Web, a.Risks) },
		func() error { return search.Register(a.Web, a.Search) },
		func() error { return audit.Register(a.Web, d) },
		func() error { return home.Register(a.Web, d, a.Forum, a.Agreements, a.Orgs) },
	} {
		if err := reg(); err != nil {
			return nil, err
		}
	}
	// Every capability has added its part of the API document.
	apiDoc, err := a.Web.OpenAPI()
	if err != nil {
		return nil, err
	}
	registerSystem(a, apiDoc)
	go a.Notify.RunMail(ctx)
	return a, nil
}

// Serve serves on ln until ctx ends (SIGTERM), then shuts down
// gracefully: live streams get a last "shutdown" event and end, the
// listener stops accepting, and requests in flight finish (up to the
// drain time) before Serve returns — a write that began before the signal
// commits and answers, it is not cancelled with the signal.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.Web.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second, // live streams lift it for themselves
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
		// Requests must not end with the signal: their context is their
		// connection's, ended when the client goes away.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() {
		if a.Config.TLSCert != "" {
			errc <- srv.ServeTLS(ln, a.Config.TLSCert, a.Config.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Said, so that an operator can tell a clean stop from a crash.
	a.Log.Info("shutting down: live streams end, requests in flight finish", "drain", drainTime.String())
	// Live streams taken over from net/http are not its to close; they go
	// first, so that browsers reconnect elsewhere while this one drains.
	a.Live.Close(time.Second)
	shutdown, cancel := context.WithTimeout(context.Background(), drainTime)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: requests still running after %v: %w", drainTime, err)
	}
	a.Log.Info("stopped: every request finished")
	return nil
}
