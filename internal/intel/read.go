package intel

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/stix"
)

// Scope is which objects a list covers, beyond what the reader may see:
// everything, the reader's org's own (audience org), or what was shared
// with one trust circle.
type Scope struct {
	Own       bool   // the reader's org's objects kept in the org
	Community string // objects shared with this circle
}

// condition is the scope as SQL on the envelope aliased s.
func (sc Scope) condition(a policy.Actor, s string) (string, []any) {
	switch {
	case sc.Own:
		return " AND " + s + ".owner_org_id = ? AND " + s + ".audience = 'org'", []any{a.OrgID}
	case sc.Community != "":
		return " AND " + s + ".audience = 'community' AND " + s + ".community_id = ?", []any{sc.Community}
	}
	return "", nil
}

// Filter selects versions of objects, oldest date_added first (Newest:
// newest first).
type Filter struct {
	ID     string   // one version, by the hub's id
	HubIDs []string // versions, by the hub's ids
	// AllHolders keeps every org's copies of an id (by default a reader
	// who sees several gets the first holder's: firstHolder).
	AllHolders bool
	Scope      Scope
	AddedAfter int64 // Unix µs; 0: from the oldest
	AddedUntil int64 // Unix µs, inclusive; 0: to the newest
	After      string
	IDs        []string // STIX ids
	RefersTo   string   // objects that refer to this STIX id (relationships, sightings, reports)
	Types      []string
	NotTypes   []string // types left out
	Specs      []string // spec versions
	// Versions: All, or any of First, Last and exact versions (version_ns);
	// none set: Last.
	All, First, Last bool
	At               []int64
	Limit            int
	JSON             bool // read the objects' JSON too
	// Handout reads only what TAXII hands out: the ids, version, spec
	// version, date added, type, level and, with JSON, the JSON. A
	// page then reads and converts 8 columns a row instead of 22, and
	// joins no org names.
	Handout bool
	Newest  bool // newest date_added first; After then pages back in time
}

// cursor is a list position: the date_added and id of the last row shown.
func cursor(o Object) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(o.DateAdded, 10) + "." + o.ID))
}

func parseCursor(c string) (int64, string, error) {
	bad := fault.BadInput("next", "bad_cursor", "the page cursor is not valid: start from the first page")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 100 {
		return 0, "", bad
	}
	at, id, ok := strings.Cut(string(b), ".")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return 0, "", bad
	}
	return n, id, nil
}

const objectColumns = `o.id, o.stix_id, o.stix_type, o.version, o.spec_version, o.date_added, o.name, o.revoked, o.valid_until, org.name`

// List returns a page of the versions f selects that the reader may see,
// and the cursor of the next page ("" at the end).
func (s *Service) List(ctx context.Context, a policy.Actor, f Filter) ([]Object, string, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, "", err
	}
	cols := objectColumns + `, ` + s.kind.Columns("o")
	if f.JSON {
		cols += `, o.object`
	}
	if f.Handout {
		cols = `o.id, o.stix_id, o.stix_type, o.version, o.spec_version, o.date_added, o_s.tlp, ''`
		if f.JSON {
			cols = strings.Replace(cols, `''`, `o.object`, 1)
		}
	}
	q := db.Q(`SELECT ` + cols + ` FROM `).Append(r.FromOrdered(h, s.kind, "o"))
	if !f.Handout {
		q.Add(` JOIN orgs org ON org.id = o.org_id`)
	}
	q.Add(` WHERE 1 = 1`)
	scope, scopeArgs := f.Scope.condition(a, "o_s")
	q.Add(scope, scopeArgs...)
	if f.AddedAfter > 0 {
		q.Add(` AND o.date_added > ?`, f.AddedAfter)
	}
	if f.AddedUntil > 0 {
		q.Add(` AND o.date_added <= ?`, f.AddedUntil)
	}
	if f.After != "" {
		at, id, err := parseCursor(f.After)
		if err != nil {
			return nil, "", err
		}
		// A row value: the index on (date_added, id) seeks to the position
		// (an OR of the two comparisons made every page scan from the start).
		cmp := ">"
		if f.Newest {
			cmp = "<"
		}
		q.Add(` AND (o.date_added, o.id) `+cmp+` (?, ?)`, at, id)
	}
	if f.ID != "" {
		q.Add(` AND o.id = ?`, f.ID)
	}
	if f.RefersTo != "" {
		q.Add(` AND o.id IN (SELECT object_id FROM intel_refs WHERE ref = ?)`, f.RefersTo)
	}
	in(q, "o.id", f.HubIDs)
	in(q, "o.stix_id", f.IDs)
	in(q, "o.stix_type", f.Types)
	if len(f.NotTypes) > 0 {
		args := make([]any, len(f.NotTypes))
		for i, v := range f.NotTypes {
			args[i] = v
		}
		q.Add(` AND o.stix_type NOT IN (`+db.Placeholders(len(f.NotTypes))+`)`, args...)
	}
	in(q, "o.spec_version", f.Specs)
	if !f.All {
		s.versionCondition(q, r, f, scope, scopeArgs)
	}
	if !f.AllHolders {
		s.firstHolder(q, r)
	}
	if f.Newest {
		q.Add(` ORDER BY o.date_added DESC, o.id DESC LIMIT ?`, f.Limit+1)
	} else {
		q.Add(` ORDER BY o.date_added, o.id LIMIT ?`, f.Limit+1)
	}
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("list intel: %w", err)
	}
	out, err := db.CollectN(rows, f.Limit+1, "list intel", func(sc db.Scanner) (Object, error) {
		var o Object
		if f.Handout {
			err := sc.Scan(&o.ID, &o.STIXID, &o.Type, &o.Version, &o.SpecVersion, &o.DateAdded, &o.Share.TLP, &o.JSON)
			return o, err
		}
		var revoked int
		dest := []any{&o.ID, &o.STIXID, &o.Type, &o.Version, &o.SpecVersion, &o.DateAdded, &o.Name, &revoked, &o.ValidUntil, &o.OrgName}
		dest = s.kind.Dest(&o.Share, dest)
		var raw string
		if f.JSON {
			dest = append(dest, &raw)
		}
		err := sc.Scan(dest...)
		o.Revoked, o.JSON = revoked != 0, []byte(raw)
		o.TLP, o.Audience = o.Share.TLP.String(), string(o.Share.Audience.Kind)
		return o, err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = cursor(out[len(out)-1])
	}
	return out, next, nil
}

