package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"verbund/internal/bench"
)

// mixedFlags registers the flags of the mixed scenario. own is false in
// "bench all", where --duration and --warmup belong to list: mixed then
// runs for its default time.
func mixedFlags(fs *flag.FlagSet, mo *bench.MixedOptions, engine, postgres *string, own bool) {
	fs.IntVar(&mo.Clients, "clients", 50, "mixed: keep-alive API clients, each its own analyst of sme, cloud or cert")
	fs.Float64Var(&mo.WriteShare, "write-share", 0.2, "mixed: share of operations that write (replies and new threads), 0 to 1")
	fs.IntVar(&mo.Posts, "mixed-posts", 20000, "mixed: posts to store before the load")
	fs.IntVar(&mo.Threads, "mixed-threads", 200, "mixed: threads to spread them over (one of them internal to sme)")
	fs.Uint64Var(&mo.Seed, "seed", 1, "mixed: seed of the clients' random choices (the same seed, the same operations)")
	fs.StringVar(engine, "engine", "both", "mixed: sqlite, postgres, or both (PostgreSQL only when --postgres is given)")
	// VERBUND_BENCH_POSTGRES is read after parsing, not as the flag's
	// default: the help would print it, password and all.
	fs.StringVar(postgres, "postgres", "", "mixed: admin URL of a PostgreSQL server for a throwaway database, postgres://… (default VERBUND_BENCH_POSTGRES)")
	fs.IntVar(&mo.Replicas, "replicas", 2, "mixed: hubs on the one PostgreSQL database (SQLite always has one)")
	mo.ThreadCache = -1
	if own {
		// In "bench all" these belong to list (and mixed keeps the hub's
		// default cache).
		fs.StringVar(&mo.CPUProfile, "cpuprofile", "", "mixed: write the first hub's CPU profile over the measured load to this file (for go tool pprof)")
		fs.IntVar(&mo.ThreadCache, "thread-cache", -1, "mixed: the hubs' thread cache in MB (0 turns it off); -1 leaves the hub's default")
		fs.DurationVar(&mo.Duration, "duration", 30*time.Second, "mixed: measured load")
		fs.DurationVar(&mo.Warmup, "warmup", 2*time.Second, "mixed: unmeasured load before it")
	} else {
		mo.Duration, mo.Warmup = 30*time.Second, 2*time.Second
	}
}

// mixedEngines returns the engines mixed runs on, and why PostgreSQL is
// skipped when it is.
func mixedEngines(engine, postgres string) (engines []string, skipped string, err error) {
	switch engine {
	case "sqlite":
		return []string{"sqlite"}, "", nil
	case "postgres":
		if postgres == "" {
			return nil, "", usageError{"--engine postgres needs --postgres URL (or VERBUND_BENCH_POSTGRES): " + howToPostgres}
		}
		return []string{"postgres"}, "", nil
	case "both":
		if postgres == "" {
			return []string{"sqlite"}, "PostgreSQL skipped, no server given: " + howToPostgres, nil
		}
		return []string{"sqlite", "postgres"}, "", nil
	}
	return nil, "", usageError{fmt.Sprintf("unknown engine %q: use sqlite, postgres or both", engine)}
}

const howToPostgres = `start a throwaway server with eval "$(scripts/pg-start DIR)" (as root) and pass --postgres "$VERBUND_TEST_POSTGRES"`

// writeMixed prints one mixed run.
func writeMixed(w io.Writer, r *bench.MixedResult) {
	hubs := "1 hub"
	if r.Replicas > 1 {
		hubs = fmt.Sprintf("%d hubs on one database, requests to them in turn", r.Replicas)
	}
	fmt.Fprintf(w, "\nmixed on %s (%s; %d clients, %.0f %% writes, seed %d; %d posts over %d threads seeded in %.1f s",
		r.Label(), hubs, r.Clients, 100*r.WriteShare, r.Seed, r.Posts, r.Threads, r.SeedSeconds)
	if r.DBSizeMB > 0 {
		fmt.Fprintf(w, ", database with its log %.0f → %.0f MB", r.DBSizeMB, r.DBEndMB)
	}
	fmt.Fprintf(w, "):\n  %.0f req/s over %.1f s after %.1f s of warm-up (%d requests, %d errors)\n  latency %s\n",
		r.RPS, r.Seconds, r.WarmupSeconds, r.Requests, r.Errors, r.Latency)
	fmt.Fprintf(w, "  %-13s %-50s %6s %7s %6s %8s %8s %8s %8s\n", "operation", "request", "share", "req/s", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms")
	for _, o := range r.Ops {
		fmt.Fprintf(w, "  %-13s %-50s %5.1f%% %7.0f %6d %8.2f %8.2f %8.2f %8.2f\n",
			o.Name, o.Path, o.SharePct, o.RPS, o.Errors, o.Latency.P50MS, o.Latency.P95MS, o.Latency.P99MS, o.Latency.MaxMS)
	}
	for _, o := range r.Ops {
		if o.FirstError != "" {
			fmt.Fprintf(w, "  first error of %s: %s\n", o.Name, o.FirstError)
		}
	}
	fmt.Fprintf(w, "  req/s per %.0f s: %s", r.WindowSeconds, joinFloats(r.Windows, "%.0f"))
	if r.FullWindows >= 2 {
		fmt.Fprintf(w, "  (the last full window %.0f %% of the first)", r.LastFirstPct)
	}
	fmt.Fprintln(w)
	if l := r.WAL; l != nil {
		fmt.Fprintf(w, "  write-ahead log: max %.1f MB, %.1f MB at the end; largest per second (MB, from the start of the warm-up): %s\n",
			l.MaxMB, l.EndMB, joinFloats(l.PerSecondMB, "%.1f"))
	}
	for i, s := range r.Servers {
		fmt.Fprintf(w, "  hub %d: %d requests, CPU %.0f%% of a core (%.0f%% in the kernel; %.0f µs per request), RSS %.0f MB, read cache hits %.1f%%, thread cache hits %.1f%%, view cache hits %.1f%%\n",
			i+1, s.Requests, s.CPUPct, s.SysPct, s.CPUUS, s.RSSMB, s.CacheHitPct, s.ThreadHitPct, s.ViewHitPct)
		if s.WritesPerGroup > 0 {
			fmt.Fprintf(w, "    writes committed together (group commit): %.2f a transaction\n", s.WritesPerGroup)
		}
	}
	if r.DBServerCPUPct > 0 {
		fmt.Fprintf(w, "  PostgreSQL server (all its processes, on this machine): CPU %.0f%% of a core\n", r.DBServerCPUPct)
	}
	fmt.Fprintf(w, "  load generator %.0f%% of a core; %d threads created and %d replies written while measured\n",
		r.LoadCPUPct, r.Created, r.Replies)
}

func joinFloats(v []float64, format string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(s, " ")
}
