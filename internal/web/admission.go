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
// every read; while others wait, one org (or one address, signed out)
// gets at most half of the places, so that nobody can keep them filled
// with slow requests (a subscription that fetches from a slow server) and
// stop the others (an org alone on the hub may use them all). A
// place is held only while the hub works: a signed-in write's body is
// read before its turn, and the place is given back as the answer starts,
// so a client that sends or reads slowly holds none. Writes of people not
// signed in (sign-in forms, a POST to a wrong address) are not counted:
// their bodies are not read before the guard's checks, as before. At most
// waitingPer times the places may wait; beyond, a request is told at once
// that the hub is busy.

// run runs the handler of a request that passed its checks, in its turn
// unless long.
func (s *Server) run(w *statusWriter, r *http.Request, p Perm, h HandlerFunc, long bool) error {
	if long {
		r, err := s.confirmToken(r, p)
		if err != nil {
			return err
		}
		return h(w, r)
	}
	a := ActorFrom(r)
	unsafe := changes(r)
	write := unsafe && p != Query // a batch look-up is a read sent as a POST
	key := a.OrgID
	if key == "" {
		key = "addr:" + s.ClientIP(r)
	}
	if unsafe && (a.UserID == "" || !readBody(r)) {
		// Not signed in (its body is not read before the handler's
		// checks), or larger than any form or JSON body (it streams in
		// at the client's pace): as before, not counted; a token
		// answered from memory is confirmed all the same.
		r, err := s.confirmToken(r, p)
		if err != nil {
			return err
		}
		return h(w, r)
	}
	if !s.gate.acquire(r.Context(), key, write) {
		if err := r.Context().Err(); errors.Is(err, context.Canceled) {
			return err // the client went away
		}
		return errBusy
	}
	released := false
	release := func() {
		if !released {
			released = true
			s.gate.release(key, write)
		}
	}
	defer release()
	w.answering = release
	if s.ReadContext != nil && !unsafe {
		r = r.WithContext(s.ReadContext(r.Context()))
	}
	// A token answered from memory counts from here: it is confirmed
	// with the state the request's caches read (after the queue).
	r, err := s.confirmToken(r, p)
	if err != nil {
		return err
	}
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

// errBusy answers a request that waited its whole time for a place, or
// found too many waiting.
var errBusy = fault.New(fault.Unavailable, "hub_busy", "the hub is too busy to answer in time: try again in a moment")

// DefaultActive is the number of requests worked on at once when
// Config.MaxActive is 0, per core the process may use: measured best
// between 3 and 4 on the 2-core machine (docs/PERFORMANCE.md).
const DefaultActive = 3

// waitingPer bounds the queue: at most this many requests per place wait.
const waitingPer = 16

// admission is the gate: free places, who holds them, and who waits for
// one, in order.
type admission struct {
	mu      sync.Mutex
	free    int            // places not taken
	writing int            // places taken by writes
	maxW    int            // places writes may take at once
	maxPer  int            // places one org (or address) may take at once
	held    map[string]int // places taken, by org (or address)
	writes  []*waiter
	reads   []*waiter
	maxWait int
}

type waiter struct {
	key   string
	write bool
	ch    chan struct{} // the releaser hands the place over without waiting
}

// newAdmission returns a gate of n places (n ≤ 0: DefaultActive per
// core, at least 4; n ≥ 2, so that one place is always left to reads).
func newAdmission(n int) *admission {
	if n <= 0 {
		n = max(4, DefaultActive*runtime.GOMAXPROCS(0))
	}
	n = max(n, 2)
	return &admission{free: n, maxW: n - 1, maxPer: max(1, n/2), held: map[string]int{}, maxWait: waitingPer * n}
}

// acquire waits for a place for a request of key (its org or address);
// false when ctx ended first or too many wait (the request then has no
// place and must not release one).
func (a *admission) acquire(ctx context.Context, key string, write bool) bool {
	a.mu.Lock()
	// Whenever a place is free, no waiter could have taken it (release
	// hands places on at once), so a request that may start goes ahead
	// of nobody.
	if a.free > 0 && a.mayStart(key, write, a.held[key] >= a.maxPer && a.othersWait()) {
		a.take(key, write)
		a.mu.Unlock()
		return true
	}
	if len(a.writes)+len(a.reads) >= a.maxWait {
		a.mu.Unlock()
		return false
	}
	wt := &waiter{key: key, write: write, ch: make(chan struct{}, 1)}
	if write {
		a.writes = append(a.writes, wt)
	} else {
		a.reads = append(a.reads, wt)
	}
	a.mu.Unlock()
	select {
	case <-wt.ch:
		return true
	case <-ctx.Done():
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-wt.ch:
		// Handed a place just as the request gave up: pass it on.
		a.releaseLocked(key, write)
	default:
		a.writes = without(a.writes, wt)
		a.reads = without(a.reads, wt)
	}
	return false
}

// mayStart reports whether a request may take a place were one free: a
// write only while writes hold fewer than theirs, and with fair, only if
// its org holds less than its share. Callers hold a.mu.
func (a *admission) mayStart(key string, write, fair bool) bool {
	return (!write || a.writing < a.maxW) && (!fair || a.held[key] < a.maxPer)
}

// othersWait reports whether a waiter within its org's share could start
// now. Callers hold a.mu.
func (a *admission) othersWait() bool {
	for _, l := range [][]*waiter{a.writes, a.reads} {
		for _, wt := range l {
			if a.mayStart(wt.key, wt.write, true) {
				return true
			}
		}
	}
	return false
}

func (a *admission) take(key string, write bool) {
	a.free--
	a.held[key]++
	if write {
		a.writing++
	}
}

// release gives the place back and hands free places on: to the first
// waiting write within its org's share, else such a read, else the first
// write, else read that may start at all.
func (a *admission) release(key string, write bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.releaseLocked(key, write)
}

func (a *admission) releaseLocked(key string, write bool) {
	a.free++
	if a.held[key]--; a.held[key] <= 0 {
		delete(a.held, key)
	}
	if write {
		a.writing--
	}
	for a.free > 0 {
		if !a.handOn(&a.writes, true) && !a.handOn(&a.reads, true) && !a.handOn(&a.writes, false) && !a.handOn(&a.reads, false) {
			return
		}
	}
}

// handOn gives a place to the first waiter of list that may start.
func (a *admission) handOn(list *[]*waiter, fair bool) bool {
	for i, wt := range *list {
		if a.mayStart(wt.key, wt.write, fair) {
			*list = append((*list)[:i:i], (*list)[i+1:]...)
			a.take(wt.key, wt.write)
			wt.ch <- struct{}{}
			return true
		}
	}
	return false
}

// waiting is how many requests wait for a place (metrics, tests).
func (a *admission) waiting() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.writes) + len(a.reads)
}

func without(l []*waiter, wt *waiter) []*waiter {
	for i, x := range l {
		if x == wt {
			return append(l[:i:i], l[i+1:]...)
		}
	}
	return l
}
