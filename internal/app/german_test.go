package app_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/auth"
	"verbund/internal/db"
	"verbund/internal/i18n"
)

var (
	formErrorRe  = regexp.MustCompile(`<div class="flash flash-error" role="alert" id="form-error" data-code="([a-z_]*)"[^>]*>([^<]*)</div>`)
	errorPageRe  = regexp.MustCompile(`(?s)<section class="error-page" data-code="([a-z_]*)">.*?<p id="error-message">([^<]*)</p>`)
	pageCSRFRe   = regexp.MustCompile(`name="csrf-token" content="([^"]+)"`)
	catalogueArg = regexp.MustCompile(`\{[A-Za-z_][A-Za-z0-9_]*\}`)
	tagRe        = regexp.MustCompile(`<[^>]*>`)
	// shownAttrRe finds the attributes whose values people read or hear.
	shownAttrRe = regexp.MustCompile(`\s(?:title|aria-label|placeholder|alt|data-msg-[a-z]+|data-confirm|data-copied)="([^"]*)"`)
)

// readable is what a page shows its reader: its text and the attributes
// that are shown or read out, not form values or class names.
func readable(page string) string {
	var b strings.Builder
	b.WriteString(tagRe.ReplaceAllString(page, " "))
	for _, m := range shownAttrRe.FindAllStringSubmatch(page, -1) {
		b.WriteString(" " + m[1])
	}
	return html.UnescapeString(b.String())
}

// shownError returns the code and text of the error a page shows: its
// form error or, on an error page, the error's message.
func shownError(t *testing.T, page []byte) (code, text string) {
	t.Helper()
	m := formErrorRe.FindSubmatch(page)
	if m == nil {
		m = errorPageRe.FindSubmatch(page)
	}
	if m == nil {
		t.Fatalf("the page shows no error:\n%s", page)
	}
	if n := len(formErrorRe.FindAll(page, -1)) + len(errorPageRe.FindAll(page, -1)); n != 1 {
		t.Errorf("the page shows %d errors, want 1", n)
	}
	return string(m[1]), html.UnescapeString(string(m[2]))
}

// englishIn returns catalogue text in English (with its German differing)
// that page shows: a message, or a part of one between placeholders,
// of 12 characters or more. Case and closing punctuation are ignored, so
// that an English fault message such as "the title must have …" is found
// as well as the catalogue's "The title must have ….".
func englishIn(cat *i18n.Catalog, page string) []string {
	page = strings.ToLower(readable(page))
	var found []string
	for _, k := range cat.Keys() {
		en, de := cat.T("en", k), cat.T("de", k)
		if en == de {
			continue
		}
		for _, part := range catalogueArg.Split(en, -1) {
			part = strings.ToLower(strings.Trim(part, " .:;,()\"“”„"))
			if len(part) >= 12 && strings.Contains(page, part) {
				found = append(found, k+": "+part)
			}
		}
	}
	return found
}

