package policy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/words"
)

// One full-text index for the hub: every shareable object with text to
// find has a document in search_docs (same id as its envelope), written by
// its capability through Kind.Index in the object's transaction, deleted
// with the envelope (Withdraw). Searches go through Reader.Search (one
// kind) and Reader.SearchAll (every searchable kind: the hub's search),
// which join the index with the kind's table, its envelope and the
// visibility predicate like every list: what a reader may not see is never
// found, nor counted, nor quoted.
//
// Words are read by internal/words on both sides: a search word finds
// documents with a word that starts with it (accents folded), that shares
// its German or English stem ("Angriffe" finds "Angriff"), or whose German
// stem ends in its own when that has five letters or more (compounds:
// "Angriff" finds "Ransomwareangriffe"). SQLite searches FTS5 columns
// title and body (prefixes), stems and tails (computed by the index's
// triggers, migration 0013); PostgreSQL a tsvector with the German and
// English stems (weight A) and the tails (weight D, written by Index:
// migration 0023). All words are required.

// maxTerms bounds the words of one search.
const maxTerms = 8

// Index writes (or replaces) the searchable text of object id of this
// kind, in the caller's transaction.
func (k *Kind) Index(ctx context.Context, tx *db.Tx, id, title, body string) error {
	// In a group of writes, with the group's other documents at its end
	// (db.Tx.InsertBatched: one full-text segment a group).
	into, set, _ := docColumns(tx.Dialect())
	if err := tx.InsertBatched(ctx, into, `ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body`+set,
		docRow(tx.Dialect(), id, k.name, title, body)...); err != nil {
		return fmt.Errorf("index %s: %w", k.name, err)
	}
	return nil
}

// docColumns are the columns of a written document, what else an update
// of its text sets, and how many values a row has (docRow). PostgreSQL's
// documents carry their compound tails, computed here (words.Tails,
// migration 0023): in the database they cost more than the rest of the
// insert. SQLite's index triggers take them from the same function
// (internal/db/functions.go).
func docColumns(d db.Dialect) (into, set string, width int) {
	if d == db.Postgres {
		return `search_docs (id, kind, title, body, tails)`, `, tails = excluded.tails`, 5
	}
	return `search_docs (id, kind, title, body)`, ``, 4
}

// docRow is a document's values for docColumns.
func docRow(d db.Dialect, id, kind, title, body string) []any {
	if d == db.Postgres {
		return []any{id, kind, title, body, words.Tails(title + " " + body)}
	}
	return []any{id, kind, title, body}
}

// Doc is an object's searchable text.
type Doc struct{ ID, Title, Body string }

// IndexAll writes the searchable text of many new objects of this kind
// (imports), a hundred a statement.
func (k *Kind) IndexAll(ctx context.Context, tx *db.Tx, docs []Doc) error {
	into, _, width := docColumns(tx.Dialect())
	values := make([]any, 0, width*len(docs))
	for _, d := range docs {
		values = append(values, docRow(tx.Dialect(), d.ID, k.name, d.Title, d.Body)...)
	}
	return tx.InsertMany(ctx, into, width, values)
}

