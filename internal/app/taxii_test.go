package app_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// taxiiClient speaks TAXII 2.1 to the hub as one person (HTTP Basic).
type taxiiClient struct {
	t    *testing.T
	h    *apptest.Hub
	user *apptest.User
}

type taxiiAnswer struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (c taxiiClient) do(method, path string, header map[string]string, body string) taxiiAnswer {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.h.URL+path, strings.NewReader(body))
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	if c.user != nil {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.user.Email+":"+c.user.WriteToken)))
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := taxiiAnswer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			c.t.Fatalf("%s %s: not JSON: %s", method, path, raw)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/taxii+json;version=2.1" {
			c.t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
	}
	if resp.StatusCode >= 400 && (a.body["title"] == nil || a.body["http_status"] != fmt.Sprint(resp.StatusCode)) {
		c.t.Errorf("%s %s: %d without a TAXII error object: %s", method, path, resp.StatusCode, raw)
	}
	return a
}

func (c taxiiClient) get(path string) taxiiAnswer { c.t.Helper(); return c.do("GET", path, nil, "") }

func (c taxiiClient) post(path, envelope string) taxiiAnswer {
	c.t.Helper()
	return c.do("POST", path, map[string]string{"Content-Type": "application/taxii+json;version=2.1"}, envelope)
}

func ids(a taxiiAnswer, key string) []string {
	var out []string
	list, _ := a.body[key].([]any)
	for _, x := range list {
		switch v := x.(type) {
		case map[string]any:
			out = append(out, fmt.Sprint(v["id"]))
		case string:
			out = append(out, v)
		}
	}
	return out
}

// TestTAXIIConformance runs the rules of STANDARDS.md section 1 against
// the hub's TAXII server over HTTP: discovery, API roots, collections,
// manifests, objects with every filter, versions, paging, status, DELETE,
// media types, authentication and the error object.
func TestTAXIIConformance(t *testing.T) { eachEngine(t, testTAXIIConformance) }

