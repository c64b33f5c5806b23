package app_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// In a real browser: CERT's analyst (in German) opens the playbooks with
// "g p", finds the circle's ransomware playbook by a step's words, reads
// the flow (every step of the SVG labelled) and walks the step list by
// keyboard; a step in the drawing leads to its entry in the list. Müller's
// analyst writes a playbook in the editor — a decision added by keyboard,
// its first field focused — and saves it. No script or CSP error on any
// page (the SVG's colours are attributes, not inline styles).
func TestBrowserPlaybooks(t *testing.T) {
	browserPath(t)
	h := apptest.World(t, db.SQLite)
	ctx := context.Background()
	de := "de"
	if _, err := h.App.Accounts.UpdateUser(ctx, h.Users["cert.analyst"].Actor, h.Users["cert.analyst"].ID, accounts.UserUpdate{Lang: &de}); err != nil {
		t.Fatal(err)
	}
	if status, rep := importPlaybook(t, h, h.Users["sme.analyst"], ransomwarePlaybook(t), url.Values{"audience": {"community"}, "community_id": {h.Circle}}); status != 200 {
		t.Fatalf("import: %d %+v", status, rep)
	}
	browser := startBrowser(t, "de-DE")
	cert := newBrowserUser(t, browser, "cert.analyst")
	defer cert.noProblems(t)
	cert.login(t, h, h.Users["cert.analyst"], nil)
	cert.do(t, "g p opens the playbooks", chromedp.KeyEvent("g"), chromedp.KeyEvent("p"), chromedp.WaitVisible(chromedp.ID("playbooks")))
	cert.do(t, "search", chromedp.SetValue(chromedp.ID("pb-q"), "offline"), chromedp.Submit(chromedp.ID("pb-q")),
		chromedp.WaitVisible(`//tbody[@id="playbook-rows"]//a[contains(., "Ransomware first response")]`))
	cert.do(t, "open it", chromedp.Click(`//tbody[@id="playbook-rows"]//a[contains(., "Ransomware first response")]`), chromedp.WaitVisible(chromedp.ID("step-list")))
	labelled := browserGet(t, cert, "labelled steps", chromedp.Evaluate[float64](
		`[...document.querySelectorAll('svg.playbook-flow a.flow-node')].filter(a => a.getAttribute('aria-label')).length`))
	title := browserGet(t, cert, "flow title", chromedp.Evaluate[string](`document.getElementById('flow-title').textContent`))
	if labelled != 13 || !strings.HasPrefix(title, "Ablauf von") {
		t.Errorf("the flow: %v labelled steps, title %q", labelled, title)
	}
	// The keyboard skips the drawing and walks the list: from step 1's
	// title, Tab reaches its "next" link, Enter follows it.
	cert.do(t, "walk the list", chromedp.Focus(`#step-1 h3 a`), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Enter))
	if loc := browserGet(t, cert, "location", chromedp.Location()); !strings.HasSuffix(loc, "#step-2") {
		t.Errorf("after Tab and Enter from step 1: %s", loc)
	}
	cert.do(t, "a step of the drawing", chromedp.Click(`a.flow-node[data-step="3"]`))
	if loc := browserGet(t, cert, "location", chromedp.Location()); !strings.HasSuffix(loc, "#step-3") {
		t.Errorf("after clicking the decision in the flow: %s", loc)
	}

	sme := newBrowserUser(t, browser, "sme.analyst")
	defer sme.noProblems(t)
	sme.login(t, h, h.Users["sme.analyst"], nil)
	sme.open(t, h, "/playbooks/new", false)
	sme.do(t, "name it and add a decision by keyboard",
		chromedp.SetValue(chromedp.ID("pe-name"), "Phishing – Erstmaßnahmen"),
		chromedp.SetValue(`//*[@id="step.0-name"]`, "Postfach sperren"),
		chromedp.SetValue(`//*[@id="step.0-cmds"]`, "Konto sperren\nPasswort zurücksetzen"),
		chromedp.Focus(`//button[@value="add:decision"]`), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(`//*[@id="step.1.yes.0-name"]`))
	if focused := browserGet(t, sme, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); focused != "step.1-name" {
		t.Errorf("after adding a decision the focus is on %q", focused)
	}
	sme.do(t, "fill the decision",
		chromedp.SetValue(`//*[@id="step.1-name"]`, "Wurden Zugangsdaten eingegeben?"),
		chromedp.SetValue(`//*[@id="step.1.yes.0-name"]`, "Alle Sitzungen beenden"),
		chromedp.SetValue(`//*[@id="step.1.yes.0-party"]`, "0"),
		chromedp.SetValue(`//*[@id="step.1.yes.0-cmds"]`, "Sitzungen im Identitätsdienst widerrufen"))
	sme.submit(t, "save", "save-playbook")
	if txt := sme.text(t); !strings.Contains(txt, "Phishing – Erstmaßnahmen") || !strings.Contains(txt, "Alle Sitzungen beenden") {
		t.Errorf("the saved playbook: %q", txt)
	}
}
