package policy

import (
	"context"
	"fmt"
	"sync"

	"verbund/internal/db"
)

// Reader reads shared data for one actor at one moment. Every query over
// shareable objects takes their tables from it: From and Join name the
// capability's table together with its envelope and the visibility
// predicate, so a row the actor may not see never leaves the database, and
// a capability neither writes the predicate nor orders its arguments.
type Reader struct {
	actor Actor
	view  *View // the actor's partners and circles at the reader's moment
	trace *Trace
	// ctx is the request's, for the look-ups a query needs before it is
	// run (a search's words in the index's vocabulary): a Reader lives for
	// one request.
	ctx context.Context
}

// NewReader returns the reader for actor a at time now (Unix µs;
// agreements are judged at that moment). It reads the actor's view (two
// small queries) once; every query through the reader is given it.
func NewReader(ctx context.Context, h db.Handle, a Actor, now int64) (*Reader, error) {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	r := &Reader{actor: a, trace: t, ctx: ctx}
	if a.UserID == "" || a.OrgID == "" {
		return r, nil // the operator reads nothing
	}
	var v *View
	var err error
	if vs, ok := ctx.Value(viewsKey{}).(*Views); ok && h.Pooled() {
		v, err = vs.Load(ctx, h, a, now)
	} else {
		v, err = LoadView(ctx, h, a, now)
	}
	if err != nil {
		return nil, err
	}
	r.view = v
	return r, nil
}

// From names kind k's table under alias, joined with its envelope (alias
// "<alias>_s") and restricted to the objects the actor may see:
//
//	<table> <alias> JOIN shares <alias>_s ON <alias>_s.id = <alias>.id AND (<visible>)
func (r *Reader) From(k *Kind, alias string) *db.Query {
	r.trace.add(k)
	s := shareAlias(alias)
	q := db.Q(k.table + " " + alias + " JOIN shares " + s + " ON " + s + ".id = " + alias + ".id AND ")
	cond, args := r.condition(k, s)
	return q.Add(cond, args...)
}

// FromOrdered is From for a list that walks kind k's table in the order
// of one of its indexes and stops at a page (ORDER BY that index LIMIT n):
// on SQLite the table is made the outer loop (CROSS JOIN). Without
// statistics the planner takes conditions on the envelope (owner,
// audience) for selective, scans every envelope and sorts them all
// instead: 190 ms instead of 9 ms for a page of 1,000 of 50,000 objects.
// PostgreSQL plans from statistics and gets From.
func (r *Reader) FromOrdered(h db.Handle, k *Kind, alias string) *db.Query {
	if h.Dialect() != db.SQLite {
		return r.From(k, alias)
	}
	r.trace.add(k)
	s := shareAlias(alias)
	q := db.Q(k.table + " " + alias + " CROSS JOIN shares " + s + " ON " + s + ".id = " + alias + ".id AND ")
	cond, args := r.condition(k, s)
	return q.Add(cond, args...)
}

// Join joins kind k's table under alias on its id = on (a column of a table
// already named), with its envelope, restricted to visible objects: a row
// whose joined object the actor may not see is dropped too.
func (r *Reader) Join(k *Kind, alias, on string) *db.Query {
	r.trace.add(k)
	s := shareAlias(alias)
	q := db.Q(" JOIN " + k.table + " " + alias + " ON " + alias + ".id = " + on + " JOIN shares " + s + " ON " + s + ".id = " + alias + ".id AND ")
	cond, args := r.condition(k, s)
	return q.Add(cond, args...)
}

// FromIn is From for a kind that lives in another (KindSpec.In), with the
// container joined under calias, table and envelope ("<calias>_s"), and
// restricted to containers the actor may see:
//
//	<table> <alias> JOIN shares <alias>_s ON … AND (<visible>)
//	JOIN <container table> <calias> ON <calias>.id = <alias>_s.container_id
//	JOIN shares <calias>_s ON <calias>_s.id = <calias>.id AND (<visible>)
//
// for lists that show the container's columns beside each object (a post
// with its thread's title). The container is checked once, by the join,
// instead of once by From's subquery and again by a Join.
func (r *Reader) FromIn(k *Kind, alias, calias string) *db.Query {
	c := k.container
	if c == nil {
		panic("policy: FromIn on kind " + k.name + ", which lives in no other")
	}
	r.trace.add(k)
	r.trace.add(c)
	s := shareAlias(alias)
	cond, args := r.own(k, s)
	q := db.Q(k.table+" "+alias+" JOIN shares "+s+" ON "+s+".id = "+alias+".id AND ").Add(cond, args...)
	return q.Append(r.containerJoin(c, calias, s+".container_id"))
}

