// Package dbtest gives tests a fresh, migrated database on every engine:
// SQLite always, PostgreSQL when VERBUND_TEST_POSTGRES names a server
// (scripts/test starts a throwaway cluster and sets it). With
// VERBUND_REQUIRE_POSTGRES=1 a missing server fails instead of skipping, so
// CI cannot silently test only one engine.
//
// Every database it opens checks that each committed write transaction
// advanced the audit head (audit.go), so a change that forgets its audit
// record fails whichever test makes it.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"verbund/internal/db"
)

// Engines lists the engines to test on.
func Engines(t testing.TB) []db.Dialect {
	out := []db.Dialect{db.SQLite}
	if os.Getenv("VERBUND_TEST_POSTGRES") != "" {
		out = append(out, db.Postgres)
	} else if os.Getenv("VERBUND_REQUIRE_POSTGRES") == "1" {
		t.Fatal("VERBUND_TEST_POSTGRES is not set but VERBUND_REQUIRE_POSTGRES=1: run scripts/test")
	}
	return out
}

// Each runs fn as a subtest on every engine, each with its own database.
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	for _, e := range Engines(t) {
		t.Run(string(e), func(t *testing.T) { fn(t, Open(t, e)) })
	}
}

// Open returns a fresh migrated database on engine e, removed after the test.
func Open(t testing.TB, e db.Dialect) *db.DB {
	t.Helper()
	if e == db.Postgres {
		return openURL(t, NewPostgresDB(t))
	}
	return openURL(t, "sqlite:"+t.TempDir()+"/test.db")
}

// openURL opens and migrates the empty database u, closed after the test,
// with every write checked for its audit record (CheckAudited).
func openURL(t testing.TB, u string) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, u, "")
	if err != nil {
		t.Fatalf("open the test database: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", d.Dialect, err)
	}
	CheckAudited(d)
	return d
}

// OpenPostgresPool returns a fresh migrated PostgreSQL database whose pool
// has n connections (pool_max_conns), removed after the test. It fails
// the test when PostgreSQL is required but not set, and skips it when not.
func OpenPostgresPool(t testing.TB, n int) *db.DB {
	t.Helper()
	Engines(t)
	u, err := url.Parse(NewPostgresDB(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", strconv.Itoa(n))
	u.RawQuery = q.Encode()
	return openURL(t, u.String())
}

// NewPostgresDB creates an empty database on the test server and returns
// its URL; it is dropped when the test ends.
func NewPostgresDB(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("VERBUND_TEST_POSTGRES")
	if admin == "" {
		t.Skip("VERBUND_TEST_POSTGRES not set")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "vt_" + hex.EncodeToString(b)
	conn, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer conn.Close()
	if _, err := conn.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	})
	pu, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse VERBUND_TEST_POSTGRES: %v", err)
	}
	pu.Path = "/" + name
	return PoolURL(pu.String())
}

// PoolURL is the PostgreSQL URL u with the pool size the tests run with:
// VERBUND_TEST_PG_POOL runs them with that many connections a hub (a
// replica too). With 1, a request that holds a connection while it asks
// the pool for another (a write that reads outside its transaction, a
// read that queries inside a loop over rows) waits until the database
// timeout and fails its test. Unset: u as it is.
func PoolURL(u string) string {
	n := os.Getenv("VERBUND_TEST_PG_POOL")
	if n == "" {
		return u
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "pool_max_conns=" + url.QueryEscape(n)
}
