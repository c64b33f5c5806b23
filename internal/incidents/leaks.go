package incidents

import (
	"context"
	"fmt"
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
	var contact string
	if err := h.QueryRow(ctx, `SELECT security_contact FROM orgs WHERE id = ?`, org).Scan(&contact); err != nil {
		return 0, policy.Audience{}, fault.BadInput("affected_org", "leak_no_contacts", "the affected organisation has nobody to receive the report")
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
