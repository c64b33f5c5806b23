package policy

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"

	"verbund/internal/db"
)

// Views keeps each org's view (its circles with their members, its
// partners with their grants) between requests, so that a page judged in
// memory (the forum's thread cache) costs no query at all for who may see
// it. A view is every member's of an org alike; the user is set per
// request.
//
// A view changes only when (a) a change to memberships or agreements is
// recorded, and every such change is an audit record touching everything
// ("*": internal/orgs, internal/agreements write them with no narrower
// touches), or (b) the clock passes a moment an agreement starts or ends.
// So an org's view is kept, filed under the trail's head read before it
// was loaded, and used while
//
//   - no chained record touching everything came after that head (each
//     drops the views loaded before it),
//   - no record touching everything is waiting to be chained (then the
//     view is loaded afresh and not kept), and
//   - the request's moment lies between the agreement boundaries around
//     the moment it was loaded (Bounds).
//
// docs/SECURITY.md item 7 has the argument. Only reads outside a
// transaction use it (NewReader with the reader pool's handle, within a
// context from WithViews): a write checks its audience against the view
// its own transaction reads.
type Views struct {
	src ViewSource

	catching sync.Mutex // one catch-up with the trail at a time

	mu      sync.Mutex
	seen    int64 // the trail's records up to here are applied
	dropped int64 // the newest record touching everything applied: views loaded before it are gone
	byOrg   map[string]*keptView

	Hits, Misses atomic.Uint64
}

// ViewSource tells Views about changes (package audit, through the app).
type ViewSource struct {
	// State is the trail's head and whether a record touching everything
	// is waiting to be chained.
	State func(ctx context.Context) (head int64, waitingAll bool, err error)
	// LastAll is the newest record touching everything among the chained
	// records in (from, to]; 0 if none.
	LastAll func(ctx context.Context, from, to int64) (int64, error)
}

// keptView is an org's view and when it holds.
type keptView struct {
	v        *View
	version  int64 // the head read before it was loaded
	from, to int64 // it holds for moments in [from, to); to 0: no end
}

// viewsSkip is how far behind the trail Views may be before it starts
// afresh instead of reading what it missed.
const viewsSkip = 4096

// NewViews returns an empty cache of views that src tells about changes.
func NewViews(src ViewSource) *Views {
	return &Views{src: src, byOrg: map[string]*keptView{}}
}

type viewsKey struct{}

// WithViews returns a context within which NewReader takes views from vs
// when it reads outside a transaction.
func WithViews(ctx context.Context, vs *Views) context.Context {
	return context.WithValue(ctx, viewsKey{}, vs)
}

// Load returns actor a's view at now: kept, or loaded (and kept).
func (vs *Views) Load(ctx context.Context, h db.Handle, a Actor, now int64) (*View, error) {
	head, waitingAll, err := vs.src.State(ctx)
	if err != nil {
		return nil, err
	}
	if waitingAll {
		vs.Misses.Add(1)
		return LoadView(ctx, h, a, now)
	}
	if err := vs.catchUp(ctx, head); err != nil {
		return nil, err
	}
	vs.mu.Lock()
	k := vs.byOrg[a.OrgID]
	vs.mu.Unlock()
	if k != nil && k.from <= now && (k.to == 0 || now < k.to) {
		vs.Hits.Add(1)
		v := *k.v // the maps are shared and never changed after loading
		v.UserID, v.At = a.UserID, now
		return &v, nil
	}
	vs.Misses.Add(1)
	from, to, err := Bounds(ctx, h, now)
	if err != nil {
		return nil, err
	}
	v, err := LoadView(ctx, h, a, now)
	if err != nil {
		return nil, err
	}
	vs.mu.Lock()
	if head >= vs.dropped {
		vs.byOrg[a.OrgID] = &keptView{v: v, version: head, from: from, to: to}
	}
	vs.mu.Unlock()
	return v, nil
}

// catchUp applies the chained records up to head.
func (vs *Views) catchUp(ctx context.Context, head int64) error {
	vs.mu.Lock()
	seen := vs.seen
	vs.mu.Unlock()
	if head <= seen {
		return nil
	}
	vs.catching.Lock()
	defer vs.catching.Unlock()
	vs.mu.Lock()
	seen = vs.seen
	vs.mu.Unlock()
	if head <= seen {
		return nil // another request caught up meanwhile
	}
	last := head // far behind (the first request): as if everything changed
	if head-seen <= viewsSkip {
		var err error
		if last, err = vs.src.LastAll(ctx, seen, head); err != nil {
			return err
		}
	}
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if last > 0 {
		for org, k := range vs.byOrg {
			if k.version < last {
				delete(vs.byOrg, org)
			}
		}
		vs.dropped = max(vs.dropped, last)
	}
	vs.seen = head
	return nil
}

// Bounds returns the agreement boundaries around now: the latest moment at
// or before now and the first after it at which an agreement starts or
// ends (0 for none after). Every view is the same at each moment between
// them.
func Bounds(ctx context.Context, h db.Handle, now int64) (from, to int64, err error) {
	var prev, next sql.NullInt64
	err = h.QueryRow(ctx, `SELECT
		(SELECT MAX(t) FROM (SELECT valid_from AS t FROM agreements WHERE valid_from <= ?
			UNION ALL SELECT valid_until FROM agreements WHERE valid_until <= ?) b),
		(SELECT MIN(t) FROM (SELECT valid_from AS t FROM agreements WHERE valid_from > ?
			UNION ALL SELECT valid_until FROM agreements WHERE valid_until > ?) a)`, now, now, now, now).Scan(&prev, &next)
	if err != nil {
		return 0, 0, fmt.Errorf("agreement boundaries: %w", db.Map(err))
	}
	return prev.Int64, next.Int64, nil
}
