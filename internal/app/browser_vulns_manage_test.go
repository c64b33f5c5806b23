package app_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/policy"
	"verbund/internal/vulns"
	"verbund/internal/vulns/vulnstest"
)

// TestBrowserVulnsManage: sme's analyst, in German, subscribes to a CSAF
// provider on loopback, fetches it now and reads the counts; changes an
// asset's version in its row and sees it matched; changes an advisory's
// sharing on its page (a level below the document's marking is refused
// with the reason); and finds the CSAF VEX export on the board.
func TestBrowserVulnsManage(t *testing.T) {
	browserPath(t)
	h := apptest.World(t, db.SQLite)
	ctx := context.Background()
	p := vulnstest.NewProvider(t)
	h.App.Vulns.SetFetch(true, p.Roots)
	sme := h.Users["sme.analyst"]
	asset, err := h.App.Vulns.CreateAsset(ctx, sme.Actor, vulns.NewAsset{Vendor: "Wolke", Product: "Wolke Gateway", Version: "2.4.2", Name: "edge-gw-9"})
	if err != nil {
		t.Fatal(err)
	}
	if r := vulnstest.Import(t, h, sme, vulnstest.Document("WOLKE-2026-60", "Gateway takeover", "1", "GREEN"), url.Values{"tlp": {"AMBER"}}); r.Status != 200 {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	list, _, err := h.App.Vulns.FindAdvisories(ctx, sme.Actor, vulns.AdvisoryFilter{Q: "WOLKE-2026-60"})
	if err != nil || len(list) != 1 {
		t.Fatalf("advisory: %v %v", list, err)
	}
	adv := list[0].ID

	browser := startBrowser(t, "de-DE")
	u := newBrowserUser(t, browser, "sme.analyst")
	defer u.noProblems(t)
	u.login(t, h, sme, nil)
	u.open(t, h, "/vulns?lang=de", false)
	u.do(t, "to the subscriptions", chromedp.Click(chromedp.ID("to-subscriptions")), chromedp.WaitVisible(chromedp.ID("subscription-form")))
	u.do(t, "provider URL", chromedp.SetValue(chromedp.ID("s-url"), p.URL+"/provider-metadata.json"))
	u.submit(t, "subscribe", "subscribe-submit")
	subs, err := h.App.Vulns.FindSubscriptions(ctx, sme.Actor)
	if err != nil || len(subs) != 1 {
		t.Fatalf("subscriptions: %v %v; page %q", subs, err, u.text(t))
	}
	// One document's digest does not match: refused with its reason.
	p.Set(func(p *vulnstest.Provider) { p.TamperHash = []string{"va-24-254-01.json"} })
	u.submit(t, "fetch now", chromedp.ID("run-"+subs[0].ID))
	if txt := u.text(t); !strings.Contains(txt, "4 gelistet · 4 geprüft · 3 importiert · 1 abgelehnt") || !strings.Contains(txt, "CISA") ||
		!strings.Contains(txt, "va-24-254-01.json") || !strings.Contains(txt, "passt nicht zu seinem veröffentlichten Hashwert") {
		t.Errorf("after fetching: %q", txt)
	}
	u.screenshot(t, "vulns-subscriptions-de")

	u.open(t, h, "/vulns/assets", false)
	u.do(t, "edit the asset", chromedp.Click(chromedp.CSS(`#asset-`+asset.ID+` summary`)), chromedp.WaitVisible(chromedp.ID("e-"+asset.ID+"-version")),
		chromedp.SetValue(chromedp.ID("e-"+asset.ID+"-version"), "2.4.1"))
	u.screenshot(t, "vulns-asset-edit-de")
	u.submit(t, "save the asset", chromedp.ID("asset-save-"+asset.ID))
	if txt := u.text(t); !strings.Contains(txt, "2.4.1") || !strings.Contains(txt, "erneut mit den Sicherheitshinweisen abgeglichen") {
		t.Errorf("after editing: %q", txt)
	}
	u.open(t, h, "/vulns/board", false)
	u.screenshot(t, "vulns-board-de")
	if txt := u.text(t); !strings.Contains(txt, "edge-gw-9") || !strings.Contains(txt, "WOLKE-2026-60") || !strings.Contains(txt, "CSAF VEX") {
		t.Errorf("the board: %q", txt)
	}

	u.open(t, h, "/vulns", false)
	u.screenshot(t, "vulns-list-de")
	u.open(t, h, "/vulns/advisories/"+adv, false)
	u.do(t, "open the sharing form", chromedp.Click(chromedp.CSS(`#sharing summary`)), chromedp.WaitVisible(chromedp.ID("sh-tlp")),
		chromedp.SetValue(chromedp.ID("sh-tlp"), "CLEAR"))
	u.do(t, "send a level below the marking", chromedp.Click(chromedp.ID("sharing-submit")), chromedp.WaitVisible(chromedp.CSS(`#sharing [role="alert"]`)))
	if txt := u.text(t); !strings.Contains(txt, "GREEN") {
		t.Errorf("refused level: %q", txt)
	}
	u.screenshot(t, "vulns-advisory-sharing-de")
	u.do(t, "share with the circle", chromedp.SetValue(chromedp.ID("sh-tlp"), "GREEN"), chromedp.SetValue(chromedp.ID("sh-audience"), "community"), chromedp.SetValue(chromedp.ID("sh-community"), h.Circle))
	u.submit(t, "save sharing", "sharing-submit")
	got, err := h.App.Vulns.FindAdvisoryByID(ctx, sme.Actor, adv)
	if err != nil || got.Share.TLP != policy.Green || got.Share.Audience.Kind != policy.AudCommunity {
		t.Errorf("after the sharing form: %+v %v", got.Share, err)
	}
}
