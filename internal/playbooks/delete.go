package playbooks

import (
	"context"
	"fmt"

	"verbund/internal/audit"
	"verbund/internal/cacao"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// DeletePlaybook removes a playbook of the actor's org with every
// version. Analysts and admins of the owner org who may see it; for
// everyone else it is not found.
func (s *Service) DeletePlaybook(ctx context.Context, a policy.Actor, id string) error {
	var sh policy.Share
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		owned, err := s.playbooks.Authorize(ctx, tx, a, id)
		if err != nil {
			return err
		}
		sh = owned.Share
		var cacaoID, name string
		var versions int
		if err := tx.QueryRow(ctx, `SELECT p.cacao_id, p.name, (SELECT COUNT(*) FROM playbook_versions v WHERE v.playbook_id = p.id) FROM playbooks p WHERE p.id = ?`, id).
			Scan(&cacaoID, &name, &versions); err != nil {
			return db.NotFound(err, "load playbook")
		}
		for _, q := range []string{`DELETE FROM playbook_versions WHERE playbook_id = ?`, `DELETE FROM playbooks WHERE id = ?`} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return fmt.Errorf("delete playbook: %w", err)
			}
		}
		if err := s.playbooks.Withdraw(ctx, tx, a, id); err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "playbooks.playbook.delete", ObjectType: "playbook", ObjectID: id,
			Detail: map[string]any{"cacao_id": cacaoID, "name": name, "versions": versions}, Touches: []string{"playbooks", "playbook:" + id}})
	})
	if err != nil {
		return err
	}
	s.Events.Publish(events.Event{Type: "playbooks.playbook.deleted", Share: &sh, Topics: []string{"playbooks"}, Data: map[string]string{"id": id}})
	return nil
}

// ResharePlaybook gives a playbook of the actor's org a new level and
// audience: a new disclosure, checked like a new share.
func (s *Service) ResharePlaybook(ctx context.Context, a policy.Actor, id string, in policy.Sharing) (Playbook, error) {
	tlp, aud, err := in.Parse()
	if err != nil {
		return Playbook{}, err
	}
	if aud.Kind == "" {
		aud.Kind = policy.AudOrg
	}
	var sh policy.Share
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := s.playbooks.Authorize(ctx, tx, a, id); err != nil {
			return err
		}
		// The author's marking of the current version is the least level:
		// a library may restrict what the author marked, never loosen it.
		var doc string
		if err := tx.QueryRow(ctx, `SELECT v.document FROM playbooks p JOIN playbook_versions v ON v.playbook_id = p.id AND v.modified_at = p.modified_at
			WHERE p.id = ?`, id).Scan(&doc); err != nil {
			return db.NotFound(err, "load playbook")
		}
		if pb, err := cacao.Decode([]byte(doc)); err == nil {
			if marked, ok := tlpOf(pb); ok && tlp < marked {
				return fault.BadInput("tlp", "playbook_tlp_below_document", "the playbook is marked {tlp}: share it at that level or a stricter one").With("tlp", marked.String())
			}
		}
		d, err := s.playbooks.Reshare(ctx, tx, a, id, tlp, aud)
		if err != nil {
			return err
		}
		sh = d.Share
		return audit.Write(ctx, tx, a, audit.Entry{Action: "playbooks.playbook.reshare", ObjectType: "playbook", ObjectID: id,
			Detail: d.Detail(), Touches: []string{"playbooks", "playbook:" + id}})
	})
	if err != nil {
		return Playbook{}, err
	}
	s.Events.Publish(events.Event{Type: "playbooks.playbook", Share: &sh, Topics: []string{"playbooks"}, Data: map[string]string{"id": id}})
	return s.FindPlaybookByID(ctx, a, id)
}
