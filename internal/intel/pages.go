package intel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// The web pages of threat intelligence: the list of what the reader may
// see (search, filter by type, a chart by type), an object's page with its
// relationships and sightings and the button "we saw this too", lookups of
// values, the import of a bundle file and the TAXII connection details.
// Every page reads through the service, so through policy.Reader: what
// the reader may not see is on no page.

// pages serves the HTML pages.
type pages struct {
	svc *Service
	srv *web.Server
	tpl *web.Templates
}

// pageSize is how many objects a page of the list shows.
const pageSize = 50

// registerPages adds the pages and the navigation entry.
func registerPages(srv *web.Server, svc *Service) error {
	tpl, err := srv.Templates(files, "templates/*.html")
	if err != nil {
		return err
	}
	p := &pages{svc: svc, srv: srv, tpl: tpl}
	srv.AddNav(web.NavItem{Key: "intel", Path: "/intel", Label: "nav.intel", Shortcut: "intel", Go: "i"})
	r := srv.Router
	r.Handle("GET /intel", web.Read, p.listPage)
	r.Handle("GET /intel/objects/{id}", web.Read, p.objectPage)
	// A sighting as its object's page lists it (live inserts).
	r.Handle("GET /intel/objects/{id}/fragment", web.Read, p.objectFragment)
	r.Handle("POST /intel/objects/{id}/sightings", web.Write, p.sightForm)
	// The newest objects of an import, as the list shows them (live
	// inserts: announceAdded).
	r.Handle("GET /intel/added", web.Read, p.addedRows)
	r.Handle("GET /intel/lookup", web.Read, p.lookupPage)
	// Many values do not fit in a URL; a lookup only reads.
	r.Handle("POST /intel/lookup", web.Query, p.lookupForm)
	r.Handle("GET /intel/import", web.Read, p.importPage)
	r.HandleUpload("POST /intel/import", web.Write, p.importForm)
	r.Handle("GET /intel/taxii", web.Read, p.taxiiPage)
	return nil
}

func (p *pages) t(r *http.Request, key string, args ...any) string {
	return p.srv.Catalog.T(p.srv.Lang(r), key, args...)
}

// typeLabel names a STIX type in the reader's language: the catalogue's
// name for the common types, the type itself for the rest.
func (p *pages) typeLabel(lang, typ string) string {
	if k := "intel.type." + strings.ReplaceAll(typ, "-", "_"); p.srv.Catalog.Has(k) {
		return p.srv.Catalog.T(lang, k)
	}
	return typ
}

// relLabel names a relationship type ("indicates") in the reader's
// language, or as it is.
func (p *pages) relLabel(lang, rel string) string {
	if k := "intel.rel." + strings.ReplaceAll(rel, "-", "_"); p.srv.Catalog.Has(k) {
		return p.srv.Catalog.T(lang, k)
	}
	return rel
}

// ---------- Showing objects ----------

// Item is an object as a page lists it.
type Item struct {
	Object
	Label     string // its name, or what stands for it (a relationship's ends, an observable's value)
	TypeLabel string
	Expired   bool
}

// stixTime reads a STIX timestamp as Unix µs (0 for none).
func stixTime(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0
	}
	return t.UnixMicro()
}

