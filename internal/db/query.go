package db

import (
	"context"
	"database/sql"
	"strings"
)

// Query is SQL text with its arguments, built from left to right: each
// piece brings the arguments of its own placeholders, so the arguments are
// always in the order of the placeholders, however the pieces are nested.
// Fragments made elsewhere (the visibility predicate of internal/policy)
// are added whole, never spliced into a string.
type Query struct {
	text strings.Builder
	args []any
}

// Q starts a query with sql and the arguments of its placeholders.
func Q(sql string, args ...any) *Query {
	q := &Query{}
	q.text.Grow(4096) // most queries carry one or two 1.7 KB predicates
	return q.Add(sql, args...)
}

// Add appends sql and its arguments.
func (q *Query) Add(sql string, args ...any) *Query {
	q.text.WriteString(sql)
	q.args = append(q.args, args...)
	return q
}

// Append appends another query (a fragment) with its arguments.
func (q *Query) Append(f *Query) *Query {
	if f == nil {
		return q
	}
	q.text.WriteString(f.text.String())
	q.args = append(q.args, f.args...)
	return q
}

// SQL is the query text.
func (q *Query) SQL() string { return q.text.String() }

// Args are the arguments in placeholder order.
func (q *Query) Args() []any { return q.args }

// Select runs q and returns its rows.
func (h Handle) Select(ctx context.Context, q *Query) (*sql.Rows, error) {
	return h.Query(ctx, q.SQL(), q.args...)
}

// SelectRow runs q for at most one row.
func (h Handle) SelectRow(ctx context.Context, q *Query) *sql.Row {
	return h.QueryRow(ctx, q.SQL(), q.args...)
}
