package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/notify"
)

// In a real browser, by keyboard only: a person (German) reaches the
// e-mail settings from the profile, reads that this hub sends no e-mail,
// moves the intel group from the digest to "at once" with the arrow keys
// and saves with Enter. No script or CSP error on the way.
func TestBrowserMailSettings(t *testing.T) {
	browserPath(t)
	h := apptest.World(t, db.SQLite)
	de := "de"
	if _, err := h.App.Accounts.UpdateUser(context.Background(), h.Users["sme.analyst"].Actor, h.Users["sme.analyst"].ID, accounts.UserUpdate{Lang: &de}); err != nil {
		t.Fatal(err)
	}
	browser := startBrowser(t, "de-DE")
	u := newBrowserUser(t, browser, "sme.analyst")
	defer u.noProblems(t)
	u.login(t, h, h.Users["sme.analyst"], nil)
	u.open(t, h, "/profile", false)
	u.do(t, "follow the link", chromedp.Focus(chromedp.ID("mail-settings")), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.ID("mail-prefs")))
	if txt := u.text(t); !strings.Contains(txt, "Dieser Hub versendet keine E-Mails") || !strings.Contains(txt, "Sicherheitsvorfälle") || !strings.Contains(txt, "Noch keine E-Mails.") {
		t.Errorf("the German page: %q", txt)
	}
	// n focuses the form's first choice; Tab goes to the next group (a
	// radio group is one stop); the arrow key chooses; Enter saves.
	u.do(t, "choose by keyboard", chromedp.KeyEvent("n"), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.ArrowUp), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(`//*[contains(., "Ihre E-Mail-Einstellungen wurden gespeichert.")]`))
	var p notify.MailPrefs
	h.API(t, h.Users["sme.analyst"].ReadToken, "GET", "/api/v1/me/mail", nil).JSON(t, &p)
	for _, x := range p.Preferences {
		if want := map[string]string{"incidents": "instant", "intel": "instant", "training": "digest"}[x.Group]; x.Mode != want {
			t.Errorf("%s: %s, want %s (%+v)", x.Group, x.Mode, want, p)
		}
	}
	if checked := browserGet(t, u, "the saved choice", chromedp.Evaluate[bool](`document.querySelector('input[name="intel"][value="instant"]').checked`)); !checked {
		t.Errorf("the page does not show the saved choice")
	}
}