// facts are the properties of an object's JSON that pages show.
type facts struct {
	Name             string   `json:"name"`
	Value            string   `json:"value"`
	Description      string   `json:"description"`
	Pattern          string   `json:"pattern"`
	PatternType      string   `json:"pattern_type"`
	ValidFrom        string   `json:"valid_from"`
	ValidUntil       string   `json:"valid_until"`
	Confidence       *int     `json:"confidence"`
	Created          string   `json:"created"`
	Modified         string   `json:"modified"`
	FirstSeen        string   `json:"first_seen"`
	LastSeen         string   `json:"last_seen"`
	Published        string   `json:"published"`
	Count            *int     `json:"count"`
	RelationshipType string   `json:"relationship_type"`
	SourceRef        string   `json:"source_ref"`
	TargetRef        string   `json:"target_ref"`
	SightingOfRef    string   `json:"sighting_of_ref"`
	ObjectRefs       []string `json:"object_refs"`
	Aliases          []string `json:"aliases"`
	Labels           []string `json:"labels"`
	IndicatorTypes   []string `json:"indicator_types"`
	MalwareTypes     []string `json:"malware_types"`
	ReportTypes      []string `json:"report_types"`
	ThreatActorTypes []string `json:"threat_actor_types"`
	Sectors          []string `json:"sectors"`
	KillChainPhases  []struct {
		KillChainName string `json:"kill_chain_name"`
		PhaseName     string `json:"phase_name"`
	} `json:"kill_chain_phases"`
	ExternalReferences []struct {
		SourceName  string `json:"source_name"`
		ExternalID  string `json:"external_id"`
		URL         string `json:"url"`
		Description string `json:"description"`
	} `json:"external_references"`
}

func factsOf(o Object) facts {
	var f facts
	_ = json.Unmarshal(o.JSON, &f)
	return f
}

// refsOfPage lists the STIX ids the labels of objs name (relationships'
// ends, what sightings saw).
func refsOfPage(objs []Object) []string {
	var out []string
	for _, o := range objs {
		if o.Name != "" || len(o.JSON) == 0 {
			continue
		}
		f := factsOf(o)
		for _, ref := range []string{f.SourceRef, f.TargetRef, f.SightingOfRef} {
			if ref != "" && !slices.Contains(out, ref) {
				out = append(out, ref)
			}
		}
	}
	return out
}

// visible reads the newest versions of the objects ids the reader may
// see, by STIX id (with their JSON when withJSON).
func (p *pages) visible(ctx context.Context, a policy.Actor, ids []string, withJSON bool) (map[string]Object, error) {
	out := map[string]Object{}
	for start := 0; start < len(ids); start += 200 {
		part := ids[start:min(start+200, len(ids))]
		objs, _, err := p.svc.List(ctx, a, Filter{IDs: part, Limit: 2*len(part) + 10, JSON: withJSON})
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			out[o.STIXID] = o
		}
	}
	return out, nil
}

// items prepares objects for a page: each with its label (the names of a
// relationship's ends and of what a sighting saw are looked up, as the
// reader may see them).
func (p *pages) items(ctx context.Context, r *http.Request, objs []Object) ([]Item, error) {
	names := map[string]string{}
	if refs := refsOfPage(objs); len(refs) > 0 {
		found, err := p.visible(ctx, web.ActorFrom(r), refs, true)
		if err != nil {
			return nil, err
		}
		lang := p.srv.Lang(r)
		for id, o := range found {
			names[id] = p.label(lang, o, nil)
		}
	}
	lang := p.srv.Lang(r)
	now := db.Now()
	out := make([]Item, len(objs))
	for i, o := range objs {
		out[i] = Item{Object: o, Label: p.label(lang, o, names), TypeLabel: p.typeLabel(lang, o.Type),
			Expired: o.ValidUntil != 0 && o.ValidUntil <= now}
	}
	return out, nil
}

// label is what a page calls an object: its name; for a relationship its
// ends and type, for a sighting what it saw, for an observable its value,
// else its type. names maps STIX ids to the labels of the objects the
// reader may see; an end the reader may not see is named by its type.
func (p *pages) label(lang string, o Object, names map[string]string) string {
	if o.Name != "" {
		return o.Name
	}
	f := factsOf(o)
	name := func(ref string) string {
		if n, ok := names[ref]; ok {
			return n
		}
		typ, _, _ := strings.Cut(ref, "--")
		return p.typeLabel(lang, typ)
	}
	switch {
	case f.Name != "":
		return f.Name
	case o.Type == "relationship" && f.SourceRef != "":
		return name(f.SourceRef) + " " + p.relLabel(lang, f.RelationshipType) + " " + name(f.TargetRef)
	case o.Type == "sighting" && f.SightingOfRef != "":
		return p.srv.Catalog.T(lang, "intel.sighting_of", "name", name(f.SightingOfRef))
	case f.Value != "":
		return f.Value
	}
	return p.typeLabel(lang, o.Type)
}

