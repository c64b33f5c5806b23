package app_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/policy"
)

// browserStep bounds every browser step after the browser has started; a
// page load and a click take about a second on a 2-core machine.
const browserStep = 15 * time.Second

// browserPath finds Debian's Chromium (VERBUND_CHROMIUM overrides). Without
// one the browser tests are skipped, unless VERBUND_REQUIRE_BROWSER=1 (CI),
// where a missing browser must not pass silently.
func browserPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("VERBUND_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("VERBUND_REQUIRE_BROWSER") == "1" {
			t.Fatalf("no browser at %s (VERBUND_REQUIRE_BROWSER=1): apt-get install -y chromium or set VERBUND_CHROMIUM", p)
		}
		t.Skipf("no browser at %s: apt-get install -y chromium or set VERBUND_CHROMIUM", p)
	}
	return p
}

// startBrowser starts one headless Chromium for the test, speaking lang
// (e.g. "de-DE") in its Accept-Language header. The network is closed, so
// everything that phones home is off.
func startBrowser(t *testing.T, lang string) context.Context {
	t.Helper()
	exe := browserPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("lang", lang),
		chromedp.Flag("accept-lang", lang+","+strings.SplitN(lang, "-", 2)[0]),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() { bcancel(); acancel() }) // acancel waits for the process to exit
	// The first Run starts the browser and binds it to bctx: no timeout here.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	return bctx
}

// browserUser is one person at their own browser: a separate browser context
// (own cookies, own session) with one tab. It records script errors and
// console errors (CSP violations among them) so a test can fail on them, and
// every live event the server sent to the tab, whether the page shows it or
// not.
type browserUser struct {
	name string
	ctx  context.Context

	mu       sync.Mutex
	problems []string
	live     []string // data of every Server-Sent Event received
}

func newBrowserUser(t *testing.T, browser context.Context, name string) *browserUser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	u := &browserUser{name: name, ctx: ctx}
	// The first call on ctx opens the tab, so it carries no timeout either.
	// chromedp has the Log and Network domains on already.
	if err := chromedp.Listen(ctx, u.record); err != nil {
		t.Fatalf("%s: open tab: %v", name, err)
	}
	return u
}

// record runs on the tab's reader goroutine: it must only append.
func (u *browserUser) record(ev any) {
	var p string
	switch ev := ev.(type) {
	case *network.EventEventSourceMessageReceived:
		u.mu.Lock()
		u.live = append(u.live, ev.Data)
		u.mu.Unlock()
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		p = fmt.Sprintf("script exception: %s", d.Text)
		if d.Exception != nil && d.Exception.Description != "" {
			p += ": " + d.Exception.Description
		}
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		// Network errors are expected (the 404 the outsider must get); a
		// security entry is a CSP violation, javascript an error in app.js.
		if e.Level == cdplog.EntryLevelError && e.Source != cdplog.EntrySourceNetwork {
			p = fmt.Sprintf("console %s: %s (%s)", e.Source, e.Text, e.URL)
		}
	}
	if p != "" {
		u.mu.Lock()
		u.problems = append(u.problems, p)
		u.mu.Unlock()
	}
}

// liveMentions reports whether a received live event mentions id.
func (u *browserUser) liveMentions(id string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, d := range u.live {
		if strings.Contains(d, id) {
			return true
		}
	}
	return false
}

// noProblems fails the test on any recorded script or console error.
func (u *browserUser) noProblems(t *testing.T) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, p := range u.problems {
		t.Errorf("%s's browser: %s", u.name, p)
	}
}

// do runs steps in the user's tab within browserStep.
func (u *browserUser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, browserStep)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %s: %v", u.name, what, err)
	}
}

// browserGet runs one action that returns a value within browserStep.
func browserGet[T any](t *testing.T, u *browserUser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, browserStep)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %s: %v", u.name, what, err)
	}
	return v
}

// submit clicks a submit button and waits for the page it leads to.
func (u *browserUser) submit(t *testing.T, what string, button chromedp.ID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, browserStep)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(button))
	if err != nil {
		t.Fatalf("%s: %s: %v", u.name, what, err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("%s: %s: landed on %s with status %d", u.name, what, resp.URL, resp.Status)
	}
}

