package app_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

var hrefRe = regexp.MustCompile(`href="([^"]+)"`)

// germanUI gives users the German UI.
func germanUI(t *testing.T, h *apptest.Hub, users ...string) {
	t.Helper()
	de := "de"
	for _, k := range users {
		if _, err := h.App.Accounts.UpdateUser(context.Background(), h.Users[k].Actor, h.Users[k].ID, accounts.UserUpdate{Lang: &de}); err != nil {
			t.Fatal(err)
		}
	}
}

// Lists say whom each object reaches next to its level; TLP:CLEAR says it
// reaches every organisation, whatever audience it names (POLICY.md rule
// 2), and a list never links to a page its reader gets 404 for.
func TestListsShowAudiences(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	germanUI(t, h, "sme.analyst", "outsider.analyst")
	clear := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "Offene Warnung", "body": "b", "tlp": "CLEAR", "audience": "community"})
	named := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "Nur für die Cloud", "body": "b", "tlp": "AMBER+STRICT",
		"audience": "orgs", "orgs": []string{h.Orgs["cloud"]}})
	internal := newThread(t, h, "sme.analyst", h.OrgChannel["sme"], map[string]any{"title": "Intern und offen", "body": "b", "tlp": "CLEAR", "audience": "org"})
	sme := h.Login(t, h.Users["sme.analyst"])
	for _, path := range []string{"/forum", "/", "/forum/channels/" + h.CircleChannel, "/forum/threads/" + named.thread} {
		page := readable(string(sme.Get(t, path).Body))
		if !strings.Contains(page, "Benannte Organisationen: Wolke Cloud AG") {
			t.Errorf("%s does not name the AMBER+STRICT thread's audience", path)
		}
	}
	for _, path := range []string{"/forum", "/", "/forum/threads/" + internal.thread, "/forum/threads/" + clear.thread} {
		page := string(sme.Get(t, path).Body)
		if !strings.Contains(page, `<span class="audience audience-all">sichtbar für alle Organisationen</span>`) || strings.Contains(page, `class="audience">Eigene Organisation`) {
			t.Errorf("%s does not say that TLP:CLEAR reaches all organisations (or calls it the own organisation)", path)
		}
	}
	// The outsider's lists link only to pages it may open.
	out := h.Login(t, h.Users["outsider.analyst"])
	for _, path := range []string{"/forum", "/"} {
		body := string(out.Get(t, path).Body)
		for _, m := range hrefRe.FindAllStringSubmatch(body, -1) {
			link, _, _ := strings.Cut(m[1], "#")
			if !strings.HasPrefix(link, "/forum/threads/") {
				continue
			}
			if r := out.Get(t, link); r.Status != http.StatusOK {
				t.Errorf("%s links to %s, which answers %d", path, link, r.Status)
			}
		}
	}
}

// A search shows its results under a heading, says when nothing matched,
// and takes no live inserts (a new post need not match it).
func TestForumSearchPage(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	germanUI(t, h, "sme.analyst")
	newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "Rechnungen", "body": "Phishing mit Rechnungen", "tlp": "GREEN", "audience": "community"})
	b := h.Login(t, h.Users["sme.analyst"])
	hit := string(b.Get(t, "/forum?q=Rechnungen").Body)
	if !strings.Contains(readable(hit), "Suchergebnisse für „Rechnungen“") || strings.Contains(hit, "data-live-list") || strings.Contains(hit, "data-live=") {
		t.Errorf("a search's results have no heading, or take live inserts")
	}
	miss := readable(string(b.Get(t, "/forum?q=Wasserrohrbruch").Body))
	if !strings.Contains(miss, "Keine Treffer für „Wasserrohrbruch“") || strings.Contains(miss, "Noch keine Beiträge") {
		t.Errorf("a search without hits does not say so: %s", miss)
	}
	if feed := string(b.Get(t, "/forum").Body); !strings.Contains(feed, `data-live-list="forum.post forum.thread"`) {
		t.Error("the feed takes no live inserts")
	}
}

// Where a form is missing, the page says why: a viewer may only read, a
// reader outside the thread's channel may not reply.
func TestForumSaysWhyItCannotWrite(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	germanUI(t, h, "sme.viewer", "outsider.analyst")
	clear := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "Offen", "body": "b", "tlp": "CLEAR", "audience": "community"})
	viewer := h.Login(t, h.Users["sme.viewer"])
	for _, path := range []string{"/forum/channels/" + h.CircleChannel, "/forum/threads/" + clear.thread} {
		page := string(viewer.Get(t, path).Body)
		if strings.Contains(page, `name="body"`) || !strings.Contains(readable(page), "Ihre Rolle darf nur lesen") {
			t.Errorf("%s: the viewer is not told why there is no form", path)
		}
	}
	out := h.Login(t, h.Users["outsider.analyst"])
	page := string(out.Get(t, "/forum/threads/"+clear.thread).Body)
	if strings.Contains(page, `name="body"`) || !strings.Contains(readable(page), "nicht darauf antworten") {
		t.Error("a reader outside the channel is not told why it cannot reply")
	}
}

