package main

import (
	"bufio"
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"verbund/internal/audit"
	"verbund/internal/db"
)

// TestShutdownLetsWritesFinish: SIGTERM (the end of serve's context) while
// sixteen clients write replies as fast as they can. No write gets a 5xx:
// each either commits and answers, or finds the hub no longer accepting.
// Every acknowledged reply is in the database afterwards, the audit trail
// verifies with nothing waiting, and an open live stream ends with a
// "shutdown" event.
func TestShutdownLetsWritesFinish(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--demo", "--addr", "127.0.0.1:0", "--data", dir, "--log-format", "text", "--log-level", "error"},
			func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	}()
	urlRe := regexp.MustCompile(`open (http://127\.0\.0\.1:\d+)/login`)
	var base string
	for deadline := time.Now().Add(60 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := urlRe.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("serve printed no URL:\n%s\n%s", out.String(), errOut.String())
	}
	c := writeToken(t, base, "--data", dir)
	thread := c.newestThread(t)

	// A live stream, to see it end with "shutdown".
	req, _ := http.NewRequest(http.MethodGet, base+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v", err)
	}
	gotShutdown := make(chan bool, 1)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		seen := false
		for sc.Scan() {
			seen = seen || sc.Text() == "event: shutdown"
		}
		gotShutdown <- seen
	}()

	st := replyStorm(c, thread, "drain", func(status int, body []byte) {
		t.Errorf("a write during shutdown got %d: %s", status, body)
	})
	st.flowing(400 * time.Millisecond)
	cancel() // SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within the drain time")
	}
	st.end()
	if st.ok.Load() == 0 {
		t.Fatal("no write was acknowledged before the shutdown")
	}
	select {
	case seen := <-gotShutdown:
		if !seen {
			t.Error("the live stream ended without a shutdown event")
		}
	case <-time.After(5 * time.Second):
		t.Error("the live stream stayed open")
	}
	d, err := db.Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	missing := 0
	st.acked.Range(func(k, _ any) bool {
		var n int
		if err := d.R().QueryRow(context.Background(), `SELECT COUNT(*) FROM posts WHERE id = ?`, k).Scan(&n); err != nil || n != 1 {
			missing++
		}
		return true
	})
	if missing > 0 {
		t.Errorf("%d acknowledged replies are missing after the shutdown", missing)
	}
	res, err := audit.Verify(context.Background(), d)
	if err != nil || !res.OK || res.Pending != 0 {
		t.Errorf("audit after the shutdown: %+v, %v", res, err)
	}
	t.Logf("%d acknowledged, %d refused after the hub stopped accepting", st.ok.Load(), st.unanswered.Load())
}
