package db_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/fault"
)

func TestRebind(t *testing.T) {
	d := &db.DB{Dialect: db.Postgres}
	got := d.Rebind(`SELECT a FROM t WHERE x = ? AND y = '?' AND z IN (?, ?)`)
	want := `SELECT a FROM t WHERE x = $1 AND y = '?' AND z IN ($2, $3)`
	if got != want {
		t.Fatalf("rebind:\n got %s\nwant %s", got, want)
	}
	s := &db.DB{Dialect: db.SQLite}
	if q := `SELECT ?`; s.Rebind(q) != q {
		t.Fatalf("sqlite must not rebind")
	}
	// SQLite's LIMIT placeholders get a unary plus (no re-prepare when
	// another page size is bound); a literal stays as it is.
	got = s.Rebind(`SELECT a FROM t WHERE b = 'LIMIT ?' AND c = ? LIMIT ?`)
	if want := `SELECT a FROM t WHERE b = 'LIMIT ?' AND c = ? LIMIT +?`; got != want {
		t.Fatalf("sqlite limit:\n got %s\nwant %s", got, want)
	}
}

func TestMigrateIdempotentAndRefusesNewer(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := dbtest.Unaudited(context.Background()) // writes a future version directly
		n, err := d.Migrate(ctx)
		if err != nil || n != 0 {
			t.Fatalf("second migrate applied %d, err %v", n, err)
		}
		ms, err := db.Migrations(d.Dialect)
		if err != nil {
			t.Fatal(err)
		}
		// Versions and names are what databases migrated before the
		// per-engine folders were merged recorded.
		rows, err := d.R().Query(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.Collect(rows, "schema_migrations", func(r db.Scanner) (m db.Migration, err error) {
			return m, r.Scan(&m.Version, &m.Name)
		})
		if err != nil || len(got) != len(ms) {
			t.Fatalf("schema_migrations: %v, %v", got, err)
		}
		for i, m := range got {
			if m.Version != ms[i].Version || m.Name != ms[i].Name {
				t.Errorf("schema_migrations row %d: %d %s, want %d %s", i, m.Version, m.Name, ms[i].Version, ms[i].Name)
			}
		}
		if _, err := d.R().Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)`, len(ms)+1); err != nil {
			// the reader is read-only on SQLite; write through a transaction
			if err := d.Tx(ctx, func(tx *db.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)`, len(ms)+1)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		_, err = d.Migrate(ctx)
		if e, ok := fault.As(err); !ok || e.Code != "database_too_new" {
			t.Fatalf("want database_too_new, got %v", err)
		}
	})
}

func TestUniqueViolationIsConflictAndRollsBack(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := dbtest.Unaudited(context.Background()) // tests the transaction, not a service
		ins := func(tx *db.Tx, id, name string) error {
			_, err := tx.Exec(ctx, `INSERT INTO orgs (id, name, name_key, kind, created_at) VALUES (?, ?, ?, 'company', 0)`, id, name, name)
			return err
		}
		if err := d.Tx(ctx, func(tx *db.Tx) error { return ins(tx, "a", "A") }); err != nil {
			t.Fatal(err)
		}
		err := d.Tx(ctx, func(tx *db.Tx) error {
			if err := ins(tx, "b", "B"); err != nil {
				return err
			}
			return ins(tx, "c", "A")
		})
		if !fault.Is(err, fault.Conflict) {
			t.Fatalf("want conflict, got %v", err)
		}
		var n int
		if err := d.R().QueryRow(ctx, `SELECT COUNT(*) FROM orgs`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("partial write: %d orgs, err %v", n, err)
		}
	})
}

func TestUnreachablePostgresIsUnavailable(t *testing.T) {
	_, err := db.Open(context.Background(), "postgres://nobody@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", "")
	if !fault.Is(err, fault.Unavailable) {
		t.Fatalf("want unavailable, got %v", err)
	}
}

// TestInsertManyKeepsFewStatementTexts: bulk inserts of every length from
// 1 to 250 rows use a handful of statement texts (100, 64, 32, … 1 rows),
// not one per remainder, which would fill the statement cache for every
// other query after an import of varying batches.
func TestInsertManyKeepsFewStatementTexts(t *testing.T) {
	ctx := dbtest.Unaudited(context.Background())
	d, err := db.Open(ctx, "sqlite:"+t.TempDir()+"/many.db", "")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Tx(ctx, func(tx *db.Tx) error {
		_, err := tx.Exec(ctx, `CREATE TABLE t (a INTEGER, b TEXT)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	next := 0
	for n := 1; n <= 250; n++ {
		values := make([]any, 0, 2*n)
		for range n {
			values = append(values, next, "x")
			next++
		}
		if err := d.Tx(ctx, func(tx *db.Tx) error { return tx.InsertMany(ctx, `t (a, b)`, 2, values) }); err != nil {
			t.Fatal(err)
		}
	}
	var count, sum int
	if err := d.R().QueryRow(ctx, `SELECT COUNT(*), SUM(a) FROM t`).Scan(&count, &sum); err != nil || count != next || sum != next*(next-1)/2 {
		t.Fatalf("stored %d rows (sum %d), want %d: %v", count, sum, next, err)
	}
	// Statements are prepared in the background after the transactions
	// that ran them unprepared; give that a moment.
	time.Sleep(200 * time.Millisecond)
	if n := d.PreparedStatements(); n > 10 {
		t.Fatalf("%d statements prepared, want at most 10 (8 insert texts and the count)", n)
	}
}

// TestPoolSizeInURL: pool_max_conns sets the PostgreSQL pool and is taken
// out of the URL (the server refuses unknown settings); a bad value is
// refused by name before any connection is tried.
func TestPoolSizeInURL(t *testing.T) {
	// A "?" in the password is not where the query starts.
	if _, err := db.Open(context.Background(), "postgres://u:pa?ss@127.0.0.1:1/x?pool_max_conns=0", ""); err == nil || !strings.Contains(err.Error(), "bad_pool_max_conns") {
		t.Errorf("pool_max_conns after a password with \"?\": %v", err)
	}
	for _, v := range []string{"0", "-1", "x", "1001"} {
		_, err := db.Open(context.Background(), "postgres://127.0.0.1:1/x?pool_max_conns="+v, "")
		if e, ok := fault.As(err); !ok || e.Code != "bad_pool_max_conns" {
			t.Errorf("pool_max_conns=%s: %v, want bad_pool_max_conns", v, err)
		}
	}
	u, err := url.Parse(dbtest.NewPostgresDB(t))
	if err != nil {
		t.Fatal(err)
	}
	// The rest of the query stays as written (a space as %20: pgx reads
	// "+" as a plus).
	rest := "options=-c%20search_path%3Dpublic&application_name=verbund%20test"
	u.RawQuery += "&pool_max_conns=2&" + rest
	d, err := db.Open(context.Background(), u.String(), "")
	if err != nil {
		t.Fatalf("open with pool_max_conns=2: %v", err)
	}
	defer d.Close()
	if strings.Contains(d.URL, "pool_max_conns") || !strings.HasSuffix(d.URL, "&"+rest) {
		t.Errorf("the URL kept for LISTEN connections: %s", d.URL)
	}
	var app string
	if err := d.R().QueryRow(context.Background(), `SELECT current_setting('application_name')`).Scan(&app); err != nil || app != "verbund test" {
		t.Errorf("application_name: %q %v", app, err)
	}
	if _, err := d.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate with two connections: %v", err)
	}
}
