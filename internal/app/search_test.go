package app_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/intel"
	"verbund/internal/policy"
)

// searchResult is one item of GET /api/v1/search.
type searchResult struct {
	Type, ID, Title, Snippet, URL, TLP string
	OrgID                              string `json:"org_id"`
	Marks                              []struct{ Start, End int }
}

func searchAPI(t *testing.T, h *apptest.Hub, user, query string) ([]searchResult, string, int, string) {
	t.Helper()
	r := h.API(t, h.Users[user].ReadToken, http.MethodGet, "/api/v1/search?"+query, nil)
	var page struct {
		Items []searchResult
		Next  string
	}
	if r.Status == http.StatusOK {
		r.JSON(t, &page)
	}
	return page.Items, page.Next, r.Status, r.ErrorCode()
}

// TestSearchRelevance searches a fixed corpus of German and English
// articles, forum posts and threat intelligence on both engines: words
// find their inflections, their spellings without umlauts and the
// compounds that end in them, in either language, and nothing that merely
// looks alike; filters by kind, level, organisation and period narrow the
// results; snippets mark the words that matched.
func TestSearchRelevance(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) { searchRelevance(t, e) })
	}
}

func searchRelevance(t *testing.T, e db.Dialect) {
	h := apptest.WorldCovering(t, e)
	h.App.Search.SetSearchRate(1_000_000) // many searches in a row
	ctx := context.Background()
	docs := map[string]string{}
	art := func(key, user, tlp, title, body string) {
		a := createArticle(t, h, user, map[string]any{"title": title, "body": body, "kind": "guide", "tlp": tlp, "audience": "community", "community_id": h.Circle})
		docs[key] = a.ID
	}
	post := func(key, user, tlp, title, body string) {
		docs[key] = newThread(t, h, user, h.CircleChannel, map[string]any{"title": title, "body": body, "tlp": tlp, "audience": "community"}).post
	}
	art("ransomware", "sme.analyst", "GREEN", "Ransomware – Erste Schritte für KMU",
		"## Nach einem Ransomwareangriff\n\nTrennen Sie betroffene Rechner vom Netz. Die **Verschlüsselung** der Daten nicht selbst rückgängig machen.")
	post("vpn", "cert.analyst", "AMBER", "Angriffe auf VPN-Zugänge", "Wir sehen gehäufte Angriffe auf VPN-Zugänge von Mittelständlern.")
	art("review", "sme.analyst", "AMBER", "Nachbereitung März",
		"Zwei Sicherheitsvorfälle im März. Die Datensicherungen waren vollständig und offline.")
	post("backups", "sme.analyst", "AMBER", "Encrypted backups", "We encrypted all backups after the attacks; see our policies.")
	art("password", "sme.analyst", "AMBER", "Password policy", "A password policy for all staff, with a manager.")
	post("distractor", "sme.analyst", "AMBER", "Angebot für Griffe", "Ein Angebot für neue Türgriffe und Schlüssel.")
	rep, err := h.App.Intel.Import(ctx, h.Users["sme.analyst"].Actor, strings.NewReader(`{"type":"bundle","id":"bundle--6f1a7d3e-1c3a-4a5b-9e1e-0c7c8e1f2a4c","objects":[
		{"type":"malware","spec_version":"2.1","id":"malware--0c7c8e1f-2a3b-4a5b-9e1e-6f1a7d3e1c4d","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"Emotet Phishing-Kampagne","description":"Verbreitet sich über Phishing-Mails mit Makros.","is_family":true}]}`),
		intel.ImportOptions{TLP: "AMBER", Audience: policy.Audience{Kind: policy.AudCommunity, Community: h.Circle}, Via: "test"})
	if err != nil || rep.Accepted != 1 {
		t.Fatalf("import: %v %+v", err, rep)
	}
	objs, _, err := h.App.Intel.List(ctx, h.Users["sme.analyst"].Actor, intel.Filter{IDs: []string{"malware--0c7c8e1f-2a3b-4a5b-9e1e-6f1a7d3e1c4d"}, All: true, Limit: 1})
	if err != nil || len(objs) != 1 {
		t.Fatal(err, objs)
	}
	docs["emotet"] = objs[0].ID
	name := map[string]string{}
	for k, id := range docs {
		name[id] = k
	}
	found := func(user, query string) []string {
		t.Helper()
		items, _, status, code := searchAPI(t, h, user, query)
		if status != http.StatusOK {
			t.Fatalf("search %q: %d %s", query, status, code)
		}
		var out []string
		for _, it := range items {
			if n, ok := name[it.ID]; ok {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return out
	}
	cases := []struct {
		q    string
		want string
	}{
		{"Angriff", "ransomware vpn"},          // Angriffe; the compound Ransomwareangriff; not Angebot, Griffe
		{"angriffe", "ransomware vpn"},         // the plural finds the singular's compound too
		{"Verschlüsselung", "ransomware"},      //
		{"Verschlusselung", "ransomware"},      // dots left off
		{"Vorfall", "review"},                  // Sicherheitsvorfälle
		{"Datensicherung", "review"},           // Datensicherungen
		{"encryption", "backups"},              // encrypted
		{"attack", "backups"},                  // attacks
		{"policies", "backups password"},       // policy
		{"Phishing", "emotet"},                 // threat intelligence: name and description
		{"makro", "emotet"},                    // Makros
		{"KMU+Ransomware", "ransomware"},       // every word
		{"Ransomware+Türgriff", ""},            // every word, in one document
		{"Schritt", "ransomware"},              // Schritte
		{"Schlüssel", "distractor ransomware"}, // Verschlüsselung ends in it, after three letters
		{"Türgriff", "distractor"},             // Türgriffe
		{"Angebot", "distractor"},              //
		{"Mittelstand", "vpn"},                 // Mittelständlern (prefix, umlaut folded)
		{"manag", "password"},                  // a prefix
		{"vpn+zugang", "vpn"},                  // VPN-Zugänge
		{"nichtvorhanden", ""},                 //
		{"Angriff&type=post", "vpn"},           // only forum posts
		{"Angriff&type=article", "ransomware"}, // only articles
		{"Angriff&type=post,article&tlp=GREEN", "ransomware"},
		{"Angriff&org=" + h.Orgs["cert"], "vpn"},
		{"Angriff&from=" + day(-1) + "&to=" + day(1), "ransomware vpn"},
		{"Angriff&from=" + day(1), ""},
		{"Angriff&to=" + day(-1), ""},
	}
	if e == db.SQLite {
		// Umlauts written out; PostgreSQL's German stemmer does not read them.
		cases = append(cases, struct{ q, want string }{"Verschluesselung", "ransomware"})
	}
	for _, c := range cases {
		got := strings.Join(found("sme.analyst", "q="+c.q), " ")
		if got != c.want {
			t.Errorf("%s: found %q, want %q", c.q, got, c.want)
		}
	}
	// Outside the circle nothing of it is found.
	if got := found("outsider.analyst", "q=Angriff"); len(got) != 0 {
		t.Errorf("the outsider finds %v", got)
	}

	// Snippets quote the passage and mark the matched words.
	items, _, _, _ := searchAPI(t, h, "sme.analyst", "q=verschlusselung")
	if len(items) != 1 || items[0].Type != "article" || items[0].Title != "Ransomware – Erste Schritte für KMU" || items[0].URL != "/knowledge/"+docs["ransomware"] || items[0].TLP != "TLP:GREEN" {
		t.Fatalf("result %+v", items)
	}
	if m := items[0].Marks; len(m) != 1 || string([]rune(items[0].Snippet)[m[0].Start:m[0].End]) != "Verschlüsselung" || strings.Contains(items[0].Snippet, "**") {
		t.Errorf("snippet %q marks %v", items[0].Snippet, items[0].Marks)
	}
	items, _, _, _ = searchAPI(t, h, "sme.analyst", "q=Angriff&type=post")
	if len(items) != 1 || items[0].Title != "Angriffe auf VPN-Zugänge" || !strings.Contains(items[0].URL, "#post-"+docs["vpn"]) {
		t.Errorf("a post's result: %+v", items)
	}
	// The page marks them too.
	page := h.Login(t, h.Users["sme.viewer"]).Get(t, "/search?q=Verschlusselung")
	if !strings.Contains(string(page.Body), "<mark>Verschlüsselung</mark>") || !strings.Contains(string(page.Body), `id="result-`+docs["ransomware"]+`"`) {
		t.Errorf("the search page does not mark the match: %s", readable(string(page.Body)))
	}

	// Paging: one a page, each once, then the end.
	var seen []string
	next := ""
	for range 5 {
		q := "q=a&limit=1"
		if next != "" {
			q += "&next=" + url.QueryEscape(next)
		}
		items, n, status, code := searchAPI(t, h, "sme.analyst", q)
		if status != http.StatusOK {
			t.Fatalf("page: %d %s", status, code)
		}
		for _, it := range items {
			if slices.Contains(seen, it.ID) {
				t.Errorf("%s shown twice", it.ID)
			}
			seen = append(seen, it.ID)
		}
		if next = n; next == "" {
			break
		}
	}
	if len(seen) < 4 {
		t.Errorf("paged through %d results: %v", len(seen), seen)
	}
}

// day is today plus offset days in the hub's display time zone, the zone
// in which it reads a search's dates (web.Day): in UTC, the last hour
// before midnight is already tomorrow in Berlin.
func day(offset int) string {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		loc = time.UTC // as the hub falls back
	}
	return time.Now().In(loc).AddDate(0, 0, offset).Format("2006-01-02")
}

// TestSearchCursorAndInputTellNothing: the hub search's cursor names the
// last result shown; a cursor naming a document the reader may not see
// answers exactly like one naming nothing. Bad input gets its own codes.
func TestSearchCursorAndInputTellNothing(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	secret := createArticle(t, h, "sme.analyst", map[string]any{"title": "Geheim", "body": "vertraulich und intern", "kind": "guide", "tlp": "AMBER", "audience": "org"})
	open := createArticle(t, h, "sme.analyst", map[string]any{"title": "Offen", "body": "bekannt und offen", "kind": "guide", "tlp": "CLEAR", "audience": "org"})
	cur := func(kind, id string) string {
		return url.QueryEscape(base64.RawURLEncoding.EncodeToString([]byte(kind + "\x00" + id)))
	}
	var answers []string
	for _, c := range []string{cur("article", secret.ID), cur("article", "01a23400-0000-7000-8000-000000000000"), cur("nokind", open.ID), "x%21"} {
		_, _, status, code := searchAPI(t, h, "outsider.analyst", "q=und&next="+c)
		answers = append(answers, http.StatusText(status)+" "+code)
	}
	for _, a := range answers {
		if a != "Bad Request bad_cursor" {
			t.Errorf("cursors of a hidden article, of nothing, of no kind, of junk: %q, want all 400 bad_cursor", answers)
			break
		}
	}
	if items, _, status, _ := searchAPI(t, h, "outsider.analyst", "q=und&next="+cur("article", open.ID)); status != http.StatusOK || len(items) != 0 {
		t.Errorf("cursor of a visible article: %d %v", status, items)
	}
	for q, code := range map[string]string{"q=": "search_empty", "q=%21%21": "search_empty", "q=x&type=user": "bad_search_type",
		"q=x&tlp=PURPLE": "bad_tlp", "q=x&from=gestern": "bad_date", "q=x&from=2026-02-01&to=2026-01-01": "bad_search_period"} {
		if _, _, status, got := searchAPI(t, h, "sme.analyst", q); status != http.StatusBadRequest || got != code {
			t.Errorf("%s: %d %s, want 400 %s", q, status, got, code)
		}
	}
	// The search page without words is the empty form, not an error.
	if r := h.Login(t, h.Users["sme.viewer"]).Get(t, "/search"); r.Status != http.StatusOK || strings.Contains(string(r.Body), "form-error") {
		t.Errorf("GET /search: %d", r.Status)
	}
}
