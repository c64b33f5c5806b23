package policy

import (
	"context"
	"slices"
	"strings"

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

// IDsIn is the condition "alias's row is one of ids" for a read through
// Unjudged, stated for the row and for its envelope. With the row's alone,
// PostgreSQL may merge the few rows with every share, reading shares from
// the first: ids are UUIDv7, so new ones sort last, and while threads are
// opened its statistics lag behind (0.07 ms for two ids, 0.3–0.6 ms and
// growing for three or more under the mixed load). Stated for both, each
// side is a look-up.
func IDsIn(alias string, ids []any) *db.Query {
	s, list := shareAlias(alias), db.Placeholders(len(ids))
	return db.Q(alias+`.id IN (`+list+`) AND `+s+`.id IN (`+list+`)`, append(slices.Clone(ids), ids...)...)
}

// LoadAudiences fills in the named orgs and people of envelopes read
// through Unjudged: Reader.Sees needs them.
func LoadAudiences(ctx context.Context, h db.Handle, shares []*Share) error {
	return fillAudience(ctx, h, shares, false)
}

// QueueAudiences queues the reads of envelope id's named orgs and people
// (Handle.QueueRows: with the handle's next statement) whatever its
// audience, so that a read of an object that is missing costs what one
// of an object with a named audience does; the returned function fills
// them into s once that statement was sent, as LoadAudiences would (only
// for an audience that names orgs or people).
func QueueAudiences(ctx context.Context, h db.Handle, id string) (fill func(s *Share), err error) {
	var orgs, people []string
	for _, part := range []struct {
		q    string
		list *[]string
	}{
		{`SELECT org_id FROM share_orgs WHERE share_id = ? ORDER BY org_id`, &orgs},
		{`SELECT user_id FROM share_people WHERE share_id = ? ORDER BY user_id`, &people},
	} {
		if err := h.QueueRows(ctx, "read audiences", part.q, []any{id}, func(sc db.Scanner) error {
			var v string
			err := sc.Scan(&v)
			*part.list = append(*part.list, v)
			return err
		}); err != nil {
			return nil, err
		}
	}
	return func(s *Share) {
		if s.Audience.Kind == AudOrgs || s.Audience.Kind == AudPeople {
			s.Audience.Orgs, s.Audience.People = orgs, people
		}
	}, nil
}

// InCircle reports whether the reader's org is an active member of trust
// circle c at the reader's moment (its view): what a capability's own
// rows scoped to a circle (the forum's channels) are judged by in memory.
func (r *Reader) InCircle(c string) bool { return r.view != nil && r.view.Communities[c][r.view.OrgID] }

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

// Groups is a container's tally kept in memory (a thread's posts for a
// cached thread list): each group's envelope, how many objects it has and
// the newest one's time, unjudged. Reader.Count judges it.
type Groups []KeptGroup

// KeptGroup is one group of Groups. Key identifies it among all
// containers' groups (the same envelope recurs in many).
type KeptGroup struct {
	Key   string
	share Share
	N     int64
	Last  int64
}

// JoinGroups left-joins, under alias, the tally of kind k's objects in the
// container whose id is on: its text is column "<alias>.groups" (NULL for
// a container without contents), for ParseGroups. Unjudged: for a store
// in memory whose every reader counts them with Reader.Count.
func (k *Kind) JoinGroups(alias, on string) *db.Query {
	return db.Q(` LEFT JOIN share_tally `+alias+` ON `+alias+`.kind = ? AND `+alias+`.container_id = `+on, k.name)
}

// ParseGroups reads a container's tally text (JoinGroups) into Groups.
func (k *Kind) ParseGroups(text string) (Groups, error) {
	var gs Groups
	for l := range strings.Lines(text) {
		key, n, err := splitTallyLine(strings.TrimSuffix(l, "\n"))
		if err != nil {
			return nil, err
		}
		s, err := groupShare(key)
		if err != nil {
			return nil, err
		}
		s.Category = k.category // as Tally judges it
		gs = append(gs, KeptGroup{Key: key, share: s, N: n.n, Last: n.last})
	}
	return gs, nil
}

// Count is what the reader may see of a container whose tally is gs (as
// Tally counts it from the database). judged remembers each group's
// judgement across the containers of one page: the same few recur.
func (r *Reader) Count(k *Kind, gs Groups, judged map[string]bool) Tally {
	r.trace.add(k)
	var t Tally
	if r.view == nil {
		return t
	}
	for _, g := range gs {
		ok, done := judged[g.Key]
		if !done {
			ok = r.view.CanSee(g.share)
			judged[g.Key] = ok
		}
		if ok {
			t.N += int(g.N)
			t.Last = max(t.Last, g.Last)
		}
	}
	return t
}
