package training

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"verbund/internal/db"
	"verbund/internal/policy"
)

// candidate is an org or a person the sharing fields of the module form
// may name, with the highest level that may reach them (their org's
// coverage for knowledge by the author's agreements; RED for the author's
// own people).
type candidate struct {
	ID, Name string
	Max      policy.TLP
}

// audienceOption is an audience kind the form offers, from the lowest
// level at which it narrows anything to the highest it allows.
type audienceOption struct {
	Kind     policy.AudienceKind
	Min, Max policy.TLP
}

// compose is what the sharing fields of the module form offer: the levels,
// the audiences, the author's trust circles, and whom they may name.
type compose struct {
	Levels    []policy.TLP
	Audiences []audienceOption
	Circles   []option
	Orgs      []candidate
	People    []candidate
}

func (s *Service) compose(ctx context.Context, a policy.Actor) (compose, error) {
	h := s.DB.R()
	c := compose{Levels: policy.Levels()}
	v, err := policy.LoadView(ctx, h, a, db.Now())
	if err != nil {
		return c, err
	}
	maxTo := func(org string) policy.TLP {
		if org == a.OrgID {
			return policy.Red
		}
		for l := policy.Red; l > policy.Clear; l-- {
			if v.Covered(org, policy.Knowledge, l) {
				return l
			}
		}
		return policy.Clear
	}
	if c.Circles, err = circles(ctx, h, a.OrgID); err != nil {
		return c, err
	}
	orgs, people := map[string]bool{}, map[string]bool{}
	add := func(ch policy.Choices, orgOf map[string]string) {
		for _, o := range ch.Orgs {
			if !orgs[o.ID] {
				orgs[o.ID] = true
				c.Orgs = append(c.Orgs, candidate{ID: o.ID, Name: o.Name, Max: maxTo(o.ID)})
			}
		}
		for _, p := range ch.People {
			if !people[p.ID] && p.ID != a.UserID {
				people[p.ID] = true
				c.People = append(c.People, candidate{ID: p.ID, Name: p.Name, Max: maxTo(orgOf[p.ID])})
			}
		}
	}
	for _, circle := range append([]option{{}}, c.Circles...) {
		ch, err := policy.AudienceChoices(ctx, h, a, circle.ID)
		if err != nil {
			return c, err
		}
		orgOf, err := personOrgs(ctx, h, ch.People)
		if err != nil {
			return c, err
		}
		add(ch, orgOf)
	}
	// Partners of bilateral agreements outside the author's circles.
	var partners []string
	for org := range v.Partners {
		if !orgs[org] {
			partners = append(partners, org)
		}
	}
	if len(partners) > 0 {
		rows, err := h.Query(ctx, `SELECT id, name FROM orgs WHERE id IN (`+db.Placeholders(len(partners))+`) ORDER BY name_key`, idArgs(partners)...)
		if err != nil {
			return c, fmt.Errorf("name partners: %w", err)
		}
		ps, err := db.Collect(rows, "name partners", func(r db.Scanner) (o policy.Option, err error) { err = r.Scan(&o.ID, &o.Name); return o, err })
		if err != nil {
			return c, err
		}
		add(policy.Choices{Orgs: ps}, nil)
	}
	slices.SortStableFunc(c.Orgs, func(x, y candidate) int { return strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)) })
	c.Audiences = append(c.Audiences, audienceOption{Kind: policy.AudOrg, Max: policy.AmberStrict})
	if len(c.Circles) > 0 {
		c.Audiences = append(c.Audiences, audienceOption{Kind: policy.AudCommunity, Max: policy.Amber})
	}
	if len(c.Orgs) > 0 {
		c.Audiences = append(c.Audiences, audienceOption{Kind: policy.AudOrgs, Min: policy.Green, Max: policy.AmberStrict})
	}
	if len(c.People) > 0 {
		c.Audiences = append(c.Audiences, audienceOption{Kind: policy.AudPeople, Min: policy.Green, Max: policy.Red})
	}
	return c, nil
}

// personOrgs maps people to their orgs.
func personOrgs(ctx context.Context, h db.Handle, people []policy.Option) (map[string]string, error) {
	out := map[string]string{}
	if len(people) == 0 {
		return out, nil
	}
	ids := make([]string, len(people))
	for i, p := range people {
		ids[i] = p.ID
	}
	rows, err := h.Query(ctx, `SELECT id, org_id FROM users WHERE id IN (`+db.Placeholders(len(ids))+`)`, idArgs(ids)...)
	if err != nil {
		return nil, fmt.Errorf("find people's orgs: %w", err)
	}
	pairs, err := db.Collect(rows, "find people's orgs", func(r db.Scanner) (p [2]string, err error) { err = r.Scan(&p[0], &p[1]); return p, err })
	for _, p := range pairs {
		out[p[0]] = p[1]
	}
	return out, err
}
