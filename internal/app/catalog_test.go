package app_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/i18n"
	"verbund/internal/i18n/i18ntest"
)

// hubCatalog is the catalogue a started hub uses: the shared keys and every
// capability's own, as each Register added them.
func hubCatalog(t *testing.T) *i18n.Catalog {
	t.Helper()
	return apptest.Start(t, db.SQLite).App.Web.Catalog
}

// The merged catalogue holds what the layout and handlers need, in both
// languages, in good German.
func TestCatalogComplete(t *testing.T) {
	c := hubCatalog(t)
	if n := len(c.Keys()); n < 100 {
		t.Fatalf("only %d keys; catalog too small", n)
	}
	for _, k := range c.Keys() {
		for _, lang := range i18n.Languages() {
			if got := c.T(lang, k); strings.HasPrefix(got, "!!") {
				t.Errorf("T(%q, %q) = %q", lang, k, got)
			}
		}
	}
	// Keys the UI layout and handlers depend on.
	for _, k := range []string{
		"app.name", "app.tagline", "app.signed_in_as", "app.skip_to_content",
		"nav.home", "nav.forum", "nav.organisations", "nav.people", "nav.communities",
		"nav.agreements", "nav.audit", "nav.tokens", "nav.profile", "nav.sign_in", "nav.sign_out",
		"login.email", "login.password", "login.totp_code", "login.recovery_code", "login.submit",
		"fault.invalid_credentials", "fault.too_many_attempts", // the sign-in page's errors
		"org.kind.company", "org.kind.provider", "org.kind.cert", "org.kind.isac",
		"role.admin", "role.analyst", "role.viewer", "role.auditor",
		"category.incident", "category.indicator", "category.vulnerability", "category.log",
		"category.risk", "category.exercise", "category.knowledge",
		"audience.own_org", "audience.community", "audience.named_orgs", "audience.named_people",
		"agreement.status.proposed", "agreement.status.active", "agreement.status.revoked",
		"agreement.status.expired", "agreement.flow_title",
		"community.join_request", "community.request_to_join", "community.pending",
		"forum.new_thread", "forum.edit_history", "forum.live_hint", "forum.no_posts",
		"audit.export", "audit.chain_ok", "audit.chain_broken",
		"token.copy_now", "token.scope.read", "token.scope.write", "token.last_used",
		"profile.two_factor", "profile.recovery_codes", "profile.two_factor.scan_code", "profile.change_password",
		"common.save", "common.cancel", "common.next_page", "common.previous_page", "common.loading",
		"error.400.title", "error.401.title", "error.403.title", "error.404.title",
		"error.409.title", "error.413.title", "error.429.title", "error.500.title",
		"shortcuts.hint", "shortcuts.home", "shortcuts.forum", "shortcuts.search", "shortcuts.new",
		"live.connected", "live.disconnected", "live.new_item", "live.reloading",
	} {
		if !c.Has(k) {
			t.Errorf("missing key %q", k)
		}
	}
	for _, code := range []string{"400", "401", "403", "404", "409", "413", "429", "500"} {
		if !c.Has("error." + code + ".advice") {
			t.Errorf("missing error.%s.advice", code)
		}
	}
	i18ntest.NoUntranslatedGerman(t, c)
	i18ntest.GermanStyle(t, c)
}

// Every capability folder with texts is registered: the hub's catalogue is
// the shared one plus exactly the fragments on disk.
func TestCatalogFragmentsRegistered(t *testing.T) {
	hub := hubCatalog(t)
	want, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob("../*/i18n")
	if len(dirs) < 5 {
		t.Fatalf("found only %d capability catalogues", len(dirs))
	}
	for _, d := range dirs {
		if err := want.Add(os.DirFS(d), "."); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
	if got, w := hub.Keys(), want.Keys(); !slices.Equal(got, w) {
		t.Errorf("the hub has %d keys, the shared catalogue and the folders %d: a capability does not add its texts in Register", len(got), len(w))
	}
}

// A capability registered twice fails at start: its keys and its API
// operations would be defined twice.
func TestRegisterTwiceFails(t *testing.T) {
	h := apptest.Start(t, db.SQLite)
	err := accounts.Register(h.App.Web, h.App.Accounts)
	if err == nil || !strings.Contains(err.Error(), "defined twice") {
		t.Errorf("registering accounts again: %v, want an error about keys defined twice", err)
	}
}