// A German user meets every error in German: form errors and error pages
// show the catalogue's German message with its values filled in, and no
// English text of the catalogue. The error's code is an attribute for
// scripts and tests, never shown in brackets.
func TestErrorsInGerman(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	cat := h.App.Web.Catalog
	de := "de"
	for _, key := range []string{"sme.analyst", "sme.admin"} {
		u := h.Users[key]
		if _, err := h.App.Accounts.UpdateUser(context.Background(), u.Actor, u.ID, accounts.UserUpdate{Lang: &de}); err != nil {
			t.Fatal(err)
		}
	}
	analyst, admin := h.Login(t, h.Users["sme.analyst"]), h.Login(t, h.Users["sme.admin"])
	threads := "/forum/channels/" + h.CircleChannel + "/threads"
	thread := func(kv ...string) url.Values {
		v := url.Values{"title": {"Lagebild"}, "body": {"Neue Phishing-Welle"}, "tlp": {"GREEN"}, "audience": {"community"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	type step struct {
		name   string
		do     func(t *testing.T) apptest.Response
		status int
		code   string
		args   []any // the message's values
	}
	steps := []step{
		{"empty thread title", func(t *testing.T) apptest.Response { return analyst.PostForm(t, threads, thread("title", " ")) },
			400, "bad_title", nil},
		{"bad TLP", func(t *testing.T) apptest.Response { return analyst.PostForm(t, threads, thread("tlp", "PINK")) },
			400, "bad_tlp", []any{"tlp", "PINK"}},
		{"TLP:RED without people", func(t *testing.T) apptest.Response {
			return analyst.PostForm(t, threads, thread("tlp", "RED", "audience", "people"))
		}, 400, "people_missing", nil},
		{"TLP:RED to the own organisation", func(t *testing.T) apptest.Response {
			return analyst.PostForm(t, threads, thread("tlp", "RED", "audience", "org"))
		}, 400, "red_needs_people", nil},
		{"agreement without a partner", func(t *testing.T) apptest.Response {
			return admin.PostForm(t, "/agreements", url.Values{"kind": {"bilateral"}, "partner_org_id": {""}, "categories": {"knowledge"},
				"max_tlp": {"GREEN"}, "retention_days": {"30"}, "purpose": {"Frühwarnung"}})
		}, 400, "partner_missing", nil},
		{"agreement with a bad date", func(t *testing.T) apptest.Response {
			return admin.PostForm(t, "/agreements", url.Values{"kind": {"bilateral"}, "partner_org_id": {h.Orgs["cloud"]}, "categories": {"knowledge"},
				"max_tlp": {"GREEN"}, "retention_days": {"30"}, "valid_until": {"31.12.2026"}})
		}, 400, "bad_date", []any{"field", cat.T("de", "agreement.valid_until")}},
		{"agreement without a purpose", func(t *testing.T) apptest.Response {
			return admin.PostForm(t, "/agreements", url.Values{"kind": {"bilateral"}, "partner_org_id": {h.Orgs["outsider"]}, "categories": {"knowledge"},
				"max_tlp": {"GREEN"}, "retention_days": {"30"}, "purpose": {"  "}})
		}, 400, "purpose_missing", nil},
		{"audit trail filtered by a bad date", func(t *testing.T) apptest.Response { return admin.Get(t, "/audit?until=morgen") },
			400, "bad_date", []any{"field", cat.T("de", "audit.until")}},
		{"audit trail filtered by a period that ends before it starts", func(t *testing.T) apptest.Response {
			return admin.Get(t, "/audit?from=2026-12-31&until=2026-01-01")
		}, 400, "period_inverted", nil},
		{"a reply that reaches further than its thread", func(t *testing.T) apptest.Response {
			th := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "t", "body": "b", "tlp": "AMBER+STRICT", "audience": "orgs", "orgs": []string{h.Orgs["cloud"]}})
			return analyst.PostForm(t, "/forum/threads/"+th.thread+"/posts", url.Values{"body": {"x"}, "tlp": {"AMBER+STRICT"}, "audience": {"orgs"}, "orgs": {h.Orgs["cert"]}})
		}, 400, "audience_beyond_container", []any{"what", cat.T("de", "policy.beyond.named_org")}},
		{"TLP:RED to someone no agreement reaches at RED", func(t *testing.T) apptest.Response {
			return analyst.PostForm(t, threads, thread("tlp", "RED", "audience", "people", "people", h.Users["cert.analyst"].ID))
		}, 403, "agreement_missing", []any{"org", "CERT Süd", "category", cat.T("de", "category.knowledge"), "tlp", "TLP:RED"}},
		{"too short a password", func(t *testing.T) apptest.Response {
			return analyst.PostForm(t, "/profile/password", url.Values{"current": {apptest.Password}, "new": {"kurz"}, "confirm": {"kurz"}})
		}, 400, "weak_password", []any{"min", auth.MinPasswordRunes, "max", auth.MaxPasswordBytes}},
		{"wrong code while enrolling the second factor", func(t *testing.T) apptest.Response {
			if r := analyst.PostForm(t, "/profile/totp/start", nil); r.Status != http.StatusOK {
				t.Fatalf("start TOTP: %d", r.Status)
			}
			return analyst.PostForm(t, "/profile/totp/enable", url.Values{"code": {"000000"}})
		}, 400, "invalid_code", nil},
		{"expired form", func(t *testing.T) apptest.Response {
			return analyst.PostForm(t, "/profile", url.Values{"_csrf": {"abgelaufen"}, "name": {"X"}})
		}, 403, "csrf_failed", nil},
		{"thread that does not exist", func(t *testing.T) apptest.Response { return analyst.Get(t, "/forum/threads/0000") },
			404, "not_found", nil},
		{"unknown address", func(t *testing.T) apptest.Response { return analyst.Get(t, "/gibt/es/nicht") },
			404, "not_found", nil},
		{"a page the role may not see", func(t *testing.T) apptest.Response { return analyst.Get(t, "/audit") },
			403, "auditor_required", nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := s.do(t)
			if r.Status != s.status {
				t.Errorf("status %d, want %d", r.Status, s.status)
			}
			code, text := shownError(t, r.Body)
			if code != s.code {
				t.Errorf("code %q, want %q", code, s.code)
			}
			want := cat.T("de", i18n.FaultKey(s.code), s.args...)
			if text != want {
				t.Errorf("shows %q, want the German message %q", text, want)
			}
			if strings.Contains(text, "{") || strings.Contains(string(r.Body), "("+s.code+")") {
				t.Errorf("an unfilled placeholder or the raw code is shown: %q", text)
			}
			if en := englishIn(cat, string(r.Body)); len(en) > 0 {
				t.Errorf("the German page shows English catalogue text: %q", en)
			}
		})
	}

	// Signing in: the language comes from the cookie the login page sets.
	t.Run("wrong password", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(h.URL + "/login?lang=de")
		if err != nil {
			t.Fatal(err)
		}
		page := readBody(t, resp)
		m := pageCSRFRe.FindSubmatch(page)
		if m == nil {
			t.Fatal("no CSRF token on the login page")
		}
		resp, err = c.PostForm(h.URL+"/login", url.Values{"_csrf": {string(m[1])}, "email": {h.Users["sme.viewer"].Email}, "password": {"falsches Passwort"}})
		if err != nil {
			t.Fatal(err)
		}
		page = readBody(t, resp)
		code, text := shownError(t, page)
		if resp.StatusCode != http.StatusUnauthorized || code != "invalid_credentials" || text != cat.T("de", "fault.invalid_credentials") {
			t.Errorf("status %d, %q %q, want 401 and the German message", resp.StatusCode, code, text)
		}
		if en := englishIn(cat, string(page)); len(en) > 0 {
			t.Errorf("the German page shows English catalogue text: %q", en)
		}
	})
}

