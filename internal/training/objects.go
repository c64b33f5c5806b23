package training

import (
	"context"
	"fmt"
	"strings"

	"verbund/internal/db"
	"verbund/internal/i18n"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// objectTypes name the capability's objects in records (the audit trail)
// for readers who may know them now, through the kernel like every read:
// a module by its title, an assignment and an attempt (their organisation's
// own data) by their module's title, a rate share by its organisation.
func (s *Service) objectTypes() []web.ObjectType {
	return []web.ObjectType{
		{Name: "training_module", Label: "training.module", Resolve: s.nameModules},
		{Name: "training_assignment", Label: "training.assignment", Resolve: s.nameAssignments},
		{Name: "training_attempt", Label: "training.attempt", Resolve: s.nameAttempts},
		{Name: "training_rates", Label: "training.rate_share", Resolve: s.nameRateShares},
	}
}

// named reads rows of (id, languages, title, page) through q and names
// each in the reader's language.
func named(ctx context.Context, h db.Handle, a policy.Actor, q *db.Query) (map[string]web.Ref, error) {
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("name training objects: %w", err)
	}
	found, err := db.Collect(rows, "name training objects", func(r db.Scanner) (v [4]string, err error) {
		err = r.Scan(&v[0], &v[1], &v[2], &v[3])
		return v, err
	})
	out := make(map[string]web.Ref, len(found))
	for _, v := range found {
		var t Text
		if err := decodeJSON(v[2], &t, "module title"); err != nil {
			return nil, err
		}
		out[v[0]] = web.Ref{Name: t.In(i18n.Normalize(a.Lang), strings.Split(v[1], ",")), URL: v[3]}
	}
	return out, err
}

func (s *Service) nameModules(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT m.id, m.languages, m.title, '/training/modules/' || m.id FROM `).Append(r.From(s.modules, "m")).
		Add(` WHERE m.id IN (`+db.Placeholders(len(ids))+`)`, idArgs(ids)...)
	return named(ctx, h, a, q)
}

func (s *Service) nameAssignments(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT x.id, m.languages, m.title, '/training/modules/' || m.id || '?assignment=' || x.id FROM training_assignments x`).
		Append(r.Join(s.modules, "m", "x.module_id")).
		Add(` WHERE x.org_id = ? AND x.id IN (`+db.Placeholders(len(ids))+`)`, append([]any{a.OrgID}, idArgs(ids)...)...)
	return named(ctx, h, a, q)
}

func (s *Service) nameAttempts(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	// An attempt is its person's and their admins': others learn nothing.
	q := db.Q(`SELECT x.id, m.languages, m.title, '/training/modules/' || m.id FROM training_attempts x`).
		Append(r.Join(s.modules, "m", "x.module_id")).
		Add(` WHERE x.org_id = ? AND (x.user_id = ? OR ? = 1) AND x.id IN (`+db.Placeholders(len(ids))+`)`,
			append([]any{a.OrgID, a.UserID, boolInt(a.Role == policy.Admin)}, idArgs(ids)...)...)
	return named(ctx, h, a, q)
}

func (s *Service) nameRateShares(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT rs.id, o.name FROM `).Append(r.From(s.rates, "rs")).Add(` JOIN orgs o ON o.id = rs.org_id WHERE rs.id IN (`+db.Placeholders(len(ids))+`)`, idArgs(ids)...)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("name rate shares: %w", err)
	}
	found, err := db.Collect(rows, "name rate shares", func(r db.Scanner) (v [2]string, err error) {
		err = r.Scan(&v[0], &v[1])
		return v, err
	})
	out := make(map[string]web.Ref, len(found))
	for _, v := range found {
		out[v[0]] = web.Ref{Name: v[1], URL: "/training/rates#rates-" + v[0]}
	}
	return out, err
}
