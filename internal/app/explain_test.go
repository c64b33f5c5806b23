package app_test

import (
	"net/http"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// Where something is hidden or missing, the page says why and who can act,
// in the reader's language.
func TestPagesSayWhyAndWho(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	users := []string{"nocontract.analyst", "nocontract.admin", "sme.analyst", "sme.admin", "outsider.analyst", "outsider.admin"}
	germanUI(t, h, users...)
	browsers := map[string]*apptest.Browser{}
	for _, u := range users {
		browsers[u] = h.Login(t, h.Users[u])
	}
	read := func(u, path string) string {
		t.Helper()
		r := browsers[u].Get(t, path)
		if r.Status != http.StatusOK {
			t.Fatalf("%s GET %s: %d", u, path, r.Status)
		}
		return strings.Join(strings.Fields(readable(string(r.Body))), " ")
	}
	circle := "/communities/" + h.Circle
	contains := func(who, where, page string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(page, w) {
				t.Errorf("%s on %s: missing %q", who, where, w)
			}
		}
	}
	// A member whose org has not accepted the charter: why only TLP:CLEAR,
	// and who accepts.
	contains("nocontract.analyst", circle, read("nocontract.analyst", circle),
		"noch nicht angenommen", "nur TLP:CLEAR", "Annehmen kann sie ein Administrator Ihrer Organisation: nocontract.admin")
	contains("nocontract.admin", circle, read("nocontract.admin", circle), "Als Administrator können Sie sie")
	// Members see who accepted and find the circle's channel.
	page := read("sme.analyst", circle)
	contains("sme.analyst", circle, page, "Charta angenommen", "angenommen", "noch nicht", "Forum-Kanal")
	if strings.Contains(page, "nur TLP:CLEAR") {
		t.Error("a member that accepted the charter is told it receives only TLP:CLEAR")
	}
	if !strings.Contains(string(browsers["sme.analyst"].Get(t, circle).Body), `href="/forum/channels/`+h.CircleChannel+`"`) {
		t.Error("the circle page does not link its forum channel")
	}
	// Outside the circle: who may ask to join.
	contains("outsider.analyst", circle, read("outsider.analyst", circle), "Den Beitritt zu einem Vertrauenskreis kann nur ein Administrator Ihrer Organisation beantragen: outsider.admin")
	contains("outsider.analyst", "/communities", read("outsider.analyst", "/communities"), "outsider.admin")
	if strings.Contains(read("outsider.admin", "/communities"), "kann nur ein Administrator") {
		t.Error("an admin is told that only an admin may ask to join")
	}
	// The start page: no circle, no partner; the partners by name.
	contains("outsider.analyst", "/", read("outsider.analyst", "/"), "noch in keinem Vertrauenskreis", "Noch keine aktive Vereinbarung")
	contains("sme.analyst", "/", read("sme.analyst", "/"), "Wolke Cloud AG", "CERT Süd")
	// Wording: token expiry in words, 2FA on or off, the least role first.
	contains("sme.admin", "/tokens", read("sme.admin", "/tokens"), "30 Tage", "90 Tage", "unbegrenzt")
	people := string(browsers["sme.admin"].Get(t, "/people").Body)
	if !strings.Contains(people, `<option value="viewer" selected>`) || strings.Contains(people, `<option value="admin" selected>`) {
		t.Error("a new person does not start as a viewer")
	}
	if text := readable(people); strings.Contains(text, "Zwei-Faktor-Authentisierung ist") || !strings.Contains(text, "aus") {
		t.Error("the people table repeats a sentence for the second factor instead of on/off")
	}
	// Titles: the page and its heading agree; no "verbund · verbund".
	if body := string(browsers["sme.analyst"].Get(t, "/").Body); !strings.Contains(body, "<title>Startseite · verbund</title>") {
		t.Error("the start page's title")
	}
	if r, err := http.Get(h.URL + "/login"); err != nil {
		t.Fatal(err)
	} else if body := string(readBody(t, r)); strings.Contains(body, "verbund · verbund") {
		t.Error("the sign-in page is titled \"verbund · verbund\"")
	}
	th := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "t", "body": "b", "tlp": "GREEN", "audience": "community"})
	edit := string(browsers["sme.analyst"].Get(t, "/forum/posts/"+th.post+"/edit").Body)
	if !strings.Contains(edit, "<title>Bearbeiten · verbund</title>") || !strings.Contains(edit, "<h1>Bearbeiten</h1>") {
		t.Error("the edit page's title and heading differ")
	}
	// The org's own channel is named by the org, not "Intern · intern".
	if forum := read("sme.analyst", "/forum"); strings.Contains(forum, "Intern · intern") || !strings.Contains(forum, "Müller Maschinenbau GmbH · intern") {
		t.Error("the org's channel is not named by its org")
	}
}
