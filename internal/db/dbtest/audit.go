package dbtest

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"verbund/internal/db"
)

// The invariant (docs/SECURITY.md, point 6): every committed write
// transaction writes its audit record — audit.Write in the same
// transaction, into audit_pending, chained right after the commit — which
// is also what the read cache (internal/readcache) learns changes from. Two exceptions are explicit: bookkeeping
// (db.Tx.Bookkeeping: login throttle counters, a token's last-use time,
// how often each org opened an article, merging SQLite's full-text index)
// and what a test writes directly to set up or tamper with data
// (Unaudited).

// bookkeepingTables are the only tables a bookkeeping transaction may
// write. PostgreSQL names the tables a transaction wrote, so the check is
// made there; SQLite can only count the rows.
var bookkeepingTables = []string{"login_throttle", "tokens", "audit_pending", "audit_log", "audit_orgs", "audit_head", "health_probe", "webhook_deliveries", "mail_outbox", "article_reads"}

type unauditedKey struct{}

// Unaudited marks ctx for write transactions that a test runs itself to
// set up data (or to tamper with it) without going through the hub's
// services: they need no audit record. Production code never uses it.
func Unaudited(ctx context.Context) context.Context {
	return context.WithValue(ctx, unauditedKey{}, true)
}

// CheckAudited installs the audit check on d: from now on a write
// transaction that commits changes without advancing the audit head fails
// with an error naming the code that began it, and is rolled back.
// Open calls it after migrating.
func CheckAudited(d *db.DB) {
	d.SetHooks(db.Hooks{Begin: func(ctx context.Context, tx *db.Tx) (func() error, error) {
		if ctx.Value(unauditedKey{}) != nil {
			return nil, nil
		}
		before, err := readWrites(ctx, tx)
		if err != nil {
			return nil, fmt.Errorf("dbtest: audit check at begin: %w", err)
		}
		return func() error {
			after, err := readWrites(ctx, tx)
			if err != nil {
				return fmt.Errorf("dbtest: audit check before commit: %w", err)
			}
			return checkWrites(ctx, tx, before, after)
		}, nil
	}})
}

// writes is what has been written on a transaction's connection.
type writes struct {
	records int64 // SQLite: audit records ever written (sqlite_sequence of audit_pending)
	changes int64 // SQLite: rows changed on the connection (total_changes())
	// PostgreSQL: rows changed per table on the connection and not yet
	// flushed to the statistics; a backend flushes only between
	// transactions, so the growth from begin to commit is this
	// transaction's (pg_stat_xact_user_tables also holds earlier
	// transactions' counts until then).
	tables map[string]int64
}

// done is what the transaction wrote between begin and after: a number of
// rows, or on PostgreSQL the tables.
type done struct {
	changes int64
	tables  []string // nil on SQLite
}

func (w done) String() string {
	if w.tables != nil {
		return "rows of " + strings.Join(w.tables, ", ")
	}
	return fmt.Sprintf("%d rows", w.changes)
}

func readWrites(ctx context.Context, tx *db.Tx) (writes, error) {
	var w writes
	if tx.Dialect() == db.SQLite {
		// The writer pool has one connection.
		err := tx.QueryRow(ctx, `SELECT total_changes(), COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'audit_pending'), 0)`).Scan(&w.changes, &w.records)
		return w, err
	}
	// Counted inside the transaction, whose BEGIN may still wait for a
	// statement that needs it: between transactions the counts may go.
	if err := tx.Begin(ctx); err != nil {
		return w, err
	}
	var tables string
	err := tx.QueryRow(ctx, `SELECT COALESCE((SELECT string_agg(relname || ' ' || (n_tup_ins + n_tup_upd + n_tup_del), ',') FROM pg_stat_xact_user_tables
			WHERE n_tup_ins + n_tup_upd + n_tup_del > 0), '')`).Scan(&tables)
	if err != nil {
		return w, err
	}
	w.tables = map[string]int64{}
	for _, t := range strings.Split(tables, ",") {
		if name, n, ok := strings.Cut(t, " "); ok {
			if w.tables[name], err = strconv.ParseInt(n, 10, 64); err != nil {
				return w, fmt.Errorf("read table statistics %q: %w", t, err)
			}
		}
	}
	return w, nil
}

func between(before, after writes) done {
	if after.tables == nil {
		return done{changes: after.changes - before.changes}
	}
	d := done{tables: []string{}}
	for t, n := range after.tables {
		if n > before.tables[t] {
			d.tables = append(d.tables, t)
			d.changes += n - before.tables[t]
		}
	}
	slices.Sort(d.tables)
	return d
}

func checkWrites(ctx context.Context, tx *db.Tx, before, after writes) error {
	wrote := between(before, after)
	if wrote.changes == 0 {
		return nil
	}
	if tx.IsBookkeeping() {
		for _, t := range wrote.tables {
			if !slices.Contains(bookkeepingTables, t) {
				return fmt.Errorf("dbtest: a bookkeeping transaction (begun at %s) wrote %s: only %s are bookkeeping (db.Tx.Bookkeeping)",
					caller(ctx), wrote, strings.Join(bookkeepingTables, " and "))
			}
		}
		return nil
	}
	// The record must have been written by this transaction: on
	// PostgreSQL the tables it wrote say so; on SQLite (one writer) the
	// count of records ever written grew.
	audited := tx.Audited() && ((wrote.tables == nil && after.records > before.records) || slices.Contains(wrote.tables, "audit_pending"))
	if !audited {
		return fmt.Errorf("dbtest: unaudited write: the transaction begun at %s wrote %s but no audit record "+
			"(write the audit record in the same transaction with audit.Write; bookkeeping is db.Tx.Bookkeeping; "+
			"a test's own set-up is dbtest.Unaudited)", caller(ctx), wrote)
	}
	return nil
}

// caller names the code that called db.DB.Tx: the first frame outside
// the db package and this one. The check runs inside Tx, before the
// commit, so that code is still on the stack.
func caller(ctx context.Context) string {
	pc := db.Callers(ctx) // a grouped write's hooks run in another goroutine
	if pc == nil {
		pc = make([]uintptr, 32)
		pc = pc[:runtime.Callers(2, pc)]
	}
	frames := runtime.CallersFrames(pc)
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "verbund/internal/db.") && !strings.HasPrefix(f.Function, "verbund/internal/db/dbtest.") {
			file := f.File
			if i := strings.LastIndex(file, "/internal/"); i >= 0 {
				file = file[i+1:]
			} else if i := strings.LastIndex(file, "/cmd/"); i >= 0 {
				file = file[i+1:]
			}
			return fmt.Sprintf("%s:%d (%s)", file, f.Line, f.Function)
		}
		if !more {
			return "unknown"
		}
	}
}