// IndexBody replaces the body of object id's document and keeps its title
// (an edited text).
func (k *Kind) IndexBody(ctx context.Context, tx *db.Tx, id, body string) error {
	if tx.Dialect() == db.Postgres {
		// The tails are the title's and the body's: the title is read.
		var title string
		err := tx.QueryRow(ctx, `SELECT title FROM search_docs WHERE id = ?`, id).Scan(&title)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("index %s: read title: %w", k.name, err)
		}
		return k.Index(ctx, tx, id, title, body)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO search_docs (id, kind, body) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET body = excluded.body`, id, k.name, body); err != nil {
		return fmt.Errorf("index %s: %w", k.name, err)
	}
	return nil
}

// Terms reads a search's words: letters and digits, at most maxTerms. No
// word is an error the caller shows ("say what to look for").
func Terms(q string) ([]string, error) {
	ws := strings.FieldsFunc(strings.ToLower(q), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(ws) == 0 {
		return nil, fault.BadInput("q", "search_empty", "enter a word to search for (letters or digits)")
	}
	return ws[:min(len(ws), maxTerms)], nil
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
	ts := words.Terms(terms)
	var q *db.Query
	if h.Dialect() == db.Postgres {
		expr, targs := tsQuery(ts)
		q = db.Q(`search_docs `+d+` JOIN `+k.table+` `+alias+` ON `+alias+`.id = `+d+`.id AND `+d+`.kind = ?`, k.name).
			Add(` AND `+d+`.tsv @@ `+expr, targs...)
	} else {
		q = db.Q(`search_fts `+d+`_f JOIN search_docs `+d+` ON `+d+`.seq = `+d+`_f.rowid AND `+d+`_f.search_fts MATCH (? || '') AND `+d+`.kind = ?
			JOIN `+k.table+` `+alias+` ON `+alias+`.id = `+d+`.id`, ftsQuery([]string{k.name}, ts, r.expand(h, ts)), k.name)
	}
	q.Add(` JOIN shares `+s+` ON `+s+`.id = `+alias+`.id AND `).Add(cond, args...)
	if calias != "" {
		q.Append(r.containerJoin(k.container, calias, s+".container_id"))
	}
	return q
}

// maxExpansion is the most words (or tails) a search word is looked up as
// (expand); a word that starts more of them (a short prefix) is left to
// FTS5 as a prefix.
const maxExpansion = 32

// expansion is what a search word stands for in the index: the words of
// the vocabulary it is a prefix of, and the tails its tail is a prefix of;
// nil with many set (or after a failed look-up): leave it to FTS5 as a
// prefix.
type expansion struct {
	words, tails         []string
	manyWords, manyTails bool
}

// expand looks the terms up in the index's vocabularies (SQLite,
// migration 0013), in one statement. FTS5 answers a prefix query by
// merging the documents of every word with that prefix before it hands out
// the newest; asked for those words by name, it reads each one's
// documents newest first only as far as a page needs (0.3 ms instead of
// 14 ms for a common word in 100,000 documents). A look-up that fails
// leaves every term a prefix: slower, never wrong.
func (r *Reader) expand(h db.Handle, ts []words.Term) []expansion {
	out := make([]expansion, len(ts))
	for i := range out {
		out[i] = expansion{manyWords: true, manyTails: true}
	}
	if h.Dialect() != db.SQLite || r.ctx == nil || len(ts) == 0 {
		return out
	}
	q := db.Q(``)
	for i, t := range ts {
		// What the vocabulary does not hold (numbers, hex strings) stays
		// a prefix.
		tok := words.Token(t.Word)
		if words.InVocabulary(tok) {
			if len(q.SQL()) > 0 {
				q.Add(` UNION ALL `)
			}
			q.Add(`SELECT * FROM (SELECT ?, 0, term FROM search_terms WHERE term >= ? AND term < ? LIMIT ?)`, i, tok, tok+"\xff", maxExpansion+1)
		}
		if t.Tail != "" {
			if len(q.SQL()) > 0 {
				q.Add(` UNION ALL `)
			}
			q.Add(`SELECT * FROM (SELECT ?, 1, tail FROM search_tails WHERE tail >= ? AND tail < ? LIMIT ?)`, i, t.Tail, t.Tail+"\xff", maxExpansion+1)
		}
	}
	if len(q.SQL()) == 0 {
		return out
	}
	rows, err := h.Select(r.ctx, q)
	if err != nil {
		return out
	}
	type hit struct {
		i, col int
		v      string
	}
	hits, err := db.Collect(rows, "search vocabulary", func(sc db.Scanner) (x hit, err error) {
		err = sc.Scan(&x.i, &x.col, &x.v)
		return x, err
	})
	if err != nil {
		return out
	}
	for i, t := range ts {
		out[i] = expansion{manyWords: !words.InVocabulary(words.Token(t.Word))}
	}
	for _, x := range hits {
		e := &out[x.i]
		if x.col == 0 {
			e.words = append(e.words, x.v)
		} else {
			e.tails = append(e.tails, x.v)
		}
	}
	for i := range out {
		e := &out[i]
		if len(e.words) > maxExpansion {
			e.words, e.manyWords = nil, true
		}
		if len(e.tails) > maxExpansion {
			e.tails, e.manyTails = nil, true
		}
	}
	return out
}

// ftsQuery is the FTS5 expression for documents of the kinds (none: any)
// that match every term: a word of title or body that starts with it (the
// words of its expansion, or the prefix), a stem, or a tail that starts
// with its tail. Terms and the vocabularies' words hold letters, numbers
// and private-use characters only, kinds letters and "_" (the index drops
// it): nothing needs escaping.
func ftsQuery(kinds []string, ts []words.Term, ex []expansion) string {
	var b strings.Builder
	// Without kinds, any kind's: the caller's predicate picks.
	if len(kinds) > 0 {
		b.WriteString(`kind : `)
		if len(kinds) > 1 {
			b.WriteString(`(`)
		}
		for i, k := range kinds {
			if i > 0 {
				b.WriteString(` OR `)
			}
			b.WriteString(`"` + strings.ReplaceAll(k, "_", "") + `"`)
		}
		if len(kinds) > 1 {
			b.WriteString(`)`)
		}
	}
	list := func(ws []string) string {
		return `("` + strings.Join(ws, `" OR "`) + `")`
	}
	for i, t := range ts {
		if i > 0 || len(kinds) > 0 {
			b.WriteString(` AND `)
		}
		e := ex[i]
		switch {
		case e.manyWords:
			b.WriteString(`({title body} : "` + t.Word + `"*`)
		default:
			// The word itself too: FTS5 reads it as it reads the text,
			// should the vocabulary have read it differently.
			b.WriteString(`({title body} : ` + list(append([]string{t.Word}, e.words...)))
		}
		if t.German != "" {
			b.WriteString(` OR stems : ("` + t.German + `" OR "` + t.English + `")`)
		}
		switch {
		case t.Tail == "":
		case e.manyTails:
			b.WriteString(` OR tails : "` + t.Tail + `"*`)
		case len(e.tails) > 0:
			b.WriteString(` OR tails : ` + list(e.tails))
		}
		b.WriteString(`)`)
	}
	return b.String()
}

// tsQuery is the PostgreSQL expression for documents that match every
// term, as a prefix of a German or English stem of title or body (weight
// A), or as the start of a tail (weight D).
func tsQuery(ts []words.Term) (string, []any) {
	var parts []string
	var args []any
	for _, t := range ts {
		p := `(to_tsquery('german'::regconfig, ?) || to_tsquery('english'::regconfig, ?)`
		args = append(args, t.Word+":*A", t.Word+":*A")
		if t.Tail != "" {
			p += ` || to_tsquery('simple'::regconfig, ?)`
			args = append(args, t.Tail+":*D")
		}
		parts = append(parts, p+`)`)
	}
	return `(` + strings.Join(parts, ` && `) + `)`, args
}

// SearchFilter narrows a search of every searchable kind (SearchAll).
type SearchFilter struct {
	Kinds []*Kind // the kinds to search; none finds nothing
	// AllKinds says that Kinds are every kind with documents in the index
	// (Kernel.Searchable), so the index need not be narrowed by kind.
	AllKinds bool
	Levels   []TLP  // only these levels (none: every level)
	Owner    string // only objects of this org ("": any)
	From, To int64  // only objects shared in [From, To) (Unix µs; 0: open)
	// After is the last hit of the previous page (its kind and id), which
	// the reader must still see: an id the reader may not see answers
	// like one that does not exist.
	AfterKind, AfterID string
	Limit              int
}

// Hit is a document found by SearchAll: the object's envelope and the
// document's text, for titles and snippets.
type Hit struct {
	Share
	Title, Body string
}

// SearchAll finds, newest first, the objects of the filter's kinds that
// match every term and that the reader may see, at most f.Limit, and
// whether there are more. It is one walk of the index in its order for
// every kind at once: each document's envelope is joined and judged by its
// own kind's predicate (its category's coverage, its container), and the
// walk stops at a page.
func (r *Reader) SearchAll(ctx context.Context, h db.Handle, terms []string, f SearchFilter) ([]Hit, bool, error) {
	if len(f.Kinds) == 0 {
		return nil, false, nil
	}
	var after int64
	if f.AfterID != "" {
		var err error
		if after, err = r.searchCursor(ctx, h, f); err != nil {
			return nil, false, err
		}
	}
	ts := words.Terms(terms)
	names := make([]string, len(f.Kinds))
	byName := map[string]*Kind{}
	for i, k := range f.Kinds {
		names[i], byName[k.name] = k.name, k
		r.trace.add(k)
	}
	const s = "x_s"
	seq := SearchSeq(h, "x")
	q := db.Q(`SELECT ` + seq + `, x_d.kind, x_d.title, x_d.body, ` + s + `.id, ` + s + `.owner_org_id, ` + s + `.author_id, ` + s + `.tlp, ` +
		s + `.audience, COALESCE(` + s + `.community_id, ''), ` + s + `.created_at FROM `)
	if h.Dialect() == db.Postgres {
		expr, targs := tsQuery(ts)
		q.Add(`search_docs x_d`)
		q.Add(` JOIN shares `+s+` ON `+s+`.id = x_d.id AND x_d.kind IN (`+db.Placeholders(len(names))+`) AND x_d.tsv @@ `+expr, append(anys(names), targs...)...)
	} else {
		// The index narrows to the kinds asked for; asked for all, it
		// need not (every document is of one of them, and each kind's
		// predicate below admits only its own).
		match := names
		if f.AllKinds {
			match = nil
		}
		// MATCH (? || ''), not MATCH ?: FTS5 plans with the value of a
		// bare parameter, so SQLite prepares the statement again for every
		// new search (twice the re-preparing in BenchmarkSearch).
		q.Add(`search_fts x_d_f JOIN search_docs x_d ON x_d.seq = x_d_f.rowid AND x_d_f.search_fts MATCH (? || '')`, ftsQuery(match, ts, r.expand(h, ts)))
		q.Add(` JOIN shares ` + s + ` ON ` + s + `.id = x_d.id`)
	}
	// Each document is judged by its own kind's rule.
	q.Add(` AND (`)
	for i, k := range f.Kinds {
		if i > 0 {
			q.Add(` OR `)
		}
		cond, args := r.condition(k, s)
		q.Add(`(`+s+`.kind = ? AND `, k.name).Add(cond, args...).Add(`)`)
	}
	q.Add(`) WHERE 1 = 1`)
	if len(f.Levels) > 0 {
		args := make([]any, len(f.Levels))
		for j, l := range f.Levels {
			args[j] = int(l)
		}
		q.Add(` AND `+s+`.tlp IN (`+db.Placeholders(len(args))+`)`, args...)
	}
	if f.Owner != "" {
		q.Add(` AND `+s+`.owner_org_id = ?`, f.Owner)
	}
	if f.From > 0 {
		q.Add(` AND `+s+`.created_at >= ?`, f.From)
	}
	if f.To > 0 {
		q.Add(` AND `+s+`.created_at < ?`, f.To)
	}
	if after > 0 {
		q.Add(` AND `+seq+` < ?`, after)
	}
	q.Add(` ORDER BY `+seq+` DESC LIMIT ?`, f.Limit+1)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, false, fmt.Errorf("search: %w", err)
	}
	hits, err := db.Collect(rows, "search", func(sc db.Scanner) (Hit, error) {
		var hit Hit
		var seq int64
		var kind string
		err := sc.Scan(&seq, &kind, &hit.Title, &hit.Body, &hit.ID, &hit.Owner, &hit.Author, &hit.TLP, &hit.Audience.Kind, &hit.Audience.Community, &hit.CreatedAt)
		if k := byName[kind]; k != nil {
			hit.Kind, hit.Category = k.name, k.category
		}
		return hit, err
	})
	if err != nil {
		return nil, false, err
	}
	more := len(hits) > f.Limit
	return hits[:min(len(hits), f.Limit)], more, nil
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// searchCursor is the place in the index of the previous page's last hit,
// which the reader must see (else the cursor is refused exactly like an
// unknown one: a cursor must not tell whether a hidden object exists).
// The place itself is never handed out: it counts every document of the
// hub, the reader's or not.
func (r *Reader) searchCursor(ctx context.Context, h db.Handle, f SearchFilter) (int64, error) {
	bad := fault.BadInput("next", "bad_cursor", "the page cursor is not valid: start from the first page")
	var k *Kind
	for _, c := range f.Kinds {
		if c.name == f.AfterKind {
			k = c
		}
	}
	if k == nil {
		return 0, bad
	}
	if _, err := r.Envelope(ctx, h, k, f.AfterID); err != nil {
		if fault.Is(err, fault.NotFound) {
			return 0, bad
		}
		return 0, err
	}
	var seq int64
	err := h.QueryRow(ctx, `SELECT seq FROM search_docs WHERE id = ? AND kind = ?`, f.AfterID, k.name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, bad
	}
	if err != nil {
		return 0, fmt.Errorf("search cursor: %w", db.Map(err))
	}
	return seq, nil
}
