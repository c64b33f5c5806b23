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
	"verbund/internal/orgs"
	"verbund/internal/policy"
	"verbund/internal/readcache"
	"verbund/internal/web"
)

// App is a running hub's parts.
type App struct {
	Config     *config.Config
	Log        *slog.Logger
	DB         *db.DB
	Broker     *events.Broker
	Web        *web.Server
	Accounts   *accounts.Service
	Orgs       *orgs.Service
	Agreements *agreements.Service
	Forum      *forum.Service
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
	a.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "verbund_sse_subscribers", Help: "Open live-update streams."},
		func() float64 { return float64(a.Web.Streams()) }))
	a.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "verbund_sse_dropped_total", Help: "Streams dropped for being too slow."},
		func() float64 { return float64(a.Web.StreamsDropped() + a.Broker.Dropped.Load()) }))
	a.Accounts = accounts.New(d, a.Broker)
	a.Orgs = orgs.New(d, a.Broker)
	a.Agreements = agreements.New(d, a.Broker)
	a.Sharing = policy.NewKernel()
	a.Forum = forum.New(d, a.Broker, a.Sharing)
	if cfg.ReadCache > 0 {
		// A page is valid while the audit head (every change advances it)
		// and the agreements' validity at the clock are as they were.
		a.Pages = readcache.New(cfg.ReadCache<<20, readcache.Source{
			Version:    func(ctx context.Context) (int64, error) { return audit.Head(ctx, d.R()) },
			NextChange: func(ctx context.Context, now int64) (int64, error) { return policy.NextChange(ctx, d.R(), now) },
		})
		a.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "verbund_read_cache_hits_total", Help: "API pages served from the read cache."},
			func() float64 { return float64(a.Pages.Hits.Load()) }))
		a.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "verbund_read_cache_misses_total", Help: "API pages built because none was cached or valid."},
			func() float64 { return float64(a.Pages.Misses.Load()) }))
	}
	a.Web, err = web.NewServer(web.Config{Log: log, DB: d, Auth: a.Accounts, Catalog: cat, Broker: a.Broker,
		SecureCookies: cfg.Secure(), Registry: a.Registry, TrustProxy: cfg.TrustProxy, StreamHeartbeat: cfg.StreamHeartbeat, TraceKinds: cfg.TraceKinds})
	if err != nil {
		return nil, err
	}
	if err := a.Web.AddOpenAPI(openapiFS, "openapi.json"); err != nil {
		return nil, err
	}
	for _, reg := range []func() error{
		func() error { return accounts.Register(a.Web, a.Accounts) },
		func() error { return orgs.Register(a.Web, a.Orgs) },
		func() error { return agreements.Register(a.Web, a.Agreements, a.Orgs) },
		func() error { return forum.Register(a.Web, a.Forum, a.Pages) },
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
	return a, nil
}

// Serve serves on ln until ctx ends, then shuts down gracefully: it stops
// accepting, lets running requests finish (up to 10 s) and closes live
// streams.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.Web.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second, // live streams lift it for themselves
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
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
	// Live streams taken over from net/http are not its to close.
	a.Web.CloseStreams()
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
