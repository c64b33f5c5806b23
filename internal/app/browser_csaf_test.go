package app_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// In a real browser, in German: Wolke's analyst writes an advisory with
// the form and publishes it at once; the advisory's page says where it
// is published and the public provider serves it; unpublished from the
// page, it is gone from the provider. No script or CSP error.
func TestBrowserCSAFPublish(t *testing.T) {
	browserPath(t)
	h := apptest.WorldCovering(t, db.SQLite)
	ctx := context.Background()
	cloud := h.Users["cloud.analyst"]
	de := "de"
	if _, err := h.App.Accounts.UpdateUser(ctx, cloud.Actor, cloud.ID, accounts.UserUpdate{Lang: &de}); err != nil {
		t.Fatal(err)
	}
	browser := startBrowser(t, "de-DE")
	u := newBrowserUser(t, browser, "cloud.analyst")
	defer u.noProblems(t)
	u.login(t, h, cloud, nil)
	u.open(t, h, "/vulns", false)
	u.do(t, "open the write form", chromedp.Click(chromedp.ID("compose-advisory")), chromedp.WaitVisible(chromedp.ID("compose-form")))
	u.do(t, "fill it in",
		chromedp.SetValue(chromedp.ID("c-id"), "WCSA-2026-0042"),
		chromedp.SetValue(chromedp.ID("c-title"), "Wolke Gateway: Umgehung der Anmeldung"),
		chromedp.SetValue(chromedp.ID("c-summary"), "Ein Angreifer kann die Anmeldung umgehen."),
		chromedp.SetValue(chromedp.ID("c-vendor"), "Wolke Cloud AG"),
		chromedp.SetValue(chromedp.ID("c-product"), "Wolke Gateway"),
		chromedp.SetValue(chromedp.ID("c-affected"), "2.4.1"),
		chromedp.SetValue(chromedp.ID("c-fixed"), "2.4.2"),
		chromedp.SetValue(chromedp.ID("c-cvss"), "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
	)
	u.submit(t, "save and publish", "compose-submit")
	txt := u.text(t)
	if !strings.Contains(txt, "Veröffentlicht: Version 1 im TLP:WHITE-Feed") || !strings.Contains(txt, "WCSA-2026-0042") {
		t.Fatalf("the advisory page after publishing: %q", txt)
	}
	href := browserGet(t, u, "the document's address", chromedp.Evaluate[string](`document.querySelector('#publication-state a').getAttribute('href')`))
	if !strings.HasSuffix(href, "/white/"+strconv.Itoa(time.Now().UTC().Year())+"/wcsa-2026-0042.json") {
		t.Fatalf("publication link %q", href)
	}
	path := href[strings.Index(href, "/csaf/"):]
	if status, _, _ := get(t, h, "", path); status != http.StatusOK {
		t.Fatalf("the public provider serves %s with %d", path, status)
	}
	u.do(t, "unpublish", chromedp.Evaluate[chromedp.Void](`(() => { window.confirm = () => true; })()`),
		chromedp.Click(chromedp.ID("unpublish-advisory")), chromedp.WaitVisible(`//p[@id="publication-state" and contains(., "Nicht über den CSAF-Provider")]`))
	if status, _, _ := get(t, h, "", path); status != http.StatusNotFound {
		t.Errorf("unpublished, %s answers %d", path, status)
	}
}
