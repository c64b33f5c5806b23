package db_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
)

// groupDB opens a SQLite database with a table t of numbers.
func groupDB(t *testing.T) (*db.DB, context.Context) {
	t.Helper()
	ctx := dbtest.Unaudited(context.Background()) // tests the transaction, not a service
	d, err := db.Open(ctx, "sqlite:"+t.TempDir()+"/group.db", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if err := d.Tx(ctx, func(tx *db.Tx) error {
		_, err := tx.Exec(ctx, `CREATE TABLE t (a INTEGER PRIMARY KEY)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return d, ctx
}

// holdWriter keeps the writer busy in a transaction of its own until the
// returned function is called, so that grouped writes queue up.
func holdWriter(t *testing.T, d *db.DB, ctx context.Context) func() {
	t.Helper()
	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- d.Tx(ctx, func(tx *db.Tx) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	return func() {
		close(release)
		if err := <-done; err != nil {
			t.Errorf("holding transaction: %v", err)
		}
	}
}

// waitQueued waits until n grouped writes wait for the writer.
func waitQueued(t *testing.T, d *db.DB, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); d.GroupQueued() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d grouped writes queued, want %d", d.GroupQueued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func rows(t *testing.T, d *db.DB, ctx context.Context) []int {
	t.Helper()
	r, err := d.R().Query(ctx, `SELECT a FROM t ORDER BY a`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := db.Collect(r, "t", func(s db.Scanner) (int, error) {
		var a int
		return a, s.Scan(&a)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGroupTx: writes that wait while the writer is busy commit together
// in one transaction, each in its own savepoint: one that fails or panics
// rolls back only itself, one whose client gave up before its turn is not
// run, and one whose context ends during its work is still committed
// whole (its statements are not interrupted: that would roll back the
// others). AfterCommit runs for the committed writes only.
func TestGroupTx(t *testing.T) {
	d, ctx := groupDB(t)
	release := holdWriter(t, d, ctx)
	g0, w0 := d.GroupStats()

	const n = 9
	errs := make([]error, n)
	panics := make([]any, n)
	var mu sync.Mutex
	var after []int
	var before, once atomic.Int32
	ctxs := make([]context.Context, n)
	cancels := make([]context.CancelFunc, n)
	for i := range n {
		ctxs[i], cancels[i] = context.WithCancel(ctx)
		defer cancels[i]()
	}
	boom := errors.New("boom")
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			errs[i] = d.GroupTx(ctxs[i], func(tx *db.Tx) error {
				if i == 7 {
					cancels[i]() // the client gives up while its write runs
				}
				if _, err := tx.Exec(ctxs[i], `INSERT INTO t (a) VALUES (?)`, i); err != nil {
					return err
				}
				// A second statement after the end of its context.
				if _, err := tx.Exec(ctxs[i], `INSERT INTO t (a) VALUES (?)`, 100+i); err != nil {
					return err
				}
				tx.AfterCommit(func() {
					mu.Lock()
					after = append(after, i)
					mu.Unlock()
				})
				tx.BeforeCommit(func() error { before.Add(1); return nil })
				tx.BeforeCommitOnce("once", func() error { once.Add(1); return nil })
				switch i {
				case 3:
					return boom
				case 5:
					panic(fmt.Sprintf("panic %d", i))
				}
				return nil
			})
		}()
		// In order, so that the queue (and the group) is 0, 1, 2, …
		waitQueued(t, d, i+1)
	}
	// The client of write 6 gives up before its turn: it is not run.
	cancels[6]()
	waitQueued(t, d, n-1)
	release()
	wg.Wait()

	want := []int{0, 1, 2, 4, 7, 100, 101, 102, 104, 107, 8, 108}
	slices.Sort(want)
	if got := rows(t, d, ctx); !slices.Equal(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	for i, err := range errs {
		switch i {
		case 3:
			if !errors.Is(err, boom) {
				t.Errorf("write 3: %v, want its own error", err)
			}
		case 6:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("write 6: %v, want canceled", err)
			}
		case 5:
			if panics[5] != "panic 5" {
				t.Errorf("write 5: panic %v, want raised in its own goroutine", panics[5])
			}
		default:
			if err != nil || panics[i] != nil {
				t.Errorf("write %d: %v, panic %v", i, err, panics[i])
			}
		}
	}
	slices.Sort(after)
	if !slices.Equal(after, []int{0, 1, 2, 4, 7, 8}) {
		t.Errorf("AfterCommit ran for %v, want the committed writes only", after)
	}
	if before.Load() != 6 || once.Load() != 1 {
		t.Errorf("BeforeCommit ran %d times, BeforeCommitOnce %d; want 6 (the committed writes) and 1", before.Load(), once.Load())
	}
	g1, w1 := d.GroupStats()
	if g1-g0 != 1 || w1-w0 != n-1 {
		t.Errorf("%d groups of %d writes, want 1 of %d", g1-g0, w1-w0, n-1)
	}
}

// TestGroupTxBroken: a write that breaks the common transaction (here it
// ends it itself; a full disk does the same in SQLite) fails its whole
// group, including the writes before it, and nothing of them is kept;
// the writer then works as before.
func TestGroupTxBroken(t *testing.T) {
	d, ctx := groupDB(t)
	release := holdWriter(t, d, ctx)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.GroupTx(ctx, func(tx *db.Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO t (a) VALUES (?)`, i); err != nil {
					return err
				}
				if i == 1 {
					_, err := tx.Exec(ctx, `ROLLBACK`)
					return err
				}
				return nil
			})
		}()
		waitQueued(t, d, i+1)
	}
	release()
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			t.Errorf("write %d of a broken group succeeded", i)
		}
	}
	if got := rows(t, d, ctx); len(got) != 0 {
		t.Errorf("rows %v kept from a broken group", got)
	}
	if err := d.GroupTx(ctx, func(tx *db.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO t (a) VALUES (9)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, d, ctx); !slices.Equal(got, []int{9}) {
		t.Errorf("rows %v after the broken group, want [9]", got)
	}
}

// TestGroupTxConcurrent: many writers at once, some failing; every
// successful write is there once, no failed one is, and the writes were
// grouped.
func TestGroupTxConcurrent(t *testing.T) {
	d, ctx := groupDB(t)
	const writers, each = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range each {
				a := w*each + k
				err := d.GroupTx(ctx, func(tx *db.Tx) error {
					if _, err := tx.Exec(ctx, `INSERT INTO t (a) VALUES (?)`, a); err != nil {
						return err
					}
					if a%7 == 0 {
						return fmt.Errorf("refused %d", a)
					}
					return nil
				})
				if (err != nil) != (a%7 == 0) {
					errs <- fmt.Errorf("write %d: %v", a, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var want []int
	for a := range writers * each {
		if a%7 != 0 {
			want = append(want, a)
		}
	}
	if got := rows(t, d, ctx); !slices.Equal(got, want) {
		t.Errorf("%d rows, want %d", len(got), len(want))
	}
	g, w := d.GroupStats()
	if w != writers*each {
		t.Errorf("%d writes counted, want %d", w, writers*each)
	}
	t.Logf("%d groups for %d writes", g, w)
}
