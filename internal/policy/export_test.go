package policy

import (
	"context"

	"verbund/internal/db"
)

// Test-only doors into the kernel: the differential test compares the SQL
// predicate itself with View.CanSee on envelopes written straight into the
// tables, whoever may see them.

// VisibleForTest is the visibility predicate for the shares row aliased s.
func VisibleForTest(s string, a Actor, now int64) (string, []any) { return visible(s, a, now) }

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
