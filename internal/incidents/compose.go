package incidents

import (
	"context"

	"verbund/internal/policy"
)

// Compose is what the incident forms offer, as the forum's compose form
// does (policy.FindCompose: the levels, the trust circles of the writer's
// org, the orgs and people it may name with the highest level an incident
// may reach them at), and the CERTs the org may ask for assistance.
type Compose struct {
	policy.Compose
	CERTs []policy.Option
}

// Candidate is an org or a person the form may name.
type Candidate = policy.Candidate

// FindCompose works out what the incident forms offer actor a.
func (s *Service) FindCompose(ctx context.Context, a policy.Actor) (Compose, error) {
	pc, err := policy.FindCompose(ctx, s.DB.R(), a, policy.Incident)
	if err != nil {
		return Compose{}, err
	}
	c := Compose{Compose: pc}
	c.CERTs, err = s.FindCERTs(ctx, a)
	return c, err
}
