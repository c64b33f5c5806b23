package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"verbund/internal/i18n"
)

// admitted reports whether ch receives within a short wait.
func admitted(ch <-chan bool) bool {
	select {
	case ok := <-ch:
		return ok
	case <-time.After(200 * time.Millisecond):
		return false
	}
}

// queue starts acquire in the background and waits until it is queued.
func queue(t *testing.T, a *admission, ctx context.Context, write bool) <-chan bool {
	t.Helper()
	before := a.waiting()
	ch := make(chan bool, 1)
	go func() { ch <- a.acquire(ctx, write) }()
	for deadline := time.Now().Add(5 * time.Second); a.waiting() == before; {
		if time.Now().After(deadline) {
			t.Fatal("the request did not queue")
		}
		time.Sleep(time.Millisecond)
	}
	return ch
}

func TestAdmissionWritesGoFirst(t *testing.T) {
	ctx := context.Background()
	a := newAdmission(2)
	if !a.acquire(ctx, false) || !a.acquire(ctx, false) {
		t.Fatal("two free places were not taken at once")
	}
	read := queue(t, a, ctx, false)
	write := queue(t, a, ctx, true)
	a.release(false)
	if !admitted(write) {
		t.Fatal("a freed place went to the read that waited longer, not to the waiting write")
	}
	if admitted(read) {
		t.Fatal("the read got a place that was not free")
	}
	a.release(false)
	if !admitted(read) {
		t.Fatal("the read did not get the next free place")
	}
	a.release(true)
	a.release(false)
	if a.free != 2 || a.writing != 0 || a.waiting() != 0 {
		t.Fatalf("after every release: free %d, writing %d, waiting %d; want 2, 0, 0", a.free, a.writing, a.waiting())
	}
}

// Writes may hold every place but one: reads are never all stopped by a
// burst of writes, which queue for the one writer anyway.
func TestAdmissionKeepsAPlaceForReads(t *testing.T) {
	ctx := context.Background()
	a := newAdmission(3)
	if !a.acquire(ctx, true) || !a.acquire(ctx, true) {
		t.Fatal("writes did not take two of three places")
	}
	write := queue(t, a, ctx, true)
	if !a.acquire(ctx, false) {
		t.Fatal("a read waited although one place is kept for reads")
	}
	if admitted(write) {
		t.Fatal("a third write took the place kept for reads")
	}
	a.release(false)
	if admitted(write) {
		t.Fatal("the place a read gave back went to a write beyond the writes' share")
	}
	a.release(true)
	if !admitted(write) {
		t.Fatal("the waiting write did not get the place a write gave back")
	}
}

func TestAdmissionGivesUpWithItsRequest(t *testing.T) {
	a := newAdmission(1)
	if !a.acquire(context.Background(), false) {
		t.Fatal("the free place was not taken")
	}
	ctx, cancel := context.WithCancel(context.Background())
	waiter := queue(t, a, ctx, true)
	cancel()
	if ok := <-waiter; ok {
		t.Fatal("a request whose context ended was admitted")
	}
	if a.waiting() != 0 {
		t.Fatal("the request that gave up still waits")
	}
	a.release(false)
	if !a.acquire(context.Background(), false) {
		t.Fatal("the place was lost with the request that gave up")
	}
}

// A request that waits its whole time for a place gets 503 with its own
// code and a Retry-After, not a 500.
func TestBusyHubAnswers503(t *testing.T) {
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(Config{MaxActive: 1, RequestTimeout: 100 * time.Millisecond, Catalog: cat, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s.Router.Handle("GET /api/v1/ping", Public, func(w http.ResponseWriter, r *http.Request) error {
		_, err := w.Write([]byte("{}"))
		return err
	})
	if !s.gate.acquire(context.Background(), true) {
		t.Fatal("the one place was not taken")
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/ping", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"hub_busy"`) || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("busy hub: status %d, Retry-After %q, body %s; want 503 hub_busy with Retry-After 1", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	s.gate.release(true)
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/ping", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("after the place was freed: status %d, body %s", rec.Code, rec.Body)
	}
}
