package knowledge

import (
	"context"

	"verbund/internal/policy"
)

// Compose is what the article form offers: the levels, the trust circles
// the writer's org is an active member of (an article for a circle's
// library), and the orgs and people it may name (policy.FindCompose).
type Compose = policy.Compose

// Candidate is an org or a person the form may name.
type Candidate = policy.Candidate

// FindCompose works out what the article form offers actor a.
func (s *Service) FindCompose(ctx context.Context, a policy.Actor) (Compose, error) {
	return policy.FindCompose(ctx, s.DB.R(), a, s.articles.Category())
}
