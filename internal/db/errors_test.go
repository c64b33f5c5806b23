package db_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/fault"
)

// mapped describes what Map should make of an error: a fault of kind and
// code, or (code "") no fault at all.
type mapped struct {
	kind fault.Kind
	code string
}

func checkMapped(t *testing.T, err error, want mapped) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s %q", want.kind, want.code)
	}
	e, ok := fault.As(err)
	if want.code == "" {
		if ok {
			t.Fatalf("%v: mapped to %s %q, want no fault", err, e.Kind, e.Code)
		}
		return
	}
	if !ok || e.Kind != want.kind || e.Code != want.code {
		t.Fatalf("%v: want %s %q", err, want.kind, want.code)
	}
}

func insertOrg(ctx context.Context, tx *db.Tx, id, name string) error {
	_, err := tx.Exec(ctx, `INSERT INTO orgs (id, name, name_key, kind, created_at) VALUES (?, ?, ?, 'company', 0)`, id, name, strings.ToLower(name))
	return err
}

// TestMap provokes real errors on every engine and checks how Map
// reports them. The writes are test set-up, not the hub's changes, so they
// run unaudited.
func TestMap(t *testing.T) {
	type errCase struct {
		name    string
		engines []db.Dialect // nil: all
		provoke func(t *testing.T, ctx context.Context, d *db.DB) error
		want    mapped
	}
	cases := []errCase{
		{name: "unique violation", provoke: func(t *testing.T, ctx context.Context, d *db.DB) error {
			return d.Tx(ctx, func(tx *db.Tx) error {
				if err := insertOrg(ctx, tx, "a", "A"); err != nil {
					t.Fatal(err)
				}
				return insertOrg(ctx, tx, "a", "B")
			})
		}, want: mapped{fault.Conflict, "duplicate"}},
		{name: "unique index violation", provoke: func(t *testing.T, ctx context.Context, d *db.DB) error {
			return d.Tx(ctx, func(tx *db.Tx) error {
				if err := insertOrg(ctx, tx, "a", "A"); err != nil {
					t.Fatal(err)
				}
				return insertOrg(ctx, tx, "b", "A")
			})
		}, want: mapped{fault.Conflict, "duplicate"}},
		{name: "foreign key violation", provoke: func(t *testing.T, ctx context.Context, d *db.DB) error {
			return d.Tx(ctx, func(tx *db.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO users (id, org_id, email, name, role, created_at) VALUES ('u', 'no-such-org', 'u@x', 'U', 'analyst', 0)`)
				return err
			})
		}, want: mapped{fault.Invalid, "reference_missing"}},
		{name: "closed database, read", provoke: func(t *testing.T, ctx context.Context, d *db.DB) error {
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			var n int
			return db.Map(d.R().QueryRow(ctx, `SELECT COUNT(*) FROM orgs`).Scan(&n)) // as every caller of QueryRow does
		}, want: mapped{fault.Unavailable, "database_unavailable"}},
		{name: "closed database, write", provoke: func(t *testing.T, ctx context.Context, d *db.DB) error {
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			return d.Tx(ctx, func(tx *db.Tx) error { return insertOrg(ctx, tx, "a", "A") })
		}, want: mapped{fault.Unavailable, "database_unavailable"}},
		{name: "no rows is no fault", provoke: func(t *testing.T, ctx context.Context, d *db.DB) error {
			var n int
			err := db.Map(d.R().QueryRow(ctx, `SELECT 1 FROM orgs WHERE id = 'none'`).Scan(&n))
			if !errors.Is(err, sql.ErrNoRows) {
				t.Fatalf("want sql.ErrNoRows, got %v", err)
			}
			return err
		}},
		{name: "syntax error is no fault", provoke: func(t *testing.T, ctx context.Context, d *db.DB) error {
			_, err := d.R().Query(ctx, `SELEKT 1`)
			return err
		}},
		{name: "check violation is no fault", provoke: func(t *testing.T, ctx context.Context, d *db.DB) error {
			return d.Tx(ctx, func(tx *db.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO orgs (id, name, name_key, kind, created_at) VALUES ('a', 'A', 'a', 'club', 0)`)
				return err
			})
		}},

		{name: "write on the read-only pool", engines: []db.Dialect{db.SQLite}, provoke: func(t *testing.T, ctx context.Context, d *db.DB) error {
			_, err := d.R().Exec(ctx, `INSERT INTO orgs (id, name, name_key, kind, created_at) VALUES ('a', 'A', 'a', 'company', 0)`)
			return err
		}, want: mapped{fault.Unavailable, "database_read_only"}},
		{name: "locked by another writer", engines: []db.Dialect{db.SQLite}, provoke: func(t *testing.T, ctx context.Context, d *db.DB) error {
			other, err := sql.Open("sqlite", "file:"+d.URL+"?_pragma=busy_timeout(0)&_txlock=immediate")
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			var busy error
			if err := d.Tx(ctx, func(tx *db.Tx) error {
				// The hub's writer holds the write lock (BEGIN IMMEDIATE).
				otx, err := other.BeginTx(ctx, nil)
				if err == nil {
					_ = otx.Rollback()
				}
				busy = err
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return db.Map(busy)
		}, want: mapped{fault.Unavailable, "database_unavailable"}},
		{name: "disk full", engines: []db.Dialect{db.SQLite}, provoke: func(t *testing.T, ctx context.Context, d *db.DB) error {
			return d.Tx(ctx, func(tx *db.Tx) error {
				// The file may not grow: the next new page fails as a
				// full disk would.
				var pages int
				if err := tx.QueryRow(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
					t.Fatal(err)
				}
				for i := range 1000 {
					if err := insertOrg(ctx, tx, fmt.Sprint(i), strings.Repeat("x", 500)+fmt.Sprint(i)); err != nil {
						return err
					}
				}
				t.Fatal("1000 rows fit without a new page")
				return nil
			})
		}, want: mapped{fault.Unavailable, "disk_full"}},

		{name: "NUL in text", engines: []db.Dialect{db.Postgres}, provoke: func(t *testing.T, ctx context.Context, d *db.DB) error {
			return d.Tx(ctx, func(tx *db.Tx) error { return insertOrg(ctx, tx, "a", "A\x00B") })
		}, want: mapped{fault.Invalid, "bad_text"}},
		{name: "text that is no number", engines: []db.Dialect{db.Postgres}, provoke: func(t *testing.T, ctx context.Context, d *db.DB) error {
			var n int
			return db.Map(d.R().QueryRow(ctx, `SELECT CAST(? AS INTEGER)`, "abc").Scan(&n))
		}, want: mapped{fault.Invalid, "bad_text"}},
		{name: "read-only transaction", engines: []db.Dialect{db.Postgres}, provoke: func(t *testing.T, ctx context.Context, d *db.DB) error {
			return d.Tx(ctx, func(tx *db.Tx) error {
				if _, err := tx.Exec(ctx, `SET TRANSACTION READ ONLY`); err != nil {
					t.Fatal(err)
				}
				return insertOrg(ctx, tx, "a", "A")
			})
		}, want: mapped{fault.Unavailable, "database_read_only"}},
		{name: "connection terminated", engines: []db.Dialect{db.Postgres}, provoke: func(t *testing.T, ctx context.Context, d *db.DB) error {
			return d.Tx(ctx, func(tx *db.Tx) error {
				var pid int
				if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
					t.Fatal(err)
				}
				admin, err := sql.Open("pgx", d.URL)
				if err != nil {
					t.Fatal(err)
				}
				defer admin.Close()
				if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
					t.Fatal(err)
				}
				_, err = tx.Exec(ctx, `SELECT 1`)
				return err
			})
		}, want: mapped{fault.Unavailable, "database_unavailable"}},
		{name: "deadlock", engines: []db.Dialect{db.Postgres}, provoke: func(t *testing.T, ctx context.Context, d *db.DB) error {
			if err := d.Tx(ctx, func(tx *db.Tx) error {
				return errors.Join(insertOrg(ctx, tx, "a", "A"), insertOrg(ctx, tx, "b", "B"))
			}); err != nil {
				t.Fatal(err)
			}
			// Two transactions update a and b in opposite order; the
			// server aborts one of them.
			var wg sync.WaitGroup
			var firstDone sync.WaitGroup
			firstDone.Add(2)
			errs := make([]error, 2)
			for i, order := range [][2]string{{"a", "b"}, {"b", "a"}} {
				wg.Go(func() {
					errs[i] = d.Tx(ctx, func(tx *db.Tx) error {
						_, err := tx.Exec(ctx, `UPDATE orgs SET security_contact = 'x' WHERE id = ?`, order[0])
						firstDone.Done()
						if err != nil {
							return err
						}
						firstDone.Wait()
						_, err = tx.Exec(ctx, `UPDATE orgs SET security_contact = 'y' WHERE id = ?`, order[1])
						return err
					})
				})
			}
			wg.Wait()
			if errs[0] != nil && errs[1] != nil {
				t.Fatalf("both transactions failed: %v; %v", errs[0], errs[1])
			}
			return errors.Join(errs...)
		}, want: mapped{fault.Unavailable, "write_conflict"}},
	}
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			for _, c := range cases {
				if c.engines != nil && !slices.Contains(c.engines, e) {
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(dbtest.Unaudited(context.Background()), 30*time.Second)
					defer cancel()
					checkMapped(t, c.provoke(t, ctx, dbtest.Open(t, e)), c.want)
				})
			}
		})
	}
}

