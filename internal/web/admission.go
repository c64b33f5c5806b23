package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"sync"

	"verbund/internal/fault"
)

// Admission: the hub works on at most a few requests at once, and a
// write that waits goes before every waiting read.
//
// Why: during an incident everybody writes at once, and a reply's time
// is spent waiting, not working (docs/PERFORMANCE.md, tenth session). The
// hub has one writer (SQLite's one write connection): while the request
// that holds it shares two cores with fifty reads, every other write
// queues behind it, so under the incident mix a reply took 40–50 ms for
// 2 ms of work, and reads too waited their turn at each of their
// queries, with long tails. With a handful of requests running and the
// writes first, the writer runs at once and the reads that run finish
// quickly: reply p50 46 → 11–15 ms, p99 of all requests 150 → 75–80 ms,
// at the same or better throughput.
//
// Long requests (live streams, exports, uploads; HandleLong) are not
// counted: they mostly wait. Writes may take all places but one, so a
// burst of writes (they queue for the one writer anyway) never stops
// every read. A place is held only while the hub works: a write's body is
// read before its turn, and the place is given back as the answer starts,
// so a client that sends or reads slowly holds none (else a few such
// clients, signed in, could stop everybody's writes).

// run runs the handler of a request that passed its checks, in its turn
// unless long.
func (s *Server) run(w *statusWriter, r *http.Request, h HandlerFunc, long bool) error {
	if long {
		return h(w, r)
	}
	write := r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
	if write && !readBody(r) {
		// Larger than any form or JSON body: it streams in at the
		// client's pace, as before, and is not counted.
		return h(w, r)
	}
	if !s.gate.acquire(r.Context(), write) {
		if err := r.Context().Err(); errors.Is(err, context.Canceled) {
			return err // the client went away
		}
		return errBusy
	}
	released := false
	release := func() {
		if !released {
			released = true
			s.gate.release(write)
		}
	}
	defer release()
	w.answering = release
	return h(w, r)
}

// readBody reads a request's body into memory, up to MaxBody, and puts it
// back for the handler; false if the body is larger (or broke off: the
// handler meets the same error reading on).
func readBody(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	head, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	r.Body = readCloser{Reader: io.MultiReader(bytes.NewReader(head), r.Body), Closer: r.Body}
	return err == nil && len(head) <= MaxBody
}

type readCloser struct {
	io.Reader
	io.Closer
}

// errBusy answers a request that waited its whole time for a place.
var errBusy = fault.New(fault.Unavailable, "hub_busy", "the hub is too busy to answer in time: try again in a moment")

// DefaultActive is the number of requests worked on at once when
// Config.MaxActive is 0, per core the process may use: measured best
// between 3 and 4 on the 2-core machine (docs/PERFORMANCE.md).
const DefaultActive = 3

// admission is the gate: free places, and who waits for one, in order.
type admission struct {
	mu      sync.Mutex
	free    int // places not taken
	writing int // places taken by writes
	maxW    int // places writes may take at once
	writes  []chan struct{}
	reads   []chan struct{}
}

// newAdmission returns a gate of n places (n ≤ 0: DefaultActive per
// core, at least 4).
func newAdmission(n int) *admission {
	if n <= 0 {
		n = max(4, DefaultActive*runtime.GOMAXPROCS(0))
	}
	return &admission{free: n, maxW: max(1, n-1)}
}

// acquire waits for a place; false when ctx ended first (the request
// then has no place and must not release one).
func (a *admission) acquire(ctx context.Context, write bool) bool {
	a.mu.Lock()
	if a.free > 0 && a.mayStart(write) {
		a.take(write)
		a.mu.Unlock()
		return true
	}
	ch := make(chan struct{}, 1) // the releaser hands the place over without waiting
	if write {
		a.writes = append(a.writes, ch)
	} else {
		a.reads = append(a.reads, ch)
	}
	a.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-ch:
		// Handed a place just as the request gave up: pass it on.
		a.releaseLocked(write)
	default:
		a.writes = without(a.writes, ch)
		a.reads = without(a.reads, ch)
	}
	return false
}

// mayStart reports whether a request may take a free place now: a write
// while writes hold fewer than their share, a read while no write that
// could start waits. Callers hold a.mu.
func (a *admission) mayStart(write bool) bool {
	if write {
		return a.writing < a.maxW
	}
	return len(a.writes) == 0 || a.writing >= a.maxW
}

func (a *admission) take(write bool) {
	a.free--
	if write {
		a.writing++
	}
}

// release gives the place back, to the first waiting write that may
// start, else to the first waiting read.
func (a *admission) release(write bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.releaseLocked(write)
}

func (a *admission) releaseLocked(write bool) {
	a.free++
	if write {
		a.writing--
	}
	var next *[]chan struct{}
	switch {
	case len(a.writes) > 0 && a.writing < a.maxW:
		next = &a.writes
		a.take(true)
	case len(a.reads) > 0:
		next = &a.reads
		a.take(false)
	default:
		return
	}
	ch := (*next)[0]
	*next = (*next)[1:]
	ch <- struct{}{}
}

// waiting is how many requests wait for a place (metrics, tests).
func (a *admission) waiting() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.writes) + len(a.reads)
}

func without(l []chan struct{}, ch chan struct{}) []chan struct{} {
	for i, c := range l {
		if c == ch {
			return append(l[:i], l[i+1:]...)
		}
	}
	return l
}
