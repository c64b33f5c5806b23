package vulns

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// VEX statements: what an org says about an advisory's product in its
// own systems (affected, not affected with a justification, fixed, under
// investigation). A statement is a shareable object (kind
// "vuln_statement") contained in its advisory: visible only with the
// advisory, and never reaching further than the advisory does. By default
// it stays in the org (AMBER, or the advisory's level if stricter).

// Statement is one VEX statement.
type Statement struct {
	ID            string       `json:"id"`
	AdvisoryID    string       `json:"advisory_id"`
	ProductID     string       `json:"product_id"`
	Status        string       `json:"status"`
	Justification string       `json:"justification,omitempty"`
	Note          string       `json:"note,omitempty"`
	OrgName       string       `json:"org_name"`
	UpdatedAt     int64        `json:"updated_at"`
	TLP           string       `json:"tlp"`
	Share         policy.Share `json:"-"`
}

// StatementInput is a statement as sent. Sharing's empty level and
// audience keep a statement's envelope (a new one: the org, AMBER or the
// advisory's level if stricter).
type StatementInput struct {
	ProductID     string `json:"product_id"`
	Status        string `json:"status"`
	Justification string `json:"justification"`
	Note          string `json:"note"`
	policy.Sharing
}

// VEXStatuses are the statuses of VEX (OpenVEX, CSAF VEX).
var VEXStatuses = []string{"affected", "not_affected", "fixed", "under_investigation"}

// Justifications are the reasons a product is not affected (OpenVEX and
// CSAF's flag labels).
var Justifications = []string{"component_not_present", "vulnerable_code_not_present", "vulnerable_code_not_in_execute_path",
	"vulnerable_code_cannot_be_controlled_by_adversary", "inline_mitigations_already_exist"}

func (in *StatementInput) check() error {
	in.Status, in.Justification, in.Note = strings.TrimSpace(in.Status), strings.TrimSpace(in.Justification), strings.TrimSpace(in.Note)
	if !slices.Contains(VEXStatuses, in.Status) {
		return fault.BadInput("status", "bad_vex_status", "status is affected, not_affected, fixed or under_investigation")
	}
	switch {
	case in.Status == "not_affected" && !slices.Contains(Justifications, in.Justification):
		return fault.BadInput("justification", "justification_needed", "not_affected needs a justification: component_not_present, vulnerable_code_not_present, vulnerable_code_not_in_execute_path, vulnerable_code_cannot_be_controlled_by_adversary or inline_mitigations_already_exist")
	case in.Status != "not_affected" && in.Justification != "":
		return fault.BadInput("justification", "justification_unexpected", "only not_affected takes a justification")
	}
	if len(in.Note) > 4000 || !web.ValidText(in.Note) {
		return fault.BadInput("note", "bad_note", "the note is text of at most 4,000 characters")
	}
	return nil
}