// ---------- The list ----------

// typeEntry is one type in the filter and the chart.
type typeEntry struct {
	Type, Label string
	Count       int
	Width       int // 0..100 in steps of 5 (CSS classes w-0 … w-100)
	Current     bool
}

type listData struct {
	Query     string
	Type      string // the type filter ("" for every type)
	TypeLabel string
	Types     []typeEntry // every type the reader may see, the most frequent first
	Chart     []typeEntry // the chart: the most frequent types
	Total     int         // objects of every type
	Listed    int         // objects the list without a type filter holds: every type but relationships
	Items     []Item
	Next      string // the next page's cursor
	Later     bool   // a page after the first
	CanImport bool
	LiveRows  bool // the list takes new objects live (the unfiltered first page)
	Error     *fault.Error
}

// chartTypes is how many bars the chart has; the rest are counted in one.
const chartTypes = 8

func (p *pages) listPage(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	ctx := r.Context()
	q := r.URL.Query()
	lang := p.srv.Lang(r)
	d := listData{Query: strings.TrimSpace(q.Get("q")), Type: q.Get("type"), Later: q.Get("next") != "", CanImport: a.CanWrite()}
	counts, err := p.svc.CountByType(ctx, a)
	if err != nil {
		return err
	}
	most := 0
	for _, c := range counts {
		d.Total += c.Count
		if c.Type != "relationship" {
			d.Listed += c.Count
		}
		most = max(most, c.Count)
	}
	for _, c := range counts {
		e := typeEntry{Type: c.Type, Label: p.typeLabel(lang, c.Type), Count: c.Count, Current: c.Type == d.Type}
		if most > 0 {
			e.Width = web.BarWidth(c.Count, most)
		}
		d.Types = append(d.Types, e)
	}
	d.Chart = d.Types[:min(len(d.Types), chartTypes)]
	if len(d.Types) > chartTypes {
		rest := typeEntry{Label: p.t(r, "intel.other_types")}
		for _, e := range d.Types[chartTypes:] {
			rest.Count += e.Count
		}
		rest.Width = web.BarWidth(rest.Count, most)
		d.Chart = append(slices.Clone(d.Chart), rest)
	}
	if d.Type != "" {
		d.TypeLabel = p.typeLabel(lang, d.Type)
	}
	var objs []Object
	status := http.StatusOK
	if d.Query != "" {
		var types []string
		if d.Type != "" {
			types = []string{d.Type}
		}
		objs, err = p.svc.Search(ctx, a, d.Query, types, pageSize)
	} else {
		// Relationships are listed on the pages of the objects they
		// connect (and under their own type), not among everything: an
		// ATT&CK bundle holds more relationships than anything else.
		f := Filter{Limit: pageSize, After: q.Get("next"), JSON: true, Newest: true, NotTypes: []string{"relationship"}}
		if d.Type != "" {
			f.Types, f.NotTypes = []string{d.Type}, nil
		}
		objs, d.Next, err = p.svc.List(ctx, a, f)
	}
	if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
		d.Error, status, err = e, web.Status(e.Kind), nil
	}
	if err != nil {
		return err
	}
	if d.Items, err = p.items(ctx, r, objs); err != nil {
		return err
	}
	// The unfiltered first page takes new objects live (announceAdded).
	d.LiveRows = d.Query == "" && d.Type == "" && !d.Later
	pg := web.Page{Nav: "intel", Data: d, Title: p.t(r, "intel.title"), Live: "/events?topic=intel"}
	return p.tpl.Render(w, r, status, "list", pg)
}

// ---------- An object ----------

// Ref is an object another one refers to: shown with its page if the
// reader may see it, else by its STIX id.
type Ref struct {
	STIXID string
	Item   *Item
}

// Related is an object that refers to the page's object: a relationship
// (with its other end) or a report that lists it.
type Related struct {
	Item
	Relation string // the relationship's type, in the reader's language ("" for a report)
	Outgoing bool   // the page's object is the relationship's source
	Other    *Ref   // the relationship's other end
}

