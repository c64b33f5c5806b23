package policy

import (
	"slices"
	"strings"
)

// visible returns the SQL condition under which the actor may read the
// share row aliased s (a row of table shares), with its arguments in
// order; Reader attaches it where a capability names its table. See
// docs/POLICY.md "Who may see an object". now is the time agreements are
// judged at (Unix µs).
//
// The operator (System actor) has no org and sees nothing through this
// predicate: the CLI administers orgs and agreements, it does not read data.
func visible(s string, a Actor, now int64) (string, []any) {
	if a.UserID == "" || a.OrgID == "" {
		return "1 = 0", nil
	}
	return visibleText(s), visibleArgs(a, now)
}

// visibleText is the predicate's text for alias s (for a signed-in user).
func visibleText(s string) string { return strings.ReplaceAll(visibleSQL, "{s}", s) }

// visibleArgs are the predicate's arguments in the order of its
// placeholders (for a signed-in user).
func visibleArgs(a Actor, now int64) []any {
	return []any{
		a.OrgID, a.UserID, a.UserID, // rule 1: own org, RED only author and named
		a.OrgID,           // rule 3: other orgs only
		a.OrgID,           // audience orgs
		a.OrgID,           // audience community: the reader's org is an active member
		a.UserID,          // audience people
		a.OrgID, now, now, // coverage
	}
}

// The predicate. Levels: 0 CLEAR … 4 RED. Coverage (POLICY.md "Agreement"):
// an active agreement (bilateral or charter) with accepted party rows for
// both the owner and the reader org, covering the category and level, valid
// now; a charter also needs both orgs to be active members of its circle.
const visibleSQL = `(
 ({s}.owner_org_id = ? AND ({s}.tlp < 4 OR {s}.author_id = ?
   OR EXISTS (SELECT 1 FROM share_people sp WHERE sp.share_id = {s}.id AND sp.user_id = ?)))
 OR {s}.tlp = 0
 OR ({s}.owner_org_id <> ?
  AND (
   ({s}.audience = 'orgs' AND {s}.tlp < 4 AND EXISTS (SELECT 1 FROM share_orgs so WHERE so.share_id = {s}.id AND so.org_id = ?))
   OR ({s}.audience = 'community' AND {s}.tlp < 3
     AND EXISTS (SELECT 1 FROM community_members cr WHERE cr.community_id = {s}.community_id AND cr.org_id = ? AND cr.status = 'active')
     AND EXISTS (SELECT 1 FROM community_members co WHERE co.community_id = {s}.community_id AND co.org_id = {s}.owner_org_id AND co.status = 'active'))
   OR ({s}.audience = 'people' AND EXISTS (SELECT 1 FROM share_people sq WHERE sq.share_id = {s}.id AND sq.user_id = ?))
  )
  AND EXISTS (SELECT 1 FROM agreements ag
   JOIN agreement_parties po ON po.agreement_id = ag.id AND po.org_id = {s}.owner_org_id AND po.accepted_at IS NOT NULL
   JOIN agreement_parties pr ON pr.agreement_id = ag.id AND pr.org_id = ? AND pr.accepted_at IS NOT NULL
   WHERE ag.status = 'active' AND (ag.categories & {s}.category) <> 0 AND ag.max_tlp >= {s}.tlp
     AND ag.valid_from <= ? AND (ag.valid_until IS NULL OR ag.valid_until > ?)
     AND (ag.community_id IS NULL OR (
       EXISTS (SELECT 1 FROM community_members ma WHERE ma.community_id = ag.community_id AND ma.org_id = pr.org_id AND ma.status = 'active')
       AND EXISTS (SELECT 1 FROM community_members mb WHERE mb.community_id = ag.community_id AND mb.org_id = po.org_id AND mb.status = 'active'))))
 ))`

// CanSee is the in-memory twin of Visible, for one share, given the view of
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
