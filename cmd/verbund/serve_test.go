package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer lets the test read what serve prints while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The first README command: serve --demo on an empty folder prints where to
// sign in and the logins, writes them to the data folder, serves, and
// shuts down cleanly when told to.
func TestServeDemoAndShutdown(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--demo", "--addr", "127.0.0.1:0", "--data", dir, "--log-format", "text"},
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
		cancel()
		t.Fatalf("serve printed no URL:\n%s\n%s", out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "jonas.weber@mueller-maschinenbau.example") {
		t.Errorf("demo logins not printed:\n%s", out.String())
	}
	logins, err := os.ReadFile(dir + "/demo-logins.txt")
	if err != nil || !strings.Contains(string(logins), "max.bauer@cert-sued.example") {
		t.Errorf("demo-logins.txt: %v", err)
	}
	if st, err := os.Stat(dir + "/demo-logins.txt"); err == nil && st.Mode().Perm() != 0o600 {
		t.Errorf("demo-logins.txt mode %v, want 0600", st.Mode().Perm())
	}
	for _, p := range []string{"/healthz", "/readyz", "/login"} {
		resp, err := http.Get(base + p)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s: %v %v", p, err, resp)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not shut down")
	}
}