// Contents is From for the objects of kind k inside one container (a
// thread's posts), restricted to that container: it checks once that the
// actor may see the container (fault.ErrNotFound otherwise, exactly as for
// one that does not exist), so that each row is judged by its own envelope
// only, instead of judging the same container again for every row (half
// of a thread page's predicate). The check reads cols of the container's
// table (aliased "x", e.g. "x.title") into dest, for a page that shows
// them; "" reads nothing. The check and the list are two statements: a
// container hidden between them shows the page of a moment earlier, as a
// request a moment earlier would have.
//
// On SQLite the table is the outer loop (CROSS JOIN, see FromOrdered):
// the capability walks its own index of the container's objects.
func (r *Reader) Contents(ctx context.Context, h db.Handle, k *Kind, alias, container, cols string, dest ...any) (*db.Query, error) {
	c := k.container
	if c == nil {
		panic("policy: Contents on kind " + k.name + ", which lives in no other")
	}
	r.trace.add(k)
	if cols == "" {
		var one int
		cols, dest = "1", []any{&one}
	}
	q := db.Q(`SELECT `+cols+` FROM `).Append(r.From(c, "x")).Add(` WHERE x.id = ?`, container)
	if err := h.SelectRow(ctx, q).Scan(dest...); err != nil {
		return nil, db.NotFound(err, "load "+c.name)
	}
	join := " JOIN "
	if h.Dialect() == db.SQLite {
		join = " CROSS JOIN "
	}
	s := shareAlias(alias)
	cond, args := r.own(k, s)
	return db.Q(k.table+" "+alias+join+"shares "+s+" ON "+s+".id = "+alias+".id AND "+s+".container_id = ? AND ", container).Add(cond, args...), nil
}

// containerJoin joins container kind c's table under calias on its id =
// on, with its envelope, restricted to what the actor may see (its own
// container included, should it have one).
func (r *Reader) containerJoin(c *Kind, calias, on string) *db.Query {
	cs := shareAlias(calias)
	q := db.Q(" JOIN " + c.table + " " + calias + " ON " + calias + ".id = " + on + " JOIN shares " + cs + " ON " + cs + ".id = " + calias + ".id AND ")
	cond, args := r.condition(c, cs)
	return q.Add(cond, args...)
}

// own is the visibility predicate of the shares row aliased s of kind k
// alone, without its container's, as a query piece.
func (r *Reader) own(k *Kind, s string) (string, []any) {
	if r.view == nil {
		return "1 = 0", nil
	}
	return k.predicate(s), visibleArgs(r.view, k.category)
}

// condition is the visibility predicate for the shares row aliased s of
// kind k, with its arguments. The operator (no user, no org) reads
// nothing.
//
// An object of a kind that lives in another (a post in its thread) is
// visible only if its container is too: its own envelope may reach readers
// the container does not (another org's reply, an agreement revoked since),
// and a list must never show, count or announce what belongs to a
// container the reader cannot open.
func (r *Reader) condition(k *Kind, s string) (string, []any) {
	if r.view == nil {
		return "1 = 0", nil
	}
	cond, args := k.predicate(s), visibleArgs(r.view, k.category)
	if c := k.container; c != nil {
		sc := s + "_c"
		cond = "(" + cond + " AND EXISTS (SELECT 1 FROM shares " + sc + " WHERE " + sc + ".id = " + s + ".container_id AND " + c.predicate(sc) + "))"
		args = append(args, visibleArgs(r.view, c.category)...)
	}
	return cond, args
}

// predicate is the text of the visibility predicate for the shares row
// aliased s, made once per kind and alias (callers use a handful of
// aliases; the text is 1.7 KB).
func (k *Kind) predicate(s string) string {
	if v, ok := k.predicates.Load(s); ok {
		return v.(string)
	}
	text := visibleText(s)
	k.predicates.Store(s, text)
	return text
}

func shareAlias(alias string) string {
	if !identifier(alias) {
		panic("policy: bad table alias " + alias)
	}
	return alias + "_s"
}

// Columns lists the envelope columns of the object of kind k aliased alias
// (joined by From or Join), for Dest. The kind and category are not among
// them: they are the kind's own.
func (k *Kind) Columns(alias string) string {
	s := shareAlias(alias)
	return s + ".id, " + s + ".owner_org_id, " + s + ".author_id, " + s + ".tlp, " + s + ".audience, COALESCE(" +
		s + ".community_id, ''), " + s + ".created_at"
}

// Dest appends to dest where a scan puts the columns of Columns into s,
// and sets the kind and category of s. The named orgs and people of an
// audience are not among the columns: Envelope reads them for a detail,
// Audiences for a page of objects.
func (k *Kind) Dest(s *Share, dest []any) []any {
	s.Kind, s.Category = k.name, k.category
	return append(dest, &s.ID, &s.Owner, &s.Author, &s.TLP, &s.Audience.Kind, &s.Audience.Community, &s.CreatedAt)
}

