package orgs

import (
	"context"
	"fmt"

	"verbund/internal/db"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// objectTypes names orgs and trust circles in records (the audit trail):
// the hub's directory of both is visible to every signed-in user.
func (h *Handler) objectTypes() []web.ObjectType {
	return []web.ObjectType{
		{Name: "org", Label: "org.singular", Resolve: func(ctx context.Context, _ policy.Actor, ids []string) (map[string]web.Ref, error) {
			return h.svc.name(ctx, `SELECT id, name FROM orgs WHERE id IN (%s)`, ids, func(string) string { return "/orgs" })
		}},
		{Name: "community", Label: "community.singular", Resolve: func(ctx context.Context, _ policy.Actor, ids []string) (map[string]web.Ref, error) {
			return h.svc.name(ctx, `SELECT id, name FROM communities WHERE id IN (%s)`, ids, func(id string) string { return "/communities/" + id })
		}},
	}
}

// name reads (id, name) pairs with q for ids and gives each its page.
func (s *Service) name(ctx context.Context, q string, ids []string, page func(id string) string) (map[string]web.Ref, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.DB.R().Query(ctx, fmt.Sprintf(q, db.Placeholders(len(ids))), args...)
	if err != nil {
		return nil, fmt.Errorf("names: %w", err)
	}
	pairs, err := db.Collect(rows, "names", func(r db.Scanner) (p [2]string, err error) {
		err = r.Scan(&p[0], &p[1])
		return p, err
	})
	out := make(map[string]web.Ref, len(pairs))
	for _, p := range pairs {
		out[p[0]] = web.Ref{Name: p[1], URL: page(p[0])}
	}
	return out, err
}
