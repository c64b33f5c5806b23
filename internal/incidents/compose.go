package incidents

import (
	"context"
	"fmt"

	"verbund/internal/db"
	"verbund/internal/policy"
)

// Compose is what the incident form offers, as the forum's compose form
// does: the levels, the trust circles of the writer's org, and the orgs
// and people it may name, each with the highest level its agreements let
// an incident reach them (RED for one's own people).
type Compose struct {
	Levels  []policy.TLP
	Circles []policy.Option
	Orgs    []Candidate
	People  []Candidate
	CERTs   []policy.Option // CERTs the org may ask for assistance
}

// Candidate is an org or a person the form may name.
type Candidate struct {
	ID, Name string
	Max      policy.TLP
}

// FindCompose works out what the incident forms offer actor a.
func (s *Service) FindCompose(ctx context.Context, a policy.Actor) (Compose, error) {
	h := s.DB.R()
	c := Compose{Levels: policy.Levels()}
	v, err := policy.LoadView(ctx, h, a, db.Now())
	if err != nil {
		return c, err
	}
	rows, err := h.Query(ctx, `SELECT c.id, c.name FROM community_members m JOIN communities c ON c.id = m.community_id
		WHERE m.org_id = ? AND m.status = 'active' ORDER BY c.name`, a.OrgID)
	if err != nil {
		return c, fmt.Errorf("circles: %w", err)
	}
	if c.Circles, err = db.Collect(rows, "circles", func(sc db.Scanner) (o policy.Option, err error) { err = sc.Scan(&o.ID, &o.Name); return o, err }); err != nil {
		return c, err
	}
	maxTo := func(org string) policy.TLP {
		if org == a.OrgID {
			return policy.Red
		}
		for l := policy.Red; l > policy.Clear; l-- {
			if v.Covered(org, policy.Incident, l) {
				return l
			}
		}
		return policy.Clear
	}
	// Whom the org may know: its partners and its circles' members.
	known := map[string]bool{a.OrgID: true}
	for o := range v.Partners {
		known[o] = true
	}
	for _, members := range v.Communities {
		for o := range members {
			known[o] = true
		}
	}
	ids := make([]any, 0, len(known))
	for o := range known {
		ids = append(ids, o)
	}
	rows, err = h.Query(ctx, `SELECT id, name FROM orgs WHERE id IN (`+db.Placeholders(len(ids))+`) ORDER BY name_key`, ids...)
	if err != nil {
		return c, fmt.Errorf("audience orgs: %w", err)
	}
	orgs, err := db.Collect(rows, "audience orgs", func(sc db.Scanner) (o policy.Option, err error) { err = sc.Scan(&o.ID, &o.Name); return o, err })
	if err != nil {
		return c, err
	}
	for _, o := range orgs {
		if o.ID != a.OrgID {
			c.Orgs = append(c.Orgs, Candidate{ID: o.ID, Name: o.Name, Max: maxTo(o.ID)})
		}
	}
	rows, err = h.Query(ctx, `SELECT u.id, u.name || ' (' || o.name || ')', u.org_id FROM users u JOIN orgs o ON o.id = u.org_id
		WHERE u.disabled = 0 AND u.org_id IN (`+db.Placeholders(len(ids))+`) ORDER BY o.name_key, u.name`, ids...)
	if err != nil {
		return c, fmt.Errorf("audience people: %w", err)
	}
	people, err := db.Collect(rows, "audience people", func(sc db.Scanner) (p [3]string, err error) { err = sc.Scan(&p[0], &p[1], &p[2]); return p, err })
	if err != nil {
		return c, err
	}
	for _, p := range people {
		if p[0] != a.UserID {
			c.People = append(c.People, Candidate{ID: p[0], Name: p[1], Max: maxTo(p[2])})
		}
	}
	c.CERTs, err = s.FindCERTs(ctx, a)
	return c, err
}
