package web

import (
	"context"
	"io"
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

// A client that sends its body slowly, or reads its answer slowly, holds
// no place: the body is read before the turn, the place given back as the
// answer starts.
func TestSlowClientsHoldNoPlace(t *testing.T) {
	s := &Server{gate: newAdmission(1)}
	body, send := io.Pipe()
	post := httptest.NewRequest(http.MethodPost, "/api/v1/things", body)
	ran := make(chan []byte, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.run(&statusWriter{ResponseWriter: httptest.NewRecorder()}, post, func(w http.ResponseWriter, r *http.Request) error {
			b, err := io.ReadAll(r.Body)
			ran <- b
			return err
		}, false)
	}()
	if _, err := send.Write([]byte(`{"body":`)); err != nil {
		t.Fatal(err)
	}
	// The body is still coming: the one place is free for another request.
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if !s.gate.acquire(short, false) {
		t.Fatal("a request waits while the only other one is still receiving its body")
	}
	if s.gate.free != 0 {
		t.Fatalf("free places %d while a slow body comes in and one read runs; want 0", s.gate.free)
	}
	s.gate.release(false)
	if _, err := send.Write([]byte(`"hello"}`)); err != nil {
		t.Fatal(err)
	}
	send.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := string(<-ran); got != `{"body":"hello"}` {
		t.Fatalf("the handler read %q, want the whole body", got)
	}

	// The answer has started: the place is back although the handler
	// still runs (its client reads slowly).
	answered, finish := make(chan struct{}), make(chan struct{})
	go func() {
		done <- s.run(&statusWriter{ResponseWriter: httptest.NewRecorder()}, httptest.NewRequest(http.MethodGet, "/api/v1/things", nil),
			func(w http.ResponseWriter, r *http.Request) error {
				w.WriteHeader(http.StatusOK)
				close(answered)
				<-finish
				return nil
			}, false)
	}()
	<-answered
	short, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if !s.gate.acquire(short, false) {
		t.Fatal("the place was not given back when the answer started")
	}
	s.gate.release(false)
	close(finish)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s.gate.free != 1 {
		t.Fatalf("free places %d after everything ended; want 1 (a place released twice or lost)", s.gate.free)
	}
}

// A body larger than any form streams in as before, uncounted.
func TestLargeBodiesAreNotCounted(t *testing.T) {
	s := &Server{gate: newAdmission(1)}
	if !s.gate.acquire(context.Background(), true) {
		t.Fatal("no place")
	}
	big := strings.Repeat("x", MaxBody+10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var got int
	err := s.run(&statusWriter{ResponseWriter: httptest.NewRecorder()}, httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/v1/bundles", strings.NewReader(big)),
		func(w http.ResponseWriter, r *http.Request) error {
			b, err := io.ReadAll(r.Body)
			got = len(b)
			return err
		}, false)
	if err != nil || got != len(big) {
		t.Fatalf("large body: err %v, handler read %d bytes; want it run at once with all %d", err, got, len(big))
	}
}
