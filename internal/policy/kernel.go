package policy

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"verbund/internal/db"
	"verbund/internal/fault"
)

// The sharing kernel: every shareable object has a row in shares with the
// same id as the object, written, read and deleted only through a Kind.
// There is one way in (Disclose: checked against the agreements, then
// saved), one way to change who may read it (Reshare: checked and reported
// like a new disclosure), one way out (Withdraw), and one way to read
// (Reader: the visibility predicate is attached where the table is named).
// Nothing else in the hub writes the share tables; no exported function
// saves an envelope without the coverage check.

// Kernel is the registry of shareable kinds. app.go makes one; each
// capability registers its kinds when it is built and keeps the *Kind it
// gets back. The leak harness and the authorization matrix read the
// registry to find every kind that must be covered.
type Kernel struct {
	mu    sync.Mutex
	kinds map[string]*Kind
}

// NewKernel returns an empty registry.
func NewKernel() *Kernel { return &Kernel{kinds: map[string]*Kind{}} }

// KindSpec describes a kind of shareable object.
type KindSpec struct {
	Name     string   // stored in shares.kind, e.g. "post"; unique in the hub
	Table    string   // the capability's table whose id column is the share id
	Category Category // the one category of every object of this kind
	// In is the kind of object every object of this kind belongs to (a
	// post's thread), or nil. Its objects name their container
	// (Share.Container), are visible only if the container is, and are
	// contributions to it: their envelope must be within the container's
	// (Within).
	In *Kind
	// Search says that the kind's objects have documents in the hub's
	// full-text index (Kind.Index): the hub's search (Reader.SearchAll
	// over Kernel.Searchable) looks for them.
	Search bool
}

// Kind is a registered kind of shareable object: the only handle through
// which its envelopes are written, read and deleted.
type Kind struct {
	name       string
	table      string
	category   Category
	container  *Kind    // KindSpec.In
	search     bool     // KindSpec.Search
	predicates sync.Map // share alias → text of the visibility predicate
}

// Register adds a kind. It panics on a spec that is incomplete or whose
// name or table is taken: that is a programming error, found at start.
func (k *Kernel) Register(s KindSpec) *Kind {
	if s.Name == "" || !identifier(s.Table) || s.Category == 0 || s.Category&(s.Category-1) != 0 || !AllCategories.Has(s.Category) {
		panic(fmt.Sprintf("policy: kind %+v needs a name, a table and exactly one category", s))
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, o := range k.kinds {
		if o.name == s.Name || o.table == s.Table {
			panic(fmt.Sprintf("policy: kind %q or table %q registered twice", s.Name, s.Table))
		}
	}
	kind := &Kind{name: s.Name, table: s.Table, category: s.Category, container: s.In, search: s.Search}
	k.kinds[s.Name] = kind
	return kind
}

// Kinds lists the registered kinds by name.
func (k *Kernel) Kinds() []*Kind {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]*Kind, 0, len(k.kinds))
	for _, kind := range k.kinds {
		out = append(out, kind)
	}
	slices.SortFunc(out, func(a, b *Kind) int { return cmp.Compare(a.name, b.name) })
	return out
}

// Searchable lists the kinds whose objects the hub's search finds
// (KindSpec.Search), by name.
func (k *Kernel) Searchable() []*Kind {
	var out []*Kind
	for _, kind := range k.Kinds() {
		if kind.search {
			out = append(out, kind)
		}
	}
	return out
}

// Name is the kind's name, as stored in shares.kind.
func (k *Kind) Name() string { return k.name }

// Table is the capability's table of this kind.
func (k *Kind) Table() string { return k.table }

// Category is the category of every object of this kind.
func (k *Kind) Category() Category { return k.category }

// Envelope builds the envelope of a new object of this kind: the level and
// audience the client asked for, owner and author from the actor (never
// from the client), a new id. It checks nothing yet: Disclose does.
func (k *Kind) Envelope(a Actor, tlp TLP, aud Audience) Share {
	now := db.Now()
	aud = aud.normal()
	return Share{ID: db.NewID(), Kind: k.name, Owner: a.OrgID, Author: a.UserID, Category: k.category,
		TLP: tlp, Audience: aud, CreatedAt: now}
}

// Disclosure is the outcome of sharing an object: its envelope, the
// envelope it had before (a reshare), and the members of the audience
// circle it did not reach because no agreement covers them.
type Disclosure struct {
	Share     Share
	Previous  *Share
	Uncovered []string
}