// The recipients line answers in the reader's language, like the write
// would: a refusal with its reason, a reply's default with the thread's
// readers.
func TestRecipientsPreview(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	germanUI(t, h, "sme.analyst")
	b := h.Login(t, h.Users["sme.analyst"])
	line := func(path string, q url.Values) string {
		t.Helper()
		r := b.Get(t, path+"?"+q.Encode())
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d", path, r.Status)
		}
		return strings.Join(strings.Fields(readable(string(r.Body))), " ")
	}
	ch := "/forum/channels/" + h.CircleChannel + "/recipients"
	if got := line(ch, url.Values{"tlp": {"GREEN"}, "audience": {"community"}}); !strings.HasPrefix(got, "Empfänger: CERT Süd, Müller Maschinenbau GmbH, Wolke Cloud AG – 12 Personen") ||
		!strings.Contains(got, "Ohne Vertrag GmbH") {
		t.Errorf("GREEN to the circle: %q", got)
	}
	// RED to the CERT's analyst: no agreement allows RED to CERT Süd.
	got := line(ch, url.Values{"tlp": {"RED"}, "audience": {"people"}, "people": {h.Users["cert.analyst"].ID}})
	if !strings.Contains(got, "So nicht möglich:") || !strings.Contains(got, "CERT Süd") || !strings.Contains(got, "TLP:RED") {
		t.Errorf("RED to the CERT is not refused with its reason: %q", got)
	}
	if en := englishIn(h.App.Web.Catalog, got); len(en) > 0 {
		t.Errorf("the refusal is English: %q", en)
	}
	// A reply without an audience reaches the thread's readers.
	th := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "t", "body": "b", "tlp": "AMBER+STRICT", "audience": "orgs", "orgs": []string{h.Orgs["cloud"]}})
	if got := line("/forum/threads/"+th.thread+"/recipients", url.Values{"tlp": {"AMBER+STRICT"}, "audience": {""}}); got != "Empfänger: Müller Maschinenbau GmbH, Wolke Cloud AG – 8 Personen" {
		t.Errorf("a reply as its thread: %q", got)
	}
	// A send refused for a missing title shows the form again with the
	// line as the form stands, not "only you".
	r := b.PostForm(t, "/forum/channels/"+h.CircleChannel+"/threads", url.Values{"title": {" "}, "body": {"b"}, "tlp": {"GREEN"}, "audience": {"community"}})
	if page := strings.Join(strings.Fields(readable(string(r.Body))), " "); r.Status != http.StatusBadRequest ||
		!strings.Contains(page, "Empfänger: CERT Süd, Müller Maschinenbau GmbH, Wolke Cloud AG – 12 Personen") {
		t.Errorf("after a refused send: %d, the line is not the form's: %q", r.Status, page)
	}
	// Naming the CERT in a reply reaches further than the thread: refused.
	if got := line("/forum/threads/"+th.thread+"/recipients", url.Values{"tlp": {"AMBER+STRICT"}, "audience": {"orgs"}, "orgs": {h.Orgs["cert"]}}); !strings.Contains(got, "So nicht möglich:") {
		t.Errorf("a reply beyond its thread is not refused: %q", got)
	}
}

