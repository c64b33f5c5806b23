package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// The security review's findings (issue 7, items 15–22), each with a test
// that failed before its fix.

// TestLoginRedirectStaysOnSite (item 15): a tab in ?next= passed the
// check, and browsers drop tabs, so "/\t/evil.example" sent the person to
// another site right after signing in.
func TestLoginRedirectStaysOnSite(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	u := h.Users["sme.analyst"]
	b := h.Login(t, u) // a browser with the login page's CSRF cookie
	page := b.Get(t, "/login?next=/%09/evil.example")
	if page.Status != http.StatusSeeOther { // already signed in: home
		t.Fatalf("login page when signed in: %d", page.Status)
	}
	anon := h.Anonymous(t)
	page = anon.Get(t, "/login?next=/%09/evil.example")
	if strings.Contains(string(page.Body), "evil.example") {
		t.Errorf("the login form carries the foreign target on: %s", page.Body)
	}
	for _, next := range []string{"/\t/evil.example/x", "/\n/evil.example", "/\\evil.example", "//evil.example"} {
		r := h.Anonymous(t).PostForm(t, "/login", url.Values{"email": {u.Email}, "password": {apptest.Password}, "next": {next}})
		if loc := r.Header.Get("Location"); r.Status != http.StatusSeeOther || loc != "/" {
			t.Errorf("sign-in with next=%q: %d to %q, want 303 to /", next, r.Status, loc)
		}
	}
	r := h.Anonymous(t).PostForm(t, "/login", url.Values{"email": {u.Email}, "password": {apptest.Password}, "next": {"/forum?x=1"}})
	if loc := r.Header.Get("Location"); loc != "/forum?x=1" {
		t.Errorf("a local target is lost: %q", loc)
	}
}
