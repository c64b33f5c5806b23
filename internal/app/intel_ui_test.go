package app_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// uiBundle is CERT Süd's circle intelligence for the page tests: an AMBER
// indicator of a command server (with a word no other text has,
// "quastenflosser") and the malware it indicates, related.
const uiBundle = `{"type":"bundle","id":"bundle--44444444-0000-4000-8000-000000000009","objects":[
 {"type":"indicator","spec_version":"2.1","id":"indicator--44444444-0000-4000-8000-000000000001","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z",
  "name":"Quastenflosser-Steuerserver","description":"Steuerserver der Kampagne, gesehen an zwei Firewalls.","confidence":75,
  "pattern":"[ipv4-addr:value = '198.51.100.77']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","valid_until":"2099-01-01T00:00:00Z"},
 {"type":"malware","spec_version":"2.1","id":"malware--44444444-0000-4000-8000-000000000002","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z",
  "name":"Quastenflosser","is_family":true},
 {"type":"relationship","spec_version":"2.1","id":"relationship--44444444-0000-4000-8000-000000000003","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z",
  "relationship_type":"indicates","source_ref":"indicator--44444444-0000-4000-8000-000000000001","target_ref":"malware--44444444-0000-4000-8000-000000000002"}]}`

const uiIndicator = "indicator--44444444-0000-4000-8000-000000000001"

var (
	intelRowRe   = regexp.MustCompile(`id="intel-([0-9a-f-]{36})"`)
	intelMatchRe = regexp.MustCompile(`data-match="([0-9a-f-]{36})"`)
	sightingRe   = regexp.MustCompile(`<li id="sighting-([0-9a-f-]{36})"`)
)

