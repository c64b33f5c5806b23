package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/policy"
)

// childServe, when set, makes the test binary run "verbund" with these
// arguments (JSON) instead of the tests: TestKillDuringWrites needs the hub
// in a process of its own, to kill it.
const childServe = "VERBUND_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if raw := os.Getenv(childServe); raw != "" {
		var args []string
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if err := run(context.Background(), args, func(string) string { return "" }, os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestKillDuringWrites: the hub is killed (SIGKILL: no shutdown, no
// flush) while sixteen clients write replies as fast as they can, on each
// engine. Every reply the hub acknowledged is in the database with its
// audit record, nothing is half-written (each stored reply has its
// envelope and its thread's tally counts it), and the audit trail
// verifies once the records the kill left waiting for their place in the
// chain are chained, as the next start does: a kill between commit and
// chaining loses no record.
func TestKillDuringWrites(t *testing.T) {
	engines := []db.Dialect{db.SQLite}
	if os.Getenv("VERBUND_TEST_POSTGRES") != "" {
		engines = append(engines, db.Postgres)
	}
	for _, e := range engines {
		t.Run(string(e), func(t *testing.T) { killDuringWrites(t, e) })
	}
}

func killDuringWrites(t *testing.T, e db.Dialect) {
	dir := t.TempDir()
	where := []string{"--data", dir}
	if e == db.Postgres {
		where = append(where, "--db", dbtest.NewPostgresDB(t))
	}
	cmd, base := startHub(t, append([]string{"--demo"}, where...)...)
	c := writeToken(t, base, where...)
	thread := c.newestThread(t)
	st := replyStorm(c, thread, "kill", func(status int, body []byte) {
		t.Errorf("a write before the kill got %d: %s", status, body)
	})
	st.flowing(700 * time.Millisecond)
	_ = cmd.Process.Kill() // SIGKILL
	_ = cmd.Wait()
	st.end()
	if st.ok.Load() == 0 {
		t.Fatal("no write was acknowledged before the kill")
	}

	ctx := context.Background()
	url := ""
	if e == db.Postgres {
		url = where[len(where)-1]
	}
	d, err := db.Open(ctx, url, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	h := d.R()
	missing, unaudited := 0, 0
	st.acked.Range(func(k, _ any) bool {
		var n, a int
		if err := h.QueryRow(ctx, `SELECT COUNT(*) FROM posts p JOIN shares s ON s.id = p.id WHERE p.id = ?`, k).Scan(&n); err != nil || n != 1 {
			missing++
		}
		if err := h.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM audit_log WHERE object_id = ?) + (SELECT COUNT(*) FROM audit_pending WHERE object_id = ?)`, k, k).Scan(&a); err != nil || a == 0 {
			unaudited++
		}
		return true
	})
	if missing > 0 || unaudited > 0 {
		t.Errorf("of %d acknowledged replies, %d are missing (or without envelope) and %d without audit record after the kill", st.ok.Load(), missing, unaudited)
	}
	// Nothing half-written: every post has its envelope, and the thread's
	// tally counts exactly its posts.
	var orphans, posts, tallied int
	if err := h.QueryRow(ctx, `SELECT COUNT(*) FROM posts p LEFT JOIN shares s ON s.id = p.id WHERE s.id IS NULL`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if err := h.QueryRow(ctx, `SELECT COUNT(*) FROM posts WHERE thread_id = ?`, thread).Scan(&posts); err != nil {
		t.Fatal(err)
	}
	if tallied, err = policy.TallyTotal(ctx, h, thread); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 || posts != tallied {
		t.Errorf("half-written: %d posts without envelope; the thread has %d posts, its tally counts %d", orphans, posts, tallied)
	}
	before, err := audit.Verify(ctx, d)
	if err != nil || !before.OK {
		t.Fatalf("audit right after the kill: %+v, %v", before, err)
	}
	if _, err := audit.Chain(ctx, d); err != nil {
		t.Fatal(err)
	}
	after, err := audit.Verify(ctx, d)
	if err != nil || !after.OK || after.Pending != 0 {
		t.Errorf("audit once the waiting records are chained: %+v, %v", after, err)
	}
	t.Logf("%s: %d acknowledged, %d unanswered at the kill; %d audit records were waiting to be chained", e, st.ok.Load(), st.unanswered.Load(), before.Pending)
}