// Sighting is one sighting of the page's object.
type Sighting struct {
	Item
	Count               int
	FirstSeen, LastSeen int64
	Description         string
}

type objectData struct {
	Item
	Facts       facts
	Names       []string // the named orgs or people of its audience
	ValidFrom   int64
	ValidUntil  int64
	Created     int64
	Modified    int64
	FirstSeen   int64
	LastSeen    int64
	Published   int64
	JSON        string // indented
	Source      *Ref   // a relationship's ends
	Target      *Ref
	Relation    string // a relationship's type, in the reader's language
	SightingOf  *Ref   // what a sighting saw
	Contents    []Ref  // a report's objects
	Related     []Related
	Sightings   []Sighting
	Seen        int   // the sightings' counts, added up
	Sightable   bool  // a domain object (not a relationship, sighting or observable): it can be seen
	CanSight    bool  // the reader may report a sighting of it
	RelayOrgs   []Org // a CERT's: the orgs it may report it for, unnamed
	ToCircle    bool  // it was shared with a circle: a sighting may go there
	Levels      []policy.TLP
	Error       *fault.Error
	SightingTLP string
}

func (p *pages) objectPage(w http.ResponseWriter, r *http.Request) error {
	if id := r.PathValue("id"); strings.Contains(id, "--") {
		// A STIX id, as analysts pass them around: the newest version of
		// it the reader may see (none: not found, like any id).
		objs, _, err := p.svc.List(r.Context(), web.ActorFrom(r), Filter{IDs: []string{id}, Limit: 1, Newest: true})
		if err != nil {
			return err
		}
		if len(objs) == 0 {
			return fault.ErrNotFound
		}
		http.Redirect(w, r, "/intel/objects/"+objs[0].ID, http.StatusSeeOther) // #nosec G710 -- a local path with an id the hub made
		return nil
	}
	return p.renderObject(w, r, http.StatusOK, nil)
}

