package app_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// TestBrowserKnowledgeAndSearch: a German analyst writes a post-incident
// review from its template into the trust circle's library in a real
// browser; a partner in the circle finds it with the search box of the
// layout, typing the word without its umlaut and in another form, sees the
// match marked and opens it; the outsider finds nothing. No script errors
// and no policy violations on any page.
func TestBrowserKnowledgeAndSearch(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	germanUI(t, h, "sme.analyst")
	browser := startBrowser(t, "de-DE")
	jonas := newBrowserUser(t, browser, "sme.analyst")
	jonas.login(t, h, h.Users["sme.analyst"], nil)
	jonas.open(t, h, "/knowledge/new?kind=post_incident_review&community_id="+h.Circle, false)
	if body := browserGet(t, jonas, "template", chromedp.Value(chromedp.ID("a-body"))); !strings.Contains(body, "## Zeitleiste") {
		t.Fatalf("the form has no German template: %q", body)
	}
	jonas.do(t, "fill in the review",
		chromedp.SetValue(chromedp.ID("a-title"), "Nachbereitung: Verschlüsselung der Fertigungsrechner"),
		chromedp.SetValue(chromedp.ID("a-body"), "## Zusammenfassung\n\nZwei Rechner wurden nach einem **Phishing-Angriff** verschlüsselt.\n\n- [x] vom Netz getrennt\n- [ ] Makros gesperrt"),
		chromedp.SetValue(chromedp.ID("a-tags"), "Ransomware, Fertigung"),
		chromedp.SetValue(chromedp.ID("f-tlp"), "AMBER"),
		chromedp.SetValue(chromedp.ID("f-audience"), "community"),
	)
	jonas.submit(t, "publish", "save-article")
	text := jonas.text(t)
	for _, want := range []string{"Nachbereitung: Verschlüsselung der Fertigungsrechner", "Zusammenfassung", "Nachbereitung", "#ransomware", "Vertrauenskreis"} {
		if !strings.Contains(text, want) {
			t.Errorf("the new article's page lacks %q: %s", want, text)
		}
	}
	jonas.screenshot(t, "knowledge-article")
	jonas.open(t, h, "/knowledge", true)
	jonas.screenshot(t, "knowledge-library")
	jonas.noProblems(t)

	max := newBrowserUser(t, browser, "cert.analyst")
	max.login(t, h, h.Users["cert.analyst"], nil)
	max.do(t, "search from the top bar",
		chromedp.SetValue(chromedp.ID("site-search"), "Verschlusselung"),
		chromedp.Submit(chromedp.ID("site-search")),
		chromedp.WaitVisible(chromedp.ID("results")),
	)
	marked := browserGet(t, max, "marked words", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#results mark')).map(m => m.textContent)`))
	if len(marked) == 0 || !strings.Contains(strings.Join(marked, " "), "Verschlüsselung") {
		t.Errorf("the search page marks %v, want Verschlüsselung", marked)
	}
	max.screenshot(t, "search-results")
	max.do(t, "open the result", chromedp.Click(chromedp.CSS(`#results a.result-title`)), chromedp.WaitVisible(chromedp.ID("article-body")))
	if !strings.Contains(max.text(t), "vom Netz getrennt") {
		t.Errorf("the result does not open the article: %s", max.text(t))
	}
	max.noProblems(t)

	outsider := newBrowserUser(t, browser, "outsider.analyst")
	outsider.login(t, h, h.Users["outsider.analyst"], nil)
	outsider.open(t, h, "/search?q=Verschl%C3%BCsselung", false)
	if got := browserGet(t, outsider, "results", chromedp.Evaluate[int](`document.querySelectorAll('#results .search-result').length`)); got != 0 {
		t.Errorf("the outsider finds %d results", got)
	}
	outsider.noProblems(t)
}
