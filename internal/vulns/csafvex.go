package vulns

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"verbund/internal/csaf"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// CSAF VEX export: the actor's org's statements (those the actor may see)
// as one CSAF 2.0 document of the profile csaf_vex (CSAF 2.0 §4.5): the
// statements' products in the product tree (one product per advisory and
// product, with its CPE and PURL), one vulnerability per CVE (else per
// advisory, by its tracking id) with the org's status of each product:
// known_affected with an action statement (a remediation), known_not_affected
// with its justification (a flag) and impact statement (a threat), fixed,
// under_investigation. The document is checked (csaf.CheckVEX) before it
// is served.

// vexStatus maps a statement's status to CSAF's product status.
var vexStatus = map[string]string{"affected": "known_affected", "not_affected": "known_not_affected", "fixed": "fixed", "under_investigation": "under_investigation"}

type vexRow struct {
	status, justification, note, tracking, name, cpe, purl, advisory, product string
	updated                                                                   int64
	tlp                                                                       policy.TLP
}

// ExportCSAFVEX returns the actor's org's statements as a CSAF VEX
// document (JSON).
func (s *Service) ExportCSAFVEX(ctx context.Context, a policy.Actor) ([]byte, error) {
	h := s.DB.R()
	now := db.Now()
	var orgName string
	if err := h.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, a.OrgID).Scan(&orgName); err != nil {
		return nil, fmt.Errorf("org name: %w", db.Map(err))
	}
	r, err := policy.NewReader(ctx, h, a, now)
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT st.status, st.justification, st.note, st.updated_at, adv.tracking_id, p.name, p.cpe, p.purl, st.advisory_id, st.product_id, st_s.tlp, adv_s.tlp FROM `).
		Append(r.FromIn(s.statements, "st", "adv")).
		Add(` JOIN vuln_products p ON p.advisory_id = st.advisory_id AND p.product_id = st.product_id WHERE st.org_id = ? ORDER BY adv.tracking_id, st.product_id`, a.OrgID)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("export statements: %w", err)
	}
	list, err := db.Collect(rows, "export statements", func(sc db.Scanner) (x vexRow, err error) {
		var st, at policy.TLP
		err = sc.Scan(&x.status, &x.justification, &x.note, &x.updated, &x.tracking, &x.name, &x.cpe, &x.purl, &x.advisory, &x.product, &st, &at)
		x.tlp = max(st, at)
		return x, err
	})
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		// A CSAF VEX document names at least one product and
		// vulnerability (CSAF 2.0 §4.5).
		return nil, fault.New(fault.Conflict, "no_statements", "your organisation has made no VEX statement you may see: there is nothing to export")
	}
	doc, err := s.vexDocument(ctx, h, a.OrgID, orgName, now, list)
	if err != nil {
		return nil, err
	}
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode CSAF VEX: %w", err)
	}
	if err := csaf.CheckVEX(raw); err != nil {
		return nil, fmt.Errorf("the CSAF VEX export is not valid: %w", err)
	}
	return raw, nil
}

type obj = map[string]any

// vexDocument builds the document from the statements.
func (s *Service) vexDocument(ctx context.Context, h db.Handle, org, orgName string, now int64, list []vexRow) (obj, error) {
	at := db.Time(now).UTC().Format(time.RFC3339)
	level := policy.Clear
	var products []obj
	type vuln struct {
		cve, tracking string
		status        map[string][]string // CSAF product status → product ids
		flags         map[string][]string // justification → product ids
		threats       []obj
		remediations  []obj
		advisories    []string
	}
	var vulns []*vuln
	byKey := map[string]*vuln{}
	for i, x := range list {
		level = max(level, x.tlp)
		pid := fmt.Sprintf("VERBUND-P%d", i+1)
		p := obj{"product_id": pid, "name": cmpOr(x.name, x.product)}
		helper := obj{}
		if x.cpe != "" {
			helper["cpe"] = x.cpe
		}
		if x.purl != "" {
			helper["purl"] = x.purl
		}
		if len(helper) > 0 {
			p["product_identification_helper"] = helper
		}
		products = append(products, p)
		cves, err := productCVEs(ctx, h, x.advisory, x.product)
		if err != nil {
			return nil, err
		}
		keys := cves
		if len(keys) == 0 {
			keys = []string{"id:" + x.tracking}
		}
		for _, k := range keys {
			v := byKey[k]
			if v == nil {
				v = &vuln{status: map[string][]string{}, flags: map[string][]string{}}
				if id, ok := strings.CutPrefix(k, "id:"); ok {
					v.tracking = id
				} else {
					v.cve = k
				}
				byKey[k] = v
				vulns = append(vulns, v)
			}
			if !slices.Contains(v.advisories, x.tracking) {
				v.advisories = append(v.advisories, x.tracking)
			}
			st := vexStatus[x.status]
			v.status[st] = append(v.status[st], pid)
			switch x.status {
			case "not_affected":
				v.flags[x.justification] = append(v.flags[x.justification], pid)
				if x.note != "" {
					v.threats = append(v.threats, obj{"category": "impact", "details": x.note, "product_ids": []string{pid}})
				}
			case "affected":
				action := x.note
				if action == "" {
					action = "Follow the remediations of " + x.tracking + "."
				}
				v.remediations = append(v.remediations, obj{"category": "mitigation", "details": action, "product_ids": []string{pid}})
			}
		}
	}
	var out []obj
	for _, v := range vulns {
		o := obj{"product_status": v.status,
			"notes": []obj{{"category": "description", "title": "Status", "text": fmt.Sprintf("The status of %s's products as %s states it (advisory %s).",
				orgName, orgName, strings.Join(v.advisories, ", "))}}}
		if v.cve != "" {
			o["cve"] = v.cve
		} else {
			o["ids"] = []obj{{"system_name": "CSAF tracking id", "text": v.tracking}}
		}
		var flags []obj
		for _, j := range Justifications {
			if ids := v.flags[j]; len(ids) > 0 {
				flags = append(flags, obj{"label": j, "product_ids": ids})
			}
		}
		if len(flags) > 0 {
			o["flags"] = flags
		}
		if len(v.threats) > 0 {
			o["threats"] = v.threats
		}
		if len(v.remediations) > 0 {
			o["remediations"] = v.remediations
		}
		out = append(out, o)
	}
	label := "WHITE"
	switch {
	case level >= policy.Red:
		label = "RED"
	case level >= policy.Amber:
		// AMBER+STRICT has no CSAF 2.0 label: AMBER, and the document
		// stays with the org.
		label = "AMBER"
	case level >= policy.Green:
		label = "GREEN"
	}
	short := org
	if len(short) > 8 {
		short = short[len(short)-8:]
	}
	return obj{
		"document": obj{
			"category":     "csaf_vex",
			"csaf_version": "2.0",
			"distribution": obj{"tlp": obj{"label": label}},
			"lang":         "en",
			"notes": []obj{{"category": "summary", "title": "Summary",
				"text": fmt.Sprintf("VEX statements of %s on the products named in the advisories it holds, exported from verbund.", orgName)}},
			"publisher": obj{"category": "user", "name": orgName, "namespace": "urn:verbund:org:" + org},
			"title":     "VEX statements of " + orgName,
			"tracking": obj{
				"current_release_date": at,
				"generator":            obj{"date": at, "engine": obj{"name": "verbund"}},
				"id":                   fmt.Sprintf("VERBUND-VEX-%s-%d", strings.ToUpper(short), now),
				"initial_release_date": at,
				"revision_history":     []obj{{"date": at, "number": "1", "summary": "Exported."}},
				"status":               "final",
				"version":              "1",
			},
		},
		"product_tree":    obj{"full_product_names": products},
		"vulnerabilities": out,
	}, nil
}

// apiCSAFVEX returns the org's statements as a CSAF VEX document.
func (h *handler) apiCSAFVEX(w http.ResponseWriter, r *http.Request) error {
	raw, err := h.svc.ExportCSAFVEX(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	return web.ServeJSONDocument(w, "csaf-vex.json", raw)
}