// open loads path and waits until its live stream (if any) is connected, so
// no event published afterwards can be missed.
func (u *browserUser) open(t *testing.T, h *apptest.Hub, path string, live bool) {
	t.Helper()
	steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(h.URL + path)}
	if live {
		steps = append(steps, chromedp.WaitReady(chromedp.CSS(".live.connected")))
	}
	u.do(t, "open "+path, steps...)
}

// login signs in through the login form, as a person would; check, if not
// nil, looks at the filled-in form before it is sent.
func (u *browserUser) login(t *testing.T, h *apptest.Hub, who *apptest.User, check func()) {
	t.Helper()
	u.do(t, "login form",
		chromedp.Navigate(h.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("email")),
		// SetValue, not SendKeys: typing costs about 50 ms a character.
		chromedp.SetValue(chromedp.ID("email"), who.Email),
		chromedp.SetValue(chromedp.ID("password"), apptest.Password),
	)
	if check != nil {
		check()
	}
	u.submit(t, "sign in", "login-submit")
	if loc := browserGet(t, u, "location", chromedp.Location()); strings.Contains(loc, "/login") {
		t.Fatalf("%s: still on %s after signing in: %s", u.name, loc, u.text(t))
	}
}

// text is what the person reads on the page.
func (u *browserUser) text(t *testing.T) string {
	t.Helper()
	return browserGet(t, u, "page text", chromedp.Evaluate[string](`document.body.innerText`))
}