// The edit form sends its sharing fields with every edit; they change who
// receives the post only when the author ticks "change".
func TestEditKeepsSharingUnlessAsked(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	th := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "t", "body": "b", "tlp": "AMBER", "audience": "community"})
	b := h.Login(t, h.Users["sme.analyst"])
	edit := "/forum/posts/" + th.post + "/edit"
	if page := string(b.Get(t, edit).Body); !strings.Contains(page, `<option value="AMBER" data-level="2" selected>`) ||
		!strings.Contains(page, `<option value="community" data-max="2" selected>`) {
		t.Error("the edit form does not show the post's level and audience")
	}
	// What a browser sends without touching the sharing fields.
	if r := b.PostForm(t, edit, url.Values{"body": {"neu"}, "tlp": {"AMBER"}, "audience": {"community"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("edit: %d", r.Status)
	}
	var post map[string]any
	h.API(t, h.Users["sme.analyst"].ReadToken, http.MethodGet, "/api/v1/posts/"+th.post, nil).JSON(t, &post)
	if post["body"] != "neu" || post["sharing"].(map[string]any)["tlp"] != "TLP:AMBER" {
		t.Errorf("after an edit of the text: %v", post)
	}
	acts := map[string]int{}
	for _, rec := range auditRecords(t, h, "sme.admin") {
		acts[rec.Action]++
	}
	if acts["forum.post.edit"] != 1 || acts["forum.post.reshare"] != 0 {
		t.Errorf("an edit of the text is recorded as %v", acts)
	}
	// Asked to: the post goes to the cloud only.
	if r := b.PostForm(t, edit, url.Values{"body": {"neu"}, "reshare": {"1"}, "tlp": {"AMBER+STRICT"}, "audience": {"orgs"}, "orgs": {h.Orgs["cloud"]}}); r.Status != http.StatusSeeOther {
		t.Fatalf("reshare: %d %s", r.Status, r.Body)
	}
	h.API(t, h.Users["sme.analyst"].ReadToken, http.MethodGet, "/api/v1/posts/"+th.post, nil).JSON(t, &post)
	if post["sharing"].(map[string]any)["tlp"] != "TLP:AMBER+STRICT" {
		t.Errorf("after asking to change the sharing: %v", post["sharing"])
	}
}

// The forum says a thing once: an org's own channel named "intern" is not
// marked "Intern" again, and a reply's default audience is named by its
// kind, short enough for its select (the names are on the page already).
func TestForumSaysItOnce(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	germanUI(t, h, "sme.analyst")
	sme := h.Login(t, h.Users["sme.analyst"])
	page := string(sme.Get(t, "/forum").Body)
	entry := regexp.MustCompile(`<li><a href="/forum/channels/` + h.OrgChannel["sme"] + `">[^<]*</a>[^\n]*?</li>`).FindString(page)
	if entry == "" {
		t.Fatalf("/forum lists no entry for the SME's own channel")
	}
	if got := strings.Join(strings.Fields(readable(entry)), " "); got != "Müller Maschinenbau GmbH · intern" {
		t.Errorf("the SME's own channel is listed as %q", got)
	}
	for _, c := range []struct {
		channel string
		sharing map[string]any
		want    string
	}{
		{h.OrgChannel["sme"], map[string]any{"tlp": "AMBER", "audience": "org"}, "wie das Thema (Eigene Organisation)"},
		{h.CircleChannel, map[string]any{"tlp": "AMBER", "audience": "orgs", "orgs": []string{h.Orgs["cloud"], h.Orgs["cert"]}}, "wie das Thema (Benannte Organisationen)"},
		{h.CircleChannel, map[string]any{"tlp": "RED", "audience": "people", "people": []string{h.Users["sme.analyst2"].ID, h.Users["cloud.analyst"].ID}}, "wie das Thema (Benannte Personen)"},
		{h.CircleChannel, map[string]any{"tlp": "GREEN", "audience": "community"}, "wie das Thema (Vertrauenskreis Mittelstand Süd)"},
	} {
		body := map[string]any{"title": "t", "body": "b"}
		for k, v := range c.sharing {
			body[k] = v
		}
		th := newThread(t, h, "sme.analyst", c.channel, body)
		page := string(sme.Get(t, "/forum/threads/"+th.thread).Body)
		m := regexp.MustCompile(`<option value="" [^>]*>([^<]*)</option>`).FindStringSubmatch(page)
		if m == nil || readable(m[1]) != c.want {
			t.Errorf("%v: the reply's default audience reads %q, want %q", c.sharing, m, c.want)
		}
	}
}

// An edited post links to its edit history, for its owner too (who also
// gets the edit link beside it), and the link leads to the history.
func TestEditHistoryLinked(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	germanUI(t, h, "sme.analyst", "cloud.analyst")
	th := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "t", "body": "erst", "tlp": "AMBER", "audience": "community"})
	owner := h.Login(t, h.Users["sme.analyst"])
	if r := owner.PostForm(t, "/forum/posts/"+th.post+"/edit", url.Values{"body": {"dann"}, "tlp": {"AMBER"}, "audience": {"community"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("edit: %d", r.Status)
	}
	history := `<a href="/forum/posts/` + th.post + `/edit#history">Bearbeitungsverlauf (1)</a>`
	for _, u := range []string{"sme.analyst", "cloud.analyst"} {
		if page := string(h.Login(t, h.Users[u]).Get(t, "/forum/threads/"+th.thread).Body); !strings.Contains(page, history) {
			t.Errorf("%s: the edited post does not link to its history", u)
		}
	}
	if page := string(owner.Get(t, "/forum/posts/"+th.post+"/edit").Body); !strings.Contains(page, `id="history"`) {
		t.Error("the edit page has no #history to link to")
	}
}
