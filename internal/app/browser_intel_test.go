package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// A German analyst in a real browser: signs in, opens the threat
// intelligence with the keys g i, searches, opens CERT Süd's indicator and
// clicks „Auch bei uns gesehen“; the page thanks them and lists the
// sighting, and CERT Süd's open page of the indicator shows it live. A
// bundle file uploads by script (with its progress) and its report
// replaces the form. On a phone the button comes right after the details,
// and no page scrolls sideways.
func TestBrowserIntelSighting(t *testing.T) {
	browserPath(t)
	h := apptest.WorldCovering(t, db.SQLite)
	id := importAs(t, h, "cert.analyst", "community="+h.Circle+"&tlp=AMBER", uiBundle, uiIndicator)
	de := "de"
	sme := h.Users["sme.analyst"]
	if _, err := h.App.Accounts.UpdateUser(context.Background(), sme.Actor, sme.ID, accounts.UserUpdate{Lang: &de}); err != nil {
		t.Fatal(err)
	}
	browser := startBrowser(t, "de-DE")
	u := newBrowserUser(t, browser, "sme.analyst")
	cert := newBrowserUser(t, browser, "cert.analyst")
	defer u.noProblems(t)
	defer cert.noProblems(t)
	cert.login(t, h, h.Users["cert.analyst"], nil)
	cert.open(t, h, "/intel/objects/"+id, true)

	u.login(t, h, sme, nil)
	u.do(t, "g i opens the threat intelligence", chromedp.KeyEvent("g"), chromedp.KeyEvent("i"), chromedp.WaitVisible(chromedp.ID("objects")))
	if loc := browserGet(t, u, "location", chromedp.Location()); !strings.HasSuffix(loc, "/intel") {
		t.Fatalf("g i leads to %s", loc)
	}
	if txt := u.text(t); !strings.Contains(txt, "Bedrohungsinformationen") || !strings.Contains(txt, "Quastenflosser-Steuerserver") {
		t.Errorf("the list is not German or lacks the indicator: %q", txt)
	}
	u.do(t, "search", chromedp.KeyEvent("/"), chromedp.SendKeys(chromedp.ID("q"), "Quastenflosser"+kb.Enter),
		chromedp.WaitVisible(`//h2[@id="objects-title"][contains(., "Quastenflosser")]`))
	u.do(t, "open the indicator", chromedp.Click(`//table[@id="objects"]//a[.="Quastenflosser-Steuerserver"]`), chromedp.WaitVisible(chromedp.ID("sight")))
	if got := browserGet(t, u, "button", chromedp.Text(chromedp.ID("sight"))); got != "Auch bei uns gesehen" {
		t.Errorf("the button reads %q", got)
	}
	u.submit(t, "we saw this too", "sight")
	if loc := browserGet(t, u, "location", chromedp.Location()); !strings.Contains(loc, "/intel/objects/"+id+"?ok=sighting_reported") {
		t.Errorf("after the sighting the analyst is on %s", loc)
	}
	if txt := u.text(t); !strings.Contains(txt, "Danke: Ihre Sichtung wurde gemeldet.") || !strings.Contains(txt, "Müller Maschinenbau GmbH") {
		t.Errorf("no thanks or no sighting on the page: %q", txt)
	}
	cert.do(t, "the sighting arrives live", chromedp.WaitVisible(`//ul[@id="sighting-list"]/li[contains(@class, "new-item")][contains(., "Müller Maschinenbau GmbH")]`))

	// An import: the upload goes by script with its progress, and the
	// report replaces the form.
	file := filepath.Join(t.TempDir(), "lage.json")
	if err := os.WriteFile(file, []byte(importBundle), 0o600); err != nil {
		t.Fatal(err)
	}
	u.open(t, h, "/intel/import", false)
	u.do(t, "upload a bundle", chromedp.SetUploadFiles(`#i-bundle`, []string{file}), chromedp.SetValue(chromedp.ID("i-tlp"), "GREEN"),
		chromedp.Click(chromedp.ID("import-submit")), chromedp.WaitVisible(chromedp.ID("import-report")))
	if got := browserGet(t, u, "accepted", chromedp.Text(chromedp.ID("accepted"))); got != "1" {
		t.Errorf("the report counts %s objects taken, want 1", got)
	}
	if loc := browserGet(t, u, "location", chromedp.Location()); !strings.HasSuffix(loc, "/intel/import") {
		t.Errorf("after the upload the browser is on %s", loc)
	}

	// On a phone: the button right after the details, nothing sideways.
	u.do(t, "phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(h.URL+"/intel/objects/"+id), chromedp.WaitVisible(chromedp.ID("sight")))
	order := eval[bool](t, u, "order", `(() => {
		const about = document.querySelector('.intel-about').getBoundingClientRect();
		const sight = document.querySelector('.intel-sightings').getBoundingClientRect();
		const related = document.getElementById('related').getBoundingClientRect();
		return about.bottom <= sight.top && sight.bottom <= related.top; })()`)
	if !order {
		t.Error("on a phone the sightings do not follow the details")
	}
	for _, path := range []string{"/intel", "/intel/objects/" + id, "/intel/lookup?value=198.51.100.77", "/intel/import", "/intel/taxii"} {
		u.open(t, h, path, false)
		if w := eval[float64](t, u, "width", `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
			t.Errorf("%s scrolls sideways by %.0f px on a phone", path, w)
		}
	}
	u.screenshot(t, "intel-object-phone")
}