func readBody(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The API answers in English, the programs' language, and in German for a
// client that asks for it; the code stays the same.
func TestAPIErrorLanguage(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	cat := h.App.Web.Catalog
	call := func(lang string) (int, string, string) {
		req, err := http.NewRequest(http.MethodPost, h.URL+"/api/v1/channels/"+h.CircleChannel+"/threads",
			strings.NewReader(`{"title":"x","body":"y","tlp":"PINK"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+h.Users["sme.analyst"].WriteToken)
		req.Header.Set("Content-Type", "application/json")
		if lang != "" {
			req.Header.Set("Accept-Language", lang)
		}
		resp, err := h.Server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r := apptest.Response{Status: resp.StatusCode, Body: readBody(t, resp)}
		var body struct {
			Error struct{ Code, Message string }
		}
		r.JSON(t, &body)
		return r.Status, body.Error.Code, body.Error.Message
	}
	english := `unknown TLP level "PINK": use CLEAR, GREEN, AMBER, AMBER+STRICT or RED`
	for _, tt := range []struct{ lang, want string }{
		{"", english},
		{"en-GB,en;q=0.9", english},
		{"fr", english},
		{"de-DE,de;q=0.9,en;q=0.5", cat.T("de", "fault.bad_tlp", "tlp", "PINK")},
	} {
		status, code, msg := call(tt.lang)
		if status != 400 || code != "bad_tlp" || msg != tt.want {
			t.Errorf("Accept-Language %q: %d %q %q, want 400 bad_tlp %q", tt.lang, status, code, msg, tt.want)
		}
	}
	r := h.API(t, h.Users["sme.analyst"].ReadToken, "GET", "/api/v1/no-such-thing", nil)
	if r.Status != 404 || r.ErrorCode() != "not_found" {
		t.Errorf("unknown API address: %d %s", r.Status, r.Body)
	}
}

// Choosing a language takes one click on any signed-out page, also when an
// earlier choice is in the cookie, and the language links keep where the
// sign-in leads afterwards.
func TestLanguageSwitch(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) string {
		t.Helper()
		resp, err := c.Get(h.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		return string(readBody(t, resp))
	}
	htmlLang := regexp.MustCompile(`<html lang="([a-z]+)">`)
	langOf := func(page string) string {
		m := htmlLang.FindStringSubmatch(page)
		if m == nil {
			t.Fatal("no <html lang>")
		}
		return m[1]
	}
	if l := langOf(get("/login?lang=en")); l != "en" {
		t.Fatalf("/login?lang=en is %q", l)
	}
	// The cookie says English now; one click on Deutsch is enough.
	page := get("/login?lang=de&next=%2Fforum")
	if l := langOf(page); l != "de" {
		t.Errorf("with an English cookie, /login?lang=de is %q: the choice takes a second click", l)
	}
	if l := langOf(get("/login")); l != "de" {
		t.Errorf("the choice of German is not remembered: %q", l)
	}
	// The links keep next (and offer the other language).
	if !strings.Contains(page, `href="?lang=en&amp;next=%2Fforum"`) {
		t.Errorf("the language links drop next: %s", regexp.MustCompile(`href="[^"]*lang=[^"]*"`).FindAllString(page, -1))
	}
	// So do they on the form shown again after a wrong password.
	u := h.Users["sme.analyst"]
	failed := h.Anonymous(t).PostForm(t, "/login", url.Values{"email": {u.Email}, "password": {"wrong"}, "next": {"/forum"}})
	if !strings.Contains(string(failed.Body), `href="?lang=en&amp;next=%2Fforum"`) {
		t.Errorf("after a failed sign-in the language links drop next: %s", regexp.MustCompile(`href="[^"]*lang=[^"]*"`).FindAllString(string(failed.Body), -1))
	}
	// Any page takes ?lang=, not only the sign-in page.
	if l := langOf(get("/gibt/es/nicht?lang=en")); l != "en" {
		t.Errorf("a signed-out 404 with ?lang=en is %q", l)
	}
	if l := langOf(get("/gibt/es/nicht")); l != "en" {
		t.Errorf("the choice made on the 404 page is not remembered: %q", l)
	}
}

// Signed in, the language links are there too and ?lang= works: the page
// switches, the choice is remembered for this browser (the cookie, which
// wins over the profile's setting), and saving the profile's language
// makes that this browser's choice again. A page that answers a form
// links to the form's page in the other language, not to the form's
// address.
func TestLanguageSwitchSignedIn(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	germanUI(t, h, "sme.analyst")
	b := h.Login(t, h.Users["sme.analyst"])
	htmlLang := regexp.MustCompile(`<html lang="([a-z]+)">`)
	langOf := func(path string) (string, string) {
		t.Helper()
		page := string(b.Get(t, path).Body)
		m := htmlLang.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("%s: no <html lang>", path)
		}
		return m[1], page
	}
	l, page := langOf("/forum")
	if l != "de" || !strings.Contains(page, `href="?lang=en" hreflang="en" lang="en">English</a>`) || !strings.Contains(page, `href="?lang=de" hreflang="de" lang="de" aria-current="true">Deutsch</a>`) {
		t.Errorf("signed in, /forum is %q without the language links", l)
	}
	if l, page := langOf("/forum?lang=en"); l != "en" || !strings.Contains(page, "Sign out") {
		t.Errorf("signed in, /forum?lang=en is %q", l)
	}
	if l, _ := langOf("/agreements"); l != "en" {
		t.Errorf("the choice of English is not remembered after signing in: %q (the profile says de)", l)
	}
	// Saving the profile's language: the page follows it.
	r := b.PostForm(t, "/profile", url.Values{"name": {"sme.analyst"}, "lang": {"de"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("save profile: %d", r.Status)
	}
	if l, _ := langOf("/profile"); l != "de" {
		t.Errorf("after saving German in the profile the page is %q", l)
	}
	// "As my browser": the cookie is gone, Accept-Language (none: English) decides.
	b.PostForm(t, "/profile", url.Values{"name": {"sme.analyst"}, "lang": {""}})
	if l, _ := langOf("/profile"); l != "en" {
		t.Errorf("after choosing the browser's language the page is %q", l)
	}
	b.PostForm(t, "/profile", url.Values{"name": {"sme.analyst"}, "lang": {"de"}})
	// A form shown again with its error: the links lead to the form's page.
	ch := "/forum/channels/" + h.CircleChannel
	req, err := http.NewRequest(http.MethodPost, h.URL+ch+"/threads", strings.NewReader(url.Values{"_csrf": {b.CSRF}, "title": {"t"}, "body": {"b"}, "tlp": {"PINK"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Referer", h.URL+ch+"?ok=saved")
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	failed := string(readBody(t, resp))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(failed, `href="`+ch+`?lang=en"`) {
		t.Errorf("a failed form (%d) links to %s", resp.StatusCode, regexp.MustCompile(`href="[^"]*lang=[^"]*"`).FindAllString(failed, -1))
	}
}
