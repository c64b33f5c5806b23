package policy

import (
	"context"
	"database/sql"
	"fmt"
	"sort"

	"verbund/internal/db"
)

// SaveShare writes a new share envelope. Capabilities call it in the same
// transaction as the object itself, after CheckShare.
func SaveShare(ctx context.Context, tx *db.Tx, s Share) error {
	var community any
	if s.Audience.Kind == AudCommunity {
		community = s.Audience.Community
	}
	if _, err := tx.Exec(ctx, `INSERT INTO shares (id, kind, owner_org_id, author_id, category, tlp, audience, community_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.Kind, s.Owner, s.Author, int(s.Category), int(s.TLP), string(s.Audience.Kind), community, s.CreatedAt); err != nil {
		return fmt.Errorf("insert share: %w", err)
	}
	return saveAudienceLists(ctx, tx, s)
}

// UpdateShare replaces level and audience of an existing share (editing,
// widening or narrowing). The caller has run CheckShare.
func UpdateShare(ctx context.Context, tx *db.Tx, s Share) error {
	var community any
	if s.Audience.Kind == AudCommunity {
		community = s.Audience.Community
	}
	if _, err := tx.Exec(ctx, `UPDATE shares SET tlp = ?, audience = ?, community_id = ? WHERE id = ?`,
		int(s.TLP), string(s.Audience.Kind), community, s.ID); err != nil {
		return fmt.Errorf("update share: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM share_orgs WHERE share_id = ?`, s.ID); err != nil {
		return fmt.Errorf("clear share orgs: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM share_people WHERE share_id = ?`, s.ID); err != nil {
		return fmt.Errorf("clear share people: %w", err)
	}
	return saveAudienceLists(ctx, tx, s)
}

func saveAudienceLists(ctx context.Context, tx *db.Tx, s Share) error {
	for _, o := range dedupe(s.Audience.Orgs) {
		if _, err := tx.Exec(ctx, `INSERT INTO share_orgs (share_id, org_id) VALUES (?, ?)`, s.ID, o); err != nil {
			return fmt.Errorf("insert share org: %w", err)
		}
	}
	for _, p := range dedupe(s.Audience.People) {
		if _, err := tx.Exec(ctx, `INSERT INTO share_people (share_id, user_id) VALUES (?, ?)`, s.ID, p); err != nil {
			return fmt.Errorf("insert share person: %w", err)
		}
	}
	return nil
}

// LoadShare reads one share envelope, whoever may see it: callers must check
// visibility (View.CanSee or the Visible predicate) before using it.
func LoadShare(ctx context.Context, h db.Handle, id string) (Share, error) {
	var s Share
	var aud string
	var cat, tlp int
	err := h.QueryRow(ctx, `SELECT id, kind, owner_org_id, author_id, category, tlp, audience, COALESCE(community_id, ''), created_at
		FROM shares WHERE id = ?`, id).Scan(&s.ID, &s.Kind, &s.Owner, &s.Author, &cat, &tlp, &aud, &s.Audience.Community, &s.CreatedAt)
	if err != nil {
		return s, db.NotFound(err, "load share")
	}
	s.Category, s.TLP, s.Audience.Kind = Category(cat), TLP(tlp), AudienceKind(aud)
	if s.Audience.Orgs, err = strings1(ctx, h, `SELECT org_id FROM share_orgs WHERE share_id = ? ORDER BY org_id`, id); err != nil {
		return s, err
	}
	if s.Audience.People, err = strings1(ctx, h, `SELECT user_id FROM share_people WHERE share_id = ? ORDER BY user_id`, id); err != nil {
		return s, err
	}
	return s, nil
}

// CanSeeID checks one object against the SQL predicate: the second check on
// a loaded object, and the check for detail pages.
func CanSeeID(ctx context.Context, h db.Handle, a Actor, id string, now int64) (bool, error) {
	pred, args := Visible("s", a, now)
	var n int
	err := h.QueryRow(ctx, `SELECT COUNT(*) FROM shares s WHERE s.id = ? AND `+pred, append([]any{id}, args...)...).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("check visibility: %w", db.Map(err))
	}
	return n == 1, nil
}

func strings1(ctx context.Context, h db.Handle, q string, args ...any) ([]string, error) {
	rows, err := h.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// NextChange returns the next moment after now at which an agreement
// starts or ends (Unix µs), or 0 when none will: until then, visibility
// changes only through writes. Cached responses must end by then.
func NextChange(ctx context.Context, h db.Handle, now int64) (int64, error) {
	var next sql.NullInt64
	err := h.QueryRow(ctx, `SELECT MIN(t) FROM (
		SELECT valid_from AS t FROM agreements WHERE valid_from > ?
		UNION ALL SELECT valid_until FROM agreements WHERE valid_until > ?) x`, now, now).Scan(&next)
	if err != nil {
		return 0, fmt.Errorf("next agreement change: %w", db.Map(err))
	}
	return next.Int64, nil
}
