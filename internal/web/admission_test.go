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
	"verbund/internal/policy"
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
func queue(t *testing.T, a *admission, ctx context.Context, key string, write bool) <-chan bool {
	t.Helper()
	before := a.waiting()
	ch := make(chan bool, 1)
	go func() { ch <- a.acquire(ctx, key, write) }()
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
	if !a.acquire(ctx, "a", false) || !a.acquire(ctx, "b", false) {
		t.Fatal("two free places were not taken at once")
	}
	read := queue(t, a, ctx, "c", false)
	write := queue(t, a, ctx, "d", true)
	a.release("a", false)
	if !admitted(write) {
		t.Fatal("a freed place went to the read that waited longer, not to the waiting write")
	}
	if admitted(read) {
		t.Fatal("the read got a place that was not free")
	}
	a.release("b", false)
	if !admitted(read) {
		t.Fatal("the read did not get the next free place")
	}
	a.release("d", true)
	a.release("c", false)
	if a.free != 2 || a.writing != 0 || a.waiting() != 0 || len(a.held) != 0 {
		t.Fatalf("after every release: free %d, writing %d, waiting %d, held %v; want 2, 0, 0, none", a.free, a.writing, a.waiting(), a.held)
	}
}

// Writes may hold every place but one: reads are never all stopped by a
// burst of writes, which queue for the one writer anyway.
func TestAdmissionKeepsAPlaceForReads(t *testing.T) {
	ctx := context.Background()
	a := newAdmission(6)
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if !a.acquire(ctx, k, true) {
			t.Fatal("writes did not take five of six places")
		}
	}
	write := queue(t, a, ctx, "f", true)
	if !a.acquire(ctx, "g", false) {
		t.Fatal("a read waited although one place is kept for reads")
	}
	if admitted(write) {
		t.Fatal("a sixth write took the place kept for reads")
	}
	a.release("g", false)
	if admitted(write) {
		t.Fatal("the place a read gave back went to a write beyond the writes' share")
	}
	a.release("a", true)
	if !admitted(write) {
		t.Fatal("the waiting write did not get the place a write gave back")
	}
}

// While others wait, one org gets half of the places: its slow requests
// cannot stop everybody else's. Alone, it may use them all.
func TestAdmissionSharesPlacesAmongOrgs(t *testing.T) {
	ctx := context.Background()
	a := newAdmission(4)
	for range 4 {
		if !a.acquire(ctx, "a", false) {
			t.Fatal("an org alone did not get every place")
		}
	}
	other := queue(t, a, ctx, "b", true)
	again := queue(t, a, ctx, "a", true)
	later := queue(t, a, ctx, "b", false)
	a.release("a", false)
	if !admitted(other) {
		t.Fatal("the place went to the org that holds more than its share, not to the other org")
	}
	a.release("a", false)
	if !admitted(later) {
		t.Fatal("an org beyond its share got a place before the other org, which holds less, though it came first")
	}
	if admitted(again) {
		t.Fatal("an org beyond its share got a place that was not free")
	}
	a.release("a", false)
	if !admitted(again) {
		t.Fatal("the org's waiting write did not get a place once nobody else waited")
	}
}

func TestAdmissionGivesUpWithItsRequest(t *testing.T) {
	a := newAdmission(2)
	if !a.acquire(context.Background(), "a", false) || !a.acquire(context.Background(), "b", false) {
		t.Fatal("the free places were not taken")
	}
	ctx, cancel := context.WithCancel(context.Background())
	waiter := queue(t, a, ctx, "c", true)
	cancel()
	if ok := <-waiter; ok {
		t.Fatal("a request whose context ended was admitted")
	}
	if a.waiting() != 0 {
		t.Fatal("the request that gave up still waits")
	}
	a.release("a", false)
	if !a.acquire(context.Background(), "c", false) {
		t.Fatal("the place was lost with the request that gave up")
	}
	// Too many waiting: told at once.
	a.maxWait = 1
	queue(t, a, context.Background(), "d", false)
	short, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()
	if a.acquire(short, "e", false) {
		t.Fatal("a request was queued beyond the queue's bound")
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
	if !s.gate.acquire(context.Background(), "a", true) || !s.gate.acquire(context.Background(), "b", false) {
		t.Fatal("the two places were not taken")
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/ping", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"hub_busy"`) || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("busy hub: status %d, Retry-After %q, body %s; want 503 hub_busy with Retry-After 1", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	s.gate.release("a", true)
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/ping", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("after the place was freed: status %d, body %s", rec.Code, rec.Body)
	}
}

// signedIn is r as a request of an analyst of org "o".
func signedIn(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), actorKey, policy.Actor{UserID: "u", OrgID: "o"}))
}

// A client that sends its body slowly, or reads its answer slowly, holds
// no place: the body is read before the turn, the place given back as the
// answer starts.
func TestSlowClientsHoldNoPlace(t *testing.T) {
	s := &Server{gate: newAdmission(2)}
	body, send := io.Pipe()
	post := signedIn(httptest.NewRequest(http.MethodPost, "/api/v1/things", body))
	ran := make(chan []byte, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.run(&statusWriter{ResponseWriter: httptest.NewRecorder()}, post, Write, func(w http.ResponseWriter, r *http.Request) error {
			b, err := io.ReadAll(r.Body)
			ran <- b
			return err
		}, false)
	}()
	if _, err := send.Write([]byte(`{"body":`)); err != nil {
		t.Fatal(err)
	}
	// The body is still coming: it holds no place.
	if s.gate.free != 2 {
		t.Fatalf("free places %d while a slow body comes in; want 2", s.gate.free)
	}
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
		done <- s.run(&statusWriter{ResponseWriter: httptest.NewRecorder()}, signedIn(httptest.NewRequest(http.MethodGet, "/api/v1/things", nil)), Read,
			func(w http.ResponseWriter, r *http.Request) error {
				w.WriteHeader(http.StatusOK)
				close(answered)
				<-finish
				return nil
			}, false)
	}()
	<-answered
	if s.gate.free != 2 {
		t.Fatalf("free places %d once the answer started; want 2", s.gate.free)
	}
	close(finish)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s.gate.free != 2 || len(s.gate.held) != 0 {
		t.Fatalf("free places %d, held %v after everything ended; want 2, none (a place released twice or lost)", s.gate.free, s.gate.held)
	}
}

// A body larger than any form streams in as before, uncounted; so does a
// write of somebody not signed in (its body is not read before the
// guard's checks).
func TestLargeAndSignedOutWritesAreNotCounted(t *testing.T) {
	s := &Server{gate: newAdmission(2)}
	if !s.gate.acquire(context.Background(), "a", true) || !s.gate.acquire(context.Background(), "b", false) {
		t.Fatal("no places")
	}
	big := strings.Repeat("x", MaxBody+10)
	for _, c := range []struct {
		name string
		r    *http.Request
	}{
		{"large body", signedIn(httptest.NewRequest(http.MethodPost, "/api/v1/bundles", strings.NewReader(big)))},
		{"signed out", httptest.NewRequest(http.MethodPost, "/login", strings.NewReader("x"))},
	} {
		ctx, cancel := context.WithTimeout(c.r.Context(), time.Second)
		var got int
		err := s.run(&statusWriter{ResponseWriter: httptest.NewRecorder()}, c.r.WithContext(ctx), Write,
			func(w http.ResponseWriter, r *http.Request) error {
				b, err := io.ReadAll(r.Body)
				got = len(b)
				return err
			}, false)
		cancel()
		if err != nil || got == 0 {
			t.Fatalf("%s: err %v, handler read %d bytes; want it run at once", c.name, err, got)
		}
	}
}
