package db

import (
	"database/sql/driver"
	"fmt"

	"modernc.org/sqlite"

	"verbund/internal/words"
)

// SQLite functions of the hub's full-text index (migration 0010): the
// triggers that keep search_fts in step with search_docs give each
// document's text to them, so that every writer of the index — a
// capability's Kind.Index, an import's IndexAll, the migration that
// indexed the rows already there — stems words the same way, the way
// internal/policy stems a search (internal/words). PostgreSQL computes its
// own in the tsvector column (german and english configurations, and the
// reversed German stems of verbund_tails, defined by the migration).
func init() {
	for name, fn := range map[string]func(string) string{"verbund_stems": words.Stems, "verbund_tails": words.Tails} {
		sqlite.MustRegisterDeterministicScalarFunction(name, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			switch v := args[0].(type) {
			case nil:
				return "", nil
			case string:
				return fn(v), nil
			case []byte:
				return fn(string(v)), nil
			default:
				return nil, fmt.Errorf("%s: text expected, got %T", name, v)
			}
		})
	}
}
