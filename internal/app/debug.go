package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof" // #nosec G108 -- served only on the operator's --debug-addr listener, never on the hub's own (see ServeDebug)
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ServeDebug serves the diagnostics on ln until ctx ends: Prometheus
// metrics at /metrics and Go's profiles at /debug/pprof/. They are not on
// the hub's own address: hub-wide write activity, route timings and
// profiles are the operator's business, not every signed-in user's (or an
// anonymous visitor's); the operator binds --debug-addr to loopback or a
// private network.
func (a *App) ServeDebug(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      2 * time.Minute, // CPU profiles take their seconds
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("diagnostics: %w", err)
	}
	return nil
}
