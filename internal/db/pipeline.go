package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// A PostgreSQL write transaction sends its statements in as few round
// trips as it can. Each round trip cost the hub and the server more than
// most statements themselves (about 0.1 ms of CPU between them, on this
// machine: the write and read system calls, the driver, the server's
// protocol), and a reply made a dozen.
//
//   - The statements whose answers it does not read (Tx.ExecLater: an
//     audit record, a post's row, a thread's last activity) wait and go
//     with the transaction's next statement.
//   - Exec and ScanRow send the waiting statements and their own in one
//     batch (one round trip).
//   - BEGIN is sent with the first statement that needs the transaction:
//     every one but a plain read (plainRead). A read of committed rows runs
//     the same before BEGIN as after it: a transaction at read committed
//     (which this one is: BEGIN says so) gives each statement what was
//     committed when that statement began.
//   - COMMIT goes in the batch of the last waiting statements.
//
// The statements run in the order they were given and in the same
// transaction, so nothing changes for the data; only a failure of a
// statement sent later is reported later, by the statement or commit that
// sent it, and it fails the transaction as it would have (the first
// failure is the one returned, with what the statement was for).
//
// database/sql has no batches: the transaction runs on a connection of its
// own (sql.Conn), without database/sql's Tx, and the batches borrow its
// pgx connection (Conn.Raw). Before the connection goes back to the pool,
// end makes sure no transaction is left open on it: it rolls back what
// is, and closes the connection if that fails.

// pipeline is a transaction's state on its connection and its statements
// waiting to be sent.
type pipeline struct {
	db     *DB
	conn   *sql.Conn
	begun  bool // BEGIN was sent
	queued []queued
	err    error // the first failure among the sent ones
	ended  bool
}

type queued struct {
	what, query string // what: "" for a statement whose caller reports its error
	args        []any
	dest        []any               // ScanRow's, ScanLater's: the row's values go there
	noRowOK     bool                // ScanRow's: no row is the caller's to judge, no failure
	rows        func(Scanner) error // ScanRows': called for each row
}

// beginStatement begins a transaction at the level the rules above rely
// on, whatever the server's default is.
const beginStatement = `BEGIN ISOLATION LEVEL READ COMMITTED`

