package app_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/policy"
)

// The audit page shows names instead of ids and actions by their names,
// links the objects the reader may open, and names nothing the reader may
// not see (a TLP:RED thread the auditor is not named on); it explains the
// gaps in the numbering, filters by period and by any part of an action's
// code or name, and checks the chain on request.
func TestAuditPage(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	germanUI(t, h, "sme.auditor")
	red := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "Geheimer Leak", "body": "b", "tlp": "RED", "audience": "people",
		"people": []string{h.Users["sme.analyst2"].ID}})
	green := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "Offene Lage", "body": "b", "tlp": "GREEN", "audience": "community"})
	// Another org's records come between sme's.
	newThread(t, h, "cert.analyst", h.CircleChannel, map[string]any{"title": "CERT intern", "body": "b", "tlp": "AMBER", "audience": "org"})
	newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "Danach", "body": "b", "tlp": "GREEN", "audience": "community"})

	b := h.Login(t, h.Users["sme.auditor"])
	page := string(b.Get(t, "/audit").Body)
	text := readable(page)
	for _, want := range []string{"Thema eröffnet", "sme.analyst", "Müller Maschinenbau GmbH", "Einträge anderer Organisationen", "Angemeldet"} {
		if !strings.Contains(text, want) {
			t.Errorf("the audit page does not show %q", want)
		}
	}
	if !strings.Contains(page, `href="/forum/threads/`+green.thread+`">Offene Lage</a>`) {
		t.Error("the GREEN thread's record does not link it by its title")
	}
	if strings.Contains(page, "Geheimer Leak") || strings.Contains(page, `href="/forum/threads/`+red.thread) {
		t.Error("LEAK: the audit page names or links a TLP:RED thread the auditor may not see")
	}
	if !strings.Contains(page, red.thread) {
		t.Error("the RED thread's record is missing (it is sme's record; only its title is not the auditor's)")
	}
	if !strings.Contains(page, `href="/agreements/`+h.Bilateral+`"`) {
		t.Error("the agreement's record does not link it")
	}
	// An agreement without a title is named by its parties, not "öffnen".
	if m := regexp.MustCompile(`href="/agreements/` + h.Bilateral + `">([^<]*)</a>`).FindStringSubmatch(page); m == nil || !strings.Contains(m[1], "Müller Maschinenbau GmbH ↔ ") {
		t.Errorf("the untitled agreement's link reads %q, want its parties", m)
	}
	if strings.Contains(text, h.Users["sme.analyst"].ID) {
		t.Error("the page shows a person's id instead of the name")
	}
	// Filters: any part of the code, the name in German, a period.
	count := func(path string) int { return strings.Count(string(b.Get(t, path).Body), `<tr id="rec-`) }
	if n := count("/audit?action=thread"); n != 3 {
		t.Errorf("action contains \"thread\": %d records, want sme's 3 threads", n)
	}
	if n := count("/audit?action=" + "Thema+er%C3%B6ffnet"); n != 3 {
		t.Errorf("action named \"Thema eröffnet\": %d records, want 3", n)
	}
	tomorrow := time.Now().Add(36 * time.Hour).Format("2006-01-02")
	if r := readable(string(b.Get(t, "/audit?from="+tomorrow).Body)); !strings.Contains(r, "Keine Einträge passen zu diesen Filtern") {
		t.Error("a period without records does not say that nothing matches")
	}
	if n := count("/audit?until=" + tomorrow + "&action=forum"); n < 3 {
		t.Errorf("until tomorrow: %d forum records", n)
	}
	if r := b.Get(t, "/audit?from=31.12.2026"); r.Status != http.StatusBadRequest {
		t.Errorf("a bad date: %d", r.Status)
	} else if code, text := shownError(t, r.Body); code != "bad_date" || !strings.Contains(text, "Von") {
		t.Errorf("a bad date is shown as %s %q", code, text)
	}
	// A date that is none, or a period that ends before it starts: the
	// page with its filters and the error at the field, not an error page
	// nor an empty list.
	yesterday := time.Now().Add(-36 * time.Hour).Format("2006-01-02")
	for _, c := range []struct{ query, code, field string }{
		{"from=gestern", "bad_date", "a-from"},
		{"from=" + tomorrow + "&until=" + yesterday + "&action=forum", "period_inverted", "a-until"},
	} {
		r := b.Get(t, "/audit?"+c.query)
		page := string(r.Body)
		code, text := shownError(t, r.Body)
		if r.Status != http.StatusBadRequest || code != c.code || strings.Contains(page, `class="error-page"`) {
			t.Errorf("%s: %d %s %q, want 400 %s on the audit page", c.query, r.Status, code, text, c.code)
		}
		if !regexp.MustCompile(`id="`+c.field+`"[^>]*aria-invalid="true"`).MatchString(page) || !strings.Contains(page, `id="a-action"`) {
			t.Errorf("%s: the filter form is not shown with %s marked", c.query, c.field)
		}
		if strings.Contains(readable(page), "Keine Einträge passen") {
			t.Errorf("%s: the page says that nothing matches instead of what is wrong", c.query)
		}
	}
	if code, text := shownError(t, b.Get(t, "/audit?from="+tomorrow+"&until="+yesterday).Body); code != "period_inverted" || text != "„Bis“ darf nicht vor „Von“ liegen." {
		t.Errorf("an inverted period is shown as %s %q", code, text)
	}
	// The chain, checked for the reader.
	if r := readable(string(b.Get(t, "/audit?verify=1").Body)); !strings.Contains(r, "Kette geprüft") {
		t.Error("checking the chain shows no result")
	}
}

