package app_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/vulns"
	"verbund/internal/vulns/vulnstest"
)

// In a real browser, in German: Müller's viewer opens the advisories with
// "g s", searches Wolke's advisory, reads its CVSS vector in words, and
// keeps the patch board open while Wolke publishes another advisory on
// the gateway Müller runs: the new affected asset appears live, with its
// deadline. No script or CSP error on any page.
func TestBrowserVulns(t *testing.T) {
	browserPath(t)
	h := apptest.World(t, db.SQLite)
	ctx := context.Background()
	de := "de"
	if _, err := h.App.Accounts.UpdateUser(ctx, h.Users["sme.viewer"].Actor, h.Users["sme.viewer"].ID, accounts.UserUpdate{Lang: &de}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.App.Vulns.CreateAsset(ctx, h.Users["sme.analyst"].Actor, vulns.NewAsset{Vendor: "Wolke", Product: "Wolke Gateway", Version: "2.4.1", Name: "edge-gw-1"}); err != nil {
		t.Fatal(err)
	}
	if r := vulnstest.Import(t, h, h.Users["cloud.analyst"], vulnstest.Document("WOLKE-2026-20", "Gateway takeover", "1", "WHITE"), url.Values{}); r.Status != 200 {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	browser := startBrowser(t, "de-DE")
	viewer := newBrowserUser(t, browser, "sme.viewer")
	defer viewer.noProblems(t)
	viewer.login(t, h, h.Users["sme.viewer"], nil)
	viewer.do(t, "g s opens the advisories", chromedp.KeyEvent("g"), chromedp.KeyEvent("s"), chromedp.WaitVisible(chromedp.ID("advisories")))
	viewer.do(t, "search", chromedp.SetValue(chromedp.ID("v-q"), "wolke-2026-20"), chromedp.Submit(chromedp.ID("v-q")),
		chromedp.WaitVisible(`//tbody[@id="advisory-rows"]//a[contains(., "Gateway takeover")]`))
	viewer.do(t, "open it", chromedp.Click(`//tbody[@id="advisory-rows"]//a[contains(., "Gateway takeover")]`), chromedp.WaitVisible(chromedp.ID("advisory-title")))
	// The CVSS breakdown is collapsed (a long advisory lists many): its
	// summary opens it.
	if txt := viewer.text(t); strings.Contains(txt, "Angriffsvektor") {
		t.Errorf("the CVSS breakdown is open before it is asked for: %q", txt)
	}
	viewer.do(t, "open the CVSS breakdown", chromedp.Click(`//details[contains(@class, "cvss-breakdown")]/summary`), chromedp.WaitVisible(`//dl[contains(@class, "cvss-metrics")]`))
	if txt := viewer.text(t); !strings.Contains(txt, "Angriffsvektor") || !strings.Contains(txt, "Netzwerk") || !strings.Contains(txt, "kritisch 9,8") ||
		!strings.Contains(txt, "Korrektur des Herstellers") {
		t.Errorf("the advisory page in German: %q", txt)
	}
	viewer.open(t, h, "/vulns/board", true)
	if txt := viewer.text(t); !strings.Contains(txt, "edge-gw-1") || !strings.Contains(txt, "WOLKE-2026-20") || !strings.Contains(txt, "Patch-Frist") {
		t.Errorf("the board: %q", txt)
	}
	if r := vulnstest.Import(t, h, h.Users["cloud.analyst"], vulnstest.Document("WOLKE-2026-21", "Second gateway flaw", "1", "WHITE"), url.Values{}); r.Status != 200 {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	wait, cancel := context.WithTimeout(viewer.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(wait, chromedp.WaitVisible(`//div[@id="board-table"]//a[contains(., "WOLKE-2026-21")]`)); err != nil {
		t.Errorf("the new match did not appear live: %v; page: %q", err, viewer.text(t))
	}
}