// ExecLater runs a statement whose result the caller does not need, on
// PostgreSQL with the transaction's next statement or its commit (what
// names it in an error: "insert post"); on SQLite, whose statements cost
// no round trip, at once. Its error, if any, fails the transaction: it
// is returned by the statement or commit that sent it. Only for
// statements no caller checks the error of, one by one (a conflict that
// means "already exists", say, must be run with Exec).
func (t *Tx) ExecLater(ctx context.Context, what, query string, args ...any) error {
	if t.pipe == nil {
		if _, err := t.Exec(ctx, query, args...); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	return t.enqueue(queued{what: what, query: query, args: args})
}

// ScanRow runs a query for one row and scans it into dest (sql.ErrNoRows
// when there is none): QueryRow(…).Scan(dest…), but on PostgreSQL in the
// batch of the statements waiting before it, one round trip for all.
func (t *Tx) ScanRow(ctx context.Context, query string, args []any, dest ...any) error {
	if t.pipe == nil {
		return t.QueryRow(ctx, query, args...).Scan(dest...)
	}
	return t.sendWith(ctx, queued{query: query, args: args, dest: dest, noRowOK: true})
}

// ScanLater is ScanRow for a row the caller needs only after its next
// statement: on PostgreSQL it goes with that statement (or the commit),
// and dest is filled once it was sent; its failure, no row included,
// fails the transaction. On SQLite it runs at once.
func (t *Tx) ScanLater(ctx context.Context, what, query string, args []any, dest ...any) error {
	if t.pipe == nil {
		if err := t.QueryRow(ctx, query, args...).Scan(dest...); err != nil {
			return fmt.Errorf("%s: %w", what, Map(err))
		}
		return nil
	}
	return t.enqueue(queued{what: what, query: query, args: args, dest: dest})
}

// ScanRows runs a query and calls scan for each of its rows: on
// PostgreSQL in a write transaction, in the batch of the statements
// waiting before it.
func (h Handle) ScanRows(ctx context.Context, query string, args []any, scan func(Scanner) error) error {
	if h.pipe == nil {
		return h.scanRowsNow(ctx, query, args, scan)
	}
	return h.sendWith(ctx, queued{query: query, args: args, rows: scan})
}

// QueueRows is ScanRows for rows the caller needs only after its next
// statement: on PostgreSQL in a write transaction it goes with that
// statement, and scan is called for the rows then (no row: not at all);
// elsewhere it runs at once. Its failure fails the transaction.
func (h Handle) QueueRows(ctx context.Context, what, query string, args []any, scan func(Scanner) error) error {
	if h.pipe == nil {
		if err := h.scanRowsNow(ctx, query, args, scan); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	return h.enqueue(queued{what: what, query: query, args: args, rows: scan})
}

// enqueue puts q (its query as written, with `?`) into h's batch, unless
// the transaction has failed.
func (h Handle) enqueue(q queued) error {
	h.forget(q.query)
	if h.pipe.err != nil {
		return h.pipe.err
	}
	q.query = h.db.rebind(q.query)
	h.pipe.queued = append(h.pipe.queued, q)
	return nil
}

// sendWith sends h's batch with q last, now, unless the transaction has
// failed.
func (h Handle) sendWith(ctx context.Context, q queued) error {
	h.forget(q.query)
	if h.pipe.err != nil {
		return h.pipe.err
	}
	q.query = h.db.rebind(q.query)
	_, err := h.pipe.send(ctx, &q)
	return err
}

// Send sends the statements waiting in h's batch, if any (QueueRows
// whose rows are needed now); outside a batched transaction it does
// nothing.
func (h Handle) Send(ctx context.Context) error {
	if h.pipe == nil {
		return nil
	}
	if h.pipe.err != nil || len(h.pipe.queued) == 0 {
		return h.pipe.err
	}
	_, err := h.pipe.send(ctx, nil)
	return err
}

// TxRoundTrips returns how many round trips PostgreSQL write
// transactions made (a batch is one) and how many statements they sent
// (for the tests: a hidden object must cost what a missing one does).
func (d *DB) TxRoundTrips() (trips, statements int64) { return d.trips.Load(), d.tripped.Load() }

// trips counts a statement sent alone on a write transaction's
// connection (PostgreSQL).
func (h Handle) trips(n int64) {
	if h.pipe != nil {
		h.db.trips.Add(1)
		h.db.tripped.Add(n)
	}
}

// Batched reports whether h sends its statements in batches (a write
// transaction on PostgreSQL): whether queueing a read (QueueRows) before
// another saves a round trip.
func (h Handle) Batched() bool { return h.pipe != nil }

func (h Handle) scanRowsNow(ctx context.Context, query string, args []any, scan func(Scanner) error) error {
	rows, err := h.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return Map(eachRow(rows.Next, rows, scan, rows.Err))
}

// eachRow calls scan for every row (next, row: a result's Next and
// itself), then gives the result's error.
func eachRow(next func() bool, row Scanner, scan func(Scanner) error, rowsErr func() error) error {
	for next() {
		if err := scan(row); err != nil {
			return err
		}
	}
	return rowsErr()
}

// plainRead reports whether query is a read that runs the same outside
// the transaction as in it: a SELECT that locks nothing and calls nothing
// that changes the session or the database. Anything else waits for
// BEGIN (a WITH may write; a function's name in a column is taken for a
// call: cautious, never wrong).
func plainRead(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n")
	if !strings.HasPrefix(q, "SELECT ") {
		return false
	}
	u := strings.ToUpper(q)
	for _, w := range []string{"FOR UPDATE", "FOR SHARE", "FOR NO KEY", "FOR KEY SHARE", "ADVISORY", "PG_NOTIFY",
		"NEXTVAL", "SETVAL", "SET_CONFIG", "TXID_", "PG_CURRENT_XACT", "LASTVAL"} {
		if strings.Contains(u, w) {
			return false
		}
	}
	return true
}

// flush sends the waiting statements, if any, and BEGIN if query (run
// next, on the connection) needs the transaction and it was not sent: in
// one round trip. It returns the first failure (also any earlier one: a
// failed transaction runs nothing more).
func (h Handle) flush(ctx context.Context, query string) error {
	p := h.pipe
	if p == nil {
		return nil
	}
	if p.err != nil {
		return p.err
	}
	if len(p.queued) == 0 && (p.begun || plainRead(query)) {
		return nil
	}
	_, err := p.send(ctx, nil)
	return err
}

// send sends BEGIN if it was not sent, the waiting statements and last
// (if not nil; a ScanRow's row is scanned) in one round trip. It returns
// last's command tag and the first failure (sql.ErrNoRows: ScanRow's
// query found no row, which fails nothing). Callers have checked p.err.
func (p *pipeline) send(ctx context.Context, last *queued) (pgconn.CommandTag, error) {
	qs := p.queued
	p.queued = nil
	if !p.begun {
		qs = append([]queued{{what: "begin", query: beginStatement}}, qs...)
		p.begun = true
	}
	if last != nil {
		qs = append(qs, *last)
	}
	p.db.trips.Add(1)
	p.db.tripped.Add(int64(len(qs)))
	var tag pgconn.CommandTag
	noRow := false
	err := p.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("send statements: a %T is no pgx connection", dc)
		}
		b := &pgx.Batch{}
		for _, q := range qs {
			b.Queue(q.query, q.args...)
		}
		res := c.Conn().SendBatch(ctx, b)
		var first error
		for _, q := range qs {
			var err error
			switch {
			case q.rows != nil:
				err = scanRows(res, q.rows)
			case q.dest != nil:
				err = res.QueryRow().Scan(q.dest...)
				if errors.Is(err, sql.ErrNoRows) && q.noRowOK { // ScanRow's, the last
					noRow = true
					continue
				}
			default:
				tag, err = res.Exec()
			}
			if err == nil && q.query == commitStatement && tag.String() != "COMMIT" {
				// PostgreSQL answers COMMIT of a failed transaction with
				// ROLLBACK, and no error.
				err = fmt.Errorf("the transaction was rolled back (%s)", tag)
			}
			if err != nil && first == nil {
				first = Map(err)
				if q.what != "" {
					first = fmt.Errorf("%s: %w", q.what, first)
				}
			}
		}
		if err := res.Close(); err != nil && first == nil {
			first = fmt.Errorf("send statements: %w", Map(err))
		}
		return first
	})
	if err != nil {
		p.err = err
		return tag, err
	}
	if noRow {
		return tag, sql.ErrNoRows
	}
	return tag, nil
}

