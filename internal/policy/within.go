package policy

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"verbund/internal/db"
	"verbund/internal/fault"
)

// Within is the rule for contributions (docs/POLICY.md "Comment or
// contribute"): an object added to another (a reply in a thread) inherits
// the container's level and audience, or something stricter. Stricter
// means a level at least the container's and recipients among the
// container's: the container's owner org and its audience — the circle's
// active members, the named orgs, or the named people and the container's
// author. A TLP:CLEAR container is open to all, so any audience is within
// it. The error names what is wider.
func Within(ctx context.Context, h db.Handle, s, c Share) error {
	return within(ctx, h, s, c, nil)
}

// within is Within with the active members of c's circle when the
// caller has them (the writer's view, loaded in the same transaction,
// holds its own circles' members): one query less for a reply in a
// circle's thread. nil: they are read.
func within(ctx context.Context, h db.Handle, s, c Share, circle map[string]bool) error {
	if s.TLP < c.TLP {
		return fault.BadInput("tlp", "tlp_below_container", "a contribution cannot be less restricted than what it belongs to ({tlp})").With("tlp", c.TLP.String())
	}
	if c.TLP == Clear {
		return nil
	}
	// The orgs whose members the container reaches (nil: named people
	// only), and the people it names.
	var orgs []string
	people := []string{}
	switch c.Audience.Kind {
	case AudOrg:
		orgs = []string{c.Owner}
	case AudOrgs:
		orgs = append([]string{c.Owner}, c.Audience.Orgs...)
	case AudCommunity:
		if circle != nil {
			orgs = slices.Sorted(maps.Keys(circle))
		} else {
			rows, err := h.Query(ctx, `SELECT org_id FROM community_members WHERE community_id = ? AND status = 'active'`, c.Audience.Community)
			if err != nil {
				return fmt.Errorf("circle members: %w", err)
			}
			if orgs, err = db.Collect(rows, "circle members", func(sc db.Scanner) (o string, err error) { err = sc.Scan(&o); return o, err }); err != nil {
				return err
			}
		}
		if !slices.Contains(orgs, c.Owner) {
			orgs = append(orgs, c.Owner)
		}
	case AudPeople:
		people = append(slices.Clone(c.Audience.People), c.Author)
	}
	// what is named in the reader's language (the catalogue's
	// policy.beyond.* keys), for every capability with contributions.
	wider := func(what, key string) error {
		return fault.BadInput("audience", "audience_beyond_container", "a contribution cannot reach further than what it belongs to: {what} does not receive it").
			WithKey("what", what, "policy.beyond."+key)
	}
	switch s.Audience.Kind {
	case AudOrg:
		if orgs == nil || !slices.Contains(orgs, s.Owner) {
			return wider("your organisation", "own_org")
		}
	case AudCommunity:
		if c.Audience.Kind != AudCommunity || s.Audience.Community != c.Audience.Community {
			return wider("the trust circle", "circle")
		}
	case AudOrgs:
		for _, o := range s.Audience.Orgs {
			if !slices.Contains(orgs, o) {
				return wider("a named organisation", "named_org")
			}
		}
	case AudPeople:
		for _, p := range s.Audience.People {
			if slices.Contains(people, p) {
				continue
			}
			var org string
			err := h.QueryRow(ctx, `SELECT org_id FROM users WHERE id = ?`, p).Scan(&org)
			if err != nil && !fault.Is(db.NotFound(err, ""), fault.NotFound) {
				return fmt.Errorf("person's organisation: %w", db.Map(err))
			}
			if err != nil || !slices.Contains(orgs, org) {
				return wider("a named person", "named_person")
			}
		}
	}
	return nil
}

// Inherit is the audience a contribution by org gets when it asks for none:
// the container's, seen from the contributor — the same circle; the named
// orgs and the container's owner; the named people and the container's
// author; the owner org itself.
func Inherit(c Share) Audience {
	switch c.Audience.Kind {
	case AudOrgs:
		return Audience{Kind: AudOrgs, Orgs: dedupe(append(slices.Clone(c.Audience.Orgs), c.Owner))}
	case AudPeople:
		return Audience{Kind: AudPeople, People: dedupe(append(slices.Clone(c.Audience.People), c.Author))}
	}
	return c.Audience.normal()
}
