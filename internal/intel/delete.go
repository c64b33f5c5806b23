package intel

import (
	"context"
	"fmt"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/policy"
)

// Delete removes versions of objects (by the hub's ids) that the actor's
// org shared: each must be visible to the actor and owned by its org
// (else not found, or forbidden for another org's), all or none, in one
// transaction with one audit record.
func (s *Service) Delete(ctx context.Context, a policy.Actor, ids []string) error {
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		for _, id := range ids {
			if _, err := s.kind.Authorize(ctx, tx, a, id); err != nil {
				return err
			}
			for _, q := range []string{`DELETE FROM intel_values WHERE object_id = ?`, `DELETE FROM intel_refs WHERE object_id = ?`, `DELETE FROM intel_objects WHERE id = ?`} {
				if _, err := tx.Exec(ctx, q, id); err != nil {
					return fmt.Errorf("delete intel object: %w", err)
				}
			}
			if err := s.kind.Withdraw(ctx, tx, a, id); err != nil {
				return err
			}
		}
		objectID := ""
		if len(ids) == 1 {
			objectID = ids[0]
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "intel.delete", ObjectType: "intel", ObjectID: objectID,
			Detail: map[string]any{"versions": len(ids), "ids": ids}, Touches: []string{"intel"}})
	})
}