// scanRows reads the rows of the batch's next result with scan.
func scanRows(res pgx.BatchResults, scan func(Scanner) error) error {
	rows, err := res.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	return eachRow(rows.Next, rows, scan, rows.Err)
}

const commitStatement = `COMMIT`

// commit sends the waiting statements and COMMIT in one round trip
// (nothing, if the transaction neither began nor has anything waiting).
func (p *pipeline) commit(ctx context.Context) error {
	if p.err != nil {
		return p.err
	}
	if !p.begun && len(p.queued) == 0 {
		return nil
	}
	for _, q := range p.queued {
		if q.dest != nil || q.rows != nil {
			// A row scanned later that is missing fails the transaction,
			// but only here: the server found nothing wrong, and would
			// commit in the same batch. Sent first, then.
			if _, err := p.send(ctx, nil); err != nil {
				return err
			}
			break
		}
	}
	_, err := p.send(ctx, &queued{what: "commit", query: commitStatement})
	return err
}

// end leaves the connection without a transaction and gives it back to
// the pool: it rolls back what is open (a failure, a panic, a context
// that ended), and closes the connection instead when that fails or
// cannot be told. (pgx's stdlib also discards a connection taken from the
// pool with a transaction open; rolling back here keeps the connection.)
// A second call does nothing.
func (p *pipeline) end(ctx context.Context) {
	if p.ended {
		return
	}
	p.ended = true
	_ = p.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return driver.ErrBadConn
		}
		pc := c.Conn().PgConn()
		if pc.IsClosed() {
			return driver.ErrBadConn
		}
		if pc.TxStatus() == 'I' {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := pc.Exec(ctx, "ROLLBACK").ReadAll(); err != nil || pc.TxStatus() != 'I' {
			return driver.ErrBadConn // database/sql closes the connection
		}
		return nil
	})
	_ = p.conn.Close()
}

// batchResult is what Exec returns for a statement sent in a batch.
type batchResult int64

func (r batchResult) LastInsertId() (int64, error) {
	return 0, fmt.Errorf("PostgreSQL has no last insert id: use RETURNING")
}

func (r batchResult) RowsAffected() (int64, error) { return int64(r), nil }