// Detail is what the audit record of the disclosure says: level, audience,
// category, the circle members not reached and, for a reshare, the
// envelope before.
func (d Disclosure) Detail() map[string]any {
	to := envelopeDetail(d.Share, d.Uncovered)
	if d.Previous == nil {
		return to
	}
	return map[string]any{"from": envelopeDetail(*d.Previous, nil), "to": to}
}

func envelopeDetail(s Share, uncovered []string) map[string]any {
	return map[string]any{"not_delivered_to": uncovered, "tlp": s.TLP.String(), "audience": s.Audience.Kind,
		"community": s.Audience.Community, "orgs": s.Audience.Orgs, "people": s.Audience.People, "category": s.Category.Name()}
}

// Disclose checks the envelope of a new object against the rule book
// (CheckShare: audience fits the level, recipients exist, every recipient
// org is covered) and saves it, in the caller's transaction. The caller
// writes its own row with the same id and its audit record (with
// Disclosure.Detail) in the same transaction.
func (k *Kind) Disclose(ctx context.Context, tx *db.Tx, a Actor, s Share) (Disclosure, error) {
	ds, err := k.DiscloseAll(ctx, tx, a, []Share{s})
	if err != nil {
		return Disclosure{}, err
	}
	return ds[0], nil
}

// DiscloseAll is Disclose for many envelopes of one actor (imports): the
// actor's agreements are read once for all of them. Either all are saved
// or none (the first refusal is returned).
func (k *Kind) DiscloseAll(ctx context.Context, tx *db.Tx, a Actor, ss []Share) ([]Disclosure, error) {
	if len(ss) == 0 {
		return nil, nil
	}
	v, err := LoadView(ctx, tx.Handle, a, db.Now())
	if err != nil {
		return nil, err
	}
	out := make([]Disclosure, len(ss))
	checked := make([]Share, len(ss))
	containers := map[string]Share{} // of contained kinds: each container once
	for i, s := range ss {
		s.Audience = s.Audience.normal()
		if err := k.own(s); err != nil {
			return nil, err
		}
		if k.container != nil {
			c, ok := containers[s.Container]
			if !ok {
				// A contribution to something the actor may not see is
				// not found, like the container.
				var err error
				if c, err = k.containerOf(ctx, tx, a, s.Container, true); err != nil {
					return nil, err
				}
				containers[s.Container] = c
			}
			var circle map[string]bool // its members, when the writer's org is one
			if c.Audience.Kind == AudCommunity {
				circle = v.Communities[c.Audience.Community]
			}
			if err := within(ctx, tx.Handle, s, c, circle); err != nil {
				return nil, err
			}
		}
		uncovered, err := checkShare(ctx, tx.Handle, a, v, s)
		if err != nil {
			return nil, err
		}
		checked[i] = s
		out[i] = Disclosure{Share: s, Uncovered: uncovered}
	}
	// Saved only once every envelope has passed.
	if err := saveShares(ctx, tx, checked); err != nil {
		return nil, err
	}
	return out, nil
}

// own refuses an envelope that does not belong to this kind.
func (k *Kind) own(s Share) error {
	if s.Kind != k.name || s.Category != k.category || s.ID == "" {
		return fault.New(fault.Internal, "bad_envelope", `envelope of kind "{kind}", category {category} given to kind "{target}"`).
			With("kind", s.Kind).With("category", s.Category.Name()).With("target", k.name)
	}
	return nil
}

// Reshare gives an existing object a new level and audience: a new
// disclosure (POLICY.md "Who may act"), so it is checked like a new share,
// by an analyst or admin of the owner org who may see the object (else not
// found). The caller audits it with Disclosure.Detail, which names the
// envelope before and after.
func (k *Kind) Reshare(ctx context.Context, tx *db.Tx, a Actor, id string, tlp TLP, aud Audience) (Disclosure, error) {
	old, err := k.owned(ctx, tx, a, id)
	if err != nil {
		return Disclosure{}, err
	}
	s := old
	s.TLP, s.Audience = tlp, aud.normal()
	if k.container != nil {
		c, err := k.containerOf(ctx, tx, a, s.Container, false)
		if err != nil {
			return Disclosure{}, err
		}
		if err := Within(ctx, tx.Handle, s, c); err != nil {
			return Disclosure{}, err
		}
	}
	v, err := LoadView(ctx, tx.Handle, a, db.Now())
	if err != nil {
		return Disclosure{}, err
	}
	uncovered, err := checkShare(ctx, tx.Handle, a, v, s)
	if err != nil {
		return Disclosure{}, err
	}
	if err := updateShare(ctx, tx, old, s); err != nil {
		return Disclosure{}, err
	}
	return Disclosure{Share: s, Previous: &old, Uncovered: uncovered}, nil
}