func testTAXIIConformance(t *testing.T, e db.Dialect) {
	h := apptest.WorldCovering(t, e)
	sme := taxiiClient{t, h, h.Users["sme.analyst"]}
	cert := taxiiClient{t, h, h.Users["cert.analyst"]}
	circle := "/taxii2/" + h.Circle + "/collections/circle/"

	// Discovery and the API roots: the caller's org's and its circle's.
	d := sme.get("/taxii2/")
	if d.status != 200 || d.body["default"] != "/taxii2/"+h.Orgs["sme"]+"/" || len(d.body["api_roots"].([]any)) != 2 {
		t.Fatalf("discovery: %d %s", d.status, d.raw)
	}
	root := sme.get("/taxii2/" + h.Circle + "/")
	if root.status != 200 || root.body["max_content_length"].(float64) <= 0 || fmt.Sprint(root.body["versions"]) != "[application/taxii+json;version=2.1]" {
		t.Errorf("API root: %d %s", root.status, root.raw)
	}
	cs := sme.get("/taxii2/" + h.Circle + "/collections/")
	coll := cs.body["collections"].([]any)[0].(map[string]any)
	if cs.status != 200 || coll["can_read"] != true || coll["can_write"] != true || coll["alias"] != "circle" {
		t.Errorf("collections: %s", cs.raw)
	}
	if byID := sme.get("/taxii2/" + h.Circle + "/collections/" + coll["id"].(string) + "/"); byID.status != 200 || byID.body["title"] == nil {
		t.Errorf("collection by id: %d %s", byID.status, byID.raw)
	}
	// An empty collection is {} with no date headers.
	if e := sme.get(circle + "objects/"); e.status != 200 || e.raw != "{}" || e.header.Get("X-TAXII-Date-Added-First") != "" {
		t.Errorf("empty collection: %d %q", e.status, e.raw)
	}

	// Two versions of an indicator and a malware, POSTed by the CERT.
	v1 := `{"type":"indicator","spec_version":"2.1","id":"indicator--55555555-0000-4000-8000-000000000001","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"v1","pattern":"[ipv4-addr:value = '198.51.100.50']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`
	v2 := strings.Replace(strings.Replace(v1, `"modified":"2026-01-01T00:00:00.000Z"`, `"modified":"2026-01-02T00:00:00.000Z"`, 1), `"name":"v1"`, `"name":"v2"`, 1)
	mal := `{"type":"malware","spec_version":"2.1","id":"malware--55555555-0000-4000-8000-000000000002","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"Kryptonit","is_family":true}`
	bad := `{"type":"indicator","spec_version":"2.1","id":"indicator--55555555-0000-4000-8000-000000000003","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`
	st := cert.post(circle+"objects/", `{"objects":[`+v1+`,`+mal+`,`+bad+`]}`)
	if st.status != 202 || st.body["status"] != "complete" || st.body["total_count"] != 3.0 || st.body["success_count"] != 2.0 || st.body["failure_count"] != 1.0 {
		t.Fatalf("POST objects: %d %s", st.status, st.raw)
	}
	if got := cert.get("/taxii2/" + h.Circle + "/status/" + st.body["id"].(string) + "/"); got.status != 200 || got.body["id"] != st.body["id"] {
		t.Errorf("status: %d %s", got.status, got.raw)
	}
	if got := sme.get("/taxii2/" + h.Circle + "/status/" + st.body["id"].(string) + "/"); got.status != 404 {
		t.Errorf("another org reads the CERT's status: %d", got.status)
	}
	// A duplicate is no error; a new version is added.
	if dup := cert.post(circle+"objects/", `{"objects":[`+v1+`]}`); dup.status != 202 || dup.body["failure_count"] != 0.0 {
		t.Errorf("duplicate POST: %d %s", dup.status, dup.raw)
	}
	cert.post(circle+"objects/", `{"objects":[`+v2+`]}`)

	// Objects: newest version by default, oldest date_added first, with
	// the date-added headers; filters by type, id, version, spec_version.
	all := sme.get(circle + "objects/")
	if all.status != 200 || fmt.Sprint(ids(all, "objects")) != "[malware--55555555-0000-4000-8000-000000000002 indicator--55555555-0000-4000-8000-000000000001]" ||
		all.header.Get("X-TAXII-Date-Added-First") == "" || all.header.Get("X-TAXII-Date-Added-Last") == "" {
		t.Errorf("objects: %v %v", ids(all, "objects"), all.header)
	}
	if objs := all.body["objects"].([]any); objs[1].(map[string]any)["name"] != "v2" {
		t.Errorf("the default version is not the last: %v", objs[1])
	}
	for q, want := range map[string]string{
		"match[type]=malware": "[malware--55555555-0000-4000-8000-000000000002]",
		"match[id]=indicator--55555555-0000-4000-8000-000000000001": "[indicator--55555555-0000-4000-8000-000000000001]",
		"match[version]=all&match[type]=indicator":                  "[indicator--55555555-0000-4000-8000-000000000001 indicator--55555555-0000-4000-8000-000000000001]",
		"match[version]=first&match[type]=indicator":                "[indicator--55555555-0000-4000-8000-000000000001]",
		"match[version]=2026-01-01T00:00:00.000Z":                   "[indicator--55555555-0000-4000-8000-000000000001 malware--55555555-0000-4000-8000-000000000002]",
		"match[spec_version]=2.0":                                   "[]",
		"added_after=" + all.header.Get("X-TAXII-Date-Added-First"): "[indicator--55555555-0000-4000-8000-000000000001]",
	} {
		if got := sme.get(circle + "objects/?" + q); got.status != 200 || fmt.Sprint(ids(got, "objects")) != want {
			t.Errorf("?%s: %d %v, want %s", q, got.status, ids(got, "objects"), want)
		}
	}
	first := sme.get(circle + "objects/?match[version]=first&match[type]=indicator")
	if first.body["objects"].([]any)[0].(map[string]any)["name"] != "v1" {
		t.Errorf("match[version]=first gives %s", first.raw)
	}
	// Paging: limit 1, more and next, the same query continued.
	p1 := sme.get(circle + "objects/?limit=1")
	if len(ids(p1, "objects")) != 1 || p1.body["more"] != true || p1.body["next"] == nil {
		t.Fatalf("first page: %s", p1.raw)
	}
	p2 := sme.get(circle + "objects/?limit=1&next=" + p1.body["next"].(string))
	if fmt.Sprint(ids(p2, "objects")) != "[indicator--55555555-0000-4000-8000-000000000001]" || p2.body["more"] != false {
		t.Errorf("second page: %s", p2.raw)
	}
	// Manifest, one object, its versions.
	m := sme.get(circle + "manifest/")
	rec := m.body["objects"].([]any)[1].(map[string]any)
	if rec["version"] != "2026-01-02T00:00:00.000Z" || rec["media_type"] != "application/stix+json;version=2.1" || !strings.HasSuffix(rec["date_added"].(string), "Z") || len(rec["date_added"].(string)) != 27 {
		t.Errorf("manifest record: %v", rec)
	}
	one := sme.get(circle + "objects/indicator--55555555-0000-4000-8000-000000000001/")
	if one.status != 200 || len(ids(one, "objects")) != 1 {
		t.Errorf("by id: %d %s", one.status, one.raw)
	}
	vs := sme.get(circle + "objects/indicator--55555555-0000-4000-8000-000000000001/versions/")
	if fmt.Sprint(vs.body["versions"]) != "[2026-01-01T00:00:00.000Z 2026-01-02T00:00:00.000Z]" || vs.header.Get("X-TAXII-Date-Added-Last") == "" {
		t.Errorf("versions: %s", vs.raw)
	}
	if nf := sme.get(circle + "objects/indicator--55555555-0000-4000-8000-000000000009/"); nf.status != 404 {
		t.Errorf("unknown object: %d", nf.status)
	}

	// Errors: malformed parameters, a forged next, media types, size,
	// authentication, unknown collections.
	for _, q := range []string{"added_after=yesterday", "limit=0", "match[version]=newest", "next=Zm9yZ2Vk"} {
		if got := sme.get(circle + "objects/?" + q); got.status != 400 {
			t.Errorf("?%s: %d, want 400", q, got.status)
		}
	}
	if got := sme.do("GET", "/taxii2/", map[string]string{"Accept": "application/json"}, ""); got.status != 406 {
		t.Errorf("Accept application/json: %d", got.status)
	}
	if got := cert.do("POST", circle+"objects/", map[string]string{"Content-Type": "application/json"}, `{"objects":[]}`); got.status != 415 {
		t.Errorf("POST application/json: %d", got.status)
	}
	big := `{"objects":[` + strings.Repeat(" ", 101<<20) + `]}`
	if got := cert.post(circle+"objects/", big); got.status != 413 {
		t.Errorf("POST over max_content_length: %d", got.status)
	}
	anon := (taxiiClient{t, h, nil}).get("/taxii2/")
	if anon.status != 401 || !strings.HasPrefix(anon.header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("no credentials: %d %v", anon.status, anon.header)
	}
	wrong := (taxiiClient{t, h, &apptest.User{Email: h.Users["sme.analyst"].Email, WriteToken: "vbt_wrong"}}).get("/taxii2/")
	if wrong.status != 401 {
		t.Errorf("a wrong token: %d", wrong.status)
	}
	for _, p := range []string{"/taxii2/" + h.Circle + "/collections/nope/objects/", "/taxii2/" + h.Orgs["cert"] + "/", "/taxii2/no/such/path/"} {
		if got := sme.get(p); got.status != 404 {
			t.Errorf("GET %s: %d, want 404", p, got.status)
		}
	}
	outsider := taxiiClient{t, h, h.Users["outsider.analyst"]}
	if got := outsider.get(circle + "objects/"); got.status != 404 {
		t.Errorf("the outsider reads the circle's collection: %d", got.status)
	}

	// DELETE: only the owner; then gone from objects and manifest.
	if got := sme.do("DELETE", circle+"objects/malware--55555555-0000-4000-8000-000000000002/", nil, ""); got.status != 403 {
		t.Errorf("another org deletes: %d %s", got.status, got.raw)
	}
	if got := cert.do("DELETE", circle+"objects/malware--55555555-0000-4000-8000-000000000002/", nil, ""); got.status != 200 {
		t.Errorf("the owner deletes: %d %s", got.status, got.raw)
	}
	if got := sme.get(circle + "objects/malware--55555555-0000-4000-8000-000000000002/"); got.status != 404 {
		t.Errorf("GET after DELETE: %d", got.status)
	}
	if m := sme.get(circle + "manifest/"); bytes.Contains([]byte(m.raw), []byte("malware--55555555")) {
		t.Errorf("the manifest lists a deleted object: %s", m.raw)
	}
	// Deleting the newest version makes the one before it the default.
	if got := cert.do("DELETE", circle+"objects/indicator--55555555-0000-4000-8000-000000000001/?match[version]=2026-01-02T00:00:00.000Z", nil, ""); got.status != 200 {
		t.Errorf("DELETE a version: %d %s", got.status, got.raw)
	}
	if got := sme.get(circle + "objects/indicator--55555555-0000-4000-8000-000000000001/"); len(ids(got, "objects")) != 1 || got.body["objects"].([]any)[0].(map[string]any)["name"] != "v1" {
		t.Errorf("after deleting v2 the default version is: %s", got.raw)
	}
	// The own collection takes the org's objects and keeps them there.
	own := "/taxii2/" + h.Orgs["sme"] + "/collections/own/"
	if got := sme.post(own+"objects/", `{"objects":[`+strings.Replace(mal, "55555555-0000-4000-8000-000000000002", "55555555-0000-4000-8000-000000000012", 1)+`]}`); got.status != 202 || got.body["success_count"] != 1.0 {
		t.Errorf("POST to own: %d %s", got.status, got.raw)
	}
	if got := cert.get("/taxii2/" + h.Orgs["cert"] + "/collections/all/objects/?match[id]=malware--55555555-0000-4000-8000-000000000012"); got.raw != "{}" {
		t.Errorf("LEAK: another org sees sme's own object: %s", got.raw)
	}
	if got := sme.get("/taxii2/" + h.Orgs["sme"] + "/collections/all/objects/?match[id]=malware--55555555-0000-4000-8000-000000000012"); len(ids(got, "objects")) != 1 {
		t.Errorf("sme does not see its own object in all: %s", got.raw)
	}
}

