package intel

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/i18n"
	"verbund/internal/policy"
	"verbund/internal/taxii"
	"verbund/internal/web"
)

// The TAXII server's shape in the hub: every org has an API root named by
// its id, with two collections: "all", everything the caller may see
// (read only), and "own", what the org keeps to itself (objects POSTed
// there stay in the org). Every trust circle the caller's org is an
// active member of has an API root named by the circle's id with one
// collection, "circle": what was shared with the circle (POSTed objects
// are shared with it). Only the caller's own org's root and its circles'
// roots exist for the caller: any other root is not found, like one that
// does not exist.
const (
	collAll    = "all"
	collOwn    = "own"
	collCircle = "circle"
)

// backend is the TAXII backend of the hub: every answer is computed for
// the caller in the request's context (web.ActorFrom).
type backend struct {
	s *Service
	// text gives the titles and descriptions of roots and collections in
	// the language the client asks for with Accept-Language (English
	// unless it asks), like the API's error messages.
	text func(ctx context.Context, key string, args ...any) string
}

type langKey struct{}

// withLang puts the language the client asked for where the backend
// finds it.
func withLang(ctx context.Context, r *http.Request) context.Context {
	lang := i18n.DefaultLanguage
	if al := r.Header.Get("Accept-Language"); al != "" {
		lang = i18n.Negotiate(al)
	}
	return context.WithValue(ctx, langKey{}, lang)
}

type actorKey struct{}

// withActor puts the caller where the backend finds it.
func withActor(ctx context.Context, a policy.Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

func actorOf(ctx context.Context) policy.Actor {
	a, _ := ctx.Value(actorKey{}).(policy.Actor)
	return a
}

// root is an API root as the caller may use it.
type root struct {
	name      string // the org's or circle's id
	title     string
	community bool
}

// roots lists the caller's API roots: their org's first, then their
// circles' by name.
func (b backend) roots(ctx context.Context, a policy.Actor) ([]root, error) {
	h := b.s.DB.R()
	var orgName string
	if err := h.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, a.OrgID).Scan(&orgName); err != nil {
		return nil, fmt.Errorf("name the caller's org: %w", db.Map(err))
	}
	out := []root{{name: a.OrgID, title: orgName}}
	rows, err := h.Query(ctx, `SELECT c.id, c.name FROM community_members m JOIN communities c ON c.id = m.community_id
		WHERE m.org_id = ? AND m.status = 'active' ORDER BY c.name, c.id`, a.OrgID)
	if err != nil {
		return nil, fmt.Errorf("list the caller's circles: %w", err)
	}
	circles, err := db.Collect(rows, "circles", func(r db.Scanner) (c root, err error) {
		err = r.Scan(&c.name, &c.title)
		c.community = true
		return c, err
	})
	return append(out, circles...), err
}

func (b backend) root(ctx context.Context, name string) (root, error) {
	rs, err := b.roots(ctx, actorOf(ctx))
	if err != nil {
		return root{}, err
	}
	for _, r := range rs {
		if r.name == name {
			return r, nil
		}
	}
	return root{}, taxii.ErrNotFound
}

func (b backend) Discovery(ctx context.Context) (taxii.Discovery, error) {
	rs, err := b.roots(ctx, actorOf(ctx))
	if err != nil {
		return taxii.Discovery{}, err
	}
	d := taxii.Discovery{Title: "verbund", Description: b.text(ctx, "intel.taxii.discovery_description"),
		Default: rs[0].name}
	for _, r := range rs {
		d.APIRoots = append(d.APIRoots, r.name)
	}
	return d, nil
}

func (b backend) APIRoot(ctx context.Context, name string) (taxii.APIRoot, error) {
	r, err := b.root(ctx, name)
	if err != nil {
		return taxii.APIRoot{}, err
	}
	return taxii.APIRoot{Title: r.title, MaxContentLength: maxContentLength}, nil
}

// maxContentLength is the largest envelope a POST may send (the hub's
// import takes bundles of any size through the API and the CLI).
const maxContentLength = 100 << 20

// collectionID is a collection's stable id: a UUID in version 4 form made
// from the root and the collection's name.
func collectionID(root, name string) string {
	sum := sha256.Sum256([]byte("verbund taxii collection\x00" + root + "\x00" + name))
	var u uuid.UUID
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u.String()
}