func TestCannotOpenSQLiteIsUnavailable(t *testing.T) {
	_, err := db.Open(context.Background(), "sqlite:"+t.TempDir()+"/missing/folder/x.db", "")
	checkMapped(t, err, mapped{fault.Unavailable, "database_unavailable"})
}

// Codes the tests cannot provoke on a healthy server, mapped by their
// SQLSTATE alone.
func TestMapPostgresCodes(t *testing.T) {
	for code, want := range map[string]mapped{
		"23505": {fault.Conflict, "duplicate"},
		"23503": {fault.Invalid, "reference_missing"},
		"40001": {fault.Unavailable, "write_conflict"},
		"40P01": {fault.Unavailable, "write_conflict"},
		"22021": {fault.Invalid, "bad_text"},
		"22P02": {fault.Invalid, "bad_text"},
		"53100": {fault.Unavailable, "disk_full"},
		"25006": {fault.Unavailable, "database_read_only"},
		"57P01": {fault.Unavailable, "database_unavailable"},
		"57P02": {fault.Unavailable, "database_unavailable"},
		"57P03": {fault.Unavailable, "database_unavailable"},
		"08000": {fault.Unavailable, "database_unavailable"},
		"08006": {fault.Unavailable, "database_unavailable"},
		"53300": {fault.Unavailable, "database_unavailable"},
		"42601": {}, // syntax error: a bug, reported as internal
		"23514": {}, // check violation: input the capability should have refused
	} {
		err := fmt.Errorf("query: %w", &pgconn.PgError{Code: code, Message: "m"})
		t.Run(code, func(t *testing.T) { checkMapped(t, db.Map(err), want) })
	}
	// Faults and sql.ErrNoRows pass unchanged.
	if err := db.Map(fault.ErrNotFound); err != fault.ErrNotFound {
		t.Errorf("fault changed: %v", err)
	}
	if err := db.Map(sql.ErrNoRows); err != sql.ErrNoRows {
		t.Errorf("sql.ErrNoRows changed: %v", err)
	}
	if db.Map(nil) != nil {
		t.Error("nil changed")
	}
}