// screenshot saves the whole page to $VERBUND_SCREENSHOTS/name.png, if set.
func (u *browserUser) screenshot(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv("VERBUND_SCREENSHOTS")
	if dir == "" {
		return
	}
	// From the top: a page scrolled to an anchor would show the sticky top
	// bar in the middle of a full-page capture.
	u.do(t, "scroll to top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	png := browserGet(t, u, "screenshot", chromedp.FullScreenshot(100))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, name+".png")
	if err := os.WriteFile(f, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", f)
}

// TestBrowserLiveAmberPost: a German SME analyst posts TLP:AMBER to the trust
// circle in a real browser; the CERT's open channel page shows it live, the
// outsider never sees it, and the CERT's reply reaches the SME's open thread
// page live.
func TestBrowserLiveAmberPost(t *testing.T) {
	browserPath(t) // skip before building the hub when there is no browser
	start := time.Now()
	h := apptest.World(t, db.SQLite)
	ctx := context.Background()
	setLang := func(key, lang string) {
		u := h.Users[key]
		if _, err := h.App.Accounts.UpdateUser(ctx, policy.System("test"), u.ID, accounts.UserUpdate{Lang: &lang}); err != nil {
			t.Fatalf("set language of %s: %v", key, err)
		}
	}
	// The SME analyst reads German (profile and browser); the CERT analyst
	// and the outsider chose English in their profiles, which wins over the
	// German browser.
	setLang("sme.analyst", "de")
	setLang("cert.analyst", "en")
	setLang("outsider.analyst", "en")

	browser := startBrowser(t, "de-DE")
	sme := newBrowserUser(t, browser, "sme.analyst")
	cert := newBrowserUser(t, browser, "cert.analyst")
	out := newBrowserUser(t, browser, "outsider.analyst")
	for _, u := range []*browserUser{sme, cert, out} {
		defer u.noProblems(t)
	}

	sme.login(t, h, h.Users["sme.analyst"], func() {
		// Before sign-in the page follows the browser's Accept-Language.
		if got := browserGet(t, sme, "login button", chromedp.Text(chromedp.ID("login-submit"))); got != "Anmelden" {
			t.Errorf("login button reads %q, want the German \"Anmelden\"", got)
		}
	})
	if got := browserGet(t, sme, "sign-out button", chromedp.Text(chromedp.CSS(`form[action="/logout"] button`))); got != "Abmelden" {
		t.Errorf("sign-out button reads %q, want \"Abmelden\"", got)
	}
	if txt := sme.text(t); !strings.Contains(txt, "Vertrauenskreise") {
		t.Errorf("navigation is not German: %q", txt)
	}

	cert.login(t, h, h.Users["cert.analyst"], nil)
	if got := browserGet(t, cert, "sign-out button", chromedp.Text(chromedp.CSS(`form[action="/logout"] button`))); got != "Sign out" {
		t.Errorf("CERT analyst chose English, sign-out button reads %q", got)
	}
	cert.open(t, h, "/forum/channels/"+h.CircleChannel, true)

	out.login(t, h, h.Users["outsider.analyst"], nil)
	out.open(t, h, "/forum", true)

	// The SME analyst posts to the trust circle's channel.
	const title = "Phishing-Welle: gefälschte Rechnungen an Maschinenbauer"
	const message = "Seit 8 Uhr erhalten drei Standorte Rechnungen mit Makro-Anhang; Absender rechnung-müller.example."
	sme.open(t, h, "/forum/channels/"+h.CircleChannel, true)
	sme.do(t, "fill the new thread form",
		chromedp.WaitVisible(chromedp.ID("new-thread")),
		chromedp.SetValue(chromedp.ID("t-title"), title),
		chromedp.SetValue(chromedp.ID("t-body"), message),
		chromedp.SetValue(chromedp.ID("f-tlp"), "AMBER"),
		chromedp.SetValue(chromedp.ID("f-audience"), "community"),
	)
	sme.submit(t, "post the thread", "post-thread")
	threadURL := browserGet(t, sme, "location", chromedp.Location())
	threadPath, flash, _ := strings.Cut(strings.TrimPrefix(threadURL, h.URL), "?")
	if !strings.HasPrefix(threadPath, "/forum/threads/") {
		t.Fatalf("after posting the SME analyst is on %s: %s", threadURL, sme.text(t))
	}
	// "Ohne Vertrag GmbH" is in the circle without an agreement: the author
	// is told, in German, that not every member received the post.
	if !strings.HasPrefix(flash, "ok=partial_delivery") || !strings.Contains(sme.text(t), "erhalten den Beitrag nicht") {
		t.Errorf("no German notice of partial delivery after posting (%s)", flash)
	}
	// The SME analyst sees their own post.
	sme.do(t, "own post", chromedp.WaitVisible(`//ol[@id="posts"]//div[contains(@class, "post-body")][contains(., "rechnung-müller.example")]`))
	postID := strings.TrimPrefix(browserGet(t, sme, "post id", chromedp.AttributeValue(chromedp.CSS("#posts > li.post-li"), "id")).Value, "post-")
	if postID == "" {
		t.Fatal("the thread page shows no post id")
	}

	// The CERT analyst's open channel page shows the thread without a reload.
	cert.do(t, "new thread arrives live", chromedp.WaitVisible(`//tbody[@id="threads"]//a[contains(., "`+title+`")]`))
	if got := browserGet(t, cert, "live row TLP", chromedp.Text(chromedp.CSS(`#threads tr.new-item .tlp`))); got != "TLP:AMBER" {
		t.Errorf("live thread row shows %q, want TLP:AMBER", got)
	}
	cert.do(t, "open the thread", chromedp.Click(`//tbody[@id="threads"]//a[contains(., "`+title+`")]`),
		chromedp.WaitVisible(chromedp.ID("post-"+postID)), chromedp.WaitReady(chromedp.CSS(".live.connected")))
	if got := browserGet(t, cert, "message", chromedp.Text(chromedp.CSS("#post-"+postID+" .post-body"))); got != message {
		t.Errorf("CERT analyst reads %q, want %q", got, message)
	}
	if got := browserGet(t, cert, "thread badge", chromedp.Text(chromedp.CSS(".page-header .tlp"))); got != "TLP:AMBER" {
		t.Errorf("thread badge %q, want TLP:AMBER", got)
	}
	if got := browserGet(t, cert, "post badge", chromedp.Text(chromedp.CSS("#post-"+postID+" .tlp"))); got != "TLP:AMBER" {
		t.Errorf("post badge %q, want TLP:AMBER", got)
	}

	// The outsider never sees it: not live, not after a reload, not in a
	// search, and the thread and its fragments are 404 like nothing at all.
	leaked := func(where string) {
		t.Helper()
		txt := out.text(t)
		if strings.Contains(txt, title) || strings.Contains(txt, "rechnung-müller") {
			t.Errorf("outsider sees the AMBER post on %s: %q", where, txt)
		}
	}
	leaked("the open forum page")
	out.open(t, h, "/forum", false)
	leaked("the reloaded forum page")
	out.open(t, h, "/forum?q=rechnung", false)
	leaked("a forum search")
	for _, path := range []string{threadPath, threadPath + "/fragment", "/forum/posts/" + postID + "/fragment"} {
		resp := browserGet(t, out, "GET "+path, chromedp.NavigateResponse(h.URL+path))
		if resp.Status != http.StatusNotFound {
			t.Errorf("outsider GET %s: status %d, want 404", path, resp.Status)
		}
		leaked(path)
	}
	if got := browserGet(t, out, "error page", chromedp.Text(chromedp.CSS(".error-page .code"))); got != "404" {
		t.Errorf("outsider's error page shows %q, want 404", got)
	}
	// Nor did the server stream it: /forum lists no live posts, so check
	// the wire. The CERT's stream carried it, so the check can see events.
	threadID := strings.TrimPrefix(threadPath, "/forum/threads/")
	if !cert.liveMentions(threadID) {
		t.Errorf("the CERT analyst's browser received no live event for thread %s", threadID)
	}
	if out.liveMentions(threadID) || out.liveMentions(postID) {
		t.Errorf("the outsider's browser received a live event for the AMBER thread")
	}

	// The CERT analyst replies; the SME analyst's open thread page shows it live.
	const reply = "Bestätigt: auch bei zwei weiteren Mitgliedern gesehen. Makros blockieren."
	cert.do(t, "reply", chromedp.SetValue(chromedp.ID("r-body"), reply))
	cert.submit(t, "post the reply", "post-reply")
	sme.do(t, "reply arrives live",
		chromedp.WaitVisible(`//ol[@id="posts"]/li[contains(@class, "new-item")]//div[contains(@class, "post-body")][contains(., "Makros blockieren")]`))
	if n := browserGet(t, sme, "post count", chromedp.Evaluate[int](`document.querySelectorAll('#posts > li.post-li').length`)); n != 2 {
		t.Errorf("SME thread page shows %d posts, want 2", n)
	}
	cert.do(t, "own reply", chromedp.WaitVisible(`//ol[@id="posts"]//div[contains(@class, "post-body")][contains(., "Makros blockieren")]`))
	cert.screenshot(t, "cert-thread")

	sme.open(t, h, "/forum/channels/"+h.CircleChannel, true)
	sme.do(t, "thread listed", chromedp.WaitVisible(`//tbody[@id="threads"]//a[contains(., "`+title+`")]`))
	// Another reply moves the thread's row up with its new count, live.
	cert.do(t, "second reply", chromedp.SetValue(chromedp.ID("r-body"), "Nachtrag: Absender rotieren stündlich."))
	cert.submit(t, "post the second reply", "post-reply")
	sme.do(t, "the row is updated live", chromedp.WaitVisible(`//tbody[@id="threads"]/tr[contains(@class, "new-item")][.//a[contains(., "`+title+`")]]/td[contains(@class, "num")][.="3"]`))
	if first := browserGet(t, sme, "first row", chromedp.AttributeValue(chromedp.CSS("#threads > tr"), "id")).Value; first != "thread-"+threadID {
		t.Errorf("the thread a reply arrived in is not at the top of the list: %s", first)
	}
	sme.screenshot(t, "sme-channel")

	// The SME withdraws the thread: the CERT's open thread page says so
	// and takes no more replies, and the SME's channel list drops it, live.
	if r := h.API(t, h.Users["sme.analyst"].WriteToken, "DELETE", "/api/v1/threads/"+threadID, nil); r.Status != http.StatusNoContent {
		t.Fatalf("withdraw the thread: %d %s", r.Status, r.Body)
	}
	cert.do(t, "the withdrawal arrives live", chromedp.WaitVisible(chromedp.ID("gone-notice")))
	if got := browserGet(t, cert, "notice", chromedp.Text(chromedp.ID("gone-notice"))); !strings.Contains(got, "withdrawn") {
		t.Errorf("the CERT's thread page says %q", got)
	}
	if !browserGet(t, cert, "reply field", chromedp.Evaluate[bool](`document.getElementById('r-body').disabled`)) {
		t.Error("the withdrawn thread's page still takes a reply")
	}
	sme.do(t, "the row leaves the list live", chromedp.WaitNotPresent(chromedp.ID("thread-"+threadID)))

	out.open(t, h, "/forum", false)
	leaked("the forum page at the end")
	t.Logf("browser test took %s", time.Since(start).Round(time.Millisecond))
}
