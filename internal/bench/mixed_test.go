package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
)

// TestMixed runs the incident-grade mix briefly against real hubs (the
// verbund binary, built for the test) and checks that the result is
// well-formed: every operation of the mix ran and succeeded, the
// throughput windows and (on SQLite) the log's series are there. No
// figure is compared with a goal: timings depend on the machine.
func TestMixed(t *testing.T) {
	exe := buildVerbund(t)
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			o := MixedOptions{Exe: exe, Engine: string(e), Clients: 6, Duration: 2 * time.Second, Warmup: 200 * time.Millisecond,
				WriteShare: 0.3, Posts: 2000, Threads: 6}
			if e == db.Postgres {
				o.Postgres = os.Getenv("VERBUND_TEST_POSTGRES")
			}
			if testing.Verbose() {
				o.Log = tlog{t}
			}
			res, err := Mixed(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			wantReplicas := 1
			if e == db.Postgres {
				wantReplicas = 2
			}
			if res.Engine != string(e) || res.Replicas != wantReplicas || len(res.Servers) != wantReplicas {
				t.Fatalf("engine %s, %d replicas, %d servers", res.Engine, res.Replicas, len(res.Servers))
			}
			if res.Errors != 0 {
				for _, op := range res.Ops {
					if op.Errors > 0 {
						t.Errorf("%s: %d errors, first: %s", op.Name, op.Errors, op.FirstError)
					}
				}
				t.FailNow()
			}
			if len(res.Ops) != 5 {
				t.Fatalf("%d operations", len(res.Ops))
			}
			sum := 0
			for _, op := range res.Ops {
				if op.Requests == 0 || op.Latency.N != op.Requests || op.Latency.P50MS <= 0 {
					t.Errorf("%s: %+v", op.Name, op)
				}
				sum += op.Requests
			}
			if sum != res.Requests || res.RPS <= 0 || res.Latency.N != res.Requests {
				t.Errorf("%d requests over the operations, %d in all, %.0f req/s", sum, res.Requests, res.RPS)
			}
			if len(res.Windows) != 1 || res.Windows[0] <= 0 || res.FullWindows != 0 {
				t.Errorf("windows %v (%d full) in %.1f s", res.Windows, res.FullWindows, res.Seconds)
			}
			served := 0
			for _, s := range res.Servers {
				if s.Requests == 0 {
					t.Errorf("a hub served nothing: %+v", res.Servers)
				}
				served += s.Requests
			}
			if served != res.Requests {
				t.Errorf("hubs served %d, clients counted %d", served, res.Requests)
			}
			if (res.WAL != nil) != (e == db.SQLite) || (res.WAL != nil && len(res.WAL.PerSecondMB) < 2) {
				t.Errorf("WAL series %+v", res.WAL)
			}
			if len(res.Checks) == 0 {
				t.Error("no checks")
			}
			t.Logf("%s: %.0f req/s, %s; windows %v; hubs %+v; PostgreSQL CPU %.0f%%", res.Label(), res.RPS, res.Latency, res.Windows, res.Servers, res.DBServerCPUPct)
		})
	}
}

// buildVerbund builds the verbund binary into the test's folder.
func buildVerbund(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build verbund with")
	}
	exe := filepath.Join(t.TempDir(), "verbund")
	out, err := exec.Command(goBin, "build", "-o", exe, "verbund/cmd/verbund").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}

type tlog struct{ t *testing.T }

func (l tlog) Write(p []byte) (int, error) { l.t.Log(string(p)); return len(p), nil }
