package policy

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"verbund/internal/db"
	"verbund/internal/fault"
)

// One full-text index for the hub: every shareable object with text to
// find has a document in search_docs (same id as its envelope), written by
// its capability through Kind.Index in the object's transaction, deleted
// with the envelope (Withdraw). Searches go through Reader.Search, which
// joins the index with the kind's table, its envelope and the visibility
// predicate like every list: what a reader may not see is never found,
// nor counted. SQLite searches FTS5, PostgreSQL a German and English
// tsvector (migration 0004); both by word prefixes, all words required.

// maxTerms bounds the words of one search.
const maxTerms = 8

// Index writes (or replaces) the searchable text of object id of this
// kind, in the caller's transaction.
func (k *Kind) Index(ctx context.Context, tx *db.Tx, id, title, body string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO search_docs (id, kind, title, body) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body`, id, k.name, title, body); err != nil {
		return fmt.Errorf("index %s: %w", k.name, err)
	}
	return nil
}

// Doc is an object's searchable text.
type Doc struct{ ID, Title, Body string }

// IndexAll writes the searchable text of many new objects of this kind
// (imports), a hundred a statement.
func (k *Kind) IndexAll(ctx context.Context, tx *db.Tx, docs []Doc) error {
	values := make([]any, 0, 4*len(docs))
	for _, d := range docs {
		values = append(values, d.ID, k.name, d.Title, d.Body)
	}
	return tx.InsertMany(ctx, `search_docs (id, kind, title, body)`, 4, values)
}

// IndexBody replaces the body of object id's document and keeps its title
// (an edited text).
func (k *Kind) IndexBody(ctx context.Context, tx *db.Tx, id, body string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO search_docs (id, kind, body) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET body = excluded.body`, id, k.name, body); err != nil {
		return fmt.Errorf("index %s: %w", k.name, err)
	}
	return nil
}

// Terms reads a search's words: letters and digits, at most maxTerms. No
// word is an error the caller shows ("say what to look for").
func Terms(q string) ([]string, error) {
	words := strings.FieldsFunc(strings.ToLower(q), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(words) == 0 {
		return nil, fault.BadInput("q", "search_empty", "enter a word to search for (letters or digits)")
	}
	return words[:min(len(words), maxTerms)], nil
}

// Search names the objects of kind k under alias that match every term,
// joined with their envelopes and restricted to what the reader may see,
// like From. The document is aliased "<alias>_d". Order by SearchSeq
// descending for newest first, and page by comparing it: the index then
// hands out the matches in that order and the engine stops at a page,
// instead of sorting every match.
func (r *Reader) Search(h db.Handle, k *Kind, alias string, terms []string) *db.Query {
	return r.search(h, k, alias, "", terms)
}

// SearchSeq is the expression of a search match's place in the index
// (newer documents have larger ones) for the documents of Search under
// alias: on SQLite the full-text table's rowid, which FTS5 returns in
// order and constrains itself; on PostgreSQL the documents' seq.
func SearchSeq(h db.Handle, alias string) string {
	if h.Dialect() == db.Postgres {
		return alias + "_d.seq"
	}
	return alias + "_d_f.rowid"
}

// SearchIn is Search with the container joined under calias, as FromIn.
func (r *Reader) SearchIn(h db.Handle, k *Kind, alias, calias string, terms []string) *db.Query {
	if k.container == nil {
		panic("policy: SearchIn on kind " + k.name + ", which lives in no other")
	}
	return r.search(h, k, alias, calias, terms)
}

func (r *Reader) search(h db.Handle, k *Kind, alias, calias string, terms []string) *db.Query {
	r.trace.add(k)
	s, d := shareAlias(alias), alias+"_d"
	cond, args := r.condition(k, s)
	if calias != "" {
		r.trace.add(k.container)
		cond, args = r.own(k, s)
	}
	var q *db.Query
	if h.Dialect() == db.Postgres {
		// Both stemmings: a word is found in either language's forms.
		expr := strings.Join(terms, ":* & ") + ":*"
		q = db.Q(`search_docs `+d+` JOIN `+k.table+` `+alias+` ON `+alias+`.id = `+d+`.id AND `+d+`.kind = ?
			AND `+d+`.tsv @@ (to_tsquery('german'::regconfig, ?) || to_tsquery('english'::regconfig, ?))`, k.name, expr, expr)
	} else {
		quoted := make([]string, len(terms))
		for i, t := range terms {
			quoted[i] = `"` + t + `"*` // letters and digits only: no quote to escape
		}
		q = db.Q(`search_fts `+d+`_f JOIN search_docs `+d+` ON `+d+`.seq = `+d+`_f.rowid AND `+d+`_f.search_fts MATCH ? AND `+d+`.kind = ?
			JOIN `+k.table+` `+alias+` ON `+alias+`.id = `+d+`.id`, strings.Join(quoted, " "), k.name)
	}
	q.Add(` JOIN shares `+s+` ON `+s+`.id = `+alias+`.id AND `).Add(cond, args...)
	if calias != "" {
		q.Append(r.containerJoin(k.container, calias, s+".container_id"))
	}
	return q
}
