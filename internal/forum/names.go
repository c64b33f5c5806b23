package forum

import (
	"context"
	"fmt"
	"slices"

	"verbund/internal/db"
	"verbund/internal/policy"
)

// audienceNames names the orgs or people of each named audience among
// shares (by index; nil for the others), as policy.AudienceNames does for
// one, in two queries for a whole list. Callers pass shares the reader may
// see, read with their audience lists: TLP expects every reader to know
// who else received it.
func audienceNames(ctx context.Context, h db.Handle, shares []*policy.Share) ([][]string, error) {
	var orgIDs, personIDs []any
	for _, s := range shares {
		switch s.Audience.Kind {
		case policy.AudOrgs:
			for _, id := range s.Audience.Orgs {
				orgIDs = append(orgIDs, id)
			}
		case policy.AudPeople:
			for _, id := range s.Audience.People {
				personIDs = append(personIDs, id)
			}
		}
	}
	names := map[string]string{}
	for _, part := range []struct {
		q   string
		ids []any
	}{
		{`SELECT id, name FROM orgs WHERE id IN (%s)`, orgIDs},
		{`SELECT u.id, u.name || ' (' || o.name || ')' FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id IN (%s)`, personIDs},
	} {
		if len(part.ids) == 0 {
			continue
		}
		rows, err := h.Query(ctx, fmt.Sprintf(part.q, db.Placeholders(len(part.ids))), part.ids...)
		if err != nil {
			return nil, fmt.Errorf("audience names: %w", err)
		}
		pairs, err := db.Collect(rows, "audience names", func(r db.Scanner) (p [2]string, err error) {
			err = r.Scan(&p[0], &p[1])
			return p, err
		})
		if err != nil {
			return nil, err
		}
		for _, p := range pairs {
			names[p[0]] = p[1]
		}
	}
	out := make([][]string, len(shares))
	for i, s := range shares {
		var ids []string
		switch s.Audience.Kind {
		case policy.AudOrgs:
			ids = s.Audience.Orgs
		case policy.AudPeople:
			ids = s.Audience.People
		}
		for _, id := range ids {
			if n, ok := names[id]; ok {
				out[i] = append(out[i], n)
			}
		}
		slices.Sort(out[i])
	}
	return out, nil
}

// NamePosts names the named orgs or people of posts read with their
// audience lists (ListFilter.Audiences), for pages.
func (s *Service) NamePosts(ctx context.Context, posts []Post) error {
	names, err := audienceNames(ctx, s.DB.R(), postShares(posts))
	for i := range names {
		posts[i].AudienceNames = names[i]
	}
	return err
}

// NameThreads is NamePosts for threads.
func (s *Service) NameThreads(ctx context.Context, threads []Thread) error {
	names, err := audienceNames(ctx, s.DB.R(), threadShares(threads))
	for i := range names {
		threads[i].AudienceNames = names[i]
	}
	return err
}