func (p *pages) renderObject(w http.ResponseWriter, r *http.Request, status int, formErr *fault.Error) error {
	a := web.ActorFrom(r)
	ctx := r.Context()
	o, err := p.svc.FindByID(ctx, a, r.PathValue("id"))
	if err != nil {
		return err
	}
	d := objectData{Facts: factsOf(o), Error: formErr, SightingTLP: "AMBER"}
	if formErr != nil {
		d.SightingTLP = r.PostFormValue("tlp")
	}
	var ids []string
	add := func(ref string) {
		if ref != "" && !slices.Contains(ids, ref) {
			ids = append(ids, ref)
		}
	}
	add(d.Facts.SourceRef)
	add(d.Facts.TargetRef)
	add(d.Facts.SightingOfRef)
	for _, ref := range d.Facts.ObjectRefs[:min(len(d.Facts.ObjectRefs), 200)] {
		add(ref)
	}
	// What refers to it: relationships, reports, sightings.
	referring, _, err := p.svc.List(ctx, a, Filter{RefersTo: o.STIXID, Limit: 500, JSON: true, Newest: true})
	if err != nil {
		return err
	}
	for _, x := range referring {
		f := factsOf(x)
		if x.Type == "relationship" {
			other := f.TargetRef
			if other == o.STIXID {
				other = f.SourceRef
			}
			add(other)
		}
	}
	found, err := p.visible(ctx, a, ids, true)
	if err != nil {
		return err
	}
	var all []Object
	for _, x := range found {
		all = append(all, x)
	}
	all = append(all, o)
	all = append(all, referring...)
	items, err := p.items(ctx, r, all)
	if err != nil {
		return err
	}
	byID := map[string]*Item{}
	for i := range items[:len(found)] {
		byID[items[i].STIXID] = &items[i]
	}
	d.Item = items[len(found)]
	ref := func(id string) *Ref {
		if id == "" {
			return nil
		}
		return &Ref{STIXID: id, Item: byID[id]}
	}
	d.Source, d.Target, d.SightingOf = ref(d.Facts.SourceRef), ref(d.Facts.TargetRef), ref(d.Facts.SightingOfRef)
	d.Relation = p.relLabel(p.srv.Lang(r), d.Facts.RelationshipType)
	for _, id := range d.Facts.ObjectRefs[:min(len(d.Facts.ObjectRefs), 200)] {
		d.Contents = append(d.Contents, *ref(id))
	}
	lang := p.srv.Lang(r)
	for i, x := range referring {
		it := items[len(found)+1+i]
		f := factsOf(x)
		switch {
		case x.Type == "sighting" && f.SightingOfRef == o.STIXID:
			s := Sighting{Item: it, FirstSeen: stixTime(f.FirstSeen), LastSeen: stixTime(f.LastSeen), Description: f.Description, Count: 1}
			if f.Count != nil {
				s.Count = *f.Count
			}
			d.Seen += s.Count
			d.Sightings = append(d.Sightings, s)
		case x.Type == "relationship":
			rel := Related{Item: it, Relation: p.relLabel(lang, f.RelationshipType), Outgoing: f.SourceRef == o.STIXID}
			if rel.Outgoing {
				rel.Other = ref(f.TargetRef)
			} else {
				rel.Other = ref(f.SourceRef)
			}
			d.Related = append(d.Related, rel)
		default:
			d.Related = append(d.Related, Related{Item: it})
		}
	}
	if d.Names, err = p.audienceNames(ctx, o.Share.Audience); err != nil {
		return err
	}
	d.ValidFrom, d.ValidUntil = stixTime(d.Facts.ValidFrom), stixTime(d.Facts.ValidUntil)
	d.Created, d.Modified = stixTime(d.Facts.Created), stixTime(d.Facts.Modified)
	d.FirstSeen, d.LastSeen, d.Published = stixTime(d.Facts.FirstSeen), stixTime(d.Facts.LastSeen), stixTime(d.Facts.Published)
	var buf bytes.Buffer
	if json.Indent(&buf, o.JSON, "", "  ") == nil {
		d.JSON = buf.String()
	} else {
		d.JSON = string(o.JSON)
	}
	d.Sightable = Sightable(o.Type)
	d.CanSight = a.CanWrite() && d.Sightable
	if d.CanSight {
		if d.RelayOrgs, err = p.svc.RelayOrgs(ctx, a); err != nil {
			return err
		}
	}
	d.ToCircle = o.Share.Audience.Kind == policy.AudCommunity
	d.Levels = []policy.TLP{policy.Green, policy.Amber, policy.AmberStrict}
	pg := web.Page{Nav: "intel", Data: d, Title: d.Label, Live: "/events?topic=intel:" + o.STIXID}
	return p.tpl.Render(w, r, status, "object", pg)
}

// audienceNames names who an object was shared with: the named orgs or
// people, or the trust circle.
func (p *pages) audienceNames(ctx context.Context, aud policy.Audience) ([]string, error) {
	if aud.Kind != policy.AudCommunity {
		return policy.AudienceNames(ctx, p.svc.DB.R(), aud)
	}
	var name string
	if err := p.svc.DB.R().QueryRow(ctx, `SELECT name FROM communities WHERE id = ?`, aud.Community).Scan(&name); err != nil {
		return nil, db.NotFound(err, "name the trust circle")
	}
	return []string{name}, nil
}

// objectFragment is an object as its target's page lists it among the
// sightings (for a sighting that arrives live).
func (p *pages) objectFragment(w http.ResponseWriter, r *http.Request) error {
	o, err := p.svc.FindByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	items, err := p.items(r.Context(), r, []Object{o})
	if err != nil {
		return err
	}
	f := factsOf(o)
	s := Sighting{Item: items[0], FirstSeen: stixTime(f.FirstSeen), LastSeen: stixTime(f.LastSeen), Description: f.Description, Count: 1}
	if f.Count != nil {
		s.Count = *f.Count
	}
	return p.tpl.Fragment(w, r, "object", web.Page{Data: s})
}

