package policy

import (
	"context"

	"verbund/internal/db"
)

// Objects kept in memory for many readers (the forum's thread cache): the
// kernel reads them unjudged, once for everybody, and judges each one for
// each reader with Reader.Sees, the in-memory twin of the predicate
// (View.CanSee; TestVisibleAgreesWithCanSee keeps both the same). A row
// read through Unjudged is never shown to anybody without that judgement.

// Unjudged names kind k's table under alias joined with its envelope
// (alias "<alias>_s"), with no visibility condition:
//
//	<table> <alias> JOIN shares <alias>_s ON <alias>_s.id = <alias>.id
//
// for a store in memory whose every read passes each object through
// Reader.Sees (and its container through Contents) before it is shown.
func (k *Kind) Unjudged(alias string) *db.Query {
	s := shareAlias(alias)
	return db.Q(k.table + " " + alias + " JOIN shares " + s + " ON " + s + ".id = " + alias + ".id")
}

// LoadAudiences fills in the named orgs and people of envelopes read
// through Unjudged: Reader.Sees needs them.
func LoadAudiences(ctx context.Context, h db.Handle, shares []*Share) error {
	return fillAudience(ctx, h, shares, false)
}

// Sees judges one envelope of kind k (read through Unjudged, with its
// audience lists) for the reader: what the predicate of From would decide
// for its row. For a kind that lives in another, the container is not
// judged here: check it first (Contents).
func (r *Reader) Sees(k *Kind, s Share) bool {
	r.trace.add(k)
	if r.view == nil {
		return false
	}
	s.Kind, s.Category = k.name, k.category
	return r.view.CanSee(s)
}

// JoinUnjudged joins kind k's table under alias on its id = on, with its
// envelope and no visibility condition (Unjudged's join form: a post's
// thread for a store of posts).
func (k *Kind) JoinUnjudged(alias, on string) *db.Query {
	s := shareAlias(alias)
	return db.Q(" JOIN " + k.table + " " + alias + " ON " + alias + ".id = " + on + " JOIN shares " + s + " ON " + s + ".id = " + alias + ".id")
}
