package audit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"verbund/internal/db"
)

// Trail serves the trail's state and its newest chained records to the
// caches that follow it (internal/readcache's pages, the forum's thread
// cache, the kernel's views). Without it each cache read the state and
// the records since its last look on every request: three reads of the
// same rows, each a query that a write to SQLite makes costly (a reader
// drops its page cache after any commit).
//
//   - State is read once per request within a context from Remember: the
//     request reads it before any page it judges, which is all the caches'
//     rule asks (docs/SECURITY.md item 7). Only safe, short requests get
//     such a context: a write must see its own change, and a live stream
//     outlives any state.
//   - On PostgreSQL requests share state reads: a request takes the
//     first read that begins after it asked (never one already under
//     way: it could have begun before a change the request must see).
//     While one read runs, every request that asks waits for the next,
//     which begins as soon as that one ends. Under an incident's load
//     each hub read the state once for every read request, its largest
//     share of round trips. SQLite reads in process: nothing to share.
//   - Changes keeps the newest chained records in memory. The chain is
//     gap-free and a chained record never changes (Verify would name it),
//     so a range read once serves every cache that asks for it later.
type Trail struct {
	db *db.DB

	fetching sync.Mutex // one read of new records at a time

	mu      sync.Mutex
	from    int64    // kept holds exactly the chained records with from < Seq <= to
	to      int64    //
	kept    []Change // oldest first
	maxKept int

	readState func(ctx context.Context) (State, error) // ReadState on db (tests: a slow one)
	reading   sync.Mutex
	running   bool         // a state read is under way
	next      *stateFlight // the read that begins when it ends, with its takers
}

// stateReadTimeout bounds a shared state read.
const stateReadTimeout = 5 * time.Second

// stateFlight is one state read shared by the requests that asked for it
// before it began.
type stateFlight struct {
	done   chan struct{}
	st     State
	err    error
	takers int // under Trail.reading (for the tests)
}

// trailKept is how many records a Trail keeps at least (at most twice as
// many, see Changes): more than a cache catches
// up with at once (internal/readcache starts afresh beyond 4,096).
const trailKept = 8192

// NewTrail returns the trail of d's audit log.
func NewTrail(d *db.DB) *Trail {
	t := &Trail{db: d, maxKept: trailKept}
	t.readState = func(ctx context.Context) (State, error) { return ReadState(ctx, d.R()) }
	return t
}

type stateKey struct{}

// stateMemo is one request's state, read at its first use.
type stateMemo struct {
	once sync.Once
	st   State
	err  error
}

// Remember returns a context within which a Trail's State is read once:
// for a safe request (GET) that ends within seconds, never for a write or
// a stream.
func Remember(ctx context.Context) context.Context {
	return context.WithValue(ctx, stateKey{}, &stateMemo{})
}

// State reads the trail's state, or returns the one read before within a
// context from Remember.
func (t *Trail) State(ctx context.Context) (State, error) {
	read := t.sharedState
	if t.db != nil && t.db.Dialect == db.SQLite {
		// In process: no round trip to save by sharing.
		read = t.readState
	}
	m, ok := ctx.Value(stateKey{}).(*stateMemo)
	if !ok {
		return read(ctx)
	}
	m.once.Do(func() { m.st, m.err = read(ctx) })
	return m.st, m.err
}

// sharedState returns the first state read that begins after the call.
func (t *Trail) sharedState(ctx context.Context) (State, error) {
	t.reading.Lock()
	f := t.next
	if f == nil {
		f = &stateFlight{done: make(chan struct{})}
		t.next = f
	}
	f.takers++
	start := !t.running
	if start {
		t.running, t.next = true, nil
	}
	t.reading.Unlock()
	if start {
		// In a goroutine of its own: the request that starts it leaves at
		// its own deadline, like those waiting for it.
		go t.readFlight(ctx, f)
	}
	select {
	case <-f.done:
		return f.st, f.err
	case <-ctx.Done():
		return State{}, db.Map(fmt.Errorf("audit: read state: %w", ctx.Err()))
	}
}

// readFlight reads f's state and then the next one's, as long as
// requests wait for one.
func (t *Trail) readFlight(ctx context.Context, f *stateFlight) {
	for f != nil {
		// Read for everyone who waits: not ended by the end of the
		// request that started it, but bounded (a connection lost
		// without a word: the next read must get its turn once the
		// database is back).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stateReadTimeout)
		f.st, f.err = t.readState(rctx)
		cancel()
		close(f.done)
		t.reading.Lock()
		f, t.next = t.next, nil
		t.running = f != nil
		t.reading.Unlock()
	}
}

// Changes lists the chained records after seq from up to seq to, oldest
// first, as the package's Changes does: from memory when it holds them,
// else reading only the records it does not hold.
func (t *Trail) Changes(ctx context.Context, from, to int64) ([]Change, error) {
	if out, ok := t.cut(from, to); ok {
		return out, nil
	}
	t.fetching.Lock()
	defer t.fetching.Unlock()
	if out, ok := t.cut(from, to); ok {
		return out, nil // read by the request before this one
	}
	t.mu.Lock()
	lo, hi := t.from, t.to
	t.mu.Unlock()
	if from < lo || to-from > int64(t.maxKept) {
		// Older than what is kept (a cache far behind), or more than
		// it keeps: read, keep nothing.
		return Changes(ctx, t.db.R(), from, to)
	}
	if from > hi {
		// Ahead of what is kept (the first look, or after a pause):
		// keep from here on.
		lo, hi = from, from
		t.mu.Lock()
		t.from, t.to, t.kept = from, from, nil
		t.mu.Unlock()
	}
	fresh, err := Changes(ctx, t.db.R(), hi, to)
	if err != nil {
		return nil, err
	}
	if len(fresh) != int(to-hi) {
		// Not the records expected (the chain is gap-free up to to):
		// read what was asked for, keep nothing new.
		return Changes(ctx, t.db.R(), from, to)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.kept = append(t.kept, fresh...)
	t.to = to
	// Trimmed to the newest maxKept once twice as many are kept: trimming
	// at every append copied the whole list each time (3 % of the CPU
	// under an incident's writes).
	if len(t.kept) > 2*t.maxKept {
		t.kept = append([]Change(nil), t.kept[len(t.kept)-t.maxKept:]...)
		t.from = t.kept[0].Seq - 1
	}
	out, _ := t.cutLocked(from, to)
	return out, nil
}

// cut returns the kept records in (from, to], if it holds them all.
func (t *Trail) cut(from, to int64) ([]Change, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cutLocked(from, to)
}

func (t *Trail) cutLocked(from, to int64) ([]Change, bool) {
	if from < t.from || to > t.to || from > to {
		return nil, false
	}
	// kept[i].Seq == t.from+1+i: the chain has no gaps.
	i, j := from-t.from, to-t.from
	return append([]Change(nil), t.kept[i:j]...), true
}