// addedRows renders, as rows of the list, the newest objects (up to a
// page, relationships left out like the list does) added between from
// and to (Unix µs, inclusive) that the reader may see.
func (p *pages) addedRows(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
	to, err2 := strconv.ParseInt(q.Get("to"), 10, 64)
	if err1 != nil || err2 != nil || from < 1 || to < from {
		return fault.BadInput("from", "bad_range", "from and to must be times in microseconds, from not after to")
	}
	objs, _, err := p.svc.List(r.Context(), web.ActorFrom(r), Filter{Limit: pageSize, JSON: true, Newest: true,
		NotTypes: []string{"relationship"}, AddedAfter: from - 1, AddedUntil: to})
	if err != nil {
		return err
	}
	items, err := p.items(r.Context(), r, objs)
	if err != nil {
		return err
	}
	return p.tpl.Fragment(w, r, "list", web.Page{Data: items})
}

// sightForm reports that the reader's org saw the object too.
func (p *pages) sightForm(w http.ResponseWriter, r *http.Request) error {
	in := SightingInput{Description: r.PostFormValue("description"), TLP: r.PostFormValue("tlp"), ShareWith: r.PostFormValue("share_with"),
		OnBehalfOf: r.PostFormValue("on_behalf_of")}
	if c := strings.TrimSpace(r.PostFormValue("count")); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil {
			return p.renderObject(w, r, http.StatusBadRequest, fault.BadInput("count", "bad_count", "the count must be between 1 and 999,999,999"))
		}
		in.Count = n
	}
	_, err := p.svc.Sight(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if e, ok := fault.As(err); ok && (e.Kind == fault.Invalid || e.Kind == fault.Forbidden) {
		return p.renderObject(w, r, web.Status(e.Kind), e)
	}
	if err != nil {
		return err
	}
	return web.Redirect(w, r, "/intel/objects/"+r.PathValue("id")+"#sightings", "sighting_reported")
}

// ---------- Lookups ----------

type lookupData struct {
	Value   string // the one value asked (GET)
	Values  string // the values asked (POST), one a line
	Asked   bool
	Many    bool
	Results []Found // the values that matched
	Shown   int     // results shown (a batch shows at most maxShownResults)
	Matched int
	Total   int
	Unknown []string // values of no kind a lookup knows (the first few)
	Error   *fault.Error
}

// Found is a looked-up value that matched, with the name of its kind.
type Found struct {
	Result
	KindLabel string
}

const (
	maxShownResults = 500
	maxShownUnknown = 20
)

func (p *pages) lookupPage(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query().Get("value")
	d := lookupData{Value: v}
	if strings.TrimSpace(v) == "" {
		return p.renderLookup(w, r, http.StatusOK, d)
	}
	return p.lookup(w, r, d, []string{strings.TrimSpace(v)})
}

func (p *pages) lookupForm(w http.ResponseWriter, r *http.Request) error {
	text := r.PostFormValue("values")
	d := lookupData{Values: text, Many: true}
	var values []string
	for line := range strings.Lines(text) {
		if v := strings.TrimSpace(line); v != "" {
			values = append(values, v)
		}
	}
	if len(values) == 0 {
		d.Error = fault.BadInput("values", "value_missing", "name the value to look up: ?value=198.51.100.3")
		return p.renderLookup(w, r, http.StatusBadRequest, d)
	}
	return p.lookup(w, r, d, values)
}

func (p *pages) lookup(w http.ResponseWriter, r *http.Request, d lookupData, values []string) error {
	rs, err := p.svc.Lookup(r.Context(), web.ActorFrom(r), values)
	if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
		d.Error = e
		return p.renderLookup(w, r, web.Status(e.Kind), d)
	}
	if err != nil {
		return err
	}
	d.Asked, d.Total = true, len(values)
	for _, x := range rs {
		switch {
		case len(x.Matches) > 0:
			d.Matched++
			if len(d.Results) < maxShownResults {
				d.Results = append(d.Results, Found{Result: x, KindLabel: p.kindLabel(r, x.Kind)})
			}
		case x.Kind == "" && len(d.Unknown) < maxShownUnknown:
			d.Unknown = append(d.Unknown, x.Value)
		}
	}
	d.Shown = len(d.Results)
	return p.renderLookup(w, r, http.StatusOK, d)
}