// in adds "AND col IN (…)" for a non-empty list.
func in(q *db.Query, col string, vals []string) {
	if len(vals) == 0 {
		return
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	q.Add(` AND `+col+` IN (`+db.Placeholders(len(vals))+`)`, args...)
}

// versionCondition keeps the versions f asks for: the first or last of
// each object among the versions the reader may see in the scope (a
// newer version hidden from the reader does not hide the one it sees),
// or exact versions. Objects without versions (SCOs) are their own first
// and last.
func (s *Service) versionCondition(q *db.Query, r *policy.Reader, f Filter, scope string, scopeArgs []any) {
	last := f.Last || !f.First && len(f.At) == 0
	// edge keeps the versions with no other the reader may see (in the
	// scope) of the same object and org that is newer (">") or older
	// ("<").
	edge := func(cmp string) *db.Query {
		return db.Q(`NOT EXISTS (SELECT 1 FROM `).Append(r.From(s.kind, "n")).
			Add(` WHERE n.stix_id = o.stix_id AND n.org_id = o.org_id AND n.version_ns `+cmp+` o.version_ns`+strings.ReplaceAll(scope, "o_s.", "n_s."), scopeArgs...).Add(`)`)
	}
	var parts []*db.Query
	if last {
		// The newest version the reader may see. Each org's newest is
		// marked (latest, kept by its writers) and needs no check; an
		// older one is the reader's newest when the newer ones are hidden
		// from them (a stricter level) — else a newer version hidden from
		// the reader would take the older one away and so tell of itself.
		parts = append(parts, db.Q(`o.latest = 1 OR `).Append(edge(">")))
	}
	if f.First {
		parts = append(parts, edge("<"))
	}
	if len(f.At) > 0 {
		args := make([]any, len(f.At))
		for i, v := range f.At {
			args[i] = v
		}
		parts = append(parts, db.Q(`o.version_ns IN (`+db.Placeholders(len(f.At))+`)`, args...))
	}
	q.Add(` AND (`)
	for i, p := range parts {
		if i > 0 {
			q.Add(` OR `)
		}
		q.Add(`(`).Append(p).Add(`)`)
	}
	q.Add(`)`)
}

// firstHolder keeps, of an object whose STIX id several orgs hold, only
// the copies of the org that held it first among those the reader may
// see. STIX lets only an object's creator version it; a second org's
// "newer version" of an id (a revocation, a changed pattern) would
// otherwise pass for the first holder's own, in TAXII and in every
// client that merges versions by id. The check runs only for ids marked
// shared, and only ever hides a copy the reader sees another of.
func (s *Service) firstHolder(q *db.Query, r *policy.Reader) {
	q.Add(` AND (o.shared_id = 0 OR NOT EXISTS (SELECT 1 FROM `).Append(r.From(s.kind, "e")).
		Add(` WHERE e.stix_id = o.stix_id AND e.org_id <> o.org_id AND (e.first_added < o.first_added OR e.first_added = o.first_added AND e.org_id < o.org_id)))`)
}

// FindByID returns one version, by the hub's id, with its JSON, if the
// reader may see it (else not found).
func (s *Service) FindByID(ctx context.Context, a policy.Actor, id string) (Object, error) {
	objs, _, err := s.List(ctx, a, Filter{ID: id, All: true, AllHolders: true, Limit: 1, JSON: true})
	if err != nil {
		return Object{}, err
	}
	if len(objs) == 0 {
		return Object{}, fault.ErrNotFound
	}
	return objs[0], nil
}

// Search finds the newest objects the reader may see whose name or
// description has every word of query (by prefix), newest first: the
// newest version of each object that matches.
//
// types narrows the search to those STIX types; without them relationships
// are left out (an ATT&CK bundle holds more relationships than anything
// else, and each is listed on the pages of what it connects). A STIX id
// as the query finds that object.
func (s *Service) Search(ctx context.Context, a policy.Actor, query string, types []string, limit int) ([]Object, error) {
	if q := strings.TrimSpace(query); strings.Contains(q, "--") {
		if _, _, err := stix.ParseID(q); err == nil {
			objs, _, err := s.List(ctx, a, Filter{IDs: []string{q}, Limit: limit})
			return objs, err
		}
	}
	terms, err := policy.Terms(query)
	if err != nil {
		return nil, err
	}
	if !s.searches.Allow(a.UserID, time.Now()) {
		return nil, fault.New(fault.RateLimited, "search_rate", "too many searches in a short time: wait a few seconds")
	}
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT ` + objectColumns + `, ` + s.kind.Columns("o") + ` FROM `).Append(r.Search(h, s.kind, "o", terms)).
		Add(` JOIN orgs org ON org.id = o.org_id WHERE 1 = 1`)
	if len(types) > 0 {
		in(q, "o.stix_type", types)
	} else {
		q.Add(` AND o.stix_type <> 'relationship'`)
	}
	q.Add(` ORDER BY `+policy.SearchSeq(h, "o")+` DESC LIMIT ?`, 4*limit)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("search intel: %w", err)
	}
	all, err := db.Collect(rows, "search intel", func(sc db.Scanner) (Object, error) {
		var o Object
		var revoked int
		err := sc.Scan(s.kind.Dest(&o.Share, []any{&o.ID, &o.STIXID, &o.Type, &o.Version, &o.SpecVersion, &o.DateAdded, &o.Name, &revoked, &o.ValidUntil, &o.OrgName})...)
		o.Revoked = revoked != 0
		o.TLP, o.Audience = o.Share.TLP.String(), string(o.Share.Audience.Kind)
		return o, err
	})
	if err != nil {
		return nil, err
	}
	// One line per object: its newest matching version shown first.
	seen := map[string]bool{}
	var out []Object
	for _, o := range all {
		if !seen[o.STIXID] && len(out) < limit {
			seen[o.STIXID] = true
			out = append(out, o)
		}
	}
	return out, nil
}

// Correlated lists the other objects the reader may see that stand for
// one of the same values as object id (an indicator and an observable of
// the same address, two orgs' indicators of the same domain). The object
// itself must be visible (else not found), and each object it links to is
// judged by the predicate: a link exists for the reader only when both
// ends are theirs to see, so neither a list nor its length tells of
// hidden objects.
func (s *Service) Correlated(ctx context.Context, a policy.Actor, id string, limit int) ([]Object, error) {
	if _, err := s.FindByID(ctx, a, id); err != nil {
		return nil, err
	}
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT DISTINCT `+objectColumns+`, `+s.kind.Columns("o")+` FROM intel_values mine JOIN intel_values v ON v.kind = mine.kind AND v.value = mine.value AND v.object_id <> mine.object_id`).
		Append(r.Join(s.kind, "o", "v.object_id")).Add(` JOIN orgs org ON org.id = o.org_id WHERE mine.object_id = ? ORDER BY o.date_added DESC, o.id LIMIT ?`, id, limit)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("correlate: %w", err)
	}
	return db.Collect(rows, "correlate", func(sc db.Scanner) (Object, error) {
		var o Object
		var revoked int
		err := sc.Scan(s.kind.Dest(&o.Share, []any{&o.ID, &o.STIXID, &o.Type, &o.Version, &o.SpecVersion, &o.DateAdded, &o.Name, &revoked, &o.ValidUntil, &o.OrgName})...)
		o.Revoked = revoked != 0
		o.TLP, o.Audience = o.Share.TLP.String(), string(o.Share.Audience.Kind)
		return o, err
	})
}

// TypeCount is how many objects of a STIX type a reader may see.
type TypeCount struct {
	Type  string
	Count int
}

// CountByType counts the objects (not versions: an object with a version
// the reader may see counts once) the reader may see, by type, the most
// frequent first.
func (s *Service) CountByType(ctx context.Context, a policy.Actor) ([]TypeCount, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT o.stix_type, COUNT(DISTINCT o.stix_id) FROM `).Append(r.From(s.kind, "o")).
		Add(` GROUP BY o.stix_type ORDER BY COUNT(DISTINCT o.stix_id) DESC, o.stix_type`)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("count intel by type: %w", err)
	}
	return db.Collect(rows, "count intel by type", func(sc db.Scanner) (c TypeCount, err error) {
		err = sc.Scan(&c.Type, &c.Count)
		return c, err
	})
}
