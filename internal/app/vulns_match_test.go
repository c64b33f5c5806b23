package app_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/vulns"
	"verbund/internal/vulns/vulnstest"
)

// TestVulnsMatching: an advisory is matched against the assets of every
// org that may see it, and each org learns only of its own: its affected
// assets (API and board page), a webhook event to its webhooks only, with
// the CVSS severity and the patch deadline from its policy. A fixed
// version does not match; an advisory an org may not see never matches
// its assets; removing an asset removes its matches.
func TestVulnsMatching(t *testing.T) { eachEngine(t, testVulnsMatching) }

func testVulnsMatching(t *testing.T, e db.Dialect) {
	h := apptest.World(t, e)
	hook := func(admin string) *receiver {
		rc := newReceiver(t)
		r := h.API(t, h.Users[admin].WriteToken, "POST", "/api/v1/webhooks", map[string]any{"url": rc.srv.URL + "/hook", "events": []string{vulns.EventMatch}})
		var w struct{ Secret string }
		r.JSON(t, &w)
		if r.Status != http.StatusCreated {
			t.Fatalf("webhook for %s: %d %s", admin, r.Status, r.Body)
		}
		rc.secret = w.Secret
		return rc
	}
	smeRx, cloudRx := hook("sme.admin"), hook("cloud.admin")
	asset := func(user string, body map[string]any) string {
		t.Helper()
		r := h.API(t, h.Users[user].WriteToken, "POST", "/api/v1/assets", body)
		var a struct{ ID string }
		r.JSON(t, &a)
		if r.Status != http.StatusCreated {
			t.Fatalf("asset of %s: %d %s", user, r.Status, r.Body)
		}
		return a.ID
	}
	smeGW := asset("sme.analyst", map[string]any{"vendor": "Wolke", "product": "Wolke Gateway", "version": "2.4.1", "name": "sme-edge-gateway"})
	asset("sme.analyst", map[string]any{"vendor": "Wolke", "product": "Wolke Gateway", "version": "2.4.2", "name": "sme-patched-gateway"})
	asset("outsider.analyst", map[string]any{"cpe": "cpe:2.3:a:wolke:gateway:2.4.1:*:*:*:*:*:*:*", "name": "outsider-secret-box"})
	asset("cloud.analyst", map[string]any{"vendor": "Other", "product": "Thing", "version": "1"})

	// cloud publishes a CLEAR advisory (TLP:WHITE) on Wolke Gateway 2.4.1.
	r := vulnstest.Import(t, h, h.Users["cloud.analyst"], vulnstest.Document("WOLKE-2026-9", "Gateway takeover", "1", "WHITE"), url.Values{})
	if r.Status != http.StatusOK {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	affected := func(user string) []vulns.Affected {
		t.Helper()
		var l struct{ Items []vulns.Affected }
		r := h.API(t, h.Users[user].ReadToken, "GET", "/api/v1/affected-assets", nil)
		r.JSON(t, &l)
		if strings.Contains(string(r.Body), "outsider-secret-box") && !strings.HasPrefix(user, "outsider") {
			t.Errorf("LEAK: %s reads the outsider's asset: %s", user, r.Body)
		}
		return l.Items
	}
	sme := affected("sme.viewer")
	if len(sme) != 1 || sme[0].AssetID != smeGW || sme[0].ProductID != "WG-241" || sme[0].MatchedBy != "name" || sme[0].Severity != "CRITICAL" || sme[0].KEV {
		t.Fatalf("sme's affected assets: %+v", sme)
	}
	if d := time.Duration(sme[0].Deadline-sme[0].MatchedAt) * time.Microsecond; d != 7*24*time.Hour || sme[0].Overdue {
		t.Errorf("critical deadline %v after the match, want 7 days", d)
	}
	if out := affected("outsider.analyst"); len(out) != 1 || out[0].MatchedBy != "cpe" {
		t.Errorf("outsider's affected assets: %+v", out)
	}
	if c := affected("cloud.analyst"); len(c) != 0 {
		t.Errorf("cloud (no such asset) is affected: %+v", c)
	}
	// sme's webhook hears of it, with severity; cloud's, whose org sees
	// the advisory but runs no such asset, hears nothing.
	got := smeRx.waitDeliveries(t, 1, 10*time.Second)
	if got[0].Type != vulns.EventMatch || got[0].Data["tracking_id"] != "WOLKE-2026-9" || got[0].Data["severity"] != "CRITICAL" ||
		!slices.Equal(anyStrings(got[0].Data["asset_ids"]), []string{smeGW}) {
		t.Errorf("sme's webhook: %+v", got)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(cloudRx.deliveries()); n != 0 {
		t.Errorf("LEAK: cloud's webhook got %d match events of other orgs' assets", n)
	}
	page := h.API(t, h.Users["sme.viewer"].ReadToken, "GET", "/vulns/board?lang=de", nil)
	if page.Status != http.StatusOK || !strings.Contains(string(page.Body), "sme-edge-gateway") || !strings.Contains(string(page.Body), "Patch-Frist") ||
		strings.Contains(string(page.Body), "outsider-secret-box") {
		t.Errorf("board page: %d", page.Status)
	}
	// An advisory cloud keeps to itself matches nobody else.
	r = vulnstest.Import(t, h, h.Users["cloud.analyst"], vulnstest.Document("WOLKE-2026-10", "Internal finding", "1", "AMBER"), url.Values{})
	if r.Status != http.StatusOK {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	if s := affected("sme.analyst"); len(s) != 1 {
		t.Errorf("sme matched an advisory it may not see: %+v", s)
	}
	// cloud shares an unmarked advisory anew: TLP:CLEAR reaches sme's
	// assets, AMBER for cloud alone takes the match away again; an AMBER
	// document cannot be shared below its marking.
	if r := vulnstest.Import(t, h, h.Users["cloud.analyst"], vulnstest.Document("WOLKE-2026-13", "Unmarked", "1", ""), url.Values{}); r.Status != http.StatusOK {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	id := func(tracking string) string {
		list, _, err := h.App.Vulns.FindAdvisories(t.Context(), h.Users["cloud.analyst"].Actor, vulns.AdvisoryFilter{Q: tracking})
		if err != nil || len(list) != 1 {
			t.Fatalf("find %s: %v %v", tracking, list, err)
		}
		return list[0].ID
	}
	reshare := func(tracking string, body map[string]any) apptest.Response {
		return h.API(t, h.Users["cloud.analyst"].WriteToken, "PATCH", "/api/v1/advisories/"+id(tracking), body)
	}
	if s := affected("sme.analyst"); len(s) != 1 {
		t.Errorf("sme matched cloud's AMBER advisory: %+v", s)
	}
	if r := reshare("WOLKE-2026-13", map[string]any{"tlp": "CLEAR", "audience": "org"}); r.Status != http.StatusOK {
		t.Fatalf("reshare: %d %s", r.Status, r.Body)
	}
	if s := affected("sme.analyst"); len(s) != 2 {
		t.Errorf("after sharing it at CLEAR, sme's affected assets: %+v", s)
	}
	if r := reshare("WOLKE-2026-13", map[string]any{"tlp": "AMBER", "audience": "org"}); r.Status != http.StatusOK {
		t.Fatalf("reshare: %d %s", r.Status, r.Body)
	}
	if s := affected("sme.analyst"); len(s) != 1 {
		t.Errorf("after narrowing it, sme's affected assets: %+v", s)
	}
	if r := reshare("WOLKE-2026-10", map[string]any{"tlp": "GREEN", "audience": "org"}); r.Status != http.StatusBadRequest || r.ErrorCode() != "tlp_below_document" {
		t.Errorf("below the marking: %d %s", r.Status, r.Body)
	}
	// Removing the asset removes its match.
	if r := h.API(t, h.Users["sme.analyst"].WriteToken, "DELETE", "/api/v1/assets/"+smeGW, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if s := affected("sme.analyst"); len(s) != 0 {
		t.Errorf("a removed asset still matches: %+v", s)
	}
	if r := h.API(t, h.Users["cloud.analyst"].WriteToken, "DELETE", "/api/v1/assets/"+smeGW, nil); r.Status != http.StatusNotFound {
		t.Errorf("cloud deletes sme's asset: %d", r.Status)
	}
}

func anyStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			s, _ := x.(string)
			out = append(out, s)
		}
	}
	return out
}

// TestVulnsAssetImport: an inventory comes as CSV (columns in any order)
// or as a CycloneDX SBOM; unusable lines are named and skipped; imported
// assets are matched at once against advisories the org already sees.
func TestVulnsAssetImport(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	if r := vulnstest.Import(t, h, h.Users["cloud.analyst"], vulnstest.Document("WOLKE-2026-11", "SDK flaw", "1", "WHITE"), url.Values{}); r.Status != http.StatusOK {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	u := h.Users["sme.analyst"]
	csv := "Product,Vendor,Version,Name,CPE\nWolke Gateway,Wolke,2.4.1,edge,\n,,,broken,not-a-cpe\nPostgreSQL,PostgreSQL,15.4,db,\n"
	r := postRaw(t, h, u.WriteToken, "/api/v1/assets/import", apptest.Raw{ContentType: "text/csv", Body: csv})
	var rep vulns.AssetReport
	r.JSON(t, &rep)
	if r.Status != http.StatusOK || rep.Imported != 2 || rep.Rejected != 1 || rep.Errors[0].Line != 3 || rep.Matches != 1 {
		t.Fatalf("CSV: %d %s", r.Status, r.Body)
	}
	sbom := `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[
		{"type":"library","group":"org.example","name":"lib","version":"1.0","purl":"pkg:maven/org.example/lib@1.0",
		 "components":[{"type":"library","name":"gateway","version":"2.4.1","cpe":"cpe:2.3:a:wolke:gateway:2.4.1:*:*:*:*:*:*:*"}]}]}`
	r = postRaw(t, h, u.WriteToken, "/api/v1/assets/import", apptest.Raw{ContentType: "application/vnd.cyclonedx+json", Body: sbom})
	r.JSON(t, &rep)
	if r.Status != http.StatusOK || rep.Imported != 2 || rep.Rejected != 0 || rep.Matches != 1 {
		t.Fatalf("SBOM: %d %s", r.Status, r.Body)
	}
	var list struct{ Items []vulns.Asset }
	h.API(t, u.ReadToken, "GET", "/api/v1/assets", nil).JSON(t, &list)
	if len(list.Items) != 4 {
		t.Errorf("inventory: %+v", list.Items)
	}
	var other struct{ Items []vulns.Asset }
	h.API(t, h.Users["cloud.analyst"].ReadToken, "GET", "/api/v1/assets", nil).JSON(t, &other)
	if len(other.Items) != 0 {
		t.Errorf("LEAK: cloud lists sme's inventory: %+v", other.Items)
	}
	if r := postRaw(t, h, u.WriteToken, "/api/v1/assets/import", apptest.Raw{ContentType: "text/csv", Body: "just words\n"}); r.Status != http.StatusBadRequest || r.ErrorCode() != "bad_inventory" {
		t.Errorf("not an inventory: %d %s", r.Status, r.Body)
	}
}

// TestVulnsStatements: an org states its VEX status on a product (not
// affected needs a justification); a fixed or not-affected product is
// never overdue; the org's admins set its patch policy; the org's
// statements export as OpenVEX with the CVE and the product's PURL and
// CPE; another org reads none of it.
func TestVulnsStatements(t *testing.T) { eachEngine(t, testVulnsStatements) }

func testVulnsStatements(t *testing.T, e db.Dialect) {
	h := apptest.World(t, e)
	sme := h.Users["sme.analyst"]
	if r := vulnstest.Import(t, h, h.Users["cloud.analyst"], vulnstest.Document("WOLKE-2026-12", "Gateway flaw", "1", "WHITE"), url.Values{}); r.Status != http.StatusOK {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	var list struct{ Items []vulns.Advisory }
	h.API(t, sme.ReadToken, "GET", "/api/v1/advisories?q=WOLKE-2026-12", nil).JSON(t, &list)
	adv := list.Items[0].ID
	if r := h.API(t, sme.WriteToken, "POST", "/api/v1/assets", map[string]any{"vendor": "Wolke", "product": "Wolke Gateway", "version": "2.4.1"}); r.Status != http.StatusCreated {
		t.Fatalf("asset: %d %s", r.Status, r.Body)
	}
	post := func(u *apptest.User, body map[string]any) apptest.Response {
		return h.API(t, u.WriteToken, "POST", "/api/v1/advisories/"+adv+"/statements", body)
	}
	if r := post(sme, map[string]any{"product_id": "WG-241", "status": "not_affected"}); r.Status != http.StatusBadRequest || r.ErrorCode() != "justification_needed" {
		t.Errorf("not_affected without justification: %d %s", r.Status, r.Body)
	}
	if r := post(sme, map[string]any{"product_id": "nope", "status": "fixed"}); r.Status != http.StatusBadRequest || r.ErrorCode() != "unknown_product" {
		t.Errorf("unknown product: %d %s", r.Status, r.Body)
	}
	if r := post(sme, map[string]any{"product_id": "WG-241", "status": "affected", "note": "patch window friday"}); r.Status != http.StatusOK {
		t.Fatalf("affected: %d %s", r.Status, r.Body)
	}
	var aff struct{ Items []vulns.Affected }
	h.API(t, sme.ReadToken, "GET", "/api/v1/affected-assets", nil).JSON(t, &aff)
	if len(aff.Items) != 1 || aff.Items[0].Status != "affected" {
		t.Fatalf("affected assets: %+v", aff.Items)
	}
	// The admin shortens the critical deadline to 2 days.
	if r := h.API(t, h.Users["sme.admin"].WriteToken, "PUT", "/api/v1/patch-policy", map[string]any{"critical_days": 2, "high_days": 20, "medium_days": 60, "low_days": 120}); r.Status != http.StatusOK {
		t.Fatalf("policy: %d %s", r.Status, r.Body)
	}
	h.API(t, sme.ReadToken, "GET", "/api/v1/affected-assets", nil).JSON(t, &aff)
	if d := time.Duration(aff.Items[0].Deadline-aff.Items[0].MatchedAt) * time.Microsecond; d != 48*time.Hour {
		t.Errorf("deadline %v after the match, want 2 days", d)
	}
	if r := post(sme, map[string]any{"product_id": "WG-241", "status": "fixed"}); r.Status != http.StatusOK {
		t.Fatalf("fixed: %d %s", r.Status, r.Body)
	}
	var vex vulns.OpenVEX
	r := h.API(t, sme.ReadToken, "GET", "/api/v1/vex/openvex", nil)
	r.JSON(t, &vex)
	if len(vex.Statements) != 1 || vex.Statements[0].Status != "fixed" || vex.Statements[0].Vulnerability.Name != "CVE-2026-10001" ||
		vex.Statements[0].Products[0].ID != "pkg:generic/wolke/gateway@2.4.1" || vex.Statements[0].Products[0].Identifiers["cpe23"] == "" || vex.Context != "https://openvex.dev/ns/v0.2.0" {
		t.Errorf("OpenVEX: %s", r.Body)
	}
	// The statement is sme's (AMBER, its org): cloud, which published the
	// advisory, reads no statement and exports none.
	var sts struct{ Items []vulns.Statement }
	h.API(t, h.Users["cloud.analyst"].ReadToken, "GET", "/api/v1/advisories/"+adv+"/statements", nil).JSON(t, &sts)
	if len(sts.Items) != 0 {
		t.Errorf("LEAK: cloud reads sme's statements: %+v", sts.Items)
	}
	h.API(t, h.Users["cloud.analyst"].ReadToken, "GET", "/api/v1/vex/openvex", nil).JSON(t, &vex)
	if len(vex.Statements) != 0 {
		t.Errorf("LEAK: cloud exports sme's statements: %+v", vex.Statements)
	}
	h.API(t, h.Users["sme.viewer"].ReadToken, "GET", "/api/v1/advisories/"+adv+"/statements", nil).JSON(t, &sts)
	if len(sts.Items) != 1 || sts.Items[0].Status != "fixed" {
		t.Errorf("sme's statements: %+v", sts.Items)
	}
	// Only its owner deletes the advisory; its statements and every
	// org's matches go with it, and the audit trail stays intact.
	if r := h.API(t, sme.WriteToken, "DELETE", "/api/v1/advisories/"+adv, nil); r.Status != http.StatusForbidden && r.Status != http.StatusNotFound {
		t.Errorf("sme deletes cloud's advisory: %d", r.Status)
	}
	if r := h.API(t, h.Users["cloud.analyst"].WriteToken, "DELETE", "/api/v1/advisories/"+adv, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := h.API(t, sme.ReadToken, "GET", "/api/v1/advisories/"+adv+"/statements", nil); r.Status != http.StatusNotFound {
		t.Errorf("statements of a deleted advisory: %d", r.Status)
	}
	h.API(t, sme.ReadToken, "GET", "/api/v1/affected-assets", nil).JSON(t, &aff)
	if len(aff.Items) != 0 {
		t.Errorf("matches of a deleted advisory: %+v", aff.Items)
	}
	if res, err := audit.Verify(t.Context(), h.App.DB); err != nil || !res.OK {
		t.Errorf("audit trail: %+v %v", res, err)
	}
}