// kindLabel names a kind of looked-up value ("ipv4": "IPv4 address").
func (p *pages) kindLabel(r *http.Request, kind string) string {
	if k := "intel.kind." + kind; p.srv.Catalog.Has(k) {
		return p.t(r, k)
	}
	return kind
}

func (p *pages) renderLookup(w http.ResponseWriter, r *http.Request, status int, d lookupData) error {
	pg := web.Page{Nav: "intel", Data: d, Title: p.t(r, "intel.lookup.title")}
	return p.tpl.Render(w, r, status, "lookup", pg)
}

// ---------- Import ----------

// Root is an API root of the reader (their org's or one of its circles'),
// as pages name it: where an import may go, what a TAXII client reads.
type Root struct {
	ID, Name  string
	Community bool
}

// roots lists the reader's API roots: their org's, then their circles'.
func (p *pages) roots(ctx context.Context, a policy.Actor) ([]Root, error) {
	rs, err := (backend{s: p.svc}).roots(ctx, a)
	out := make([]Root, len(rs))
	for i, x := range rs {
		out[i] = Root{ID: x.name, Name: x.title, Community: x.community}
	}
	return out, err
}

type importData struct {
	Roots     []Root // where the objects may go: the own org, its circles
	TLP       string
	Community string
	Levels    []policy.TLP
	Report    *Report
	Errors    []Refusal // the first refusals
	More      int       // refusals not shown
	FileName  string
	CanImport bool
	Error     *fault.Error
}

// Refusal is a refused object as the import's report shows it: its place
// in the bundle counted from 1.
type Refusal struct {
	ItemError
	Position int
}

// shownErrors is how many refusals the result page lists.
const shownErrors = 20

func (p *pages) importPage(w http.ResponseWriter, r *http.Request) error {
	return p.renderImport(w, r, http.StatusOK, importData{TLP: "AMBER"})
}

func (p *pages) renderImport(w http.ResponseWriter, r *http.Request, status int, d importData) error {
	a := web.ActorFrom(r)
	var err error
	if d.Roots, err = p.roots(r.Context(), a); err != nil {
		return err
	}
	d.CanImport = a.CanWrite()
	// RED is for named people, which an import does not name.
	d.Levels = []policy.TLP{policy.Clear, policy.Green, policy.Amber, policy.AmberStrict}
	if d.Report != nil {
		for _, e := range d.Report.Errors[:min(len(d.Report.Errors), shownErrors)] {
			d.Errors = append(d.Errors, Refusal{ItemError: e, Position: e.Index + 1})
		}
		d.More = d.Report.Rejected - len(d.Errors)
	}
	pg := web.Page{Nav: "intel", Data: d, Title: p.t(r, "intel.import.title")}
	return p.tpl.Render(w, r, status, "import", pg)
}

