package app_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

var uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f-]{27}`)

// box is an element's place on the page, in CSS pixels.
type box struct{ Left, Width, Viewport float64 }

// boxOf measures the first element matching sel.
func boxOf(t *testing.T, u *browserUser, sel string) box {
	t.Helper()
	js := fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect();
		return {Left: r.left, Width: r.width, Viewport: document.documentElement.clientWidth}; })()`, sel)
	return browserGet(t, u, "measure "+sel, chromedp.Evaluate[box](js))
}

// centred fails unless the element sel is wider than minWidth and its
// middle is the viewport's (within a few pixels).
func centred(t *testing.T, u *browserUser, where, sel string, minWidth float64) {
	t.Helper()
	b := boxOf(t, u, sel)
	if b.Width <= minWidth {
		t.Errorf("%s: %s is %.0f px wide at a %.0f px viewport, want more than %.0f", where, sel, b.Width, b.Viewport, minWidth)
	}
	if mid := b.Left + b.Width/2; math.Abs(mid-b.Viewport/2) > 8 {
		t.Errorf("%s: %s is not centred: its middle is at %.0f px of %.0f", where, sel, mid, b.Viewport)
	}
}

// noSideways fails when the page scrolls sideways (wider than the window).
func noSideways(t *testing.T, u *browserUser, where string) {
	t.Helper()
	over := browserGet(t, u, "page width", chromedp.Evaluate[float64](
		`document.documentElement.scrollWidth - document.documentElement.clientWidth`))
	if over > 0 {
		wide := browserGet(t, u, "widest", chromedp.Evaluate[string](`(() => {
			const w = document.documentElement.clientWidth;
			const out = [];
			document.querySelectorAll('body *').forEach(el => { const r = el.getBoundingClientRect();
				if (r.right > w + 1 && out.length < 3) out.push(el.tagName + (el.id ? '#' + el.id : '') + '.' + el.className + ' ' + Math.round(r.right)); });
			return out.join(', '); })()`))
		t.Errorf("%s scrolls sideways by %.0f px (%s)", where, over, wide)
	}
}

// The first screens work: signed out, the sign-in card, the wrong password
// and a 404 are centred on the whole width (no empty sidebar column), and no
// page scrolls sideways at 1280 or 390 px, in German and English; the
// agreements matrix fits at 1280 and 1366 px. Screenshots of every page
// go to $VERBUND_SCREENSHOTS.
func TestBrowserLayout(t *testing.T) {
	browserPath(t)
	h := apptest.World(t, db.SQLite)
	ctx := context.Background()
	for key, lang := range map[string]string{"sme.admin": "de", "cloud.admin": "en"} {
		l := lang
		if _, err := h.App.Accounts.UpdateUser(ctx, h.Users[key].Actor, h.Users[key].ID, accounts.UserUpdate{Lang: &l}); err != nil {
			t.Fatal(err)
		}
	}
	thread := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "Phishing-Welle mit gefälschten Rechnungen an Maschinenbauer in Süddeutschland",
		"body": "Seit Montag sehen wir Mails mit angeblichen Rechnungen.", "tlp": "AMBER", "audience": "orgs", "orgs": []string{h.Orgs["cloud"], h.Orgs["cert"]}}).thread

	browser := startBrowser(t, "de-DE")
	anon := newBrowserUser(t, browser, "signed out")
	defer anon.noProblems(t)
	viewport := func(u *browserUser, w int64) {
		u.do(t, fmt.Sprint("viewport ", w), chromedp.EmulateViewport(w, 900))
	}
	for _, w := range []int64{1280, 390} {
		viewport(anon, w)
		for _, lang := range []string{"de", "en"} {
			name := fmt.Sprintf("login-%s-%d", lang, w)
			anon.open(t, h, "/login?lang="+lang, false)
			if w == 1280 {
				centred(t, anon, name, ".auth-card", 300)
			}
			noSideways(t, anon, name)
			anon.screenshot(t, name)
		}
		// A wrong password: the same card, with the error.
		anon.do(t, "wrong password",
			chromedp.SetValue(chromedp.ID("email"), h.Users["sme.viewer"].Email),
			chromedp.SetValue(chromedp.ID("password"), "falsches Passwort"),
			chromedp.Click(chromedp.ID("login-submit")),
			chromedp.WaitVisible(chromedp.ID("form-error")))
		name := fmt.Sprintf("login-wrong-%d", w)
		if w == 1280 {
			centred(t, anon, name, ".auth-card", 300)
		}
		noSideways(t, anon, name)
		anon.screenshot(t, name)
		resp := browserGet(t, anon, "404", chromedp.NavigateResponse(h.URL+"/gibt/es/nicht"))
		if resp.Status != http.StatusNotFound {
			t.Errorf("signed-out 404: status %d", resp.Status)
		}
		name = fmt.Sprintf("signed-out-404-%d", w)
		if w == 1280 {
			centred(t, anon, name, ".error-page", 300)
		}
		noSideways(t, anon, name)
		anon.screenshot(t, name)
	}

	pages := []string{"/", "/forum", "/forum?q=Rechnungen", "/forum?q=nirgendwo", "/forum/channels/" + h.CircleChannel, "/forum/channels/" + h.OrgChannel["sme"],
		"/forum/threads/" + thread, "/agreements", "/agreements/" + h.Bilateral, "/agreements/" + h.Charter, "/communities", "/communities/" + h.Circle,
		"/orgs", "/people", "/tokens", "/profile", "/profile/mail", "/audit"}
	for _, key := range []string{"sme.admin", "cloud.admin"} {
		u := newBrowserUser(t, browser, key)
		defer u.noProblems(t)
		u.login(t, h, h.Users[key], nil)
		for _, w := range []int64{1280, 390} {
			viewport(u, w)
			for i, p := range pages {
				u.open(t, h, p, false)
				name := fmt.Sprintf("%s-%02d%s-%d", key, i, strings.NewReplacer("/", "-", "?", "-", "=", "-").Replace(uuidRe.ReplaceAllString(p, "id")), w)
				noSideways(t, u, key+" on "+p+fmt.Sprintf(" at %d px", w))
				u.screenshot(t, name)
			}
		}
		// The matrix of what may flow to whom fits without scrolling.
		for _, w := range []int64{1280, 1366} {
			viewport(u, w)
			u.open(t, h, "/agreements", false)
			over := browserGet(t, u, "matrix", chromedp.Evaluate[float64](`(() => { const t = document.getElementById('flows');
				return t ? t.parentElement.scrollWidth - t.parentElement.clientWidth : 0; })()`))
			if over > 0 {
				t.Errorf("%s: the agreements matrix is cut at %d px (%.0f px hidden)", key, w, over)
			}
		}
	}
}
