package app_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// TestBrowserRiskWorkshop: a risk workshop with three orgs scoring live in
// three real browsers. Müller's analyst (German) enters a risk for the
// circle and opens a workshop on it; Wolke's and CERT Süd's analysts
// open it; each votes, and every open page shows live who has voted but
// nobody's numbers; the facilitator reveals, every page shows spread and
// median live; CERT Süd comments in the side thread, the others read it
// live; the facilitator records the agreed score, which every page shows
// live and which becomes the risk's residual score with who took part.
func TestBrowserRiskWorkshop(t *testing.T) {
	browserPath(t)
	h := apptest.WorldCovering(t, db.SQLite)
	germanUI(t, h, "sme.analyst")
	browser := startBrowser(t, "de-DE")
	sme := newBrowserUser(t, browser, "sme.analyst")
	sme.login(t, h, h.Users["sme.analyst"], nil)
	sme.open(t, h, "/risks/new", false)
	sme.do(t, "describe the risk",
		chromedp.SetValue(chromedp.ID("r-title"), "Fehlende Offline-Datensicherung"),
		chromedp.SetValue(chromedp.ID("r-desc"), "Alle Sicherungen liegen im selben Netz."),
		chromedp.SetValue(chromedp.ID("r-l"), "4"),
		chromedp.SetValue(chromedp.ID("r-i"), "5"),
		chromedp.SetValue(chromedp.ID("f-tlp"), "AMBER"),
		chromedp.SetValue(chromedp.ID("f-audience"), "community"),
		chromedp.SetValue(chromedp.ID("f-community"), h.Circle),
	)
	sme.submit(t, "save the risk", "save-risk")
	loc := browserGet(t, sme, "location", chromedp.Location())
	risk := strings.TrimPrefix(strings.SplitN(loc, "?", 2)[0], h.URL+"/risks/")
	if len(risk) != 36 || !strings.Contains(sme.text(t), "Bruttorisiko") {
		t.Fatalf("after saving the risk: %s\n%s", loc, sme.text(t))
	}
	sme.open(t, h, "/risks", false)
	if got := browserGet(t, sme, "the heatmap cell", chromedp.Evaluate[string](`(document.getElementById('cell-4-5') || {}).getAttribute('aria-label') || ''`)); !strings.Contains(got, "Fehlende Offline-Datensicherung") || !strings.Contains(got, ": 1 Risiken") {
		t.Errorf("the heatmap's cell 4×5 is labelled %q, want its risk and count", got)
	}
	sme.screenshot(t, "risk-register")
	sme.open(t, h, "/risk-workshops/new", false)
	sme.do(t, "the workshop", chromedp.SetValue(chromedp.ID("w-title"), "Herbstworkshop"), chromedp.SetValue(chromedp.ID("w-circle"), h.Circle),
		chromedp.Click(chromedp.CSS(`input[name="risks"][value="`+risk+`"]`)))
	sme.submit(t, "open the workshop", "open-workshop")
	loc = browserGet(t, sme, "location", chromedp.Location())
	ws := strings.TrimPrefix(strings.SplitN(loc, "?", 2)[0], h.URL+"/risk-workshops/")
	if len(ws) != 36 {
		t.Fatalf("after opening the workshop: %s", loc)
	}
	page := "/risk-workshops/" + ws
	sme.open(t, h, page, true)
	cloud := newBrowserUser(t, browser, "cloud.analyst")
	cloud.login(t, h, h.Users["cloud.analyst"], nil)
	cloud.open(t, h, page, true)
	cert := newBrowserUser(t, browser, "cert.analyst")
	cert.login(t, h, h.Users["cert.analyst"], nil)
	cert.open(t, h, page, true)

	vote := func(u *browserUser, l, i string) {
		u.do(t, "vote", chromedp.SetValue(chromedp.ID("v-l-"+risk), l), chromedp.SetValue(chromedp.ID("v-i-"+risk), i))
		u.submit(t, "vote", chromedp.ID("vote-"+risk))
		u.open(t, h, page, true)
	}
	// CERT Süd's analyst is choosing while Wolke votes: the live update
	// of who voted leaves the choice alone.
	cert.do(t, "choose", chromedp.SetValue(chromedp.ID("v-l-"+risk), "2"))
	vote(cloud, "5", "2")
	waitText(t, sme, "Wolke's vote live", "#voters-"+risk, "1 abgestimmt: cloud.analyst (Wolke Cloud AG)")
	waitText(t, cert, "Wolke's vote live", "#voters-"+risk, "1 abgestimmt: cloud.analyst (Wolke Cloud AG)")
	if got := browserGet(t, cert, "the choice", chromedp.Evaluate[string](`document.getElementById('v-l-`+risk+`').value`)); got != "2" {
		t.Errorf("another's vote reset CERT Süd's choice to %q", got)
	}
	vote(cert, "3", "3")
	vote(sme, "4", "4")
	for _, u := range []*browserUser{sme, cloud, cert} {
		waitText(t, u, "three votes", "#voters-"+risk, "3 ")
		// Hidden means hidden: no one's numbers but one's own, the
		// facilitator's page included.
		if n := browserGet(t, u, "votes shown", chromedp.Evaluate[int](`document.querySelectorAll('table.votes, .spread').length`)); n != 0 {
			t.Errorf("%s sees votes before the reveal", u.name)
		}
	}
	waitText(t, sme, "my own vote", "#my-vote-"+risk, "Eintrittswahrscheinlichkeit 4, Auswirkung 4")
	sme.submit(t, "reveal", "reveal")
	sme.open(t, h, page, true)
	waitText(t, cloud, "the reveal live", "#item-"+risk+" .median-l", "Median 4 (von 3 bis 5)")
	waitText(t, cert, "the reveal live", "#item-"+risk+" .median-i", "Median 3 (von 2 bis 4)")
	waitText(t, sme, "the votes", "#item-"+risk, "Median 4 (von 3 bis 5)")
	if got := browserGet(t, cloud, "the votes table", chromedp.Evaluate[int](`document.querySelectorAll('table.votes tbody tr').length`)); got != 3 {
		t.Errorf("Wolke's page shows %d votes after the reveal, want 3", got)
	}
	cloud.screenshot(t, "risk-workshop-revealed")
	cert.do(t, "comment", chromedp.SetValue(chromedp.ID("c-body"), "Median passt, Offline-Sicherung priorisieren"))
	cert.submit(t, "send comment", "send-comment")
	waitText(t, cloud, "the comment live", "#comment-list", "Offline-Sicherung priorisieren")
	waitText(t, sme, "the comment live", "#comment-list", "Offline-Sicherung priorisieren")
	sme.do(t, "the agreed score", chromedp.SetValue(chromedp.ID("a-l-"+risk), "4"), chromedp.SetValue(chromedp.ID("a-i-"+risk), "3"))
	sme.submit(t, "record the agreement", chromedp.ID("agree-"+risk))
	waitText(t, cloud, "the agreement live", "#agreed-"+risk, "Vereinbart: Eintrittswahrscheinlichkeit 4, Auswirkung 3 (Wert 12)")
	waitText(t, cert, "the workshop closed live", "#workshop-status", "Abgeschlossen")
	sme.open(t, h, "/risks/"+risk, false)
	text := sme.text(t)
	if !strings.Contains(text, "12 (Eintrittswahrscheinlichkeit 4, Auswirkung 3)") || !strings.Contains(text, "Herbstworkshop: cert.analyst (CERT Süd), sme.analyst (Müller Maschinenbau GmbH), cloud.analyst (Wolke Cloud AG)") &&
		!strings.Contains(text, "Herbstworkshop: cert.analyst (CERT Süd), sme.analyst (Müller Maschinenbau GmbH)") {
		t.Errorf("the risk page after the workshop: %s", text)
	}
	if !strings.Contains(text, "cloud.analyst (Wolke Cloud AG)") {
		t.Errorf("the risk's history does not name Wolke's participant: %s", text)
	}
	for _, u := range []*browserUser{sme, cloud, cert} {
		u.noProblems(t)
	}
	sme.screenshot(t, "risk-after-workshop")
}
