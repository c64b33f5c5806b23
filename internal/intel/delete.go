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
		type object struct{ org, stixID string }
		promote := map[object]bool{} // objects whose latest version goes
		for _, id := range ids {
			if _, err := s.kind.Authorize(ctx, tx, a, id); err != nil {
				return err
			}
			var o object
			var latest int
			if err := tx.QueryRow(ctx, `SELECT org_id, stix_id, latest FROM intel_objects WHERE id = ?`, id).Scan(&o.org, &o.stixID, &latest); err != nil {
				return db.NotFound(err, "load intel object")
			}
			if latest == 1 {
				promote[o] = true
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
		for o := range promote {
			// The newest version left becomes the latest.
			if _, err := tx.Exec(ctx, `UPDATE intel_objects SET latest = 1 WHERE id = (SELECT id FROM intel_objects WHERE org_id = ? AND stix_id = ?
				ORDER BY version_ns DESC, date_added DESC LIMIT 1)`, o.org, o.stixID); err != nil {
				return fmt.Errorf("promote a version: %w", err)
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
