package incidents

import (
	"context"
	"fmt"
	"slices"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Recipients is who a new incident shared as asked would reach: what
// CreateIncident would decide, said while the form is filled in (the
// forum's compose form does the same).
type Recipients struct {
	HubWide   bool     // TLP:CLEAR: every organisation of the hub
	Orgs      []string // names of the orgs whose people would read it
	People    int      // how many people would read it, the writer not counted
	Uncovered []string // names of orgs of the audience no agreement covers
	// Error is the refusal the report would meet; nothing else is set then.
	Error *fault.Error
}

// PreviewIncident runs the sharing checks of CreateIncident for sharing in
// and counts, with each person's own view (View.CanSee, the twin of the
// read predicate), who could read the incident. Nothing is written.
func (s *Service) PreviewIncident(ctx context.Context, a policy.Actor, in policy.Sharing) (Recipients, error) {
	h := s.DB.R()
	tlp, aud, err := in.Parse()
	var uncovered []string
	var sh policy.Share
	if err == nil {
		if aud.Kind == "" {
			aud.Kind = policy.AudOrg
		}
		if aud.Kind != policy.AudCommunity {
			aud.Community = ""
		}
		sh = s.incidents.Envelope(a, tlp, aud)
		uncovered, err = policy.CheckShare(ctx, h, a, sh, db.Now())
	}
	if e, ok := fault.As(err); ok && (e.Kind == fault.Invalid || e.Kind == fault.Forbidden) {
		return Recipients{Error: e}, nil
	}
	if err != nil {
		return Recipients{}, err
	}
	var out Recipients
	for _, id := range uncovered {
		var n string
		if err := h.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, id).Scan(&n); err != nil {
			return out, fmt.Errorf("name org: %w", db.Map(err))
		}
		out.Uncovered = append(out.Uncovered, n)
	}
	if sh.TLP == policy.Clear {
		out.HubWide = true
		err := h.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE disabled = 0 AND id <> ?`, a.UserID).Scan(&out.People)
		return out, db.NotFound(err, "count people")
	}
	orgs := []string{a.OrgID}
	switch sh.Audience.Kind {
	case policy.AudCommunity:
		rows, err := h.Query(ctx, `SELECT org_id FROM community_members WHERE community_id = ? AND status = 'active'`, sh.Audience.Community)
		if err != nil {
			return out, fmt.Errorf("circle members: %w", err)
		}
		members, err := db.Collect(rows, "circle members", func(r db.Scanner) (o string, err error) { err = r.Scan(&o); return o, err })
		if err != nil {
			return out, err
		}
		orgs = append(orgs, members...)
	case policy.AudOrgs:
		orgs = append(orgs, sh.Audience.Orgs...)
	}
	slices.Sort(orgs)
	orgs = slices.Compact(orgs)
	args := make([]any, 0, len(orgs)+len(sh.Audience.People))
	for _, o := range orgs {
		args = append(args, o)
	}
	q := `SELECT u.id, u.org_id, o.name FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.disabled = 0 AND (u.org_id IN (` + db.Placeholders(len(orgs)) + `)`
	if len(sh.Audience.People) > 0 {
		for _, p := range sh.Audience.People {
			args = append(args, p)
		}
		q += ` OR u.id IN (` + db.Placeholders(len(sh.Audience.People)) + `)`
	}
	rows, err := h.Query(ctx, q+`)`, args...)
	if err != nil {
		return out, fmt.Errorf("recipients: %w", err)
	}
	type person struct{ id, org, orgName string }
	people, err := db.Collect(rows, "recipients", func(r db.Scanner) (p person, err error) { err = r.Scan(&p.id, &p.org, &p.orgName); return p, err })
	if err != nil {
		return out, err
	}
	views := map[string]*policy.View{}
	for _, p := range people {
		v, ok := views[p.org]
		if !ok {
			if v, err = policy.LoadView(ctx, h, policy.Actor{OrgID: p.org}, db.Now()); err != nil {
				return out, err
			}
			views[p.org] = v
		}
		pv := *v
		pv.UserID = p.id
		if p.id == a.UserID || !pv.CanSee(sh) {
			continue
		}
		out.People++
		if !slices.Contains(out.Orgs, p.orgName) {
			out.Orgs = append(out.Orgs, p.orgName)
		}
	}
	slices.Sort(out.Orgs)
	return out, nil
}
