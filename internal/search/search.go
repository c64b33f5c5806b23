// Package search is the hub's one search: GET /api/v1/search and the
// search box on every page. It asks the sharing kernel's index
// (policy.Reader.SearchAll) for every kind a capability registered as
// searchable (KindSpec.Search: forum posts, threat intelligence, articles
// today), with filters by kind, TLP, owner org and period, newest first, a
// page at a time. Each hit is named and linked by its capability
// (web.ObjectType, the same resolvers as the audit trail's, which go
// through the kernel again) and quoted from its indexed text with the
// words that matched highlighted (internal/words). Nothing the reader may
// not see is found, counted, quoted or suggested: the kernel's predicate
// decides in the query, snippets come only from the documents it returned,
// the page cursor names only a hit the reader saw, and there are no
// counts and no suggestions.
package search

import (
	"context"
	"encoding/base64"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
	"verbund/internal/words"
)

// snippetLength is the longest passage quoted from a document, in
// characters.
const snippetLength = 220

// burst is how many searches a user may run at once; the rate refills
// them (config --search-rate).
const burst = 20

// Service is the hub's search.
type Service struct {
	DB     *db.DB
	Kernel *policy.Kernel
	// Resolve names objects for a reader (web.Server.Resolve).
	Resolve func(ctx context.Context, a policy.Actor, typ string, ids []string) (map[string]web.Ref, error)
	// searches limits each user's searches: a search takes longer the
	// more documents match, seen or not, and that time must not be cheap
	// to measure.
	searches *web.Limiter
}

// New returns the search over the kernel's searchable kinds.
func New(d *db.DB, k *policy.Kernel) *Service {
	return &Service{DB: d, Kernel: k, searches: web.NewLimiter(burst, 1)}
}

// SetSearchRate sets how many searches a user may run per minute after a
// burst.
func (s *Service) SetSearchRate(perMinute int) {
	s.searches = web.NewLimiter(burst, float64(perMinute)/60)
}

// Query is a search as a client asks it.
type Query struct {
	Q      string
	Types  []string // kinds ("post", "intel", "article"); none: all
	Levels []string // TLP levels; none: all
	Org    string   // owner org id; "": any
	From   string   // YYYY-MM-DD, first day shared (the hub's display time zone); "": open
	To     string   // YYYY-MM-DD, last day shared; "": open
	Next   string
	Limit  int
}

// Item is one result: what it is, its name and page as its capability
// gives them to this reader, and the passage that matched.
type Item struct {
	Type       string       `json:"type"`
	ID         string       `json:"id"`
	Title      string       `json:"title"`
	Snippet    string       `json:"snippet"`
	Marks      []words.Span `json:"marks"`                 // the matched words in snippet (runes)
	TitleMarks []words.Span `json:"title_marks,omitempty"` // the matched words in title
	URL        string       `json:"url"`
	TLP        policy.TLP   `json:"tlp"`
	OrgID      string       `json:"org_id"`
	OrgName    string       `json:"org_name"`
	CreatedAt  int64        `json:"created_at"`
}

// SnippetHTML is the snippet with its matches marked, escaped for a page.
func (it Item) SnippetHTML() template.HTML { return Mark(it.Snippet, it.Marks) }

// TitleHTML is the title with its matches marked, escaped for a page.
func (it Item) TitleHTML() template.HTML { return Mark(it.Title, it.TitleMarks) }

// Mark escapes text and wraps the spans in <mark>.
func Mark(text string, spans []words.Span) template.HTML {
	rs := []rune(text)
	var b strings.Builder
	at := 0
	for _, sp := range spans {
		if sp.Start < at || sp.End > len(rs) || sp.Start >= sp.End {
			continue
		}
		b.WriteString(template.HTMLEscapeString(string(rs[at:sp.Start])))
		b.WriteString("<mark>")
		b.WriteString(template.HTMLEscapeString(string(rs[sp.Start:sp.End])))
		b.WriteString("</mark>")
		at = sp.End
	}
	b.WriteString(template.HTMLEscapeString(string(rs[at:])))
	return template.HTML(b.String()) // #nosec G203 -- every part escaped above
}

// Types lists the searchable kinds by name.
func (s *Service) Types() []string {
	var out []string
	for _, k := range s.Kernel.Searchable() {
		out = append(out, k.Name())
	}
	return out
}

func badCursor() error {
	return fault.BadInput("next", "bad_cursor", "the page cursor is not valid: start from the first page")
}

// cursor is the opaque page cursor: the last result's kind and id (a hit
// the reader saw; SearchAll refuses any other).
func cursor(h policy.Hit) string {
	return base64.RawURLEncoding.EncodeToString([]byte(h.Kind + "\x00" + h.ID))
}

func decodeCursor(c string) (kind, id string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 200 {
		return "", "", badCursor()
	}
	kind, id, ok := strings.Cut(string(b), "\x00")
	if !ok || kind == "" || id == "" || !web.ValidText(id) {
		return "", "", badCursor()
	}
	return kind, id, nil
}

