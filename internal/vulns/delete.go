package vulns

import (
	"context"
	"fmt"

	"verbund/internal/audit"
	"verbund/internal/csaf"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// DeleteAdvisory removes an advisory of the actor's org with every version,
// its products and vulnerabilities, every org's matches of it and the VEX
// statements on it (contained objects go with their container, as a
// thread's replies do). Analysts and admins of the owner org who may see
// it; for everyone else it is not found.
func (s *Service) DeleteAdvisory(ctx context.Context, a policy.Actor, id string) error {
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := s.advisories.Authorize(ctx, tx, a, id); err != nil {
			return err
		}
		var tracking, version string
		if err := tx.QueryRow(ctx, `SELECT tracking_id, version FROM vuln_advisories WHERE id = ?`, id).Scan(&tracking, &version); err != nil {
			return db.NotFound(err, "load advisory")
		}
		// The record counts the statements the deleting person could see:
		// other orgs' statements it may not see are not its to count.
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		var statements int
		if err := tx.SelectRow(ctx, db.Q(`SELECT COUNT(*) FROM `).Append(r.From(s.statements, "st")).Add(` WHERE st.advisory_id = ?`, id)).Scan(&statements); err != nil {
			return fmt.Errorf("count statements: %w", db.Map(err))
		}
		for _, q := range []string{
			`DELETE FROM csaf_publications WHERE advisory_id = ?`,
			`DELETE FROM vuln_matches WHERE advisory_id = ?`,
			`DELETE FROM vuln_statements WHERE advisory_id = ?`,
			`DELETE FROM vuln_remediations WHERE advisory_id = ?`,
			`DELETE FROM vuln_product_status WHERE advisory_id = ?`,
			`DELETE FROM vuln_vulnerabilities WHERE advisory_id = ?`,
			`DELETE FROM vuln_products WHERE advisory_id = ?`,
			`DELETE FROM vuln_advisory_versions WHERE advisory_id = ?`,
			`DELETE FROM vuln_advisories WHERE id = ?`,
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return fmt.Errorf("delete advisory: %w", err)
			}
		}
		if err := s.advisories.Withdraw(ctx, tx, a, id); err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "vulns.advisory.delete", ObjectType: "vuln_advisory", ObjectID: id,
			Detail: map[string]any{"tracking_id": tracking, "version": version, "statements": statements}, Touches: []string{"vulns", "vuln_advisory:" + id}})
	})
}

// ReshareAdvisory gives an advisory of the actor's org a new level and
// audience: a new disclosure, checked like a new share. The level may not
// be below the document's own marking (an importer restricts what the
// publisher marked, never loosens it). The advisory is matched again for
// the orgs that may see it now; matches of orgs that may not any more go.
func (s *Service) ReshareAdvisory(ctx context.Context, a policy.Actor, id string, in policy.Sharing) (Advisory, error) {
	tlp, aud, err := in.Parse()
	if err != nil {
		return Advisory{}, err
	}
	if aud.Kind == "" {
		aud.Kind = policy.AudOrg
	}
	var sh policy.Share
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := s.advisories.Authorize(ctx, tx, a, id); err != nil {
			return err
		}
		var label string
		if err := tx.QueryRow(ctx, `SELECT doc_tlp FROM vuln_advisories WHERE id = ?`, id).Scan(&label); err != nil {
			return db.NotFound(err, "load advisory")
		}
		if name, _ := csaf.TLPLevel(label); name != "" {
			if marked, _ := policy.ParseTLP(name); tlp < marked {
				return fault.BadInput("tlp", "tlp_below_document", "the document is marked {tlp}: share it at that level or a stricter one").With("tlp", marked.String())
			}
		}
		d, err := s.advisories.Reshare(ctx, tx, a, id, tlp, aud)
		if err != nil {
			return err
		}
		sh = d.Share
		if err := audit.Write(ctx, tx, a, audit.Entry{Action: "vulns.advisory.reshare", ObjectType: "vuln_advisory", ObjectID: id,
			Detail: d.Detail(), Touches: []string{"vulns", "vuln_advisory:" + id}}); err != nil {
			return err
		}
		return s.matchAdvisories(ctx, tx, a, []string{id})
	})
	if err != nil {
		return Advisory{}, err
	}
	s.Events.Publish(events.Event{Type: "vulns.advisory", Share: &sh, Topics: []string{"vulns"}, Data: map[string]string{"id": sh.ID}})
	return s.FindAdvisoryByID(ctx, a, id)
}
