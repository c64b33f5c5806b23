package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/vulns"
	"verbund/internal/vulns/vulnstest"
)

// TestVulnsAssetEdit: an edited asset is matched again (a version the
// advisory names as affected matches, a fixed one does not); a bad CPE
// is refused and changes nothing; another org does not find the asset;
// the assets page offers the edit form.
func TestVulnsAssetEdit(t *testing.T) { eachEngine(t, testVulnsAssetEdit) }

func testVulnsAssetEdit(t *testing.T, e db.Dialect) {
	h := apptest.World(t, e)
	sme := h.Users["sme.analyst"]
	if r := vulnstest.Import(t, h, h.Users["cloud.analyst"], vulnstest.Document("WOLKE-2026-50", "Gateway flaw", "1", "WHITE"), url.Values{}); r.Status != http.StatusOK {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	var a vulns.Asset
	r := h.API(t, sme.WriteToken, "POST", "/api/v1/assets", map[string]any{"vendor": "Wolke", "product": "Wolke Gateway", "version": "2.4.2"})
	r.JSON(t, &a)
	affected := func() int {
		var l struct{ Items []vulns.Affected }
		h.API(t, sme.ReadToken, "GET", "/api/v1/affected-assets", nil).JSON(t, &l)
		return len(l.Items)
	}
	if n := affected(); n != 0 {
		t.Fatalf("2.4.2 (fixed) matched %d times", n)
	}
	r = h.API(t, sme.WriteToken, "PATCH", "/api/v1/assets/"+a.ID, map[string]any{"version": "2.4.1"})
	var got vulns.Asset
	r.JSON(t, &got)
	if r.Status != http.StatusOK || got.Version != "2.4.1" || got.Vendor != "Wolke" || got.Name != "Wolke Wolke Gateway 2.4.1" {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	if n := affected(); n != 1 {
		t.Errorf("2.4.1 (known affected) matched %d times, want 1", n)
	}
	if r := h.API(t, sme.WriteToken, "PATCH", "/api/v1/assets/"+a.ID, map[string]any{"cpe": "not a cpe"}); r.Status != http.StatusBadRequest || r.ErrorCode() != "bad_cpe" {
		t.Errorf("bad CPE: %d %s", r.Status, r.Body)
	}
	if r := h.API(t, h.Users["cloud.admin"].WriteToken, "PATCH", "/api/v1/assets/"+a.ID, map[string]any{"version": "9"}); r.Status != http.StatusNotFound {
		t.Errorf("cloud edits sme's asset: %d", r.Status)
	}
	r = h.API(t, sme.WriteToken, "PATCH", "/api/v1/assets/"+a.ID, map[string]any{"version": "2.4.2", "name": "edge gateway"})
	r.JSON(t, &got)
	if got.Name != "edge gateway" || got.Version != "2.4.2" || affected() != 0 {
		t.Errorf("back to the fixed version: %+v, %d matches", got, affected())
	}
	page := h.API(t, sme.WriteToken, "GET", "/vulns/assets?lang=de", nil)
	if !strings.Contains(string(page.Body), `action="/vulns/assets/`+a.ID+`"`) || !strings.Contains(string(page.Body), "Bearbeiten") {
		t.Errorf("the assets page has no edit form")
	}
}
