package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// StartupOptions configures Startup.
type StartupOptions struct {
	Exe  string        // the verbund binary
	Runs int           // fresh starts (default 5)
	Idle time.Duration // wait before reading the idle memory (default 2 s)
	Log  io.Writer     // progress (may be nil)
}

// StartupRun is one start on an empty database.
type StartupRun struct {
	ReadyMS   float64 `json:"ready_ms"`
	IdleRSSMB float64 `json:"idle_rss_mb"`
	HeapMB    float64 `json:"heap_inuse_mb"`
	Goroutine int     `json:"goroutines"`
}

// StartupResult is figure (a).
type StartupResult struct {
	Runs          []StartupRun `json:"runs"`
	ReadyMedianMS float64      `json:"ready_median_ms"`
	ReadyMaxMS    float64      `json:"ready_max_ms"`
	RSSMedianMB   float64      `json:"idle_rss_median_mb"`
	RSSMaxMB      float64      `json:"idle_rss_max_mb"`
	IdleSeconds   float64      `json:"idle_seconds"`
	Checks        []Check      `json:"checks"`
}

// Startup starts `verbund serve` on a new empty SQLite database Runs times,
// measuring the time from exec until /readyz answers 200, then the
// resident memory after Idle seconds without requests.
func Startup(ctx context.Context, o StartupOptions) (*StartupResult, error) {
	if o.Runs <= 0 {
		o.Runs = 5
	}
	if o.Idle <= 0 {
		o.Idle = 2 * time.Second
	}
	res := &StartupResult{IdleSeconds: o.Idle.Seconds()}
	var ready, rss []float64
	for i := range o.Runs {
		dir, err := os.MkdirTemp("", "verbund-bench-startup-")
		if err != nil {
			return nil, err
		}
		run, err := startOnce(ctx, o, dir)
		_ = os.RemoveAll(dir)
		if err != nil {
			return nil, err
		}
		if o.Log != nil {
			fmt.Fprintf(o.Log, "  run %d: ready in %.1f ms, idle RSS %.1f MB\n", i+1, run.ReadyMS, run.IdleRSSMB)
		}
		res.Runs = append(res.Runs, run)
		ready, rss = append(ready, run.ReadyMS), append(rss, run.IdleRSSMB)
	}
	res.ReadyMedianMS, res.ReadyMaxMS = median(ready), slices.Max(ready)
	res.RSSMedianMB, res.RSSMaxMB = median(rss), slices.Max(rss)
	res.Checks = []Check{
		atMost("(a) ready on empty SQLite, median of runs", res.ReadyMedianMS, 300, "ms"),
		atMost("(a) idle memory (RSS), worst run", res.RSSMaxMB, 40, "MB"),
	}
	return res, nil
}

func startOnce(ctx context.Context, o StartupOptions, dir string) (StartupRun, error) {
	s, err := StartServer(ctx, o.Exe, dir)
	if err != nil {
		return StartupRun{}, err
	}
	defer s.Stop()
	run := StartupRun{ReadyMS: ms(s.Ready)}
	select {
	case <-time.After(o.Idle):
	case <-ctx.Done():
		return run, ctx.Err()
	}
	rss, err := s.RSS()
	if err != nil {
		return run, err
	}
	run.IdleRSSMB = mb(rss)
	if m, err := Metrics(s.DebugURL, "go_memstats_heap_inuse_bytes", "go_goroutines"); err == nil {
		run.HeapMB, run.Goroutine = mb(int64(m["go_memstats_heap_inuse_bytes"])), int(m["go_goroutines"])
	}
	return run, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return round2((s[len(s)/2-1] + s[len(s)/2]) / 2)
}