func allOf(re *regexp.Regexp, page []byte) []string {
	var out []string
	for _, m := range re.FindAllSubmatch(page, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// The intel pages show what the reader may see and nothing else: a circle
// member finds CERT Süd's AMBER indicator in the list, the search, a
// type's list and a lookup, with its relationship on its page; an
// outsider finds no trace of it (no row, no name, no match) and its page
// answers 404 like a page that does not exist.
func TestIntelPagesShowOnlyVisible(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	id := importAs(t, h, "cert.analyst", "community="+h.Circle+"&tlp=AMBER", uiBundle, uiIndicator)
	sme := h.Login(t, h.Users["sme.analyst"])
	out := h.Login(t, h.Users["outsider.analyst"])

	for _, path := range []string{"/intel", "/intel?type=indicator", "/intel?q=quastenflosser"} {
		r := sme.Get(t, path)
		if r.Status != http.StatusOK || !strings.Contains(strings.Join(allOf(intelRowRe, r.Body), " "), id) || !bytes.Contains(r.Body, []byte("Quastenflosser-Steuerserver")) {
			t.Errorf("%s: a circle member does not find the indicator (%d)", path, r.Status)
		}
		o := out.Get(t, path)
		if o.Status != http.StatusOK {
			t.Fatalf("%s as the outsider: %d", path, o.Status)
		}
		if rows := allOf(intelRowRe, o.Body); len(rows) > 0 || bytes.Contains(bytes.ToLower(o.Body), []byte("quastenflosser-")) {
			t.Errorf("LEAK: %s shows the outsider %v", path, rows)
		}
	}
	// The list leaves relationships to the objects' pages; the chart
	// counts what the reader may see.
	list := string(sme.Get(t, "/intel").Body)
	if strings.Contains(list, "weist hin auf") || strings.Contains(list, "Quastenflosser-Steuerserver indicates") {
		t.Error("the list shows a relationship among everything")
	}
	if !regexp.MustCompile(`type=indicator">[^<]+</a></span><span class="bar-track" aria-hidden="true"><span class="bar w-100"></span></span><span class="bar-value">1</span>`).MatchString(list) {
		t.Error("the chart does not count the one indicator")
	}
	if o := string(out.Get(t, "/intel").Body); strings.Contains(o, `id="by-type"`) {
		t.Error("LEAK: the outsider's chart counts objects it may not see")
	}

	page := sme.Get(t, "/intel/objects/"+id)
	body := string(page.Body)
	for _, want := range []string{"Quastenflosser-Steuerserver", "[ipv4-addr:value = &#39;198.51.100.77&#39;]", "75 / 100", "CERT Süd", "Mittelstand Süd", `id="sight"`, "stix-json-text"} {
		if !strings.Contains(body, want) {
			t.Errorf("the object page lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?s)id="related".*?indicates.*?>Quastenflosser</a>`).MatchString(body) {
		t.Error("the object page does not show what the indicator indicates")
	}
	if r := out.Get(t, "/intel/objects/"+id); r.Status != http.StatusNotFound || bytes.Contains(r.Body, []byte("Quastenflosser")) {
		t.Errorf("LEAK: the outsider's object page: %d", r.Status)
	}
	none := out.Get(t, "/intel/objects/01900000-0000-7000-8000-000000000000")
	if hidden := out.Get(t, "/intel/objects/"+id); hidden.Status != none.Status || len(hidden.Body) != len(none.Body) {
		t.Errorf("LEAK: a hidden object's page differs from a missing one's: %d/%d bytes vs %d/%d", hidden.Status, len(hidden.Body), none.Status, len(none.Body))
	}
	// A viewer reads it but is told why there is no button.
	viewer := string(h.Login(t, h.Users["sme.viewer"]).Get(t, "/intel/objects/"+id).Body)
	if strings.Contains(viewer, `id="sight"`) || !strings.Contains(viewer, `id="read-only"`) {
		t.Error("a viewer gets the sighting button, or no word why not")
	}
}

// "We saw this too": a circle member's form reports a sighting to the
// owner; the owner's page lists it with its count, the reporter's page
// says thanks; nobody else learns of it, and the outsider cannot send it.
func TestIntelSightingForm(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	id := importAs(t, h, "cert.analyst", "community="+h.Circle+"&tlp=AMBER", uiBundle, uiIndicator)
	sme := h.Login(t, h.Users["sme.analyst"])
	r := sme.PostForm(t, "/intel/objects/"+id+"/sightings", url.Values{"count": {"3"}, "description": {"an der Firewall"}})
	if loc := r.Header.Get("Location"); r.Status != http.StatusSeeOther || loc != "/intel/objects/"+id+"?ok=sighting_reported#sightings" {
		t.Fatalf("the sighting form: %d to %q: %s", r.Status, loc, r.Body)
	}
	mine := sme.Get(t, "/intel/objects/"+id+"?ok=sighting_reported")
	if !bytes.Contains(mine.Body, []byte(`class="flash flash-success"`)) || len(allOf(sightingRe, mine.Body)) != 1 {
		t.Errorf("the reporter's page: no thanks, or not its sighting")
	}
	owner := h.Login(t, h.Users["cert.analyst"]).Get(t, "/intel/objects/"+id)
	seen := allOf(sightingRe, owner.Body)
	if len(seen) != 1 || !regexp.MustCompile(`(?s)<li id="sighting-.*?Müller Maschinenbau GmbH.*?3×.*?an der Firewall`).Match(owner.Body) {
		t.Fatalf("the owner's page lists %v", seen)
	}
	// The sighting went to the owner only: another circle member does not
	// see it.
	if other := h.Login(t, h.Users["cloud.analyst"]).Get(t, "/intel/objects/"+id); len(allOf(sightingRe, other.Body)) != 0 {
		t.Error("LEAK: another member sees the sighting reported to the owner")
	}
	if r := h.Login(t, h.Users["outsider.analyst"]).PostForm(t, "/intel/objects/"+id+"/sightings", url.Values{}); r.Status != http.StatusNotFound {
		t.Errorf("the outsider reports a sighting of what it cannot see: %d", r.Status)
	}
	// A count that is none is said at the form, in the reader's language.
	germanUI(t, h, "sme.analyst")
	bad := sme.PostForm(t, "/intel/objects/"+id+"/sightings", url.Values{"count": {"viele"}})
	if code, text := shownError(t, bad.Body); bad.Status != http.StatusBadRequest || code != "bad_count" || !strings.Contains(text, "Anzahl") {
		t.Errorf("a bad count: %d %s %q", bad.Status, code, text)
	}
}

// The lookup page finds a value in what the reader may see: one value by
// GET, many by the form (read-only tokens may send it); the outsider
// finds nothing, and is told so like for a value nobody has.
func TestIntelLookupPage(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	id := importAs(t, h, "cert.analyst", "community="+h.Circle+"&tlp=AMBER", uiBundle, uiIndicator)
	sme := h.Login(t, h.Users["sme.analyst"])
	one := sme.Get(t, "/intel/lookup?value=198.51.100.77")
	if m := allOf(intelMatchRe, one.Body); len(m) != 1 || m[0] != id || !bytes.Contains(one.Body, []byte("75/100")) {
		t.Errorf("the lookup of 198.51.100.77 matches %v", m)
	}
	many := sme.PostForm(t, "/intel/lookup", url.Values{"values": {"192.0.2.1\n198.51.100.77\r\nkein wert\n"}})
	if m := allOf(intelMatchRe, many.Body); many.Status != http.StatusOK || len(m) != 1 || m[0] != id {
		t.Errorf("the lookup of many values: %d %v", many.Status, m)
	}
	if !bytes.Contains(many.Body, []byte("1 of 3 values are known")) {
		t.Error("the lookup of many values does not say how many matched")
	}
	out := h.Login(t, h.Users["outsider.analyst"])
	hidden, nobody := out.Get(t, "/intel/lookup?value=198.51.100.77"), out.Get(t, "/intel/lookup?value=198.51.100.78")
	if len(allOf(intelMatchRe, hidden.Body)) != 0 || !bytes.Equal(bytes.ReplaceAll(hidden.Body, []byte("198.51.100.77"), []byte("198.51.100.78")), nobody.Body) {
		t.Error("LEAK: the outsider's lookup of a hidden value differs from one of a value nobody has")
	}
	if empty := sme.PostForm(t, "/intel/lookup", url.Values{"values": {"  \n"}}); empty.Status != http.StatusBadRequest {
		t.Errorf("a lookup of no values: %d", empty.Status)
	}
}

// postImport sends the import form as a browser does: the CSRF token
// first, then the fields, the file last.
func postImport(t *testing.T, h *apptest.Hub, b *apptest.Browser, csrf string, fields [][2]string, file string) apptest.Response {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if csrf != "" {
		_ = mw.WriteField("_csrf", csrf)
	}
	for _, f := range fields {
		_ = mw.WriteField(f[0], f[1])
	}
	fw, _ := mw.CreateFormFile("bundle", "lage.json")
	_, _ = io.WriteString(fw, file)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", h.URL+"/intel/import", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// importBundle has a good indicator, one without a pattern (not STIX) and
// one marked TLP:RED, which a trust circle may not receive.
const importBundle = `{"type":"bundle","id":"bundle--55555555-0000-4000-8000-000000000009","objects":[
 {"type":"indicator","spec_version":"2.1","id":"indicator--55555555-0000-4000-8000-000000000001","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z",
  "name":"Pfauenauge-Verteilserver","pattern":"[domain-name:value = 'pfauenauge.example']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--55555555-0000-4000-8000-000000000002","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z",
  "name":"ohne Muster","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--55555555-0000-4000-8000-000000000003","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z",
  "name":"streng geheim","pattern":"[domain-name:value = 'geheim.example']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z",
  "object_marking_refs":["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"]}]}`

// The import form takes a bundle file as it arrives and reports what it
// took and what it refused, and why, in the reader's language; what it
// took is in the list for the circle. A form without its token is
// refused before anything is read.
func TestIntelImportForm(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	germanUI(t, h, "sme.analyst")
	sme := h.Login(t, h.Users["sme.analyst"])
	form := sme.Get(t, "/intel/import")
	if !bytes.Contains(form.Body, []byte(`enctype="multipart/form-data"`)) || !bytes.Contains(form.Body, []byte(`<option value="`+h.Circle+`"`)) {
		t.Fatal("the import page offers no upload to the circle")
	}
	r := postImport(t, h, sme, sme.CSRF, [][2]string{{"tlp", "GREEN"}, {"community", h.Circle}}, importBundle)
	if r.Status != http.StatusOK {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	page := string(r.Body)
	for _, want := range []string{`<p class="stat" id="accepted">1</p>`, `<p class="stat" id="rejected">2</p>`, "indicator--55555555-0000-4000-8000-000000000002",
		"indicator--55555555-0000-4000-8000-000000000003", "Kein gültiges STIX-2.1-Objekt", "Objekte abgelehnt"} {
		if !strings.Contains(page, want) {
			t.Errorf("the import's report lacks %q", want)
		}
	}
	if !regexp.MustCompile(`data-code="tlp_audience_mismatch">TLP:RED darf nicht`).MatchString(page) {
		t.Error("the refusal of the TLP:RED object does not say why")
	}
	if en := englishIn(h.App.Web.Catalog, page); len(en) > 0 {
		t.Errorf("the German import report shows English: %v", en)
	}
	cloud := h.Login(t, h.Users["cloud.analyst"]).Get(t, "/intel?q=pfauenauge")
	if !bytes.Contains(cloud.Body, []byte("Pfauenauge-Verteilserver")) || bytes.Contains(cloud.Body, []byte("streng geheim")) {
		t.Error("the circle does not get the imported indicator (or gets the refused one)")
	}
	if !bytes.Contains(cloud.Body, []byte("TLP:GREEN")) {
		t.Error("an unmarked object does not take the form's level")
	}
	// The token must come first and be right.
	for _, tok := range []string{"", "wrong"} {
		if r := postImport(t, h, sme, tok, nil, importBundle); r.Status != http.StatusForbidden {
			t.Errorf("an import form with token %q: %d", tok, r.Status)
		}
	}
	// A circle the org is not in, and a level its audience does not
	// allow, are said at the form before the file is read.
	if r := postImport(t, h, sme, sme.CSRF, [][2]string{{"tlp", "AMBER"}, {"community", "01900000-0000-7000-8000-000000000000"}}, importBundle); r.Status != http.StatusBadRequest {
		t.Errorf("an import to a circle of others: %d", r.Status)
	}
	if r := postImport(t, h, sme, sme.CSRF, [][2]string{{"tlp", "AMBER+STRICT"}, {"community", h.Circle}}, importBundle); r.Status != http.StatusBadRequest {
		t.Errorf("an AMBER+STRICT import to the circle: %d", r.Status)
	}
	if r := postImport(t, h, sme, sme.CSRF, nil, `{"type":"bundle","objects":[`); r.Status != http.StatusBadRequest || !bytes.Contains(r.Body, []byte(`data-code="bad_bundle"`)) {
		t.Errorf("a broken bundle: %d", r.Status)
	}
	viewer := h.Login(t, h.Users["sme.viewer"])
	if r := viewer.Get(t, "/intel/import"); bytes.Contains(r.Body, []byte(`id="import-form"`)) || !bytes.Contains(r.Body, []byte(`id="read-only"`)) {
		t.Error("a viewer gets the import form")
	}
	if r := postImport(t, h, viewer, viewer.CSRF, nil, importBundle); r.Status != http.StatusForbidden {
		t.Errorf("a viewer imports: %d", r.Status)
	}
}

// A German user reads the intel pages in German: the catalogue's German
// texts, no English catalogue text, the glossary's terms.
func TestIntelPagesInGerman(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	id := importAs(t, h, "cert.analyst", "community="+h.Circle+"&tlp=AMBER", uiBundle, uiIndicator)
	germanUI(t, h, "sme.analyst")
	sme := h.Login(t, h.Users["sme.analyst"])
	for path, want := range map[string][]string{
		"/intel":                            {"Bedrohungsinformationen", "Mit Ihnen geteilt, nach Typ", "Indikator", "Gültigkeit"},
		"/intel/objects/" + id:              {"Auch bei uns gesehen", "Sichtungen", "Konfidenz", "weist hin auf", "Empfängerkreis"},
		"/intel/lookup?value=198.51.100.77": {"Abfrage", "198.51.100.77 ist bekannt", "IPv4-Adresse", "Konfidenz 75/100"},
		"/intel/import":                     {"Bedrohungsinformationen importieren", "TLP für Objekte ohne Markierung", "Vertrauenskreis Mittelstand Süd"},
		"/intel/taxii":                      {"TAXII-Zugang", "Ihre API-Roots", "Vertrauenskreis"},
	} {
		r := sme.Get(t, path)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d", path, r.Status)
		}
		text := readable(string(r.Body))
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
		if en := englishIn(h.App.Web.Catalog, string(r.Body)); len(en) > 0 {
			t.Errorf("%s shows English: %v", path, en)
		}
	}
}
