package db

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"

	"modernc.org/sqlite"

	"verbund/internal/words"
)

// SQLite functions of the hub's full-text index (migration 0013): the
// triggers that keep search_fts and its vocabularies in step with
// search_docs give each document's text to them, so that every writer of
// the index — a capability's Kind.Index, an import's IndexAll, the
// migration that indexed the rows already there — reads words the same
// way, the way internal/policy reads a search (internal/words).
// PostgreSQL computes its own in the tsvector column (german and english
// configurations, and the tails of verbund_tails, defined by the
// migration).
//
//	verbund_stems(text)  the German and English stems, space separated (FTS column stems)
//	verbund_tails(text)  the compound tails, space separated (FTS column tails)
//	verbund_words(text)  the distinct words as FTS5 reads them, a JSON array (vocabulary search_terms)
//	verbund_tail_list(text)  the tails, a JSON array (vocabulary search_tails)
func init() {
	text := func(fn func(string) string) func(string) (driver.Value, error) {
		return func(s string) (driver.Value, error) { return fn(s), nil }
	}
	list := func(fn func(string) []string) func(string) (driver.Value, error) {
		return func(s string) (driver.Value, error) {
			l := fn(s)
			if l == nil {
				l = []string{}
			}
			b, err := json.Marshal(l)
			return string(b), err
		}
	}
	for name, fn := range map[string]func(string) (driver.Value, error){
		"verbund_stems": text(words.Stems), "verbund_tails": text(words.Tails),
		"verbund_words": list(words.Tokens), "verbund_tail_list": list(words.TailList),
	} {
		sqlite.MustRegisterDeterministicScalarFunction(name, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			switch v := args[0].(type) {
			case nil:
				return fn("")
			case string:
				return fn(v)
			case []byte:
				return fn(string(v))
			default:
				return nil, fmt.Errorf("%s: text expected, got %T", name, v)
			}
		})
	}
}
