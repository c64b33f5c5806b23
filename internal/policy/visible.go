package policy

import (
	"slices"
	"strconv"
	"strings"
)

// The visibility predicate (docs/POLICY.md "Who may see an object"), for
// the shares row aliased {s}, as Reader attaches it where a capability
// names its table. Levels: 0 CLEAR … 4 RED.
//
// What the rule book derives from agreements and memberships is the same
// for every row of a query: the reader's view (LoadView) holds it. So the
// predicate does not re-derive it per row with subqueries over agreements,
// parties and memberships; it is given it, as two lists in one text
// argument each, and looks a row up in them with instr:
//
//   - coverage ",<owner org>:<level>,…": the owner orgs an active agreement
//     covers for the kind's category, each with every level from GREEN up
//     to the highest it allows (a charter only between active members of
//     its circle, as LoadView reads it);
//   - circles ",<circle>:<member org>,…": every active member of every
//     circle the reader's org is an active member of.
//
// The rule itself is unchanged: TestVisibleAgreesWithCanSee compares this
// predicate, the rule book's literal SQL form (the reference in the tests)
// and View.CanSee on random worlds.
const visibleSQL = `(
 ({s}.owner_org_id = ? AND ({s}.tlp < 4 OR {s}.author_id = ?
   OR EXISTS (SELECT 1 FROM share_people sp WHERE sp.share_id = {s}.id AND sp.user_id = ?)))
 OR {s}.tlp = 0
 OR ({s}.owner_org_id <> ? AND instr(?, ',' || {s}.owner_org_id || ':' || {s}.tlp || ',') > 0
  AND (
   ({s}.audience = 'orgs' AND {s}.tlp < 4 AND EXISTS (SELECT 1 FROM share_orgs so WHERE so.share_id = {s}.id AND so.org_id = ?))
   OR ({s}.audience = 'community' AND {s}.tlp < 3 AND instr(?, ',' || {s}.community_id || ':' || {s}.owner_org_id || ',') > 0)
   OR ({s}.audience = 'people' AND EXISTS (SELECT 1 FROM share_people sq WHERE sq.share_id = {s}.id AND sq.user_id = ?))
  ))
)`

// visibleText is the predicate's text for the shares row aliased s.
func visibleText(s string) string { return strings.ReplaceAll(visibleSQL, "{s}", s) }

// visibleArgs are the predicate's arguments in the order of its
// placeholders, for a reader with view v reading objects of category k.
func visibleArgs(v *View, k Category) []any {
	return []any{
		v.OrgID, v.UserID, v.UserID, // rule 1: own org, RED only author and named
		v.OrgID, v.coverage(k), // rule 3: another org's, covered for the category at the level
		v.OrgID,     // audience orgs
		v.circles(), // audience community: the reader's and the owner's orgs active members
		v.UserID,    // audience people
	}
}

// coverage lists the owner orgs the view's agreements cover for category
// k, with each level they are covered at (GREEN and up; CLEAR needs none):
// ",o1:1,o1:2,o2:1,".
func (v *View) coverage(k Category) string {
	var b strings.Builder
	b.WriteByte(',')
	for o := range v.Partners {
		for l := Green; l <= Red; l++ {
			if v.Covered(o, k, l) {
				b.WriteString(o + ":" + strconv.Itoa(int(l)) + ",")
			}
		}
	}
	return b.String()
}

// circles lists every active member of every circle the view's org is an
// active member of: ",c1:o1,c1:o2,".
func (v *View) circles() string {
	var b strings.Builder
	b.WriteByte(',')
	for c, members := range v.Communities {
		for o := range members {
			b.WriteString(c + ":" + o + ",")
		}
	}
	return b.String()
}

// CanSee is the in-memory twin of the predicate, for one share, given the view of
// the reader loaded by LoadView. Tests check that both agree.
func (v *View) CanSee(s Share) bool {
	if v == nil || v.UserID == "" {
		return false
	}
	if s.Owner == v.OrgID {
		return s.TLP < Red || s.Author == v.UserID || slices.Contains(s.Audience.People, v.UserID)
	}
	if s.TLP == Clear {
		return true
	}
	inAudience := false
	switch s.Audience.Kind {
	case AudOrgs:
		inAudience = s.TLP < Red && slices.Contains(s.Audience.Orgs, v.OrgID)
	case AudCommunity:
		members := v.Communities[s.Audience.Community]
		inAudience = s.TLP < AmberStrict && members[v.OrgID] && members[s.Owner]
	case AudPeople:
		inAudience = slices.Contains(s.Audience.People, v.UserID)
	}
	return inAudience && v.Covered(s.Owner, s.Category, s.TLP)
}

// Covered reports whether data of category k at level l may flow between
// the view's org and the other org (agreements are symmetric).
func (v *View) Covered(other string, k Category, l TLP) bool {
	for _, g := range v.Partners[other] {
		if g.Categories&k != 0 && g.MaxTLP >= l {
			return true
		}
	}
	return false
}
