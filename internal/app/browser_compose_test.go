package app_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// choose sets a select (or any field) as a person would, so that the
// form's script hears the change.
func choose(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = %q;
		el.dispatchEvent(new Event('change', {bubbles: true})); })()`, sel, value))
}

// tick checks a checkbox of a picker as a click would.
func tick(value string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(fmt.Sprintf(`.picker:not([hidden]) input[value=%q]`, value)))
}

// waitLine waits until the recipients line matches re and returns it.
func waitLine(t *testing.T, u *browserUser, what string, re *regexp.Regexp) string {
	t.Helper()
	var line string
	for deadline := time.Now().Add(browserStep); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		line = strings.Join(strings.Fields(browserGet(t, u, "recipients line", chromedp.Evaluate[string](`document.getElementById('recipients').innerText`))), " ")
		if re.MatchString(line) {
			return line
		}
	}
	t.Fatalf("%s: the recipients line reads %q, want %s", what, line, re)
	return ""
}

// The compose form says who will receive a post before it is sent, in the
// author's language, and offers only what the author's agreements allow:
// a German analyst of the SME chooses level and audience in the trust
// circle's channel and reads "Empfänger: … – N Personen"; named orgs and
// people the chosen level may not reach are not offered.
func TestBrowserComposeRecipients(t *testing.T) {
	browserPath(t)
	h := apptest.World(t, db.SQLite)
	de := "de"
	u := h.Users["sme.analyst"]
	if _, err := h.App.Accounts.UpdateUser(context.Background(), u.Actor, u.ID, accounts.UserUpdate{Lang: &de}); err != nil {
		t.Fatal(err)
	}
	browser := startBrowser(t, "de-DE")
	sme := newBrowserUser(t, browser, "sme.analyst")
	defer sme.noProblems(t)
	sme.login(t, h, u, nil)
	sme.open(t, h, "/forum/channels/"+h.CircleChannel, true)

	// As the form stands: TLP:AMBER to the trust circle. The SME's four
	// colleagues, the CERT's and the cloud's people (charter), not the
	// member without an agreement.
	line := waitLine(t, sme, "AMBER to the circle", regexp.MustCompile(`^Empfänger: CERT Süd, Müller Maschinenbau GmbH, Wolke Cloud AG – 12 Personen`))
	if !strings.Contains(line, "Nicht erreicht") || !strings.Contains(line, "Ohne Vertrag GmbH") {
		t.Errorf("the uncovered member is not named: %q", line)
	}
	if desc := browserGet(t, sme, "TLP definition", chromedp.Text(chromedp.CSS(`[data-tlp-desc="AMBER"]`))); !strings.Contains(desc, "Need-to-know") {
		t.Errorf("the definition of TLP:AMBER is not shown: %q", desc)
	}

	// Named organisations at TLP:AMBER+STRICT: the picker shows the cloud
	// (bilateral up to RED) and the CERT (charter up to AMBER) only up to
	// their levels; the member without agreement is not offered.
	sme.do(t, "AMBER+STRICT to named orgs", choose("#f-tlp", "AMBER+STRICT"), choose("#f-audience", "orgs"))
	visible := func(name string) bool {
		return browserGet(t, sme, "picker entry "+name, chromedp.Evaluate[bool](fmt.Sprintf(`Array.from(document.querySelectorAll('.picker:not([hidden]) label'))
			.some(l => !l.hidden && l.textContent.includes(%q))`, name)))
	}
	if !visible("Wolke Cloud AG") || visible("CERT Süd") || visible("Ohne Vertrag GmbH") {
		t.Errorf("at TLP:AMBER+STRICT the picker offers cloud %v, CERT %v, the member without agreement %v; want only the cloud",
			visible("Wolke Cloud AG"), visible("CERT Süd"), visible("Ohne Vertrag GmbH"))
	}
	if browserGet(t, sme, "people picker", chromedp.Evaluate[bool](`document.querySelector('.picker[data-for="people"]').hidden`)) != true {
		t.Error("the people picker is shown for an audience of named organisations")
	}
	sme.do(t, "name the cloud", tick(h.Orgs["cloud"]))
	waitLine(t, sme, "AMBER+STRICT to the cloud", regexp.MustCompile(`^Empfänger: Müller Maschinenbau GmbH, Wolke Cloud AG – 8 Personen$`))

	// TLP:RED: named people only, and only those an agreement lets RED reach.
	sme.do(t, "RED", choose("#f-tlp", "RED"))
	if aud := browserGet(t, sme, "audience", chromedp.Evaluate[string](`document.getElementById('f-audience').value`)); aud != "people" {
		t.Errorf("at TLP:RED the audience is %q, want named people", aud)
	}
	if !visible("cloud.analyst") || visible("cert.analyst") || !visible("sme.analyst2") {
		t.Errorf("at TLP:RED the picker offers cloud.analyst %v, cert.analyst %v, sme.analyst2 %v; want the cloud's and the colleague, not the CERT's",
			visible("cloud.analyst"), visible("cert.analyst"), visible("sme.analyst2"))
	}
	// The filter box narrows the list by name.
	sme.do(t, "filter", chromedp.SendKeys(chromedp.CSS(`.picker:not([hidden]) .picker-filter`), "cloud.an"))
	if visible("sme.analyst2") || !visible("cloud.analyst") {
		t.Error("filtering the people by name does not narrow the list")
	}
	sme.do(t, "name cloud.analyst", tick(h.Users["cloud.analyst"].ID))
	waitLine(t, sme, "RED to cloud.analyst", regexp.MustCompile(`^Empfänger: Wolke Cloud AG – 1 Person$`))

	// TLP:CLEAR is hub-wide, whatever the audience says.
	sme.do(t, "CLEAR", choose("#f-tlp", "CLEAR"), choose("#f-audience", "org"))
	waitLine(t, sme, "CLEAR in the org", regexp.MustCompile(`^Empfänger: alle Organisationen des Hubs – 20 Personen$`))
	if note := browserGet(t, sme, "CLEAR note", chromedp.Text(chromedp.CSS(`[data-tlp-desc="CLEAR"]`))); !strings.Contains(note, "für alle Organisationen sichtbar") {
		t.Errorf("choosing TLP:CLEAR does not say that all organisations see it: %q", note)
	}

	// Sent as AMBER to the circle; the reply form inherits the thread's
	// audience by default and says so, with the same recipients.
	sme.do(t, "AMBER to the circle", choose("#f-tlp", "AMBER"), choose("#f-audience", "community"),
		chromedp.SetValue(chromedp.ID("t-title"), "Lagebild KW 49"), chromedp.SetValue(chromedp.ID("t-body"), "Ruhig."))
	sme.submit(t, "post the thread", "post-thread")
	if got := browserGet(t, sme, "reply audience", chromedp.Evaluate[string](`(() => { const s = document.getElementById('f-audience');
		return s.value + '|' + s.options[s.selectedIndex].text; })()`)); got != "|wie das Thema (Vertrauenskreis Mittelstand Süd)" {
		t.Errorf("the reply's audience is %q, want the thread's by default", got)
	}
	waitLine(t, sme, "a reply as the thread", regexp.MustCompile(`^Empfänger: CERT Süd, Müller Maschinenbau GmbH, Wolke Cloud AG – 12 Personen`))
	if got := browserGet(t, sme, "thread audience", chromedp.Text(chromedp.ID("thread-audience"))); got != "Vertrauenskreis Mittelstand Süd" {
		t.Errorf("the thread names its audience %q", got)
	}
	sme.screenshot(t, "compose-reply-de")
}

// TLP:CLEAR reaches every organisation whatever the audience names, so
// the compose form offers no narrower audience for it (and never asks to
// name an organisation for it); a refusal in the recipients line looks
// like the error it is, not like the blue information it replaces.
func TestBrowserComposeClearAndRefusal(t *testing.T) {
	browserPath(t)
	h := apptest.World(t, db.SQLite)
	de := "de"
	u := h.Users["sme.analyst"]
	if _, err := h.App.Accounts.UpdateUser(context.Background(), u.Actor, u.ID, accounts.UserUpdate{Lang: &de}); err != nil {
		t.Fatal(err)
	}
	clearThread := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "Offen", "body": "b", "tlp": "CLEAR", "audience": "community"}).thread
	browser := startBrowser(t, "de-DE")
	sme := newBrowserUser(t, browser, "sme.analyst")
	defer sme.noProblems(t)
	sme.login(t, h, u, nil)

	// offered lists the audiences the select offers and the chosen one.
	offered := func(what string) string {
		t.Helper()
		return browserGet(t, sme, what, chromedp.Evaluate[string](`(() => { const s = document.getElementById('f-audience');
			return Array.from(s.options).filter(o => !o.disabled).map(o => o.value || '(thread)').join(',') + ' chosen ' + (s.value || '(thread)'); })()`))
	}

	sme.open(t, h, "/forum/channels/"+h.CircleChannel, true)
	// A refusal: named organisations, none named.
	sme.do(t, "AMBER+STRICT to no one", choose("#f-tlp", "AMBER+STRICT"), choose("#f-audience", "orgs"))
	waitLine(t, sme, "no org named", regexp.MustCompile(`^⚠? ?So nicht möglich: .*Organisation`))
	type colours struct{ Line, LineBorder, Error, ErrorBorder string }
	c := browserGet(t, sme, "colours", chromedp.Evaluate[colours](`(() => { const p = document.createElement('div'); p.className = 'flash flash-error';
		document.body.appendChild(p); const e = getComputedStyle(p); const l = getComputedStyle(document.getElementById('recipients'));
		const out = {Line: l.backgroundColor, LineBorder: l.borderLeftColor, Error: e.backgroundColor, ErrorBorder: e.borderLeftColor}; p.remove(); return out; })()`))
	if c.Line != c.Error || c.LineBorder != c.ErrorBorder {
		t.Errorf("the refused recipients line is %s with a %s edge, a form error %s with a %s edge", c.Line, c.LineBorder, c.Error, c.ErrorBorder)
	}

	// TLP:CLEAR: only the circle, which CLEAR reaches anyway; named
	// organisations are not offered, even when asked for.
	sme.do(t, "CLEAR", choose("#f-tlp", "CLEAR"))
	if got := offered("audiences at CLEAR"); got != "community chosen community" {
		t.Errorf("at TLP:CLEAR the new thread form offers %q, want only the circle", got)
	}
	sme.do(t, "CLEAR to named orgs", choose("#f-audience", "orgs"))
	if got := offered("audiences at CLEAR"); got != "community chosen community" {
		t.Errorf("at TLP:CLEAR choosing named organisations leaves %q", got)
	}
	line := waitLine(t, sme, "CLEAR", regexp.MustCompile(`^Empfänger: alle Organisationen des Hubs`))
	if strings.Contains(line, "möglich") {
		t.Errorf("at TLP:CLEAR the form refuses: %q", line)
	}
	if hidden := browserGet(t, sme, "org picker", chromedp.Evaluate[bool](`document.querySelector('.picker[data-for="orgs"]').hidden`)); !hidden {
		t.Error("at TLP:CLEAR the picker of organisations is shown")
	}
	// GREEN offers them again.
	sme.do(t, "GREEN", choose("#f-tlp", "GREEN"))
	if got := offered("audiences at GREEN"); got != "org,community,orgs,people chosen community" {
		t.Errorf("at TLP:GREEN the form offers %q", got)
	}

	// The org's own channel: its org is the widest audience.
	sme.open(t, h, "/forum/channels/"+h.OrgChannel["sme"], true)
	sme.do(t, "CLEAR inside", choose("#f-tlp", "CLEAR"))
	if got := offered("audiences at CLEAR inside"); got != "org chosen org" {
		t.Errorf("at TLP:CLEAR the org's channel offers %q, want its org", got)
	}
	// A reply to a CLEAR thread: as the thread, or the circle.
	sme.open(t, h, "/forum/threads/"+clearThread, true)
	if got := offered("reply audiences at CLEAR"); got != "(thread),community chosen (thread)" {
		t.Errorf("a reply at TLP:CLEAR offers %q", got)
	}
	waitLine(t, sme, "reply at CLEAR", regexp.MustCompile(`^Empfänger: alle Organisationen des Hubs`))
}
