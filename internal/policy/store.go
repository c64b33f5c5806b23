package policy

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"verbund/internal/db"
)

// The share tables are written here and nowhere else. These functions are
// unexported on purpose: Kind.Disclose, Kind.Reshare and Kind.Withdraw are
// the only callers, each after its check.

// saveShares writes new envelopes, a hundred rows a statement.
func saveShares(ctx context.Context, tx *db.Tx, ss []Share) error {
	var shares, orgs, people []any
	groups := map[tallyGroup]tallyCount{}
	for _, s := range ss {
		var container any
		if s.Container != "" {
			container = s.Container
		}
		shares = append(shares, s.ID, s.Kind, s.Owner, s.Author, int(s.Category), int(s.TLP), string(s.Audience.Kind), communityOf(s), s.CreatedAt, container)
		orgs, people = appendAudienceLists(orgs, people, s)
		if g, ok := groupOf(s); ok {
			c := groups[g]
			c.n++
			c.last = max(c.last, s.CreatedAt)
			groups[g] = c
		}
	}
	// Sent with the tally's lock (PostgreSQL: one round trip); an error
	// fails the transaction there.
	if err := tx.InsertManyLater(ctx, `shares (id, kind, owner_org_id, author_id, category, tlp, audience, community_id, created_at, container_id)`, 10, shares); err != nil {
		return err
	}
	if len(groups) > 0 {
		if err := changeTally(ctx, tx, groups); err != nil {
			return err
		}
	}
	if err := tx.InsertManyLater(ctx, `share_orgs (share_id, org_id)`, 2, orgs); err != nil {
		return err
	}
	return tx.InsertManyLater(ctx, `share_people (share_id, user_id)`, 2, people)
}

// updateShare replaces level and audience of an existing envelope (old
// is it as it was, with its container).
func updateShare(ctx context.Context, tx *db.Tx, old, s Share) error {
	if _, err := tx.Exec(ctx, `UPDATE shares SET tlp = ?, audience = ?, community_id = ? WHERE id = ?`,
		int(s.TLP), string(s.Audience.Kind), communityOf(s), s.ID); err != nil {
		return fmt.Errorf("update share: %w", err)
	}
	if g, ok := groupOf(old); ok {
		if err := g.remove(ctx, tx, old.ID); err != nil {
			return err
		}
	}
	if g, ok := groupOf(s); ok {
		if err := g.add(ctx, tx, tallyCount{n: 1, last: s.CreatedAt}); err != nil {
			return err
		}
	}
	if err := deleteAudienceLists(ctx, tx, s.ID); err != nil {
		return err
	}
	return saveAudienceLists(ctx, tx, s)
}

// deleteShare removes an envelope (old, as it is, with its container)
// with its audience lists, its search document and its place in its
// container's tally.
func deleteShare(ctx context.Context, tx *db.Tx, old Share) error {
	id := old.ID
	if g, ok := groupOf(old); ok {
		if err := g.remove(ctx, tx, id); err != nil {
			return err
		}
	}
	if err := deleteAudienceLists(ctx, tx, id); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM search_docs WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete search document: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM shares WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete share: %w", err)
	}
	return nil
}

// deleteContents deletes the envelopes of everything contained in
// container, with their lists, search documents and the container's tally.
func deleteContents(ctx context.Context, tx *db.Tx, container string) error {
	const in = ` IN (SELECT id FROM shares WHERE container_id = ?)`
	for _, q := range []string{
		`DELETE FROM share_orgs WHERE share_id` + in,
		`DELETE FROM share_people WHERE share_id` + in,
		`DELETE FROM search_docs WHERE id` + in,
		`DELETE FROM share_tally WHERE container_id = ?`,
		`DELETE FROM shares WHERE container_id = ?`,
	} {
		if _, err := tx.Exec(ctx, q, container); err != nil {
			return fmt.Errorf("withdraw the contents of %s: %w", container, err)
		}
	}
	return nil
}

func communityOf(s Share) any {
	if s.Audience.Kind == AudCommunity {
		return s.Audience.Community
	}
	return nil
}

func deleteAudienceLists(ctx context.Context, tx *db.Tx, id string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM share_orgs WHERE share_id = ?`, id); err != nil {
		return fmt.Errorf("clear share orgs: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM share_people WHERE share_id = ?`, id); err != nil {
		return fmt.Errorf("clear share people: %w", err)
	}
	return nil
}

func saveAudienceLists(ctx context.Context, tx *db.Tx, s Share) error {
	orgs, people := appendAudienceLists(nil, nil, s)
	if err := tx.InsertMany(ctx, `share_orgs (share_id, org_id)`, 2, orgs); err != nil {
		return err
	}
	return tx.InsertMany(ctx, `share_people (share_id, user_id)`, 2, people)
}

// appendAudienceLists appends the rows of s's named orgs and people (only
// what its audience kind uses, each once).
func appendAudienceLists(orgs, people []any, s Share) ([]any, []any) {
	s.Audience = s.Audience.normal()
	for _, o := range dedupe(s.Audience.Orgs) {
		orgs = append(orgs, s.ID, o)
	}
	for _, p := range dedupe(s.Audience.People) {
		people = append(people, s.ID, p)
	}
	return orgs, people
}

// normal keeps only the parts of an audience its kind uses: a circle for
// a community, orgs for named orgs, people for named people.
func (a Audience) normal() Audience {
	n := Audience{Kind: a.Kind}
	switch a.Kind {
	case AudCommunity:
		n.Community = a.Community
	case AudOrgs:
		n.Orgs = a.Orgs
	case AudPeople:
		n.People = a.People
	}
	return n
}

// dedupe returns the non-empty values of in, sorted, each once.
func dedupe(in []string) []string {
	out := slices.DeleteFunc(slices.Clone(in), func(s string) bool { return s == "" })
	slices.Sort(out)
	return slices.Compact(out)
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
