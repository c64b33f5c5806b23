package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Group commit on SQLite.
//
// Why: SQLite has one writer, and under an incident's load the write
// transactions are the queue every reply waits in. A transaction's fixed
// costs (BEGIN, the commit writing every changed page to the log, the
// full-text index flushing its pending terms, chaining the audit trail)
// were about 40 % of a short write's time in the writer (a reply:
// docs/PERFORMANCE.md, thirteenth session). Writes that wait for the
// writer while one runs are committed together in its next transaction:
// each in a savepoint of its own, so that one failing rolls back only
// itself, and the others pay the fixed costs once. A write alone goes at
// once, as before; the busier the writer, the larger the groups, which
// is what lets it catch up.
//
// Only callers that opt in (GroupTx) are grouped: their statements run
// with their context's values but without its cancellation. SQLite rolls
// back the whole transaction when a statement in it is interrupted, so
// one request that gives up must not take the others' writes with it. A
// grouped write is therefore short by contract (a reply, a comment); a
// long import stays a transaction of its own (Tx), which its context can
// still stop.

// maxGroup bounds the writes committed together, so that the last of a
// group does not wait for too many before it.
const maxGroup = 32

// grouper queues the writes waiting for the next group. One waiting
// goroutine at a time leads: it waits for the writer's connection, takes
// the queue as its group, runs it, and hands the lead to the next waiter.
type grouper struct {
	mu      sync.Mutex
	queue   []*groupJob
	leading bool // some goroutine holds the lead
	// Counted for the metrics: groups run, and the writes they ran.
	groups, writes atomic.Int64
}

// GroupStats returns how many groups GroupTx has run and how many writes
// they held (writes/groups is the mean group's size).
func (d *DB) GroupStats() (groups, writes int64) {
	return d.group.groups.Load(), d.group.writes.Load()
}

type groupJob struct {
	ctx   context.Context
	fn    func(*Tx) error
	hooks *Hooks
	wake  chan bool // true: lead now; false: done (err, panicked set)
	taken bool      // under grouper.mu: in a leader's group, its end is coming
	// Set by the leader before the job is woken as done.
	err      error
	panicked any
	after    []func()
	once     []beforeCommit // BeforeCommitOnce functions, run at the group's end
	batched  []batchedRow   // Tx.InsertBatched rows, inserted at the group's end
	pcs      []uintptr      // where GroupTx was called (the tests' audit check names it)
}

// GroupTx runs fn in a write transaction that may be committed together
// with other GroupTx writes waiting at the same time (SQLite; on
// PostgreSQL, whose writers run side by side, it is Tx). fn's work is
// its own savepoint: an error from fn, or from the hooks, rolls back that
// savepoint only, and GroupTx returns it; an error of the whole
// transaction (its commit, the work before it) fails every write in it.
// fn's AfterCommit functions run once everything is committed; a panic in
// fn is raised again in the caller's goroutine.
//
// fn must be short: its statements are not interrupted when ctx ends
// (see above); ctx bounds only the wait for the writer.
func (d *DB) GroupTx(ctx context.Context, fn func(*Tx) error) error {
	if d.Dialect != SQLite {
		return d.Tx(ctx, fn)
	}
	j := &groupJob{ctx: ctx, fn: fn, hooks: d.hooks.Load(), wake: make(chan bool, 1)}
	if j.hooks != nil {
		j.pcs = make([]uintptr, 32)
		j.pcs = j.pcs[:runtime.Callers(2, j.pcs)]
	}
	g := &d.group
	g.mu.Lock()
	g.queue = append(g.queue, j)
	lead := !g.leading
	g.leading = true
	g.mu.Unlock()
	if !lead {
		select {
		case lead = <-j.wake:
		case <-ctx.Done():
			g.mu.Lock()
			if !j.taken {
				// Not begun: leave the queue. If the lead was handed to
				// this job meanwhile, hand it on.
				g.queue = removeJob(g.queue, j)
				select {
				case <-j.wake:
					g.handOff()
				default:
				}
				g.mu.Unlock()
				return Map(fmt.Errorf("wait for the writer: %w", ctx.Err()))
			}
			g.mu.Unlock()
			// In a group already: its outcome is on the way.
			lead = <-j.wake
		}
	}
	if lead {
		d.lead(j)
	}
	if j.panicked != nil {
		panic(j.panicked)
	}
	return j.err
}