// Withdraw deletes the envelope of an object the caller is deleting: only
// an analyst or admin of the owner org who may see it (else not found).
// The caller deletes its own rows first, in the same transaction (the
// shares row is referenced by them), and audits the deletion.
//
// Withdrawing a container withdraws what lives in it too, whoever shared
// it (a thread takes its replies with it: they exist only in it); the
// caller deletes their rows as well.
func (k *Kind) Withdraw(ctx context.Context, tx *db.Tx, a Actor, id string) error {
	old, err := k.owned(ctx, tx, a, id)
	if err != nil {
		return err
	}
	if err := deleteContents(ctx, tx, id); err != nil {
		return err
	}
	return deleteShare(ctx, tx, old)
}

// containerOf reads the envelope of the container id of a contained kind:
// if visible, only when the actor may see it (else not found), else
// whoever may.
func (k *Kind) containerOf(ctx context.Context, tx *db.Tx, a Actor, id string, visible bool) (Share, error) {
	if id == "" {
		return Share{}, fault.New(fault.Internal, "bad_envelope", `envelope of kind "{kind}", category {category} given to kind "{target}"`).
			With("kind", k.name).With("category", "(no container)").With("target", k.container.name)
	}
	if !visible {
		s, err := loadEnvelope(ctx, tx.Handle, id)
		if err != nil {
			return s, err
		}
		if s.Kind != k.container.name {
			return s, fault.ErrNotFound
		}
		return s, nil
	}
	r, err := NewReader(ctx, tx.Handle, a, db.Now())
	if err != nil {
		return Share{}, err
	}
	return r.Envelope(ctx, tx.Handle, k.container, id)
}

// Owned is an object the actor may change: its envelope, and for a
// contained kind its container's, as Authorize found them.
type Owned struct {
	Share
	container Share
}

// Container is the envelope of what the object belongs to (contained
// kinds; the zero Share otherwise).
func (o Owned) Container() Share { return o.container }

// Authorize checks, inside tx, that the actor may change or delete the
// object: it exists, the actor may see its envelope (else not found; the
// container need not be visible any more: an owner may still correct or
// withdraw a contribution to a thread it lost sight of), the actor's org
// owns it and the actor's role writes. Capabilities call it before they
// change their own rows; Reshare and Withdraw call it themselves.
func (k *Kind) Authorize(ctx context.Context, tx *db.Tx, a Actor, id string) (Owned, error) {
	s, err := k.owned(ctx, tx, a, id)
	if err != nil || k.container == nil {
		return Owned{Share: s}, err
	}
	// The container must be one the actor may see: a reply or comment in a
	// thread or article that was since narrowed away from its org is not
	// found, like the container itself (POLICY rule 5), instead of telling
	// a hidden container from a deleted one and changing inside it.
	c, err := k.containerOf(ctx, tx, a, s.Container, true)
	return Owned{Share: s, container: c}, err
}

func (k *Kind) owned(ctx context.Context, tx *db.Tx, a Actor, id string) (Share, error) {
	// The envelope alone decides (the caller may have deleted its own row
	// already, see Withdraw).
	var s Share
	r, err := NewReader(ctx, tx.Handle, a, db.Now())
	if err != nil {
		return Share{}, err
	}
	// The object's own envelope, not its container's visibility.
	cond, args := "1 = 0", []any(nil)
	if r.view != nil {
		cond, args = k.predicate("x_s"), visibleArgs(r.view, k.category)
	}
	q := db.Q(`SELECT `+k.Columns("x")+`, COALESCE(x_s.container_id, '') FROM shares x_s WHERE x_s.id = ? AND x_s.kind = ? AND `, id, k.name).Add(cond, args...)
	if err := tx.SelectRow(ctx, q).Scan(append(k.Dest(&s, nil), &s.Container)...); err != nil {
		return s, db.NotFound(err, "load "+k.name)
	}
	if err := fillAudience(ctx, tx.Handle, []*Share{&s}, false); err != nil {
		return s, err
	}
	if s.Owner != a.OrgID {
		return s, fault.New(fault.Forbidden, "not_owner", "only the organisation that shared it may change or delete it")
	}
	if !a.CanWrite() {
		return s, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	return s, nil
}

// identifier reports whether s is a plain SQL identifier (table names are
// put into queries as text).
func identifier(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c != '_' && (c < 'a' || c > 'z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
