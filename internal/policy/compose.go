package policy

import (
	"context"
	"fmt"

	"verbund/internal/db"
)

// Compose is what a sharing form offers a writer: the levels, the trust
// circles of the writer's org, and the orgs and people it may name.
type Compose struct {
	Levels  []TLP
	Circles []Option
	Orgs    []Candidate
	People  []Candidate
}

// Candidate is an org or a person a form may name, with the highest
// level the writer's agreements let the form's objects reach them
// (TLP:CLEAR has no limit).
type Candidate struct {
	ID, Name string
	Max      TLP
}

// FindCompose works out what a sharing form for objects of category cat
// offers actor a: the levels, the trust circles a's org is an active
// member of, and the orgs and people it may name (its partners and its
// circles' members, never others), each with the highest level its
// agreements let an object of cat reach them (RED for its own people).
// The forms of articles, incidents and other capabilities share it; the
// kernel checks the write again whatever the form offered.
func FindCompose(ctx context.Context, h db.Handle, a Actor, cat Category) (Compose, error) {
	c := Compose{Levels: Levels()}
	v, err := LoadView(ctx, h, a, db.Now())
	if err != nil {
		return c, err
	}
	rows, err := h.Query(ctx, `SELECT c.id, c.name FROM community_members m JOIN communities c ON c.id = m.community_id
		WHERE m.org_id = ? AND m.status = 'active' ORDER BY c.name`, a.OrgID)
	if err != nil {
		return c, fmt.Errorf("circles: %w", err)
	}
	if c.Circles, err = db.Collect(rows, "circles", func(sc db.Scanner) (o Option, err error) { err = sc.Scan(&o.ID, &o.Name); return o, err }); err != nil {
		return c, err
	}
	maxTo := func(org string) TLP {
		if org == a.OrgID {
			return Red
		}
		for l := Red; l > Clear; l-- {
			if v.Covered(org, cat, l) {
				return l
			}
		}
		return Clear
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
	orgs, err := db.Collect(rows, "audience orgs", func(sc db.Scanner) (o Option, err error) { err = sc.Scan(&o.ID, &o.Name); return o, err })
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
	return c, nil
}
