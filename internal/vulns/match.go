package vulns

import (
	"context"

	"verbund/internal/db"
)

// matchAdvisories matches the advisories ids (new or with a new current
// version) against the assets of every org that may see them.
func (s *Service) matchAdvisories(ctx context.Context, tx *db.Tx, ids []string) error {
	return nil
}