// SetStatement records the actor's org's statement on a product of an
// advisory the actor may see (else not found): a new statement, or a
// new status of the org's existing one (and a new envelope if Sharing
// names one, checked like a new share).
func (s *Service) SetStatement(ctx context.Context, a policy.Actor, advisoryID string, in StatementInput) (Statement, error) {
	if err := in.check(); err != nil {
		return Statement{}, err
	}
	var id string
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		adv, err := r.Envelope(ctx, tx.Handle, s.advisories, advisoryID)
		if err != nil {
			return err
		}
		var name string
		if err := tx.QueryRow(ctx, `SELECT name FROM vuln_products WHERE advisory_id = ? AND product_id = ?`, advisoryID, in.ProductID).Scan(&name); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fault.BadInput("product_id", "unknown_product", "the advisory names no product {product}").With("product", in.ProductID)
			}
			return fmt.Errorf("find product: %w", db.Map(err))
		}
		now := db.Now()
		err = tx.QueryRow(ctx, `SELECT id FROM vuln_statements WHERE org_id = ? AND advisory_id = ? AND product_id = ?`, a.OrgID, advisoryID, in.ProductID).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			tlp, aud, err := s.statementSharing(in.Sharing, adv)
			if err != nil {
				return err
			}
			env := s.statements.Envelope(a, tlp, aud)
			env.Container = advisoryID
			d, err := s.statements.Disclose(ctx, tx, a, env)
			if err != nil {
				return err
			}
			id = env.ID
			if _, err := tx.Exec(ctx, `INSERT INTO vuln_statements (id, org_id, advisory_id, product_id, status, justification, note, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, a.OrgID, advisoryID, in.ProductID, in.Status, in.Justification, in.Note, now, now); err != nil {
				return fmt.Errorf("store statement: %w", err)
			}
			if err := audit.Write(ctx, tx, a, audit.Entry{Action: "vulns.statement.create", ObjectType: "vuln_statement", ObjectID: id,
				Detail:  map[string]any{"advisory": advisoryID, "product": in.ProductID, "status": in.Status, "sharing": d.Detail()},
				Touches: []string{"vulns", "vuln_advisory:" + advisoryID}}); err != nil {
				return err
			}
			sh := d.Share
			tx.AfterCommit(func() {
				s.Events.Publish(events.Event{Type: "vulns.statement", Share: &sh, Container: &adv, Topics: []string{"vulns", "vuln_advisory:" + advisoryID},
					Data: map[string]string{"id": sh.ID}})
			})
			return nil
		case err != nil:
			return fmt.Errorf("find statement: %w", db.Map(err))
		}
		owned, err := s.statements.Authorize(ctx, tx, a, id)
		if err != nil {
			return err
		}
		detail := map[string]any{"advisory": advisoryID, "product": in.ProductID, "status": in.Status}
		if in.TLP != "" || in.Audience != "" {
			tlp, aud, err := s.statementSharing(in.Sharing, adv)
			if err != nil {
				return err
			}
			d, err := s.statements.Reshare(ctx, tx, a, id, tlp, aud)
			if err != nil {
				return err
			}
			detail["sharing"] = d.Detail()
		}
		if _, err := tx.Exec(ctx, `UPDATE vuln_statements SET status = ?, justification = ?, note = ?, updated_at = ? WHERE id = ? AND org_id = ?`,
			in.Status, in.Justification, in.Note, now, id, owned.Owner); err != nil {
			return fmt.Errorf("update statement: %w", err)
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "vulns.statement.update", ObjectType: "vuln_statement", ObjectID: id,
			Detail: detail, Touches: []string{"vulns", "vuln_advisory:" + advisoryID}})
	})
	if err != nil {
		return Statement{}, err
	}
	list, err := s.FindStatements(ctx, a, advisoryID)
	if err != nil {
		return Statement{}, err
	}
	for _, st := range list {
		if st.ID == id {
			return st, nil
		}
	}
	return Statement{}, fault.ErrNotFound
}

// statementSharing is the level and audience asked for, by default the
// org at AMBER or the advisory's level if stricter.
func (s *Service) statementSharing(in policy.Sharing, adv policy.Share) (policy.TLP, policy.Audience, error) {
	tlp := max(policy.Amber, adv.TLP)
	if in.TLP != "" {
		l, err := policy.ParseTLP(in.TLP)
		if err != nil {
			return 0, policy.Audience{}, err
		}
		tlp = l
	}
	aud := policy.Audience{Kind: policy.AudienceKind(strings.ToLower(strings.TrimSpace(in.Audience))), Community: in.Community, Orgs: in.Orgs, People: in.People}
	if aud.Kind == "" {
		aud.Kind = policy.AudOrg
	}
	return tlp, aud, nil
}

// FindStatements lists the statements on an advisory the actor may see
// (its own org's and those others shared), if the advisory is visible.
func (s *Service) FindStatements(ctx context.Context, a policy.Actor, advisoryID string) ([]Statement, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	if _, err := r.Envelope(ctx, h, s.advisories, advisoryID); err != nil {
		return nil, err
	}
	q := db.Q(`SELECT st.id, st.advisory_id, st.product_id, st.status, st.justification, st.note, o.name, st.updated_at, `+s.statements.Columns("st")+` FROM `).
		Append(r.From(s.statements, "st")).Add(` JOIN orgs o ON o.id = st.org_id WHERE st.advisory_id = ? ORDER BY o.name, st.product_id`, advisoryID)
	return s.statementRows(ctx, h, q)
}

func (s *Service) statementRows(ctx context.Context, h db.Handle, q *db.Query) ([]Statement, error) {
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list statements: %w", err)
	}
	return db.Collect(rows, "list statements", func(r db.Scanner) (x Statement, err error) {
		err = r.Scan(s.statements.Dest(&x.Share, []any{&x.ID, &x.AdvisoryID, &x.ProductID, &x.Status, &x.Justification, &x.Note, &x.OrgName, &x.UpdatedAt})...)
		x.TLP = x.Share.TLP.Name()
		return x, err
	})
}
