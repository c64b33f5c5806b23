package db_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/fault"
)

// TestExecLater: statements sent later run in their order before the
// transaction's next statement (which reads what they wrote), and the
// first failure among them fails the transaction with its own error and
// its name, whatever ran after it, and leaves nothing written.
func TestExecLater(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := dbtest.Unaudited(context.Background())
		org := func(tx *db.Tx, id, name string) error {
			return tx.ExecLater(ctx, "add org "+id, `INSERT INTO orgs (id, name, name_key, kind, created_at) VALUES (?, ?, ?, 'company', 0)`, id, name, name)
		}
		count := func(h db.Handle) int {
			var n int
			if err := h.QueryRow(ctx, `SELECT COUNT(*) FROM orgs`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		err := d.Tx(ctx, func(tx *db.Tx) error {
			for _, id := range []string{"a", "b", "c"} {
				if err := org(tx, id, strings.ToUpper(id)); err != nil {
					return err
				}
			}
			if n := count(tx.Handle); n != 3 {
				t.Errorf("the transaction reads %d orgs after three sent later, want 3", n)
			}
			// An UPDATE after an INSERT, both later: in their order.
			if err := org(tx, "d", "D"); err != nil {
				return err
			}
			return tx.ExecLater(ctx, "rename d", `UPDATE orgs SET name = 'D2' WHERE id = 'd'`)
		})
		if err != nil {
			t.Fatal(err)
		}
		var name string
		if err := d.R().QueryRow(ctx, `SELECT name FROM orgs WHERE id = 'd'`).Scan(&name); err != nil || name != "D2" {
			t.Fatalf("d is %q (%v), want D2: the later statements ran out of order or not at all", name, err)
		}

		// A failure: a duplicate name, then statements that would pass.
		err = d.Tx(ctx, func(tx *db.Tx) error {
			if err := org(tx, "e", "E"); err != nil {
				return err
			}
			if err := org(tx, "f", "A"); err != nil { // name_key taken
				return err
			}
			if err := org(tx, "g", "G"); err != nil {
				return err
			}
			// A read after them fails too (PostgreSQL: aborted); the
			// transaction reports the duplicate, not this.
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM orgs`).Scan(&n); err != nil {
				return err
			}
			return nil
		})
		if !fault.Is(err, fault.Conflict) || !strings.Contains(err.Error(), "add org f") {
			t.Fatalf("want the conflict of adding f, got %v", err)
		}
		if n := count(d.R()); n != 4 {
			t.Fatalf("%d orgs after the failed transaction, want the 4 from before", n)
		}

		// A failure found only at the commit.
		err = d.Tx(ctx, func(tx *db.Tx) error { return org(tx, "h", "B") })
		if !fault.Is(err, fault.Conflict) || !strings.Contains(err.Error(), "add org h") {
			t.Fatalf("want the conflict of adding h at the commit, got %v", err)
		}
		if n := count(d.R()); n != 4 {
			t.Fatalf("%d orgs after the failed commit, want 4", n)
		}
	})
}

// TestPanicInTxRollsBack: a panic inside a write transaction reaches the
// caller at once, rolls the transaction back and gives its connection
// back (on PostgreSQL the transaction has a connection of its own, whose
// Close waits for the transaction: attack review).
func TestPanicInTxRollsBack(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := dbtest.Unaudited(context.Background())
		for i := range 4 { // more than a pool of two
			done := make(chan any, 1)
			go func() {
				defer func() { done <- recover() }()
				_ = d.Tx(ctx, func(tx *db.Tx) error {
					if err := tx.ExecLater(ctx, "add org", `INSERT INTO orgs (id, name, name_key, kind, created_at) VALUES (?, ?, ?, 'company', 0)`,
						"p"+strings.Repeat("x", i), "P"+strings.Repeat("x", i), "p"+strings.Repeat("x", i)); err != nil {
						return err
					}
					panic("boom")
				})
			}()
			select {
			case p := <-done:
				if p != "boom" {
					t.Fatalf("recovered %v, want the panic", p)
				}
			case <-time.After(time.Minute): // a hang, not a timing
				t.Fatal("Tx did not return after its function panicked")
			}
		}
		var n int
		if err := d.R().QueryRow(ctx, `SELECT COUNT(*) FROM orgs`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d orgs after four panics (%v), want none", n, err)
		}
		if err := d.Tx(ctx, func(tx *db.Tx) error { return nil }); err != nil {
			t.Fatalf("a transaction after the panics: %v", err)
		}
	})
}

// TestTxLeavesNoTransactionOpen: on PostgreSQL a write transaction sends
// BEGIN and COMMIT in its batches, without database/sql's Tx, so nothing
// but Tx itself stops a connection from going back to the pool inside a
// transaction. After a failed statement, a failure the caller ignored, a
// context that ended and a read-only transaction, every later
// transaction (more than the pool holds) still commits what it writes
// and only that.
func TestTxLeavesNoTransactionOpen(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := dbtest.Unaudited(context.Background())
		add := func(tx *db.Tx, id string) error {
			_, err := tx.Exec(ctx, `INSERT INTO orgs (id, name, name_key, kind, created_at) VALUES (?, ?, ?, 'company', 0)`, id, id, id)
			return err
		}
		for i := range 4 {
			id := func(s string) string { return s + strings.Repeat("x", i) }
			// A failed statement (a duplicate) after a write.
			if err := d.Tx(ctx, func(tx *db.Tx) error {
				if err := add(tx, id("dup")); err != nil {
					return err
				}
				return add(tx, id("dup"))
			}); !fault.Is(err, fault.Conflict) {
				t.Fatalf("a duplicate: %v, want a conflict", err)
			}
			// A failure the caller ignores: PostgreSQL has aborted the
			// transaction, so its commit must fail, not report success
			// (SQLite goes on and commits).
			err := d.Tx(ctx, func(tx *db.Tx) error {
				if err := add(tx, id("ignored")); err != nil {
					return err
				}
				var n int
				_ = tx.QueryRow(ctx, `SELECT n FROM no_such_table`).Scan(&n)
				return nil
			})
			if d.Dialect == db.Postgres && err == nil {
				t.Fatal("a transaction whose statement failed committed")
			}
			// A context that ends after the first write.
			cctx, cancel := context.WithCancel(ctx)
			_ = d.Tx(cctx, func(tx *db.Tx) error {
				if err := add(tx, id("cancelled")); err != nil {
					return err
				}
				cancel()
				return add(tx, id("cancelled2"))
			})
			cancel()
			// Reads only.
			if err := d.Tx(ctx, func(tx *db.Tx) error {
				var n int
				return tx.QueryRow(ctx, `SELECT COUNT(*) FROM orgs`).Scan(&n)
			}); err != nil {
				t.Fatal(err)
			}
			// ScanRow: a row, and no row (which fails nothing).
			if err := d.Tx(ctx, func(tx *db.Tx) error {
				var name string
				if err := tx.ScanRow(ctx, `SELECT name FROM orgs WHERE id = ?`, []any{"none"}, &name); err != sql.ErrNoRows {
					t.Errorf("ScanRow of no row: %v, want sql.ErrNoRows", err)
				}
				if err := add(tx, id("kept")); err != nil {
					return err
				}
				if err := tx.ScanRow(ctx, `SELECT name FROM orgs WHERE id = ?`, []any{id("kept")}, &name); err != nil || name != id("kept") {
					t.Errorf("ScanRow read %q (%v), want the row written before it", name, err)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		var names []string
		if err := d.R().ScanRows(ctx, `SELECT id FROM orgs ORDER BY id`, nil, func(s db.Scanner) error {
			var id string
			err := s.Scan(&id)
			names = append(names, id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		want := []string{"kept", "keptx", "keptxx", "keptxxx"}
		if d.Dialect == db.SQLite {
			want = append([]string{"ignored", "ignoredx", "ignoredxx", "ignoredxxx"}, want...)
		}
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Fatalf("orgs %v, want only %v: a failed or cancelled transaction left something behind", names, want)
		}
	})
}

// TestPlainRead: only a SELECT that locks nothing and calls nothing that
// changes the session may run before BEGIN.
func TestPlainRead(t *testing.T) {
	for q, want := range map[string]bool{
		`SELECT id FROM orgs WHERE id = $1`:                        true,
		"\n\t SELECT COUNT(*) FROM posts":                          true,
		`SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE`: false,
		`SELECT id FROM jobs FOR update SKIP LOCKED`:               false,
		`SELECT 1 FROM t FOR NO KEY UPDATE`:                        false,
		`SELECT pg_advisory_xact_lock(1)`:                          false,
		`SELECT nextval('s')`:                                      false,
		`SELECT set_config('a.b', 'c', true)`:                      false,
		`WITH d AS (DELETE FROM t RETURNING id) SELECT id FROM d`:  false,
		`INSERT INTO t VALUES (1)`:                                 false,
		`select id from orgs`:                                      false, // cautious: not our spelling
	} {
		if got := db.PlainRead(q); got != want {
			t.Errorf("plainRead(%q) = %v, want %v", q, got, want)
		}
	}
}

// TestScanLaterAndRows: a row scanned later is there once the next
// statement was sent, rows are read in the batch of what waits before
// them and see it, and a row scanned later that is missing fails the
// transaction with its name.
func TestScanLaterAndRows(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := dbtest.Unaudited(context.Background())
		err := d.Tx(ctx, func(tx *db.Tx) error {
			for _, id := range []string{"a", "b"} {
				if err := tx.ExecLater(ctx, "add org", `INSERT INTO orgs (id, name, name_key, kind, created_at) VALUES (?, ?, ?, 'company', 0)`, id, id, id); err != nil {
					return err
				}
			}
			var name string
			if err := tx.ScanLater(ctx, "read a", `SELECT name FROM orgs WHERE id = ?`, []any{"a"}, &name); err != nil {
				return err
			}
			var ids []string
			if err := tx.ScanRows(ctx, `SELECT id FROM orgs ORDER BY id`, nil, func(s db.Scanner) error {
				var id string
				err := s.Scan(&id)
				ids = append(ids, id)
				return err
			}); err != nil {
				return err
			}
			if name != "a" || strings.Join(ids, ",") != "a,b" {
				t.Errorf("scanned later %q and rows %v, want a and [a b]", name, ids)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = d.Tx(ctx, func(tx *db.Tx) error {
			var name string
			if err := tx.ScanLater(ctx, "read the missing org", `SELECT name FROM orgs WHERE id = ?`, []any{"none"}, &name); err != nil {
				return err
			}
			return tx.ExecLater(ctx, "add org", `INSERT INTO orgs (id, name, name_key, kind, created_at) VALUES ('c', 'c', 'c', 'company', 0)`)
		})
		if err == nil || !strings.Contains(err.Error(), "read the missing org") {
			t.Fatalf("a missing row scanned later: %v, want the transaction to fail naming it", err)
		}
		var n int
		if err := d.R().QueryRow(ctx, `SELECT COUNT(*) FROM orgs`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("%d orgs (%v) after the failed transaction, want 2", n, err)
		}
	})
}
