package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// In real browsers: CERT Süd's phishing module is in the circle's
// library; Müller's admin (German) assigns it to the whole organisation
// with a due date; the viewer's open training page shows the assignment
// live; the viewer (English) answers the quiz, passes and opens the
// certificate; the admin's open progress table shows the completion live,
// and after a reload the count. No script or CSP error on any page.
func TestBrowserTrainingCompletion(t *testing.T) {
	browserPath(t)
	h := apptest.World(t, db.SQLite)
	ctx := context.Background()
	for key, lang := range map[string]string{"sme.admin": "de", "sme.viewer": "en"} {
		l := lang
		if _, err := h.App.Accounts.UpdateUser(ctx, h.Users[key].Actor, h.Users[key].ID, accounts.UserUpdate{Lang: &l}); err != nil {
			t.Fatal(err)
		}
	}
	mod := createModule(t, h, "cert.analyst", phishingModule(map[string]any{"community_id": h.Circle}))

	browser := startBrowser(t, "de-DE")
	admin := newBrowserUser(t, browser, "sme.admin")
	learner := newBrowserUser(t, browser, "sme.viewer")
	defer admin.noProblems(t)
	defer learner.noProblems(t)

	learner.login(t, h, h.Users["sme.viewer"], nil)
	learner.open(t, h, "/training", true)
	if txt := learner.text(t); !strings.Contains(txt, "Nothing has been assigned to you.") || !strings.Contains(txt, "Spotting phishing") {
		t.Errorf("the learner's training page before the assignment: %q", txt)
	}

	admin.login(t, h, h.Users["sme.admin"], nil)
	admin.do(t, "g t opens training", chromedp.KeyEvent("g"), chromedp.KeyEvent("t"), chromedp.WaitVisible(chromedp.ID("modules")))
	admin.do(t, "the circle's library", chromedp.Click(`//nav[contains(@class, "chips")]//a[contains(., "Mittelstand Süd")]`),
		chromedp.WaitVisible(`//tbody[@id="modules"]//a[.="Phishing erkennen"]`))
	admin.do(t, "open the module", chromedp.Click(`//tbody[@id="modules"]//a[.="Phishing erkennen"]`), chromedp.WaitVisible(chromedp.ID("assign-form")))
	if txt := admin.text(t); !strings.Contains(txt, "Prüfen Sie den Absender.") || !strings.Contains(txt, "Dieses Modul wurde Ihnen nicht zugewiesen") {
		t.Errorf("the module page in German: %q", txt)
	}
	due := time.Now().AddDate(0, 0, 14)
	admin.do(t, "assign to the organisation", chromedp.Click(chromedp.ID("target-org")),
		chromedp.SetValue(chromedp.ID("due-date"), due.Format("2006-01-02")))
	admin.submit(t, "assign", "assign-submit")
	if txt := admin.text(t); !strings.Contains(txt, "Zugewiesen.") || !strings.Contains(txt, "0 von 5 abgeschlossen") {
		t.Errorf("after assigning: %q", txt)
	}
	admin.do(t, "the live stream", chromedp.WaitReady(chromedp.CSS(".live.connected")))
	viewerRow := `//tbody[@id="people"]/tr[td[1][.="sme.viewer"]]`
	if got := browserGet(t, admin, "the viewer's status", chromedp.Text(viewerRow+`//span[@data-status]`)); got != "nicht begonnen" {
		t.Errorf("the viewer's status before: %q", got)
	}

	// The assignment reaches the learner's open page.
	learner.do(t, "the assignment arrives live", chromedp.WaitVisible(`//ul[@id="my-training"]/li[contains(@class, "new-item")]//a[.="Spotting phishing"]`))
	learner.do(t, "open the module", chromedp.Click(`//ul[@id="my-training"]//a[.="Spotting phishing"]`), chromedp.WaitVisible(chromedp.ID("quiz-form")))
	page := browserGet(t, learner, "page source", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if strings.Contains(page, "badge-success\">correct") {
		t.Error("the learner's page marks the correct answers")
	}
	// The second question is multiple choice: urgency and a foreign domain.
	learner.do(t, "answer", chromedp.Click(chromedp.ID("q1-o1")), chromedp.Click(chromedp.ID("q2-o0")), chromedp.Click(chromedp.ID("q2-o2")))
	learner.submit(t, "send the answers", "submit-answers")
	if txt := learner.text(t); !strings.Contains(txt, "Passed: 100 % (pass mark 100 %)") || !strings.Contains(txt, "certificate of completion is ready") {
		t.Errorf("after sending: %q", txt)
	}
	learner.do(t, "open the certificate", chromedp.Click(chromedp.ID("certificate-link")), chromedp.WaitVisible(chromedp.ID("certificate")))
	if name := browserGet(t, learner, "name", chromedp.Text(chromedp.ID("certificate-name"))); name != "sme.viewer" {
		t.Errorf("the certificate names %q", name)
	}
	if m := browserGet(t, learner, "module", chromedp.Text(chromedp.ID("certificate-module"))); m != "Spotting phishing" {
		t.Errorf("the certificate names the module %q", m)
	}
	learner.screenshot(t, "training-certificate")

	// The admin's open page shows the completion live, and the count after
	// a reload.
	admin.do(t, "the completion arrives live", chromedp.WaitVisible(viewerRow+`[contains(@class, "new-item")]//span[@data-status="passed"]`))
	admin.do(t, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("people")))
	if txt := admin.text(t); !strings.Contains(txt, "1 von 5 abgeschlossen (20 %)") || !strings.Contains(txt, "Abschlussbescheinigung") {
		t.Errorf("the admin's progress after the completion: %q", txt)
	}
	admin.screenshot(t, "training-progress")
	cert := strings.TrimPrefix(browserGet(t, learner, "location", chromedp.Location()), h.URL)
	if r := h.API(t, h.Users["sme.analyst"].ReadToken, http.MethodGet, cert, nil); r.Status != http.StatusNotFound {
		t.Errorf("a colleague opens the certificate: %d", r.Status)
	}
	_ = mod
}
