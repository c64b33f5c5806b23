package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

// The mixed scenario's choice of engines is checked before anything is
// started: a PostgreSQL run without a server is a usage error, and without
// a server "both" runs SQLite and names PostgreSQL as skipped.
func TestBenchMixedEngines(t *testing.T) {
	for _, c := range []struct {
		engine, url string
		want        []string
		skipped     bool
		bad         bool
	}{
		{"both", "", []string{"sqlite"}, true, false},
		{"both", "postgres://p@127.0.0.1/x", []string{"sqlite", "postgres"}, false, false},
		{"sqlite", "postgres://p@127.0.0.1/x", []string{"sqlite"}, false, false},
		{"postgres", "postgres://p@127.0.0.1/x", []string{"postgres"}, false, false},
		{"postgres", "", nil, false, true},
		{"mysql", "", nil, false, true},
	} {
		got, skipped, err := mixedEngines(c.engine, c.url)
		if c.bad {
			if !errors.As(err, new(usageError)) {
				t.Errorf("%s %q: %v, want a usage error", c.engine, c.url, err)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != strings.Join(c.want, ",") || (skipped != "") != c.skipped {
			t.Errorf("%s %q: %v %q %v", c.engine, c.url, got, skipped, err)
		}
		if c.skipped && !strings.Contains(skipped, "scripts/pg-start") {
			t.Errorf("the skip does not say how to run PostgreSQL: %q", skipped)
		}
	}
	if _, err := cmd(t, nil, "bench", "mixed", "--engine", "postgres"); !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "--postgres") {
		t.Errorf("bench mixed --engine postgres without a server: %v", err)
	}
	out, err := cmd(t, nil, "bench", "mixed", "--help")
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("bench mixed --help: %v", err)
	}
	for _, f := range []string{"-clients", "-duration", "-warmup", "-write-share", "-mixed-posts", "-mixed-threads", "-postgres", "-replicas", "-engine", "-seed", "-thread-cache", "-cpuprofile"} {
		if !strings.Contains(out, f) {
			t.Errorf("bench mixed --help does not mention %s", f)
		}
	}
	// "bench all" takes every scenario's flags at once: a name two use
	// gets the later one's scenario in front.
	out, err = cmd(t, nil, "bench", "all", "--help")
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("bench all --help: %v", err)
	}
	for _, f := range []string{"-posts ", "-clients ", "-intel-clients ", "-mixed-posts ", "-search-duration ", "-check "} {
		if !strings.Contains(out, f) {
			t.Errorf("bench all --help does not mention %s", f)
		}
	}
}
