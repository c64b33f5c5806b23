package accounts

import (
	"context"
	"fmt"

	"verbund/internal/db"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// objectTypes names people and tokens in records (the audit trail) as far
// as the reader may know them (docs/SECURITY.md, "People directory"):
// people of the reader's org and of the orgs that share an active trust
// circle with it; tokens of the reader's org.
func (h *Handler) objectTypes() []web.ObjectType {
	return []web.ObjectType{
		{Name: "user", Label: "people.account", Resolve: h.svc.namePeople},
		{Name: "token", Label: "token.singular", Resolve: h.svc.nameTokens},
	}
}

func (s *Service) namePeople(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	args := []any{a.OrgID, a.OrgID}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := s.DB.R().Query(ctx, `SELECT u.id, u.name, u.org_id FROM users u
		WHERE (u.org_id = ? OR u.org_id IN (SELECT m2.org_id FROM community_members m1
			JOIN community_members m2 ON m2.community_id = m1.community_id AND m2.status = 'active'
			WHERE m1.org_id = ? AND m1.status = 'active')) AND u.id IN (`+db.Placeholders(len(ids))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("name people: %w", err)
	}
	people, err := db.Collect(rows, "name people", func(r db.Scanner) (p [3]string, err error) {
		err = r.Scan(&p[0], &p[1], &p[2])
		return p, err
	})
	out := map[string]web.Ref{}
	for _, p := range people {
		id, name, org := p[0], p[1], p[2]
		ref := web.Ref{Name: name}
		if org == a.OrgID {
			ref.URL = "/people" // the reader's own org's people have a page
		}
		out[id] = ref
	}
	return out, err
}

func (s *Service) nameTokens(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	args := []any{a.OrgID}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := s.DB.R().Query(ctx, `SELECT id, user_id, name, prefix FROM tokens WHERE org_id = ? AND id IN (`+db.Placeholders(len(ids))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("name tokens: %w", err)
	}
	tokens, err := db.Collect(rows, "name tokens", func(r db.Scanner) (t [4]string, err error) {
		err = r.Scan(&t[0], &t[1], &t[2], &t[3])
		return t, err
	})
	out := map[string]web.Ref{}
	for _, t := range tokens {
		id, user, name, prefix := t[0], t[1], t[2], t[3]
		ref := web.Ref{Name: prefix + "…"}
		if name != "" {
			ref.Name = name + " (" + prefix + "…)"
		}
		if user == a.UserID {
			ref.URL = "/tokens"
		}
		out[id] = ref
	}
	return out, err
}
