package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/csaf"
	"verbund/internal/db"
	"verbund/internal/vulns"
	"verbund/internal/vulns/vulnstest"
)

// TestVulnsCSAFVEX: an org's statements of every status (on two
// small advisories and on CISA's real VA-24-254-01) export
// as one CSAF VEX document that passes the CSAF 2.0 schema, gocsaf's
// rules and the csaf_vex profile's mandatory tests; its TLP is the
// strictest of its statements; another org exports nothing of them.
func TestVulnsCSAFVEX(t *testing.T) { eachEngine(t, testVulnsCSAFVEX) }

func testVulnsCSAFVEX(t *testing.T, e db.Dialect) {
	h := apptest.World(t, e)
	sme := h.Users["sme.analyst"]
	if r := h.API(t, sme.ReadToken, "GET", "/api/v1/vex/csaf", nil); r.Status != http.StatusConflict || r.ErrorCode() != "no_statements" {
		t.Errorf("export without statements: %d %s", r.Status, r.Body)
	}
	for _, id := range []string{"WOLKE-2026-40", "WOLKE-2026-41"} {
		if r := vulnstest.Import(t, h, h.Users["cloud.analyst"], vulnstest.Document(id, "Gateway flaw", "1", "WHITE"), url.Values{}); r.Status != http.StatusOK {
			t.Fatalf("import: %d %s", r.Status, r.Body)
		}
	}
	var cisa []vulns.Input
	for _, in := range cisaInputs(t) {
		if in.Name == "va-24-254-01.json" {
			cisa = append(cisa, in)
		}
	}
	if _, err := h.App.Vulns.Import(t.Context(), h.Users["cloud.analyst"].Actor, cisa, vulns.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	find := func(q string) vulns.Advisory {
		var list struct{ Items []vulns.Advisory }
		h.API(t, sme.ReadToken, "GET", "/api/v1/advisories?q="+q, nil).JSON(t, &list)
		if len(list.Items) != 1 {
			t.Fatalf("search %s: %+v", q, list.Items)
		}
		var a vulns.Advisory
		h.API(t, sme.ReadToken, "GET", "/api/v1/advisories/"+list.Items[0].ID, nil).JSON(t, &a)
		return a
	}
	wolke, wolke2, va := find("WOLKE-2026-40"), find("WOLKE-2026-41"), find("VA-24-254-01")
	state := func(adv, product string, body map[string]any) {
		t.Helper()
		body["product_id"] = product
		if r := h.API(t, sme.WriteToken, "POST", "/api/v1/advisories/"+adv+"/statements", body); r.Status != http.StatusOK {
			t.Fatalf("statement on %s: %d %s", product, r.Status, r.Body)
		}
	}
	state(wolke.ID, "WG-241", map[string]any{"status": "affected"})
	state(wolke.ID, "WG-242", map[string]any{"status": "fixed"})
	state(wolke2.ID, "WG-241", map[string]any{"status": "under_investigation"})
	if len(va.Products) < 2 {
		t.Fatalf("VA-24-254-01 has %d products", len(va.Products))
	}
	state(va.ID, va.Products[0].ID, map[string]any{"status": "not_affected", "justification": "vulnerable_code_not_in_execute_path", "note": "the XML import is off"})
	state(va.ID, va.Products[1].ID, map[string]any{"status": "affected", "note": "patch on friday", "tlp": "RED", "audience": "people", "people": []string{sme.ID}})

	r := h.API(t, sme.ReadToken, "GET", "/api/v1/vex/csaf", nil)
	if r.Status != http.StatusOK || !strings.Contains(r.Header.Get("Content-Disposition"), "csaf-vex.json") {
		t.Fatalf("export: %d %s", r.Status, r.Body)
	}
	if err := csaf.CheckVEX(r.Body); err != nil {
		t.Fatalf("the export is not a valid CSAF VEX document: %v\n%s", err, r.Body)
	}
	doc, err := csaf.Parse(r.Body)
	if err != nil || doc.Category != "csaf_vex" || doc.TLP != "RED" || len(doc.Products) != 5 {
		t.Errorf("export: %v %+v", err, doc)
	}
	var raw struct {
		Vulnerabilities []struct {
			CVE           string
			ProductStatus map[string][]string `json:"product_status"`
			Flags         []struct{ Label string }
			Threats       []struct{ Details string }
			Remediations  []struct{ Details string }
		}
	}
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatal(err)
	}
	statuses := map[string]int{}
	var text strings.Builder
	for _, v := range raw.Vulnerabilities {
		for st, ids := range v.ProductStatus {
			statuses[st] += len(ids)
		}
		for _, f := range v.Flags {
			text.WriteString(f.Label + " ")
		}
		for _, x := range v.Threats {
			text.WriteString(x.Details + " ")
		}
		for _, x := range v.Remediations {
			text.WriteString(x.Details + " ")
		}
	}
	for _, st := range []string{"known_affected", "fixed", "known_not_affected", "under_investigation"} {
		if statuses[st] == 0 {
			t.Errorf("no %s product in the export: %s", st, r.Body)
		}
	}
	for _, s := range []string{"vulnerable_code_not_in_execute_path", "the XML import is off", "patch on friday", "Follow the remediations of WOLKE-2026-40."} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("the export lacks %q", s)
		}
	}
	// sme's viewer may not see the RED statement: its export has four
	// products and is AMBER; cloud has none of sme's.
	r = h.API(t, h.Users["sme.viewer"].ReadToken, "GET", "/api/v1/vex/csaf", nil)
	if doc, err := csaf.Parse(r.Body); err != nil || doc.TLP != "AMBER" || len(doc.Products) != 4 || strings.Contains(string(r.Body), "patch on friday") {
		t.Errorf("viewer's export: %v %s", err, r.Body)
	}
	if r := h.API(t, h.Users["cloud.analyst"].ReadToken, "GET", "/api/v1/vex/csaf", nil); r.Status != http.StatusConflict {
		t.Errorf("LEAK: cloud exports sme's statements: %d %s", r.Status, r.Body)
	}
}
