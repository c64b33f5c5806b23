package csaf

import (
	"encoding/json"

	"slices"
)

// CheckVEX checks raw as a CSAF 2.0 document of the profile csaf_vex:
// Parse's checks (the schema and gocsaf's rules), then the profile's
// mandatory tests (CSAF 2.0 §6.1.27.1 document notes, .3 vulnerabilities,
// .4 product tree, .5 vulnerability notes, .6 product status, .8 a CVE or
// ids, .9 an impact statement for each known_not_affected product, .10 an
// action statement for each known_affected product) and that every
// product id used is defined (§6.1.1). A refusal is a *Problem (invalid).
func CheckVEX(raw []byte) error {
	doc, err := Parse(raw)
	if err != nil {
		return err
	}
	if doc.Category != "csaf_vex" {
		return problem("invalid", "document.category is %q, not csaf_vex", doc.Category)
	}
	var d struct {
		Document struct {
			Notes []struct {
				Category string `json:"category"`
			} `json:"notes"`
		} `json:"document"`
		ProductTree *struct {
			FullProductNames []struct {
				ProductID string `json:"product_id"`
			} `json:"full_product_names"`
		} `json:"product_tree"`
		Vulnerabilities []struct {
			CVE   string `json:"cve"`
			IDs   []any  `json:"ids"`
			Notes []any  `json:"notes"`
			Flags []struct {
				ProductIDs []string `json:"product_ids"`
			} `json:"flags"`
			Threats []struct {
				Category   string   `json:"category"`
				ProductIDs []string `json:"product_ids"`
			} `json:"threats"`
			Remediations []struct {
				ProductIDs []string `json:"product_ids"`
			} `json:"remediations"`
			ProductStatus map[string][]string `json:"product_status"`
		} `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return problem("invalid", "the document cannot be read: %v", err)
	}
	if !slices.ContainsFunc(d.Document.Notes, func(n struct {
		Category string `json:"category"`
	}) bool {
		return slices.Contains([]string{"description", "details", "general", "summary"}, n.Category)
	}) {
		return problem("invalid", "6.1.27.1: the document has no note of category description, details, general or summary")
	}
	if d.ProductTree == nil {
		return problem("invalid", "6.1.27.4: the document has no product tree")
	}
	defined := map[string]bool{}
	for _, p := range d.ProductTree.FullProductNames {
		defined[p.ProductID] = true
	}
	if len(d.Vulnerabilities) == 0 {
		return problem("invalid", "6.1.27.3: the document has no vulnerabilities")
	}
	for i, v := range d.Vulnerabilities {
		if len(v.Notes) == 0 {
			return problem("invalid", "6.1.27.5: vulnerabilities[%d] has no notes", i)
		}
		if v.CVE == "" && len(v.IDs) == 0 {
			return problem("invalid", "6.1.27.8: vulnerabilities[%d] has neither cve nor ids", i)
		}
		n := 0
		for _, st := range []string{"fixed", "known_affected", "known_not_affected", "under_investigation"} {
			n += len(v.ProductStatus[st])
		}
		if n == 0 {
			return problem("invalid", "6.1.27.6: vulnerabilities[%d] has no product in fixed, known_affected, known_not_affected or under_investigation", i)
		}
		for st, ids := range v.ProductStatus {
			for _, id := range ids {
				if !defined[id] {
					return problem("invalid", "6.1.1: vulnerabilities[%d].product_status.%s names %q, which the product tree does not define", i, st, id)
				}
			}
		}
		covered := func(id string, lists ...[]string) bool {
			for _, l := range lists {
				if slices.Contains(l, id) {
					return true
				}
			}
			return false
		}
		var impact, action [][]string
		for _, f := range v.Flags {
			impact = append(impact, f.ProductIDs)
		}
		for _, t := range v.Threats {
			if t.Category == "impact" {
				impact = append(impact, t.ProductIDs)
			}
		}
		for _, r := range v.Remediations {
			action = append(action, r.ProductIDs)
		}
		for _, id := range v.ProductStatus["known_not_affected"] {
			if !covered(id, impact...) {
				return problem("invalid", "6.1.27.9: vulnerabilities[%d]: known_not_affected product %q has no impact statement (flag or threat)", i, id)
			}
		}
		for _, id := range v.ProductStatus["known_affected"] {
			if !covered(id, action...) {
				return problem("invalid", "6.1.27.10: vulnerabilities[%d]: known_affected product %q has no action statement (remediation)", i, id)
			}
		}
	}
	return nil
}
