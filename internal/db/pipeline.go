package db

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// A PostgreSQL write transaction sends the statements whose answers it
// does not read (Tx.ExecLater: an audit record, a post's row, a thread's
// last activity) together, in one round trip, just before its next
// statement or its commit. A reply wrote nine statements one after the
// other, each a round trip that cost the hub and the server more than the
// statement itself (about 0.1 ms of CPU between them, on this machine:
// the write and read system calls, the driver, the server's protocol).
// The statements run in the order they were given and in the same
// transaction, so nothing changes for the data; only a failure is
// reported later, by the statement or commit that sent them, and it fails
// the transaction as it would have (the first failure is the one
// returned, with what the statement was for).
//
// database/sql has no batches: the transaction runs on a connection of
// its own (sql.Conn), whose pgx connection the batch borrows between the
// transaction's statements (Conn.Raw).

// pipeline is a transaction's statements waiting to be sent.
type pipeline struct {
	conn   *sql.Conn
	queued []queued
	err    error // the first failure among the sent ones
}

type queued struct {
	what, query string
	args        []any
}

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
	t.forget(query)
	if t.pipe.err != nil {
		return t.pipe.err
	}
	t.pipe.queued = append(t.pipe.queued, queued{what: what, query: t.db.rebind(query), args: args})
	return nil
}

// flush sends the waiting statements, if any, in one round trip and
// returns the first failure (also any earlier one: a failed transaction
// runs nothing more).
func (h Handle) flush(ctx context.Context) error {
	p := h.pipe
	if p == nil {
		return nil
	}
	if p.err != nil || len(p.queued) == 0 {
		return p.err
	}
	qs := p.queued
	p.queued = nil
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
			if _, err := res.Exec(); err != nil && first == nil {
				first = fmt.Errorf("%s: %w", q.what, Map(err))
			}
		}
		if err := res.Close(); err != nil && first == nil {
			first = fmt.Errorf("send statements: %w", Map(err))
		}
		return first
	})
	p.err = err
	return err
}
