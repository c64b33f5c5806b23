package incidents

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// leakAudience is the envelope of a CERT's leak report: credentials or
// data of the affected org were found, and until that org says
// otherwise only its security contacts may know. They are the people of
// the org whose e-mail is its security contact, else its admins; the
// report goes to them by name at TLP:RED, which the CERT's agreement with
// the org must cover (Disclose checks it).
func (s *Service) leakAudience(ctx context.Context, h db.Handle, a policy.Actor, category, org string) (policy.TLP, policy.Audience, error) {
	if category != "credential_leak" && category != "data_leak" {
		return 0, policy.Audience{}, fault.BadInput("affected_org", "leak_report_category", "only credential and data leaks name an affected organisation")
	}
	var kind string
	if err := h.QueryRow(ctx, `SELECT kind FROM orgs WHERE id = ?`, a.OrgID).Scan(&kind); err != nil {
		return 0, policy.Audience{}, fmt.Errorf("reporter's org: %w", db.Map(err))
	}
	if kind != "cert" {
		return 0, policy.Audience{}, fault.New(fault.Forbidden, "leak_report_cert", "only a CERT reports leaks of another organisation")
	}
	// The CERT must reach the org at RED before anything about the org's
	// people is read: an org it has no such agreement with is refused
	// alike whether it exists, with nobody of it named (attack review:
	// the kernel's refusal named a person of that org).
	v, err := policy.LoadView(ctx, h, a, db.Now())
	if err != nil {
		return 0, policy.Audience{}, err
	}
	var contact, name string
	err = h.QueryRow(ctx, `SELECT security_contact, name FROM orgs WHERE id = ?`, org).Scan(&contact, &name)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, policy.Audience{}, fmt.Errorf("affected org: %w", db.Map(err))
	}
	if err != nil || org == a.OrgID || !v.Covered(org, policy.Incident, policy.Red) {
		if name == "" {
			name = org
		}
		return 0, policy.Audience{}, fault.BadInput("affected_org", "no_agreement", "{org} has no agreement with your organisation that covers incidents at {tlp}: a leak report goes to its security contacts at RED").With("org", name).With("tlp", "TLP:RED")
	}
	rows, err := h.Query(ctx, `SELECT id FROM users WHERE org_id = ? AND disabled = 0 AND lower(email) = ? ORDER BY id`, org, strings.ToLower(strings.TrimSpace(contact)))
	if err != nil {
		return 0, policy.Audience{}, fmt.Errorf("security contacts: %w", err)
	}
	people, err := db.Collect(rows, "security contacts", func(sc db.Scanner) (id string, err error) { err = sc.Scan(&id); return id, err })
	if err != nil {
		return 0, policy.Audience{}, err
	}
	if len(people) == 0 {
		rows, err := h.Query(ctx, `SELECT id FROM users WHERE org_id = ? AND disabled = 0 AND role = 'admin' ORDER BY id`, org)
		if err != nil {
			return 0, policy.Audience{}, fmt.Errorf("security contacts: %w", err)
		}
		if people, err = db.Collect(rows, "security contacts", func(sc db.Scanner) (id string, err error) { err = sc.Scan(&id); return id, err }); err != nil {
			return 0, policy.Audience{}, err
		}
	}
	if len(people) == 0 {
		return 0, policy.Audience{}, fault.BadInput("affected_org", "leak_no_contacts", "the affected organisation has nobody to receive the report")
	}
	return policy.Red, policy.Audience{Kind: policy.AudPeople, People: people}, nil
}

// checkLeakWidening lets the org a leak report names change its sharing
// in the reporting CERT's name only to widen it: at TLP:AMBER or
// stricter (the CERT's source data never goes to a community or the
// public by someone else's hand), and reaching everyone it reaches now:
// named people stay named or their orgs become named orgs, named orgs
// stay named (attack review: the affected org could lower the report to
// CLEAR or pass it to another org and lock itself out; the re-check
// review did the same in two steps, through the org itself).
func (s *Service) checkLeakWidening(ctx context.Context, h db.Handle, a policy.Actor, id string, tlp policy.TLP, aud policy.Audience) error {
	refuse := fault.New(fault.Forbidden, "leak_widen_only", "a leak report may only be widened by the organisation it names: keep TLP:AMBER or stricter, and keep everyone who reads it now (its people by name, or your organisation among the named organisations)")
	if tlp < policy.Amber {
		return refuse
	}
	cur, ok, err := policy.LoadShare(ctx, h, id)
	if err != nil {
		return err
	}
	if !ok {
		return fault.New(fault.NotFound, "not_found", "not found")
	}
	// Who reads it now, as orgs and people; the new audience must hold
	// them all.
	switch {
	case cur.Audience.Kind == policy.AudOrgs && aud.Kind == policy.AudOrgs:
		for _, o := range cur.Audience.Orgs {
			if !slices.Contains(aud.Orgs, o) {
				return refuse
			}
		}
		return nil
	case cur.Audience.Kind == policy.AudPeople && aud.Kind == policy.AudPeople:
		for _, p := range cur.Audience.People {
			if !slices.Contains(aud.People, p) {
				return refuse
			}
		}
		return nil
	case cur.Audience.Kind == policy.AudPeople && aud.Kind == policy.AudOrgs:
		if !slices.Contains(aud.Orgs, a.OrgID) {
			return refuse
		}
		for _, p := range cur.Audience.People {
			var org string
			if err := h.QueryRow(ctx, `SELECT org_id FROM users WHERE id = ?`, p).Scan(&org); err != nil {
				return db.NotFound(err, "reader's org")
			}
			if org != cur.Owner && !slices.Contains(aud.Orgs, org) {
				return refuse
			}
		}
		return nil
	}
	return refuse
}
