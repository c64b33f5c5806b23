package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
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
	jonas := "jonas.weber@mueller-maschinenbau.example"
	var tok syncBuffer
	if err := run(context.Background(), []string{"token", "create", "--data", dir, "--user", jonas, "--scope", "write"},
		func(string) string { return "" }, strings.NewReader(""), &tok, &errOut); err != nil {
		t.Fatalf("token create: %v\n%s", err, errOut.String())
	}
	token := strings.TrimSpace(tok.String())
	api := func(method, path string, body any) (int, []byte, error) {
		var rd *strings.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = strings.NewReader(string(b))
		} else {
			rd = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		var b strings.Builder
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			b.WriteString(sc.Text())
		}
		return resp.StatusCode, []byte(b.String()), nil
	}
	status, body, err := api("GET", "/api/v1/posts?limit=1", nil)
	if err != nil || status != 200 {
		t.Fatalf("feed: %d %v %s", status, err, body)
	}
	var feed struct {
		Items []struct {
			ThreadID string `json:"thread_id"`
		}
	}
	if err := json.Unmarshal(body, &feed); err != nil || len(feed.Items) == 0 {
		t.Fatalf("feed: %s", body)
	}
	thread := feed.Items[0].ThreadID

	// A live stream, to see it end with "shutdown".
	req, _ := http.NewRequest(http.MethodGet, base+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
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

	var acked sync.Map
	var ok, refused, failed atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				status, body, err := api("POST", "/api/v1/threads/"+thread+"/posts", map[string]any{"body": fmt.Sprintf("drain %d-%d", w, i)})
				switch {
				case err != nil:
					refused.Add(1) // the hub stopped accepting: the client would retry elsewhere
					time.Sleep(5 * time.Millisecond)
				case status == http.StatusCreated:
					var p struct{ ID string }
					_ = json.Unmarshal(body, &p)
					acked.Store(p.ID, true)
					ok.Add(1)
				default:
					failed.Add(1)
					t.Errorf("a write during shutdown got %d: %s", status, body)
				}
			}
		})
	}
	time.Sleep(400 * time.Millisecond)
	cancel() // SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within the drain time")
	}
	close(stop)
	wg.Wait()
	if ok.Load() == 0 {
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
	acked.Range(func(k, _ any) bool {
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
	t.Logf("%d acknowledged, %d refused after the hub stopped accepting, %d failed", ok.Load(), refused.Load(), failed.Load())
}