// lead runs one group, the leader's own write j first, and hands the
// lead on. j is done when it returns.
func (d *DB) lead(j *groupJob) {
	g := &d.group
	conn, err := d.writer.Conn(j.ctx)
	g.mu.Lock()
	if err != nil {
		g.queue = removeJob(g.queue, j)
		g.handOff()
		g.mu.Unlock()
		j.err = Map(fmt.Errorf("begin: %w", err))
		return
	}
	// The waiters since the lead was taken come along: j is the queue's
	// first (a new leader found it empty; a handed lead goes to the first).
	n := min(len(g.queue), maxGroup)
	jobs := append([]*groupJob(nil), g.queue[:n]...)
	g.queue = append(g.queue[:0:0], g.queue[n:]...)
	for _, o := range jobs {
		o.taken = true
	}
	g.mu.Unlock()

	// Whatever happens in the group (a panic no write owns, a write that
	// ends its goroutine), the writer is given back, the lead handed on
	// and every write told its outcome.
	finished := false
	defer func() {
		if !finished {
			failAll(jobs, writeConflict(errors.New("a grouped write ended its goroutine")))
		}
		_ = conn.Close()
		d.afterTx()
		g.mu.Lock()
		g.handOff()
		g.mu.Unlock()
		for _, o := range jobs {
			if o != j {
				o.wake <- false
			}
		}
	}()
	g.groups.Add(1)
	g.writes.Add(int64(len(jobs)))
	d.runGroup(conn, jobs)
	finished = true
}

// handOff gives the lead to the first waiter, or gives it up. Callers
// hold g.mu.
func (g *grouper) handOff() {
	if len(g.queue) == 0 {
		g.leading = false
		return
	}
	g.queue[0].wake <- true
}

// runGroup runs jobs in one transaction on conn and sets each job's
// outcome.
func (d *DB) runGroup(conn *sql.Conn, jobs []*groupJob) {
	// The transaction belongs to no one request: it must outlive any
	// one's context (database/sql rolls a transaction back when its
	// context ends).
	sqlTx, err := conn.BeginTx(context.WithoutCancel(jobs[0].ctx), nil)
	if err != nil {
		failAll(jobs, Map(fmt.Errorf("begin: %w", err)))
		return
	}
	committed := false
	defer func() {
		if !committed {
			_ = sqlTx.Rollback()
		}
	}()
	// A write alone needs no savepoint: its failure rolls back the whole
	// transaction, as Tx's does.
	h := Handle{q: sqlTx, db: d, tx: sqlTx, detached: true}
	ctx := jobs[0].ctx
	alone := len(jobs) == 1
	var done []*groupJob
	for _, j := range jobs {
		if err := j.ctx.Err(); err != nil {
			j.err = Map(fmt.Errorf("wait for the writer: %w", err))
			continue
		}
		if err := d.runJob(h, j, alone); err != nil {
			// The savepoint could not be released or rolled back: the
			// transaction is broken (SQLite rolls back the whole of it on
			// a full disk, for one). Nothing of the group is kept; the
			// write that broke it keeps its own error, the others learn
			// only that they may try again.
			failAll(jobs, writeConflict(err))
			return
		}
		if j.err == nil && j.panicked == nil {
			done = append(done, j)
		}
	}
	if len(done) == 0 {
		return
	}
	// The kept writes' batched rows (their search documents), then what
	// the transaction needs once (chaining the audit records), outside
	// the savepoints.
	if err := insertBatched(ctx, &Tx{Handle: h}, done); err != nil {
		failAll(done, writeConflict(err))
		return
	}
	once := map[string]bool{}
	for _, j := range done {
		for _, b := range j.once {
			if once[b.key] {
				continue
			}
			once[b.key] = true
			if p, err := recovered(b.f); err != nil || p != nil {
				j.err, j.panicked = err, p
				if p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
				failAll(done, writeConflict(fmt.Errorf("%s: %w", b.key, err)))
				return
			}
		}
	}
	if err := sqlTx.Commit(); err != nil {
		failAll(done, Map(fmt.Errorf("commit: %w", err)))
		return
	}
	committed = true
	if d.wal != nil {
		d.wal.commits.Add(1)
	}
	for _, j := range done {
		j.runAfter()
	}
}