func (b backend) Collections(ctx context.Context, name string) ([]taxii.Collection, error) {
	r, err := b.root(ctx, name)
	if err != nil {
		return nil, err
	}
	a := actorOf(ctx)
	writer := a.CanWrite() && a.Scope != policy.ScopeRead
	media := []string{taxii.MediaSTIX}
	if r.community {
		return []taxii.Collection{{ID: collectionID(r.name, collCircle), Alias: collCircle, Title: r.title,
			Description: b.text(ctx, "intel.taxii.circle_description"),
			CanRead:     true, CanWrite: writer, MediaTypes: media}}, nil
	}
	return []taxii.Collection{
		{ID: collectionID(r.name, collAll), Alias: collAll, Title: b.text(ctx, "intel.taxii.all_title"),
			Description: b.text(ctx, "intel.taxii.all_description"), CanRead: true, MediaTypes: media},
		{ID: collectionID(r.name, collOwn), Alias: collOwn, Title: b.text(ctx, "intel.taxii.own_title", "org", r.title),
			Description: b.text(ctx, "intel.taxii.own_description"), CanRead: true, CanWrite: writer, MediaTypes: media},
	}, nil
}

func (b backend) Collection(ctx context.Context, name, id string) (taxii.Collection, error) {
	cs, err := b.Collections(ctx, name)
	if err != nil {
		return taxii.Collection{}, err
	}
	for _, c := range cs {
		if c.ID == id || c.Alias == id {
			return c, nil
		}
	}
	return taxii.Collection{}, taxii.ErrNotFound
}

// scope is what collection c of root holds.
func scope(root string, c taxii.Collection) Scope {
	switch c.Alias {
	case collOwn:
		return Scope{Own: true}
	case collCircle:
		return Scope{Community: root}
	}
	return Scope{}
}

func (b backend) Records(ctx context.Context, root string, c taxii.Collection, q taxii.Query) (taxii.Page, error) {
	f := Filter{Scope: scope(root, c), Limit: q.Limit, IDs: q.IDs, Types: q.Types, Specs: q.SpecVersions,
		All: q.Versions.All || q.Want == taxii.WantVersions, First: q.Versions.First, Last: q.Versions.Last, JSON: q.Want == taxii.WantObjects, Handout: true}
	if !q.AddedAfter.IsZero() {
		f.AddedAfter = q.AddedAfter.UnixMicro()
	}
	for _, t := range q.Versions.At {
		f.At = append(f.At, t.UnixNano())
	}
	if q.Object != "" {
		f.IDs = []string{q.Object}
	}
	f.After = q.Next
	objs, next, err := b.s.List(ctx, actorOf(ctx), f)
	if fault.Is(err, fault.Invalid) {
		return taxii.Page{}, taxii.Errorf(http.StatusBadRequest, "bad_parameter", "the query parameter next is not a token this server gave out")
	}
	if err != nil {
		return taxii.Page{}, err
	}
	p := taxii.Page{More: next != "", Next: next}
	for _, o := range objs {
		var obj json.RawMessage
		if q.Want == taxii.WantObjects {
			obj = marked(o.JSON, o.Type, o.Share.TLP)
		}
		p.Records = append(p.Records, taxii.Record{ID: o.STIXID, Version: o.Version, SpecVersion: o.SpecVersion,
			DateAdded: time.UnixMicro(o.DateAdded), Object: obj})
	}
	return p, nil
}

