package dbtest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/policy"
)

func insertOrg(ctx context.Context, tx *db.Tx, id string) error {
	_, err := tx.Exec(ctx, `INSERT INTO orgs (id, name, name_key, kind, created_at) VALUES (?, ?, ?, 'company', 0)`, id, id, id)
	return err
}

func auditWrite(ctx context.Context, tx *db.Tx, id string) error {
	return audit.Write(ctx, tx, policy.System("test"), audit.Entry{Action: "test.write", ObjectType: "org", ObjectID: id})
}

func orgExists(t *testing.T, d *db.DB, id string) bool {
	t.Helper()
	var n int
	if err := d.R().QueryRow(context.Background(), `SELECT COUNT(*) FROM orgs WHERE id = ?`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// Every database from dbtest refuses to commit a write that wrote no
// audit record (audit.Write), and lets audited writes, reads, empty writes,
// bookkeeping and a test's own set-up through.
func TestAuditCheck(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		for _, c := range []struct {
			name    string
			ctx     context.Context
			fn      func(tx *db.Tx) error
			refused string // "" : committed
		}{
			{"audited write", ctx, func(tx *db.Tx) error {
				return errors.Join(insertOrg(ctx, tx, "audited"), auditWrite(ctx, tx, "audited"))
			}, ""},
			{"unaudited write", ctx, func(tx *db.Tx) error { return insertOrg(ctx, tx, "unaudited") },
				"unaudited write: the transaction begun at internal/db/dbtest/audit_test.go:"},
			{"audit record only", ctx, func(tx *db.Tx) error { return auditWrite(ctx, tx, "none") }, ""},
			{"read only", ctx, func(tx *db.Tx) error {
				var n int
				return tx.QueryRow(ctx, `SELECT COUNT(*) FROM orgs`).Scan(&n)
			}, ""},
			{"update of no row", ctx, func(tx *db.Tx) error {
				_, err := tx.Exec(ctx, `UPDATE orgs SET security_contact = 'x' WHERE id = 'none'`)
				return err
			}, ""},
			{"audit table written past audit.Write", ctx, func(tx *db.Tx) error {
				if err := insertOrg(ctx, tx, "rehashed"); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `UPDATE audit_head SET hash = hash WHERE id = 1`)
				return err
			}, "but no audit record"},
			{"bookkeeping", ctx, func(tx *db.Tx) error {
				tx.Bookkeeping()
				_, err := tx.Exec(ctx, `INSERT INTO login_throttle (key, failures, window_start) VALUES ('k', 1, 0)`)
				return err
			}, ""},
			{"test set-up", dbtest.Unaudited(ctx), func(tx *db.Tx) error { return insertOrg(ctx, tx, "setup") }, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				err := d.Tx(c.ctx, c.fn)
				if c.refused == "" {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), c.refused) {
					t.Fatalf("err %v, want it to contain %q", err, c.refused)
				}
			})
		}
		if orgExists(t, d, "unaudited") || orgExists(t, d, "rehashed") {
			t.Error("a refused transaction was committed")
		}
		if !orgExists(t, d, "audited") || !orgExists(t, d, "setup") {
			t.Error("an allowed transaction was not committed")
		}
		// A failing transaction's own error comes back, not the check's.
		boom := errors.New("boom")
		if err := d.Tx(ctx, func(tx *db.Tx) error { _ = insertOrg(ctx, tx, "failed"); return boom }); err != boom {
			t.Errorf("got %v, want the transaction's own error", err)
		}
	})
}

// PostgreSQL names the tables a transaction wrote: bookkeeping may write
// only the throttle counters, tokens and the audit chain, and the audit
// record must have been written by the transaction itself, not by another
// one that committed in the meantime.
func TestAuditCheckPostgres(t *testing.T) {
	d := dbtest.Open(t, db.Postgres)
	ctx := context.Background()
	err := d.Tx(ctx, func(tx *db.Tx) error {
		tx.Bookkeeping()
		return insertOrg(ctx, tx, "bookkept")
	})
	if err == nil || !strings.Contains(err.Error(), "bookkeeping transaction") || !strings.Contains(err.Error(), "rows of orgs") {
		t.Errorf("bookkeeping write to orgs: %v", err)
	}
	err = d.Tx(ctx, func(tx *db.Tx) error {
		if err := insertOrg(ctx, tx, "late"); err != nil {
			return err
		}
		// Another transaction writes an audit record before this one commits.
		return d.Tx(ctx, func(other *db.Tx) error { return auditWrite(ctx, other, "other") })
	})
	if err == nil || !strings.Contains(err.Error(), "unaudited write") {
		t.Errorf("write while another transaction audited: %v", err)
	}
	if orgExists(t, d, "bookkept") || orgExists(t, d, "late") {
		t.Error("a refused transaction was committed")
	}
}
