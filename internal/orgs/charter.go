package orgs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"verbund/internal/db"
	"verbund/internal/policy"
)

// Charter is what a circle's page shows of its charter: which members
// accepted it (a member that did not receives only TLP:CLEAR from the
// others, unless a bilateral agreement covers it).
type Charter struct {
	ID, Title string
	MaxTLP    policy.TLP
	Accepted  map[string]bool // org id → accepted
}

// Charters finds a circle's charter as the actor may see it;
// internal/agreements implements it (orgs does not import agreements,
// which imports orgs). ok is false when the circle has none in force.
type Charters interface {
	FindCharter(ctx context.Context, a policy.Actor, community string) (c Charter, ok bool, err error)
}

// FindChannelID returns the forum channel of a circle the actor's org is
// an active member of ("" otherwise: the channel is the members').
func (s *Service) FindChannelID(ctx context.Context, a policy.Actor, community string) (string, error) {
	var id string
	err := s.DB.R().QueryRow(ctx, `SELECT ch.id FROM channels ch JOIN community_members m ON m.community_id = ch.community_id
		WHERE ch.community_id = ? AND m.org_id = ? AND m.status = 'active' ORDER BY ch.created_at LIMIT 1`, community, a.OrgID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("circle channel: %w", db.Map(err))
	}
	return id, nil
}