// TestTAXIITitlesInTheClientsLanguage: roots and collections are titled
// and described in the language the client asks for (English unless it
// asks), like the API's error messages.
func TestTAXIITitlesInTheClientsLanguage(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	u := h.Users["sme.analyst"]
	titles := func(lang string) string {
		req, _ := http.NewRequest("GET", h.URL+"/taxii2/"+u.OrgID+"/collections/", nil)
		req.Header.Set("Accept", "application/taxii+json;version=2.1")
		if lang != "" {
			req.Header.Set("Accept-Language", lang)
		}
		req.Header.Set("Authorization", "Bearer "+u.ReadToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("collections (%s): %d %s", lang, resp.StatusCode, b)
		}
		return string(b)
	}
	if en := titles(""); !strings.Contains(en, "Everything you may see") || !strings.Contains(en, ": own") {
		t.Errorf("English titles: %s", en)
	}
	if de := titles("de-DE,de;q=0.9"); !strings.Contains(de, "Alles, was Sie sehen dürfen") || !strings.Contains(de, ": eigene") || strings.Contains(de, "Everything") {
		t.Errorf("German titles: %s", de)
	}
}

// TestTAXIIPathsWithoutTheSlash: TAXII's addresses end in a slash; a
// client that leaves it off gets the resource (not a redirect with an
// HTML body), and what it may not see stays a TAXII 404.
func TestTAXIIPathsWithoutTheSlash(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	u := h.Users["sme.analyst"]
	for _, path := range []string{"/taxii2", "/taxii2/" + u.OrgID, "/taxii2/" + u.OrgID + "/collections", "/taxii2/" + u.OrgID + "/collections/" + "nope"} {
		status, header, body := taxiiGet(t, h, u, path)
		want := 200
		if strings.HasSuffix(path, "nope") {
			want = 404
		}
		if status != want || !strings.HasPrefix(header.Get("Content-Type"), "application/taxii+json") || body == nil {
			t.Errorf("GET %s: %d %s %v", path, status, header.Get("Content-Type"), body)
		}
	}
	if status, _, _ := taxiiGet(t, h, h.Users["outsider.analyst"], "/taxii2/"+u.OrgID+"/collections"); status != 404 {
		t.Errorf("an outsider reads another org's collections without the slash: %d", status)
	}
}
