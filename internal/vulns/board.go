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
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// The patch board: the actor's org's assets that advisories it may see
// name, each with its patch deadline: the org's days for the advisory's
// severity counted from when the hub matched it, or CISA's KEV due date
// when that is earlier.

// PatchPolicy is how many days an org gives itself to patch, by severity.
type PatchPolicy struct {
	Critical int `json:"critical_days"`
	High     int `json:"high_days"`
	Medium   int `json:"medium_days"`
	Low      int `json:"low_days"`
}

// DefaultPolicy is the policy of an org that has set none (the common
// reading of BSI and CISA guidance: critical within a week).
var DefaultPolicy = PatchPolicy{Critical: 7, High: 30, Medium: 90, Low: 180}

// Days is the policy's days for a severity (LOW's for an unscored one).
func (p PatchPolicy) Days(severity string) int {
	switch severity {
	case "CRITICAL":
		return p.Critical
	case "HIGH":
		return p.High
	case "MEDIUM":
		return p.Medium
	}
	return p.Low
}

// Affected is one of the org's assets an advisory names.
type Affected struct {
	AssetID      string  `json:"asset_id"`
	AssetName    string  `json:"asset_name"`
	AssetVersion string  `json:"asset_version,omitempty"`
	AdvisoryID   string  `json:"advisory_id"`
	TrackingID   string  `json:"tracking_id"`
	Title        string  `json:"title"`
	ProductID    string  `json:"product_id"`
	ProductName  string  `json:"product_name"`
	MatchedBy    string  `json:"matched_by"`
	MatchedAt    int64   `json:"matched_at"`
	Severity     string  `json:"severity,omitempty"`
	Score        float64 `json:"score"`
	KEV          bool    `json:"known_exploited"`
	KEVDue       string  `json:"kev_due_date,omitempty"`
	KEVDueAt     int64   `json:"-"` // KEVDue's first moment (Unix µs, display zone), for the page's date format
	Deadline     int64   `json:"deadline"`
	Overdue      bool    `json:"overdue"`
	// Status is the org's VEX statement on the product ("" none yet);
	// fixed and not_affected are never overdue.
	Status string `json:"vex_status,omitempty"`
}

// SeverityKey is the catalogue key's last word of the severity.
func (x Affected) SeverityKey() string { return SeverityKey(x.Severity) }

// FindPolicy returns the actor's org's patch policy.
func (s *Service) FindPolicy(ctx context.Context, a policy.Actor) (PatchPolicy, error) {
	p := DefaultPolicy
	err := s.DB.R().QueryRow(ctx, `SELECT critical_days, high_days, medium_days, low_days FROM vuln_policies WHERE org_id = ?`, a.OrgID).
		Scan(&p.Critical, &p.High, &p.Medium, &p.Low)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("read patch policy: %w", db.Map(err))
	}
	return p, nil
}

// FindAffected lists the actor's org's affected assets, the earliest
// deadline first.
func (s *Service) FindAffected(ctx context.Context, a policy.Actor) ([]Affected, error) {
	h := s.DB.R()
	pol, err := s.FindPolicy(ctx, a)
	if err != nil {
		return nil, err
	}
	now := db.Now()
	r, err := policy.NewReader(ctx, h, a, now)
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT m.asset_id, x.name, x.version, m.advisory_id, a.tracking_id, a.title, m.product_id, p.name, m.matched_by, m.created_at, a.severity, a.score, a.cves
		FROM vuln_matches m JOIN vuln_assets x ON x.id = m.asset_id AND x.org_id = m.org_id`).Append(r.Join(s.advisories, "a", "m.advisory_id")).
		Add(` JOIN vuln_products p ON p.advisory_id = m.advisory_id AND p.product_id = m.product_id WHERE m.org_id = ? LIMIT 10000`, a.OrgID)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list affected assets: %w", err)
	}
	var cves = map[int][]string{}
	i := 0
	out, err := db.Collect(rows, "list affected assets", func(sc db.Scanner) (x Affected, err error) {
		var cs string
		err = sc.Scan(&x.AssetID, &x.AssetName, &x.AssetVersion, &x.AdvisoryID, &x.TrackingID, &x.Title, &x.ProductID, &x.ProductName, &x.MatchedBy,
			&x.MatchedAt, &x.Severity, &x.Score, &cs)
		cves[i] = strings.Fields(cs)
		i++
		return x, err
	})
	if err != nil {
		return nil, err
	}
	own, err := s.ownStatements(ctx, h, r, a.OrgID)
	if err != nil {
		return nil, err
	}
	var all []string
	for _, cs := range cves {
		all = append(all, cs...)
	}
	slices.Sort(all)
	kev, err := kevCVEs(ctx, h, slices.Compact(all))
	if err != nil {
		return nil, err
	}
	due := map[string]string{}
	for _, e := range kev {
		due[e.CVE] = e.DueDate
	}
	for i := range out {
		x := &out[i]
		x.Deadline = db.Time(x.MatchedAt).AddDate(0, 0, pol.Days(x.Severity)).UnixMicro()
		for _, c := range cves[i] {
			d, ok := due[c]
			if !ok {
				continue
			}
			x.KEV = true
			if x.KEVDue == "" || d < x.KEVDue {
				x.KEVDue = d
			}
		}
		if x.KEVDue != "" {
			// A KEV due date is a calendar day; it ends with the last
			// moment of that day in the display time zone, so that the
			// deadline column shows the same day as the KEV line under it
			// (the next midnight would show as the day after).
			if start, next, err := web.Day("", "", "", x.KEVDue); err == nil {
				x.KEVDueAt = start
				if next-1 < x.Deadline {
					x.Deadline = next - 1
				}
			}
		}
		x.Status = own[[2]string{x.AdvisoryID, x.ProductID}]
		x.Overdue = now > x.Deadline && !done(x.Status)
	}
	slices.SortStableFunc(out, func(p, q Affected) int {
		if p.Deadline != q.Deadline {
			return int(min(max(p.Deadline-q.Deadline, -1), 1))
		}
		return strings.Compare(p.AssetName, q.AssetName)
	})
	return out, nil
}

// SetPolicy sets the actor's org's patch policy (its admins).
func (s *Service) SetPolicy(ctx context.Context, a policy.Actor, p PatchPolicy) (PatchPolicy, error) {
	if a.Role != policy.Admin || a.OrgID == "" || !a.CanWrite() {
		return p, fault.New(fault.Forbidden, "forbidden", "only an organisation's admins set its patch policy")
	}
	for _, d := range []int{p.Critical, p.High, p.Medium, p.Low} {
		if d < 1 || d > 3650 {
			return p, fault.BadInput("critical_days", "bad_patch_days", "patch deadlines are 1 to 3,650 days")
		}
	}
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO vuln_policies (org_id, critical_days, high_days, medium_days, low_days, updated_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (org_id) DO UPDATE SET critical_days = excluded.critical_days, high_days = excluded.high_days, medium_days = excluded.medium_days,
			low_days = excluded.low_days, updated_at = excluded.updated_at`, a.OrgID, p.Critical, p.High, p.Medium, p.Low, db.Now()); err != nil {
			return fmt.Errorf("save patch policy: %w", err)
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "vulns.policy.update", ObjectType: "org", ObjectID: a.OrgID, Detail: p,
			Touches: []string{"vuln_assets:" + a.OrgID}})
	})
	return p, err
}