// importForm imports the uploaded bundle as it arrives: the form's fields
// come first (the CSRF token, the level, the circle), the file last; it is
// never held in memory or on disk.
func (p *pages) importForm(w http.ResponseWriter, r *http.Request) error {
	// An import of a large bundle outlasts the server's read and write
	// timeouts, which are for pages.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	a := web.ActorFrom(r)
	d := importData{TLP: "AMBER"}
	// The same bound as the API's: an upload is not a way around it.
	r.Body = http.MaxBytesReader(w, r.Body, maxBundle)
	mr, err := r.MultipartReader()
	if err != nil {
		return fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
	}
	field := func(part io.Reader) (string, error) {
		b, err := io.ReadAll(io.LimitReader(part, 1024))
		if err != nil {
			return "", fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
		}
		if !web.ValidText(string(b)) {
			return "", fault.BadInput("form", "bad_text", "the input contains bytes or values that are not valid text (for example a NUL character)")
		}
		return strings.TrimSpace(string(b)), nil
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
		}
		switch part.FormName() {
		case "tlp":
			if d.TLP, err = field(part); err != nil {
				return err
			}
		case "community":
			if d.Community, err = field(part); err != nil {
				return err
			}
		case "bundle":
			if part.FileName() == "" {
				continue // no file chosen: the browser sends an empty part
			}
			d.FileName = part.FileName()
			if !web.ValidText(d.FileName) {
				d.FileName = ""
			}
			if err := p.importChecks(r, a, d); err != nil {
				if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
					d.Error = e
					return p.renderImport(w, r, web.Status(e.Kind), d)
				}
				return err
			}
			rep, err := p.svc.Import(r.Context(), a, part, ImportOptions{TLP: d.TLP, Community: d.Community, Via: "web"})
			if e, ok := fault.As(err); ok && rep.Accepted+rep.Rejected == 0 && e.Kind != fault.Internal {
				d.Error = e
				return p.renderImport(w, r, web.Status(e.Kind), d)
			}
			if err != nil && rep.Accepted+rep.Rejected == 0 {
				return err
			}
			if e, ok := fault.As(err); ok {
				d.Error = e // the bundle broke off after some objects: say where
			} else if err != nil {
				p.srv.Log.Error("intel import ended early", "err", err)
				d.Error = fault.Wrap(fault.Invalid, "bad_bundle", "the bundle cannot be read on: {reason}", err).With("reason", firstLine(err))
			}
			d.Report = &rep
			return p.renderImport(w, r, http.StatusOK, d)
		}
	}
	d.Error = fault.BadInput("bundle", "bundle_missing", "choose a bundle file (STIX 2.1, JSON) to import")
	return p.renderImport(w, r, http.StatusBadRequest, d)
}

// importChecks refuses, before the file is read, a level or circle the
// form may not name: a circle that is not one of the org's, a level its
// audience does not allow (which would refuse every unmarked object).
func (p *pages) importChecks(r *http.Request, a policy.Actor, d importData) error {
	l, err := policy.ParseTLP(d.TLP)
	if err != nil {
		return err
	}
	aud := policy.Audience{Kind: policy.AudOrg}
	if d.Community != "" {
		rs, err := p.roots(r.Context(), a)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(rs, func(x Root) bool { return x.Community && x.ID == d.Community }) {
			return fault.BadInput("community", "not_a_member", "your organisation is not an active member of that trust circle")
		}
		aud = policy.Audience{Kind: policy.AudCommunity, Community: d.Community}
	}
	return policy.ValidateAudience(l, aud)
}

// ---------- TAXII ----------

// TAXIIRoot is an API root with its address and collections.
type TAXIIRoot struct {
	Root
	URL         string
	Collections []string
}

type taxiiData struct {
	Base      string // the hub's address as the browser reached it
	Discovery string
	Roots     []TAXIIRoot
	Email     string
}

// baseURL is the hub's address as the request reached it.
func (p *pages) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || p.srv.SecureCookies {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (p *pages) taxiiPage(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	rs, err := p.roots(r.Context(), a)
	if err != nil {
		return err
	}
	base := p.baseURL(r)
	d := taxiiData{Base: base, Discovery: base + "/taxii2/"}
	for _, x := range rs {
		t := TAXIIRoot{Root: x, URL: base + "/taxii2/" + x.ID + "/", Collections: []string{collAll, collOwn}}
		if x.Community {
			t.Collections = []string{collCircle}
		}
		d.Roots = append(d.Roots, t)
	}
	if err := p.svc.DB.R().QueryRow(r.Context(), `SELECT email FROM users WHERE id = ?`, a.UserID).Scan(&d.Email); err != nil {
		return db.NotFound(err, "load the user's e-mail address")
	}
	pg := web.Page{Nav: "intel", Data: d, Title: p.t(r, "intel.taxii.title")}
	return p.tpl.Render(w, r, http.StatusOK, "taxii", pg)
}