// Envelope reads the whole envelope of one object of kind k, with the named
// orgs and people of its audience, if the actor may see it; else
// fault.ErrNotFound, exactly as for an id that does not exist.
func (r *Reader) Envelope(ctx context.Context, h db.Handle, k *Kind, id string) (Share, error) {
	if v, ok := h.Recall(seenKey{r.actor.UserID, r.actor.OrgID, k.name, id}); ok {
		return v.(Share), nil
	}
	var s Share
	q := db.Q(`SELECT `+k.Columns("x")+` FROM `).Append(r.From(k, "x")).Add(` WHERE x.id = ?`, id)
	if err := h.SelectRow(ctx, q).Scan(k.Dest(&s, nil)...); err != nil {
		return s, db.NotFound(err, "load "+k.name)
	}
	if err := fillAudience(ctx, h, []*Share{&s}, false); err != nil {
		return s, err
	}
	return s, nil
}

// seenKey files an envelope its reader was shown in a write transaction
// (Reader.Saw).
type seenKey struct{ user, org, kind, id string }

// Saw notes that r's actor may see envelope s of kind k (with its
// audience lists), as the caller has just read it through r.From in h's
// write transaction: Envelope then takes it from there instead of reading
// it again (a reply's thread is read by the forum, then by Disclose as
// the reply's container), until the transaction writes anything
// (db.Handle.Recall). Outside a write transaction it keeps nothing.
func (r *Reader) Saw(h db.Handle, k *Kind, s Share) {
	h.Remember(seenKey{r.actor.UserID, r.actor.OrgID, k.name, s.ID}, s)
}

// Audiences fills in the named orgs and people of shares the actor has
// just read through this reader (a page of objects with named audiences),
// in two queries for the whole page.
func (r *Reader) Audiences(ctx context.Context, h db.Handle, shares []*Share) error {
	return fillAudience(ctx, h, shares, false)
}

// fillAudience reads the named orgs and people of shares: of those whose
// audience kind names them, or of all (all: the lists are read whatever
// the kind says, for tests of envelopes written straight into the tables).
func fillAudience(ctx context.Context, h db.Handle, shares []*Share, all bool) error {
	byID := map[string]*Share{}
	var ids []any
	for _, s := range shares {
		if all || s.Audience.Kind == AudOrgs || s.Audience.Kind == AudPeople {
			byID[s.ID] = s
			ids = append(ids, s.ID)
			s.Audience.Orgs, s.Audience.People = nil, nil
		}
	}
	if len(ids) == 0 {
		return nil
	}
	in := db.Placeholders(len(ids))
	for _, part := range []struct {
		q    string
		list func(*Share) *[]string
	}{
		{`SELECT share_id, org_id FROM share_orgs WHERE share_id IN (` + in + `) ORDER BY share_id, org_id`, func(s *Share) *[]string { return &s.Audience.Orgs }},
		{`SELECT share_id, user_id FROM share_people WHERE share_id IN (` + in + `) ORDER BY share_id, user_id`, func(s *Share) *[]string { return &s.Audience.People }},
	} {
		rows, err := h.Query(ctx, part.q, ids...)
		if err != nil {
			return fmt.Errorf("read audiences: %w", err)
		}
		pairs, err := db.Collect(rows, "read audiences", func(r db.Scanner) (p [2]string, err error) {
			err = r.Scan(&p[0], &p[1])
			return p, err
		})
		if err != nil {
			return err
		}
		for _, p := range pairs {
			l := part.list(byID[p[0]])
			*l = append(*l, p[1])
		}
	}
	return nil
}

// Trace records which kinds the requests of a context read. The web
// kernel turns it on in tests, so that the authorization matrix knows which
// routes serve which kinds and can insist that the leak harness covers them.
type Trace struct {
	mu    sync.Mutex
	kinds map[string]bool
}

type traceKey struct{}

// WithTrace returns ctx carrying a new trace.
func WithTrace(ctx context.Context) (context.Context, *Trace) {
	t := &Trace{kinds: map[string]bool{}}
	return context.WithValue(ctx, traceKey{}, t), t
}

func (t *Trace) add(k *Kind) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.kinds[k.name] = true
	t.mu.Unlock()
}

// Kinds lists the kinds read so far.
func (t *Trace) Kinds() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.kinds))
	for k := range t.kinds {
		out = append(out, k)
	}
	return out
}

// Scan reads a level stored as its number.
func (t *TLP) Scan(src any) error {
	n, ok := src.(int64)
	if !ok || n < int64(Clear) || n > int64(Red) {
		return fmt.Errorf("policy: stored TLP level %v is not 0 to 4", src)
	}
	*t = TLP(n)
	return nil
}

// Scan reads a category set stored as its bits.
func (c *Category) Scan(src any) error {
	n, ok := src.(int64)
	if !ok || Category(n)&^AllCategories != 0 {
		return fmt.Errorf("policy: stored category %v is not a set of categories", src)
	}
	*c = Category(n)
	return nil
}
