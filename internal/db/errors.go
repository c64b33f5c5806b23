package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"verbund/internal/fault"
)

// The faults Map returns. Codes are stable: clients and tests match on them.
func duplicate(err error) error {
	return fault.Wrap(fault.Conflict, "duplicate", "an entry with this name already exists", err)
}

func referenceMissing(err error) error {
	return fault.Wrap(fault.Invalid, "reference_missing", "a referenced entry does not exist", err)
}

func unavailable(err error) error {
	return fault.Wrap(fault.Unavailable, "database_unavailable", "the database is busy or unreachable; try again shortly", err)
}

func writeConflict(err error) error {
	// Not fault.Conflict: callers read a Conflict from an insert as "the
	// name is taken". Retrying the request is the answer here.
	return fault.Wrap(fault.Unavailable, "write_conflict", "another change got in the way; try again", err)
}

func diskFull(err error) error {
	return fault.Wrap(fault.Unavailable, "disk_full", "the database's disk is full; tell the hub's operator", err)
}

func timedOut(err error) error {
	return fault.Wrap(fault.Unavailable, "database_timeout", "the database did not answer in time; try again shortly", err)
}

func readOnly(err error) error {
	return fault.Wrap(fault.Unavailable, "database_read_only", "the database is read-only at the moment; tell the hub's operator", err)
}

func badText(err error) error {
	return fault.Wrap(fault.Invalid, "bad_text", "the input contains bytes or values that are not valid text (for example a NUL character)", err)
}

// Map turns driver errors into faults by their codes, never by message
// text: unique violations become conflicts ("duplicate"), missing
// references invalid input, a busy, full, read-only or unreachable
// database unavailable. sql.ErrNoRows, faults and every other error pass
// unchanged (the caller wraps them as internal errors).
func Map(err error) error {
	if err == nil || errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if _, ok := fault.As(err); ok {
		return err
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return mapPostgres(pg.Code, err)
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		return mapSQLite(lite.Code(), err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// The request's deadline (internal/web) ran out while the
		// database did not answer: a stalled server, a long lock.
		return timedOut(err)
	}
	var connect *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connect), errors.As(err, &netErr),
		errors.Is(err, sql.ErrConnDone), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, errDBClosed),
		// A pooled PostgreSQL connection whose server went away mid-read.
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return unavailable(err)
	}
	return err
}

// mapPostgres maps a PostgreSQL SQLSTATE
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
func mapPostgres(code string, err error) error {
	switch code {
	case "23505": // unique_violation
		return duplicate(err)
	case "23503": // foreign_key_violation
		return referenceMissing(err)
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return writeConflict(err)
	case "22021", "22P02": // character_not_in_repertoire (NUL, bad UTF-8), invalid_text_representation
		return badText(err)
	case "53100": // disk_full
		return diskFull(err)
	case "25006": // read_only_sql_transaction: a standby, or the server set read-only
		return readOnly(err)
	case "57P01", "57P02", "57P03", // admin_shutdown, crash_shutdown, cannot_connect_now
		"57014",          // query_canceled (statement timeout)
		"53000", "53300", // insufficient_resources, too_many_connections
		"55P03": // lock_not_available
		return unavailable(err)
	}
	if strings.HasPrefix(code, "08") { // connection_exception and its subclasses
		return unavailable(err)
	}
	return err
}

// mapSQLite maps a SQLite result code. Extended codes are on
// (modernc.org/sqlite turns them on per connection); the low byte is the
// primary code (https://www.sqlite.org/rescode.html).
func mapSQLite(code int, err error) error {
	switch code {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return duplicate(err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return referenceMissing(err)
	}
	switch code & 0xff {
	case sqlite3.SQLITE_FULL:
		return diskFull(err)
	case sqlite3.SQLITE_READONLY:
		return readOnly(err)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_PROTOCOL:
		return unavailable(err)
	}
	return err
}

// errDBClosed is database/sql's error for a call on a closed *sql.DB. The
// package does not export it, so it is taken once from a pool that is
// closed before it ever connects, and then matched with errors.Is.
var errDBClosed = func() error {
	p := sql.OpenDB(neverConnector{})
	_ = p.Close()
	// Never nil: database/sql refuses every call on a closed pool (and
	// TestMap checks that a closed database maps to unavailable).
	return p.PingContext(context.Background())
}()

// neverConnector is a driver.Connector that is never asked for a
// connection (its pool is closed first).
type neverConnector struct{}

func (neverConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("db: neverConnector connected")
}
func (neverConnector) Driver() driver.Driver { return nil }

// NotFound maps sql.ErrNoRows to fault.ErrNotFound and wraps other errors.
func NotFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fault.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, Map(err))
	}
	return nil
}