// Search runs a search for actor a. It returns the page's results and the
// cursor of the next page ("" at the end).
func (s *Service) Search(ctx context.Context, a policy.Actor, q Query) ([]Item, string, error) {
	if q.Limit <= 0 || q.Limit > 100 {
		q.Limit = 20
	}
	terms, err := policy.Terms(q.Q)
	if err != nil {
		return nil, "", err
	}
	f := policy.SearchFilter{Limit: q.Limit, Owner: strings.TrimSpace(q.Org)}
	all := s.Kernel.Searchable()
	if len(q.Types) == 0 {
		f.Kinds, f.AllKinds = all, true
	}
	for _, t := range q.Types {
		i := slices.IndexFunc(all, func(k *policy.Kind) bool { return k.Name() == t })
		if i < 0 {
			return nil, "", fault.BadInput("type", "bad_search_type", `there is nothing of type "{type}" to search: use {types}`).
				With("type", t).With("types", strings.Join(s.Types(), ", "))
		}
		if !slices.Contains(f.Kinds, all[i]) {
			f.Kinds = append(f.Kinds, all[i])
		}
	}
	for _, l := range q.Levels {
		tlp, err := policy.ParseTLP(l)
		if err != nil {
			return nil, "", err
		}
		if !slices.Contains(f.Levels, tlp) {
			f.Levels = append(f.Levels, tlp)
		}
	}
	// Days in the hub's display time zone, as the audit page reads them;
	// the last day counts whole.
	if f.From, _, err = web.Day("from", "from", "search.from", strings.TrimSpace(q.From)); err != nil {
		return nil, "", err
	}
	if _, f.To, err = web.Day("to", "to", "search.to", strings.TrimSpace(q.To)); err != nil {
		return nil, "", err
	}
	if f.From > 0 && f.To > 0 && f.To <= f.From {
		return nil, "", fault.BadInput("to", "bad_search_period", "the period ends before it begins")
	}
	if q.Next != "" {
		if f.AfterKind, f.AfterID, err = decodeCursor(q.Next); err != nil {
			return nil, "", err
		}
	}
	if !s.searches.Allow(a.UserID, time.Now()) {
		return nil, "", fault.New(fault.RateLimited, "search_rate", "too many searches in a short time: wait a few seconds")
	}
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, "", err
	}
	hits, more, err := r.SearchAll(ctx, h, terms, f)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if more && len(hits) > 0 {
		next = cursor(hits[len(hits)-1])
	}
	items, err := s.items(ctx, a, hits, words.Terms(terms))
	return items, next, err
}

// items names, links and quotes the hits. A hit its capability does not
// name for the reader (gone since, or not visible after all) is left out.
func (s *Service) items(ctx context.Context, a policy.Actor, hits []policy.Hit, terms []words.Term) ([]Item, error) {
	byKind := map[string][]string{}
	owners := map[string]bool{}
	for _, hit := range hits {
		byKind[hit.Kind] = append(byKind[hit.Kind], hit.ID)
		owners[hit.Owner] = true
	}
	refs := map[string]map[string]web.Ref{}
	for kind, ids := range byKind {
		if s.Resolve == nil {
			break
		}
		rs, err := s.Resolve(ctx, a, kind, ids)
		if err != nil {
			return nil, err
		}
		refs[kind] = rs
	}
	names, err := s.orgNames(ctx, owners)
	if err != nil {
		return nil, err
	}
	out := make([]Item, 0, len(hits))
	for _, hit := range hits {
		ref, ok := refs[hit.Kind][hit.ID]
		if s.Resolve != nil && !ok {
			continue
		}
		title := ref.Name
		if title == "" {
			title = hit.Title
		}
		text := hit.Body
		if strings.TrimSpace(text) == "" {
			text = hit.Title
		}
		snippet, marks := words.Snippet(text, terms, snippetLength)
		out = append(out, Item{Type: hit.Kind, ID: hit.ID, Title: title, TitleMarks: words.Spans(title, terms), Snippet: snippet, Marks: marks,
			URL: ref.URL, TLP: hit.TLP, OrgID: hit.Owner, OrgName: names[hit.Owner], CreatedAt: hit.CreatedAt})
	}
	return out, nil
}

// orgNames names the owner orgs of the hits (objects the reader sees:
// their owners are named on every page that shows them).
func (s *Service) orgNames(ctx context.Context, ids map[string]bool) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, 0, len(ids))
	for id := range ids {
		args = append(args, id)
	}
	rows, err := s.DB.R().Query(ctx, `SELECT id, name FROM orgs WHERE id IN (`+db.Placeholders(len(args))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("name orgs: %w", err)
	}
	pairs, err := db.Collect(rows, "name orgs", func(sc db.Scanner) (p [2]string, err error) { err = sc.Scan(&p[0], &p[1]); return p, err })
	for _, p := range pairs {
		out[p[0]] = p[1]
	}
	return out, err
}

// Orgs lists the orgs a reader may filter by: their own, their partners
// and the members of their trust circles (whom the reader knows).
func (s *Service) Orgs(ctx context.Context, a policy.Actor) ([]policy.Option, error) {
	h := s.DB.R()
	v, err := policy.LoadView(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	known := map[string]bool{a.OrgID: true}
	for o := range v.Partners {
		known[o] = true
	}
	for _, m := range v.Communities {
		for o := range m {
			known[o] = true
		}
	}
	args := make([]any, 0, len(known))
	for o := range known {
		args = append(args, o)
	}
	rows, err := h.Query(ctx, `SELECT id, name FROM orgs WHERE id IN (`+db.Placeholders(len(args))+`) ORDER BY name_key`, args...)
	if err != nil {
		return nil, fmt.Errorf("filter orgs: %w", err)
	}
	return db.Collect(rows, "filter orgs", func(sc db.Scanner) (o policy.Option, err error) { err = sc.Scan(&o.ID, &o.Name); return o, err })
}