// A program reads the whole trail page by page: 500 records and a cursor.
func TestAuditAPIPages(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	ctx := context.Background()
	for i := 0; i < 520; i++ {
		if _, _, err := h.App.Accounts.CreateToken(ctx, policy.System("test"), h.Users["sme.viewer"].ID, accounts.NewToken{Scope: "read"}); err != nil {
			t.Fatal(err)
		}
	}
	var page struct {
		Items []struct{ Seq int64 }
		Next  string
	}
	r := h.API(t, h.Users["sme.admin"].ReadToken, http.MethodGet, "/api/v1/audit?limit=500", nil)
	r.JSON(t, &page)
	if len(page.Items) != 500 || page.Next == "" {
		t.Fatalf("limit=500: %d records, cursor %q; want 500 and a cursor", len(page.Items), page.Next)
	}
	last := page.Items[499].Seq
	h.API(t, h.Users["sme.admin"].ReadToken, http.MethodGet, "/api/v1/audit?limit=500&next="+page.Next, nil).JSON(t, &page)
	if len(page.Items) == 0 || page.Items[0].Seq >= last {
		t.Errorf("the next page starts at %v after %d", page.Items, last)
	}
}

// Every action the hub records has a readable name in both languages: a
// catalogue key audit.action.<action> in the capability that records it.
func TestAuditActionsHaveNames(t *testing.T) {
	cat := hubCatalog(t)
	files, _ := filepath.Glob("../*/*.go")
	// Actions are literals where an entry is written, given to auditAnon,
	// assigned to a variable "action" or returned as one; two are composed
	// (the decision on a join request, the ways of ending an agreement)
	// and listed here.
	literal := regexp.MustCompile(`(?:Action: |auditAnon\(ctx, |action :?= |return )"([a-z]+\.[a-z_.]+)"( \+)?`)
	actions := map[string]bool{"community.join_approve": true, "community.join_reject": true,
		"agreement.withdraw_proposal": true, "agreement.decline": true}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "audit.") {
			continue
		}
		for _, m := range literal.FindAllSubmatch(b, -1) {
			if len(m[2]) == 0 { // not the start of a composed one
				actions[string(m[1])] = true
			}
		}
	}
	if len(actions) < 30 {
		t.Fatalf("found only %d actions: the pattern no longer finds them", len(actions))
	}
	for a := range actions {
		if !cat.Has("audit.action." + a) {
			t.Errorf("action %q has no readable name: add audit.action.%s to its capability's catalogue", a, a)
		}
	}
}
