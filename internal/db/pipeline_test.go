package db_test

import (
	"context"
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
