package agreements

import (
	"context"
	"slices"
	"strings"

	"verbund/internal/orgs"
	"verbund/internal/policy"
)

// FindDuplicates lists the agreements in force or proposed that a new
// proposal in would repeat: the same kind between the same parties (the
// partner, or the circle of a charter) for at least one of its
// categories. A form warns before proposing one of them again.
func (s *Service) FindDuplicates(ctx context.Context, a policy.Actor, in Input) ([]Agreement, error) {
	cats, err := policy.ParseCategories(in.Categories)
	if err != nil {
		return nil, nil // the proposal itself will say what is wrong
	}
	kind := strings.ToLower(strings.TrimSpace(in.Kind))
	if kind == "" {
		kind = "bilateral"
	}
	all, err := s.FindAgreements(ctx, a, "")
	if err != nil {
		return nil, err
	}
	var out []Agreement
	for _, g := range all {
		if g.Kind != kind || (g.Status != "active" && g.Status != "proposed" && g.Status != "pending") {
			continue
		}
		if kind == "charter" && g.CommunityID != in.Community {
			continue
		}
		if kind == "bilateral" && !slices.ContainsFunc(g.Parties, func(p Party) bool { return p.OrgID == in.Partner }) {
			continue
		}
		if c, err := policy.ParseCategories(g.Categories); err == nil && c&cats != 0 {
			out = append(out, g)
		}
	}
	return out, nil
}

// FindCharter returns the charter in force of a circle (the newest, if
// there were several) with the members that accepted it, as the actor's
// org may see it (orgs.Charters, for the circle's page).
func (s *Service) FindCharter(ctx context.Context, a policy.Actor, community string) (orgs.Charter, bool, error) {
	gs, err := s.FindAgreements(ctx, a, community)
	if err != nil {
		return orgs.Charter{}, false, err
	}
	for _, g := range gs { // newest first
		if g.Kind != "charter" || (g.Status != "active" && g.Status != "pending") {
			continue
		}
		c := orgs.Charter{ID: g.ID, Title: g.Title, MaxTLP: g.maxTLP, Accepted: map[string]bool{}}
		for _, p := range g.Parties {
			c.Accepted[p.OrgID] = p.AcceptedAt != 0
		}
		return c, true, nil
	}
	return orgs.Charter{}, false, nil
}
