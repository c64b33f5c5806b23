package app_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"verbund/internal/accounts"
	"verbund/internal/agreements"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// eval runs a script in the user's tab and returns its value.
func eval[T any](t *testing.T, u *browserUser, what, js string) T {
	t.Helper()
	return browserGet(t, u, what, chromedp.Evaluate[T](js))
}

// hiddenSideways is how far the element sel's own frame scrolls sideways.
func hiddenSideways(t *testing.T, u *browserUser, sel string) float64 {
	t.Helper()
	return eval[float64](t, u, "overflow of "+sel, fmt.Sprintf(`(() => { const e = document.querySelector(%q);
		return e ? e.scrollWidth - e.clientWidth : -1; })()`, sel))
}

// The first review on a phone (390 px) and a laptop (1280 px), in German:
// the agreements page reads on a phone (what may flow to whom one card per
// partner, whole words; the list one card per agreement) and a long status
// wraps on the laptop instead of widening the table; the navigation sits
// right above the page, says that it scrolls and starts at the current
// page; the shortcut hint is not offered on a phone; a channel's thread
// list shows every column without scrolling sideways.
func TestBrowserNarrowScreens(t *testing.T) {
	browserPath(t)
	h := apptest.World(t, db.SQLite)
	ctx := context.Background()
	de := "de"
	viewer := h.Users["sme.analyst"] // not an admin: the status names who decides
	if _, err := h.App.Accounts.UpdateUser(ctx, viewer.Actor, viewer.ID, accounts.UserUpdate{Lang: &de}); err != nil {
		t.Fatal(err)
	}
	admin := "Anna Müller-Lüdenscheidt"
	if _, err := h.App.Accounts.UpdateUser(ctx, h.Users["sme.admin"].Actor, h.Users["sme.admin"].ID, accounts.UserUpdate{Name: &admin}); err != nil {
		t.Fatal(err)
	}
	// A proposal to the SME that its admin has yet to accept.
	if _, err := h.App.Agreements.Propose(ctx, h.Users["outsider.admin"].Actor, "", agreements.Input{Kind: "bilateral", Partner: h.Orgs["sme"],
		Title: "Lieferkette", Categories: []string{"incident"}, MaxTLP: "GREEN", RetentionDays: 180, Purpose: "Warnungen in der Lieferkette"}); err != nil {
		t.Fatal(err)
	}
	newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "Verdächtige Anmeldungen am VPN-Gateway", "body": "b", "tlp": "AMBER", "audience": "community"})

	browser := startBrowser(t, "de-DE")
	u := newBrowserUser(t, browser, "sme.analyst")
	defer u.noProblems(t)
	u.login(t, h, viewer, nil)
	width := func(w int64) { u.do(t, fmt.Sprint("viewport ", w), chromedp.EmulateViewport(w, 900)) }

	// The laptop: the status "awaiting acceptance by your administration
	// (name)" is shown whole and the list fits its frame.
	width(1280)
	u.open(t, h, "/agreements", false)
	if over := hiddenSideways(t, u, ".table-wrap:has(#agreements)"); over > 0 {
		t.Errorf("at 1280 px the agreements list scrolls sideways by %.0f px", over)
	}
	if cut := eval[float64](t, u, "status badge", `(() => { const b = Array.from(document.querySelectorAll('#agreements .badge-warning')).pop();
		return b ? b.scrollWidth - b.clientWidth : -1; })()`); cut != 0 {
		t.Errorf("at 1280 px the awaiting badge is cut off (%.0f px hidden; -1: no badge)", cut)
	}
	// The matrix's last row leaves no border line under its first column.
	if b := eval[string](t, u, "matrix border", `getComputedStyle(document.querySelector('#flows tbody tr:last-child th')).borderBottomWidth`); b != "0px" {
		t.Errorf("the last row of the matrix draws a %s border under its first column", b)
	}
	if hint := eval[string](t, u, "shortcut hint", `getComputedStyle(document.querySelector('.shortcut-hint')).display`); hint == "none" {
		t.Error("at 1280 px the keyboard shortcuts are not offered")
	}

	// The phone.
	width(390)
	u.open(t, h, "/agreements", false)
	noSideways(t, u, "/agreements at 390 px")
	if over := hiddenSideways(t, u, ".table-wrap:has(#flows)"); over > 0 {
		t.Errorf("at 390 px the matrix scrolls sideways by %.0f px", over)
	}
	// Each partner's name and each category's name is on one line, as wide
	// as its words: no letter-by-letter column, no word broken.
	type cell struct {
		Text           string
		Width, Height  float64
		ScrollW, LineH float64
	}
	cells := eval[[]cell](t, u, "matrix cells", `Array.from(document.querySelectorAll('#flows tbody th, #flows tbody td:not(:empty)')).map(c => {
		const r = c.getBoundingClientRect(); const cs = getComputedStyle(c);
		return {Text: c.textContent.trim() || c.dataset.label, Width: r.width, Height: r.height, ScrollW: c.scrollWidth, LineH: parseFloat(cs.lineHeight) || 20}; })`)
	if len(cells) < 4 {
		t.Fatalf("the matrix shows %d cells", len(cells))
	}
	for _, c := range cells {
		if c.Width < 200 || c.Height > 2.2*c.LineH {
			t.Errorf("at 390 px the matrix cell %q is %.0f px wide and %.0f px high", c.Text, c.Width, c.Height)
		}
	}
	if label := eval[string](t, u, "category label", `getComputedStyle(document.querySelector('#flows tbody td:not(:empty)'), '::before').content`); label != `"Wissen"` && label != `"Sicherheitsvorfall"` {
		t.Errorf("a matrix line does not name its category: %s", label)
	}
	if over := hiddenSideways(t, u, ".table-wrap:has(#agreements)"); over > 0 {
		t.Errorf("at 390 px the agreements list scrolls sideways by %.0f px", over)
	}

	// A page with little content starts right under the navigation.
	u.open(t, h, "/tokens", false)
	if gap := eval[float64](t, u, "gap under the navigation", `document.querySelector('main').getBoundingClientRect().top - document.querySelector('.sidenav').getBoundingClientRect().bottom`); gap > 1 || gap < -1 {
		t.Errorf("at 390 px there are %.0f px between the navigation and the page", gap)
	}
	if nav := eval[float64](t, u, "navigation height", `document.querySelector('.sidenav').getBoundingClientRect().height`); nav > 60 {
		t.Errorf("at 390 px the navigation is %.0f px high", nav)
	}
	if hint := eval[string](t, u, "shortcut hint", `getComputedStyle(document.querySelector('.shortcut-hint')).display`); hint != "none" {
		t.Errorf("at 390 px the keyboard shortcut hint is shown (%s)", hint)
	}
	// The navigation says it scrolls: its cut edge fades; on a later
	// page the row starts at that page's entry.
	u.open(t, h, "/", false)
	if mask := eval[string](t, u, "navigation fade", `getComputedStyle(document.querySelector('.sidenav ul')).maskImage`); mask == "none" || mask == "" {
		t.Error("at 390 px the navigation is cut off without a fade at its edge")
	}
	u.open(t, h, "/profile", false)
	if in := eval[bool](t, u, "current entry", `(() => { const a = document.querySelector('.sidenav [aria-current="page"]').getBoundingClientRect();
		const n = document.querySelector('.sidenav ul').getBoundingClientRect(); return a.left >= n.left && a.right <= n.right; })()`); !in {
		t.Error("at 390 px the navigation does not show the current page's entry")
	}

	// A channel's threads: every column in view, labelled.
	u.open(t, h, "/forum/channels/"+h.CircleChannel, false)
	noSideways(t, u, "the channel at 390 px")
	if over := hiddenSideways(t, u, ".table-wrap:has(#threads)"); over > 0 {
		t.Errorf("at 390 px the thread list scrolls sideways by %.0f px", over)
	}
	if in := eval[bool](t, u, "posts column", `(() => { const w = document.querySelector('.table-wrap:has(#threads)').getBoundingClientRect();
		return Array.from(document.querySelectorAll('#threads tr:first-child td')).every(c => { const r = c.getBoundingClientRect();
		return r.width > 0 && r.left >= w.left && r.right <= w.right; }); })()`); !in {
		t.Error("at 390 px a column of the thread list is out of view")
	}
	u.screenshot(t, "narrow-channel-390")
}