// insertBatched inserts the rows the kept writes batched, those of one
// statement (into and suffix) together, in the order first met.
func insertBatched(ctx context.Context, tx *Tx, done []*groupJob) error {
	type batch struct {
		into, suffix string
		width        int
		values       []any
	}
	var order []*batch
	byKey := map[string]*batch{}
	for _, j := range done {
		for _, r := range j.batched {
			key := r.into + "\x00" + r.suffix
			b := byKey[key]
			if b == nil {
				b = &batch{into: r.into, suffix: r.suffix, width: len(r.values)}
				byKey[key] = b
				order = append(order, b)
			}
			if len(r.values) != b.width {
				return fmt.Errorf("insert into %s: rows of %d and %d values", r.into, b.width, len(r.values))
			}
			b.values = append(b.values, r.values...)
		}
	}
	for _, b := range order {
		if err := tx.insertRows(ctx, b.into, b.suffix, b.width, b.values, false); err != nil {
			return err
		}
	}
	return nil
}

// recovered runs f, turning a panic into a value.
func recovered(f func() error) (panicked any, err error) {
	defer func() {
		if v := recover(); v != nil {
			panicked = v
		}
	}()
	return nil, f()
}

// savepoint names each write's savepoint in a group; grouped writes must
// not open one of that name themselves.
const savepoint = "verbund_grouped_write"

// runJob runs one write of a group on h's transaction, in a savepoint of
// its own unless alone. Its own failure (an error or a panic, from its
// work or its BeforeCommit functions) is left in j and rolls back only its
// savepoint; the error returned is the transaction's, which can no longer
// go on.
func (d *DB) runJob(h Handle, j *groupJob, alone bool) error {
	ctx := j.ctx
	if !alone {
		if _, err := h.Exec(ctx, `SAVEPOINT `+savepoint); err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
	}
	h.memo = &memo{} // each write its own
	tx := &Tx{Handle: h, grouped: !alone}
	j.panicked, j.err = j.work(tx)
	if j.err == nil && j.panicked == nil {
		j.after, j.batched = tx.after, tx.batched
		for _, b := range tx.before {
			if b.key != "" {
				j.once = append(j.once, b)
			}
		}
		if alone {
			return nil
		}
		if _, err := h.Exec(ctx, `RELEASE `+savepoint); err != nil {
			j.err = fmt.Errorf("release savepoint: %w", err)
			return j.err
		}
		return nil
	}
	if alone {
		return nil // the group's transaction is rolled back with nothing in it
	}
	if _, err := h.Exec(ctx, `ROLLBACK TO `+savepoint); err != nil {
		return fmt.Errorf("roll back a grouped write: %w", err)
	}
	if _, err := h.Exec(ctx, `RELEASE `+savepoint); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// work runs the job's hooks, fn and its BeforeCommit functions (those
// not under a key: their error is this write's) on tx, turning a panic
// into a value the caller raises again.
func (j *groupJob) work(tx *Tx) (panicked any, err error) {
	defer func() {
		if v := recover(); v != nil {
			panicked = v
		}
	}()
	var check func() error
	if j.hooks != nil && j.hooks.Begin != nil {
		if check, err = j.hooks.Begin(j.callers(), tx); err != nil {
			return nil, err
		}
	}
	if err := j.fn(tx); err != nil {
		return nil, err
	}
	for _, b := range tx.before {
		if b.key == "" {
			if err := b.f(); err != nil {
				return nil, err
			}
		}
	}
	if check != nil {
		return nil, check()
	}
	return nil, nil
}

// runAfter runs the job's AfterCommit functions; a panic is raised again
// in the job's own goroutine, not in the leader's.
func (j *groupJob) runAfter() {
	defer func() {
		if v := recover(); v != nil {
			j.panicked = v
		}
	}()
	for _, f := range j.after {
		f()
	}
}

// callers is the job's context with where GroupTx was called, for the
// hooks: they run in the leader's goroutine.
func (j *groupJob) callers() context.Context {
	return context.WithValue(j.ctx, callersKey{}, j.pcs)
}

type callersKey struct{}

// Callers returns where the write transaction whose hooks see ctx was
// asked for, when it ran in another goroutine (GroupTx); nil otherwise.
func Callers(ctx context.Context) []uintptr {
	pcs, _ := ctx.Value(callersKey{}).([]uintptr)
	return pcs
}

// failAll sets err as the outcome of every job that has none yet, and
// drops their AfterCommit functions.
func failAll(jobs []*groupJob, err error) {
	for _, j := range jobs {
		if j.err == nil && j.panicked == nil {
			j.err = err
		}
		j.after = nil
	}
}

func removeJob(q []*groupJob, j *groupJob) []*groupJob {
	for i, o := range q {
		if o == j {
			return append(q[:i:i], q[i+1:]...)
		}
	}
	return q
}