func (b backend) Add(ctx context.Context, root string, c taxii.Collection, body io.Reader) (taxii.Status, error) {
	a := actorOf(ctx)
	opts := ImportOptions{Via: "taxii", Items: true, Envelope: true}
	if c.Alias == collCircle {
		opts.Community = root
	}
	requested := time.Now()
	rep, err := b.s.Import(ctx, a, body, opts)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return taxii.Status{}, mbe
	}
	if err != nil && rep.Accepted+rep.Rejected == 0 {
		return taxii.Status{}, taxii.Errorf(http.StatusBadRequest, "bad_envelope", "the body is not a TAXII envelope: "+firstLine(err))
	}
	st := taxii.Status{ID: uuid.NewString(), Status: "complete", RequestTimestamp: taxii.Time(requested)}
	if err != nil {
		// The envelope broke off: what was read before is stored; the
		// status says so rather than look complete.
		msg := "the envelope could not be read to its end: " + firstLine(err)
		if e, ok := fault.As(err); ok {
			msg = e.Message
		}
		rep.Items = append(rep.Items, ItemResult{Error: msg})
	}
	for _, it := range rep.Items {
		d := taxii.StatusDetail{ID: it.ID, Version: it.Version, Message: it.Error}
		if it.Error == "" {
			st.Successes = append(st.Successes, d)
		} else {
			st.Failures = append(st.Failures, d)
		}
	}
	st.SuccessCount, st.FailureCount = len(st.Successes), len(st.Failures)
	st.TotalCount = st.SuccessCount + st.FailureCount
	body2, err := json.Marshal(st)
	if err != nil {
		return st, fmt.Errorf("encode status: %w", err)
	}
	err = b.s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO taxii_status (id, org_id, user_id, created_at, body) VALUES (?, ?, ?, ?, ?)`,
			st.ID, a.OrgID, a.UserID, db.Now(), string(body2)); err != nil {
			return fmt.Errorf("keep status: %w", err)
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "intel.taxii.add", ObjectType: "taxii_status", ObjectID: st.ID,
			Detail: map[string]any{"total": st.TotalCount, "failures": st.FailureCount, "api_root": root, "collection": c.ID}, Touches: []string{"intel"}})
	})
	return st, err
}

func (b backend) Status(ctx context.Context, root, id string) (taxii.Status, error) {
	a := actorOf(ctx)
	if _, err := b.root(ctx, root); err != nil {
		return taxii.Status{}, err
	}
	var body string
	// A status is its org's: another org's request is not found.
	err := b.s.DB.R().QueryRow(ctx, `SELECT body FROM taxii_status WHERE id = ? AND org_id = ?`, id, a.OrgID).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return taxii.Status{}, taxii.ErrNotFound
	}
	if err != nil {
		return taxii.Status{}, fmt.Errorf("load status: %w", err)
	}
	var st taxii.Status
	return st, json.Unmarshal([]byte(body), &st)
}

func (b backend) Delete(ctx context.Context, root string, c taxii.Collection, q taxii.Query) error {
	f := Filter{Scope: scope(root, c), IDs: []string{q.Object}, Specs: q.SpecVersions, Limit: 10000,
		All: q.Versions.All || q.Versions.Default(), First: q.Versions.First, Last: q.Versions.Last}
	for _, t := range q.Versions.At {
		f.At = append(f.At, t.UnixNano())
	}
	a := actorOf(ctx)
	// Every visible copy of the id, any org's: the caller deletes its own
	// org's and none of another's (another org holding the same id must
	// not block the owner's delete).
	f.AllHolders = true
	objs, _, err := b.s.List(ctx, a, f)
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		return taxii.ErrNotFound
	}
	own := objs[:0]
	for _, o := range objs {
		if o.Share.Owner == a.OrgID {
			own = append(own, o)
		}
	}
	if len(own) == 0 {
		return taxii.Errorf(http.StatusForbidden, "not_owner", "only the organisation that shared an object may delete it")
	}
	objs = own
	ids := make([]string, len(objs))
	for i, o := range objs {
		ids[i] = o.ID
	}
	err = b.s.Delete(ctx, a, ids)
	if fault.Is(err, fault.Forbidden) {
		return taxii.Errorf(http.StatusForbidden, "not_owner", "only the organisation that shared an object may delete it")
	}
	return err
}

// Server returns the TAXII server of the hub, for its routes.
func (s *Service) taxiiServer(srv *web.Server) *taxii.Server {
	text := func(ctx context.Context, key string, args ...any) string {
		lang, _ := ctx.Value(langKey{}).(string)
		return srv.Catalog.T(lang, key, args...)
	}
	return &taxii.Server{Backend: backend{s, text}, MaxLimit: 1000, OnError: func(r *http.Request, err error) *taxii.Error {
		if e, ok := fault.As(err); ok && e.Kind != fault.Internal {
			return taxii.Errorf(web.Status(e.Kind), e.Code, e.Message)
		}
		srv.Log.Error("taxii request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		return nil
	}}
}
