package policy

import (
	"context"
	"strings"

	"verbund/internal/db"
)

// Test-only doors into the kernel: the differential test compares the SQL
// predicate with the rule book's literal SQL form and with View.CanSee, on
// envelopes written straight into the tables, whoever may see them.

// referenceSQL is the rule book written out in SQL, deriving coverage and
// circle membership per row from the agreement and membership tables (the
// predicate before the reader's view was passed in). It is the reference
// the production predicate is compared with.
const referenceSQL = `(
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

// ReferenceForTest is the reference predicate for the shares row aliased
// s, with its arguments.
func ReferenceForTest(s string, a Actor, now int64) (string, []any) {
	if a.UserID == "" || a.OrgID == "" {
		return "1 = 0", nil
	}
	return strings.ReplaceAll(referenceSQL, "{s}", s), []any{
		a.OrgID, a.UserID, a.UserID, a.OrgID, a.OrgID, a.OrgID, a.UserID, a.OrgID, now, now,
	}
}

// VisibleForTest is the production predicate for the shares row aliased
// s, for a reader with view v reading objects of category k.
func VisibleForTest(s string, v *View, k Category) (string, []any) {
	return visibleText(s), visibleArgs(v, k)
}

// LoadShareForTest reads an envelope with its audience lists, unchecked.
func LoadShareForTest(ctx context.Context, h db.Handle, id string) (Share, error) {
	var s Share
	err := h.QueryRow(ctx, `SELECT id, kind, owner_org_id, author_id, category, tlp, audience, COALESCE(community_id, ''), created_at
		FROM shares WHERE id = ?`, id).Scan(&s.ID, &s.Kind, &s.Owner, &s.Author, &s.Category, &s.TLP, &s.Audience.Kind, &s.Audience.Community, &s.CreatedAt)
	if err != nil {
		return s, db.NotFound(err, "load share")
	}
	return s, fillAudience(ctx, h, []*Share{&s}, true)
}

// RebuildTallyForTest tallies every envelope with a container, as the
// kernel does when it saves them (for worlds written straight into the
// tables).
func RebuildTallyForTest(ctx context.Context, tx *db.Tx) error {
	rows, err := tx.Query(ctx, `SELECT id FROM shares WHERE container_id IS NOT NULL`)
	if err != nil {
		return err
	}
	ids, err := db.Collect(rows, "ids", func(sc db.Scanner) (id string, err error) { err = sc.Scan(&id); return id, err })
	if err != nil {
		return err
	}
	for _, id := range ids {
		s, err := LoadShareForTest(ctx, tx.Handle, id)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT container_id FROM shares WHERE id = ?`, id).Scan(&s.Container); err != nil {
			return err
		}
		g, _ := groupOf(s)
		if err := g.add(ctx, tx, tallyCount{n: 1, last: s.CreatedAt}); err != nil {
			return err
		}
	}
	return nil
}
