package live

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// fakeWorld stands in for the database behind a hub's re-checks: which org
// each user's view reaches, which tokens are gone, and gates that hold a
// re-check inside its query (as a slow database would).
type fakeWorld struct {
	mu       sync.Mutex
	reach    map[string]string // user → OrgID of the view; absent: the actor's own org
	gone     map[string]bool   // token → revoked
	viewGate map[string]chan struct{}
	credGate chan struct{}
	loading  chan string // users whose view load has started (while gated)
	checking chan string // tokens whose check has started (while gated)
	down     bool        // the database does not answer: checks and loads fail
}

func newFakeWorld() *fakeWorld {
	return &fakeWorld{reach: map[string]string{}, gone: map[string]bool{}, viewGate: map[string]chan struct{}{},
		loading: make(chan string, 100), checking: make(chan string, 100)}
}

func (w *fakeWorld) loadView(ctx context.Context, a policy.Actor, now int64) (*policy.View, error) {
	w.mu.Lock()
	gate := w.viewGate[a.UserID]
	w.mu.Unlock()
	if gate != nil {
		w.loading <- a.UserID
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.down {
		return nil, fault.New(fault.Unavailable, "database_unavailable", "down")
	}
	org, ok := w.reach[a.UserID]
	if !ok {
		org = a.OrgID
	}
	return &policy.View{UserID: a.UserID, OrgID: org, At: now}, nil
}

func (w *fakeWorld) checkCredential(ctx context.Context, c web.Credential, _ policy.Actor) error {
	w.mu.Lock()
	gate := w.credGate
	w.mu.Unlock()
	if gate != nil {
		w.checking <- c.Token
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.down {
		return fault.New(fault.Unavailable, "database_unavailable", "down")
	}
	if w.gone[c.Token] {
		return fault.New(fault.Unauthenticated, "token_revoked", "revoked")
	}
	return nil
}

func (w *fakeWorld) set(f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f()
}

func worldHub(t *testing.T, w *fakeWorld, heartbeat time.Duration) *Hub {
	t.Helper()
	h := New(Config{Broker: events.New("test"), Log: slog.New(slog.DiscardHandler), Heartbeat: heartbeat,
		LoadView: w.loadView, CheckCredential: w.checkCredential})
	t.Cleanup(func() { h.Close(0) })
	return h
}

// recOut records what the hub writes to a stream.
type recOut struct {
	writes chan string
	closed chan struct{}
	once   sync.Once
}

func (o *recOut) write(b []byte) error { o.writes <- string(b); return nil }
func (o *recOut) close()               { o.once.Do(func() { close(o.closed) }) }
func (o *recOut) alive() bool          { return true }

// openAt opens a stream for user of org whose credential and view were
// read at epoch (as Serve does, with view loaded then).
func openAt(h *Hub, user, org string, view *policy.View, epoch uint64) (*stream, *recOut) {
	out := &recOut{writes: make(chan string, 2*maxHeld), closed: make(chan struct{})}
	st := &stream{actor: policy.Actor{UserID: user, OrgID: org}, cred: web.Credential{Token: "tok-" + user},
		done: make(chan struct{}), out: out}
	h.add(st, view, epoch)
	h.release(st)
	return st, out
}

// open opens a stream as Serve does: epoch first, then the view.
func open(t *testing.T, h *Hub, w *fakeWorld, user, org string) *recOut {
	t.Helper()
	epoch := h.cfg.Broker.Epoch()
	v, err := w.loadView(context.Background(), policy.Actor{UserID: user, OrgID: org}, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, out := openAt(h, user, org, v, epoch)
	return out
}

// publish sends an event for the members of org "o".
func publish(h *Hub, id string) {
	h.cfg.Broker.Publish(events.Event{Type: "test", Orgs: []string{"o"}, Data: map[string]string{"id": id}})
}

func policyChanged(h *Hub) { h.cfg.Broker.Publish(events.Event{Type: events.PolicyChanged}) }

// next returns the id of the next event written to o (or "revoked"),
// skipping heartbeats and view notices (TestViewChangeReachesItsUser in
// internal/app covers those); "" when none comes within d.
func (o *recOut) next(t *testing.T, d time.Duration) string {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case s := <-o.writes:
			if strings.HasPrefix(s, "event: revoked") {
				return "revoked"
			}
			data, ok := strings.CutPrefix(s, "data: ")
			if !ok {
				continue // a heartbeat
			}
			var m map[string]string
			if err := json.Unmarshal([]byte(strings.TrimSpace(data)), &m); err != nil {
				t.Fatalf("bad event %q: %v", s, err)
			}
			if m["type"] == "view" {
				continue
			}
			return m["id"]
		case <-deadline:
			return ""
		}
	}
}

func (o *recOut) want(t *testing.T, id string) {
	t.Helper()
	if got := o.next(t, 5*time.Second); got != id {
		t.Fatalf("got event %q, want %q", got, id)
	}
}

func (o *recOut) nothing(t *testing.T, d time.Duration) {
	t.Helper()
	if got := o.next(t, d); got != "" {
		t.Fatalf("got event %q, want none", got)
	}
}

func waitFor(t *testing.T, c chan string, want string) {
	t.Helper()
	select {
	case got := <-c:
		if got != want {
			t.Fatalf("re-check started for %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no re-check started for %q", want)
	}
}

// TestHeartbeatRecheckDoesNotHoldDeliveries: while the heartbeat's
// credential check waits on the database, events are still delivered.
func TestHeartbeatRecheckDoesNotHoldDeliveries(t *testing.T) {
	w := newFakeWorld()
	h := worldHub(t, w, 20*time.Millisecond)
	a := open(t, h, w, "a", "o")
	gate := make(chan struct{})
	w.set(func() { w.credGate = gate })
	waitFor(t, w.checking, "tok-a")
	publish(h, "e1")
	a.want(t, "e1")
	w.set(func() { w.credGate = nil })
	close(gate)
}

// TestPolicyChangeHoldsEventsUntilReload: after a policy change, events
// wait for a stream until its view has been reloaded, and are then
// filtered with the new view — never with the one that predates the
// change — and delivered in order.
func TestPolicyChangeHoldsEventsUntilReload(t *testing.T) {
	w := newFakeWorld()
	h := worldHub(t, w, time.Hour)
	a := open(t, h, w, "a", "o")
	b := open(t, h, w, "b", "o")
	publish(h, "e0")
	a.want(t, "e0")
	b.want(t, "e0")

	// a loses access; its reload is slow.
	gate := make(chan struct{})
	w.set(func() { w.reach["a"] = "elsewhere"; w.viewGate["a"] = gate })
	policyChanged(h)
	waitFor(t, w.loading, "a")
	publish(h, "e1")
	a.nothing(t, 200*time.Millisecond) // held, not delivered with the old view
	close(gate)
	b.want(t, "e1")
	a.nothing(t, 300*time.Millisecond) // the new view does not reach org o

	// a regains access; two events wait for its slow reload, then arrive
	// in order.
	gate = make(chan struct{})
	w.set(func() { delete(w.reach, "a"); w.viewGate["a"] = gate })
	policyChanged(h)
	waitFor(t, w.loading, "a")
	publish(h, "e2")
	publish(h, "e3")
	a.nothing(t, 100*time.Millisecond)
	close(gate)
	a.want(t, "e2")
	a.want(t, "e3")
	b.want(t, "e2")
	b.want(t, "e3")
	h.mu.Lock()
	held, waiting := len(h.held), h.waiting
	h.mu.Unlock()
	if held != 0 || waiting != 0 {
		t.Errorf("%d events held for %d waiting streams after every re-check was applied", held, waiting)
	}
}

// TestPolicyChangeRevokesDuringRecheck: a token revoked with a policy
// change gets no event after the change, only "revoked", and its stream
// ends; others go on.
func TestPolicyChangeRevokesDuringRecheck(t *testing.T) {
	w := newFakeWorld()
	h := worldHub(t, w, time.Hour)
	a := open(t, h, w, "a", "o")
	b := open(t, h, w, "b", "o")
	gate := make(chan struct{})
	w.set(func() { w.gone["tok-a"] = true; w.credGate = gate })
	policyChanged(h)
	<-w.checking
	publish(h, "e1")
	a.nothing(t, 200*time.Millisecond)
	w.set(func() { w.credGate = nil })
	close(gate)
	if got := a.next(t, 5*time.Second); got != "revoked" {
		t.Fatalf("revoked stream got %q, want revoked", got)
	}
	select {
	case <-a.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked stream was not closed")
	}
	b.want(t, "e1")
	if n := h.Streams(); n != 1 {
		t.Errorf("%d streams, want 1", n)
	}
}

// TestStreamOpenedBeforeChangeWaits: a stream whose view was loaded before
// a policy change that the hub has already passed is not served with that
// view.
func TestStreamOpenedBeforeChangeWaits(t *testing.T) {
	w := newFakeWorld()
	h := worldHub(t, w, time.Hour)
	b := open(t, h, w, "b", "o") // starts the hub
	epoch := h.cfg.Broker.Epoch()
	old, _ := w.loadView(context.Background(), policy.Actor{UserID: "a", OrgID: "o"}, 0)
	w.set(func() { w.reach["a"] = "elsewhere" })
	policyChanged(h)
	publish(h, "e1")
	b.want(t, "e1") // the hub has passed the change
	_, a := openAt(h, "a", "o", old, epoch)
	publish(h, "e2")
	b.want(t, "e2")
	a.nothing(t, 300*time.Millisecond)
}

// TestHeldEventsAreBounded: when a re-check does not keep up, the streams
// waiting for it are ended (and counted as dropped) instead of holding
// events without limit.
func TestHeldEventsAreBounded(t *testing.T) {
	w := newFakeWorld()
	h := worldHub(t, w, time.Hour)
	a := open(t, h, w, "a", "o")
	gate := make(chan struct{})
	defer close(gate)
	w.set(func() { w.viewGate["a"] = gate })
	policyChanged(h)
	waitFor(t, w.loading, "a")
	sent := 0
	for sent < maxHeld {
		// In batches the hub's broker queue can take.
		for range 512 {
			publish(h, "x")
			sent++
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			h.mu.Lock()
			n := len(h.held)
			h.mu.Unlock()
			if n == sent {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d events held, want %d", n, sent)
			}
		}
	}
	publish(h, "one too many")
	select {
	case <-a.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting stream was not ended")
	}
	if h.Dropped() != 1 || h.Streams() != 0 {
		t.Errorf("dropped %d, %d streams open; want 1 and 0", h.Dropped(), h.Streams())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.held) != 0 || h.waiting != 0 {
		t.Errorf("%d events held for %d waiting streams", len(h.held), h.waiting)
	}
}

// TestOutageDoesNotRevoke: while the database does not answer, re-checks
// fail without an answer; no stream is told "revoked" or closed, events
// wait, and once the database is back they are delivered.
func TestOutageDoesNotRevoke(t *testing.T) {
	w := newFakeWorld()
	h := worldHub(t, w, 100*time.Millisecond) // heartbeats re-check often
	a := open(t, h, w, "a", "o")
	w.set(func() { w.down = true })
	policyChanged(h)
	publish(h, "e1")
	time.Sleep(400 * time.Millisecond) // several failed re-checks
	select {
	case <-a.closed:
		t.Fatal("the stream was closed during the outage")
	default:
	}
	w.set(func() { w.down = false })
	publish(h, "e2")
	for _, want := range []string{"e1", "e2"} {
		if got := a.next(t, 5*time.Second); got != want {
			t.Fatalf("after the outage the stream got %q, want %q", got, want)
		}
	}
}

// TestFailedReloadHoldsEvents: a heartbeat's view reload failed during an
// outage (no policy change). The first event after the database is back
// must not be judged by the empty stand-in view (and lost): it waits for
// the reload and is delivered.
func TestFailedReloadHoldsEvents(t *testing.T) {
	w := newFakeWorld()
	h := worldHub(t, w, 100*time.Millisecond)
	a := open(t, h, w, "a", "o")
	w.set(func() { w.down = true })
	time.Sleep(350 * time.Millisecond) // heartbeats' reloads fail
	h.mu.Lock()
	failed := false
	for _, sv := range h.views {
		failed = sv.failed
	}
	h.mu.Unlock()
	if !failed {
		t.Fatal("the view did not fail to reload during the outage")
	}
	w.set(func() { w.down = false })
	publish(h, "e1")
	a.want(t, "e1")
}
