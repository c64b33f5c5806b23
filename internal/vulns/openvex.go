package vulns

import (
	"context"
	"fmt"
	"time"

	"verbund/internal/db"
	"verbund/internal/policy"
)

// OpenVEX export: the actor's org's statements (those the actor may see)
// as one OpenVEX 0.2.0 document, one statement per vulnerability of the
// advisory (its CVE, else the advisory's tracking id) and product (its
// PURL or CPE as identifiers).

// OpenVEX is an OpenVEX document.
type OpenVEX struct {
	Context    string         `json:"@context"`
	ID         string         `json:"@id"`
	Author     string         `json:"author"`
	Timestamp  string         `json:"timestamp"`
	Version    int            `json:"version"`
	Statements []VEXStatement `json:"statements"`
}

// VEXStatement is one statement of an OpenVEX document.
type VEXStatement struct {
	Vulnerability struct {
		Name string `json:"name"`
	} `json:"vulnerability"`
	Products        []VEXProduct `json:"products"`
	Status          string       `json:"status"`
	Justification   string       `json:"justification,omitempty"`
	ImpactStatement string       `json:"impact_statement,omitempty"`
	ActionStatement string       `json:"action_statement,omitempty"`
	Timestamp       string       `json:"timestamp"`
}

// VEXProduct names a product by its identifiers.
type VEXProduct struct {
	ID          string            `json:"@id"`
	Identifiers map[string]string `json:"identifiers,omitempty"`
}

// ExportOpenVEX returns the actor's org's statements as OpenVEX.
func (s *Service) ExportOpenVEX(ctx context.Context, a policy.Actor) (OpenVEX, error) {
	h := s.DB.R()
	now := db.Now()
	doc := OpenVEX{Context: "https://openvex.dev/ns/v0.2.0", Version: 1, Timestamp: db.Time(now).Format(time.RFC3339), Statements: []VEXStatement{}}
	doc.ID = fmt.Sprintf("urn:verbund:vex:%s:%d", a.OrgID, now)
	if err := h.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, a.OrgID).Scan(&doc.Author); err != nil {
		return doc, fmt.Errorf("org name: %w", db.Map(err))
	}
	r, err := policy.NewReader(ctx, h, a, now)
	if err != nil {
		return doc, err
	}
	q := db.Q(`SELECT st.status, st.justification, st.note, st.updated_at, adv.tracking_id, p.name, p.cpe, p.purl, st.advisory_id, st.product_id FROM `).
		Append(r.FromIn(s.statements, "st", "adv")).
		Add(` JOIN vuln_products p ON p.advisory_id = st.advisory_id AND p.product_id = st.product_id WHERE st.org_id = ? ORDER BY adv.tracking_id, st.product_id`, a.OrgID)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return doc, fmt.Errorf("export statements: %w", err)
	}
	type row struct {
		status, justification, note, tracking, name, cpe, purl, advisory, product string
		updated                                                                   int64
	}
	list, err := db.Collect(rows, "export statements", func(sc db.Scanner) (x row, err error) {
		err = sc.Scan(&x.status, &x.justification, &x.note, &x.updated, &x.tracking, &x.name, &x.cpe, &x.purl, &x.advisory, &x.product)
		return x, err
	})
	if err != nil {
		return doc, err
	}
	for _, x := range list {
		cves, err := productCVEs(ctx, h, x.advisory, x.product)
		if err != nil {
			return doc, err
		}
		if len(cves) == 0 {
			cves = []string{x.tracking}
		}
		p := VEXProduct{ID: x.name, Identifiers: map[string]string{}}
		if x.cpe != "" {
			p.ID, p.Identifiers["cpe23"] = x.cpe, x.cpe
		}
		if x.purl != "" {
			p.ID, p.Identifiers["purl"] = x.purl, x.purl
		}
		if len(p.Identifiers) == 0 {
			p.Identifiers = nil
		}
		for _, c := range cves {
			st := VEXStatement{Products: []VEXProduct{p}, Status: x.status, Justification: x.justification, Timestamp: db.Time(x.updated).Format(time.RFC3339)}
			st.Vulnerability.Name = c
			switch x.status {
			case "not_affected":
				st.ImpactStatement = x.note
			case "affected":
				// OpenVEX requires an action statement for affected.
				st.ActionStatement = x.note
				if st.ActionStatement == "" {
					st.ActionStatement = "Follow the remediations of " + x.tracking + "."
				}
			}
			doc.Statements = append(doc.Statements, st)
		}
	}
	return doc, nil
}

// productCVEs lists the CVEs of an advisory's vulnerabilities that name
// the product (every CVE of the advisory if none names it).
func productCVEs(ctx context.Context, h db.Handle, advisory, product string) ([]string, error) {
	rows, err := h.Query(ctx, `SELECT DISTINCT v.cve FROM vuln_vulnerabilities v WHERE v.advisory_id = ? AND v.cve <> ''
		AND (EXISTS (SELECT 1 FROM vuln_product_status s WHERE s.advisory_id = v.advisory_id AND s.ord = v.ord AND s.product_id = ?)
		OR NOT EXISTS (SELECT 1 FROM vuln_product_status s WHERE s.advisory_id = v.advisory_id AND s.product_id = ?)) ORDER BY v.cve`, advisory, product, product)
	if err != nil {
		return nil, fmt.Errorf("product CVEs: %w", err)
	}
	out, err := db.Collect(rows, "product CVEs", func(r db.Scanner) (c string, err error) { return c, r.Scan(&c) })
	return out, err
}

// ownStatements maps (advisory, product) to the status of the actor's
// org's statements the actor may see.
func (s *Service) ownStatements(ctx context.Context, h db.Handle, r *policy.Reader, org string) (map[[2]string]string, error) {
	q := db.Q(`SELECT st.advisory_id, st.product_id, st.status FROM `).Append(r.From(s.statements, "st")).Add(` WHERE st.org_id = ?`, org)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read statements: %w", err)
	}
	list, err := db.Collect(rows, "read statements", func(sc db.Scanner) (v [3]string, err error) {
		err = sc.Scan(&v[0], &v[1], &v[2])
		return v, err
	})
	out := map[[2]string]string{}
	for _, v := range list {
		out[[2]string{v[0], v[1]}] = v[2]
	}
	return out, err
}

// done: a product the org fixed or is not affected by has no deadline.
func done(status string) bool { return status == "fixed" || status == "not_affected" }
