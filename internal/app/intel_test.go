package app_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"context"
	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/intel"
	"verbund/internal/policy"
	"verbund/internal/stix"
	"verbund/internal/web"
)

// sharedData is a file of ../shared/data (real data nobody here wrote).
func sharedData(t *testing.T, rel string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no %s: %v", rel, err)
	}
	return p
}

// taxiiGet sends a TAXII request with HTTP Basic (e-mail, API token).
func taxiiGet(t *testing.T, h *apptest.Hub, u *apptest.User, path string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", h.URL+path, nil)
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Email+":"+u.ReadToken)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("GET %s: not JSON: %s", path, body)
		}
	}
	return resp.StatusCode, resp.Header, m
}

// TestIntelATTACKRoundTrip: the real MITRE ATT&CK bundle imports without a
// refusal, shared with the circle; over TAXII a circle member pages
// through every object and gets each back as it was sent, and an outsider
// finds no such API root.
func TestIntelATTACKRoundTrip(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	raw, err := os.ReadFile(sharedData(t, "attack/mobile-attack-17.1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var bundle struct{ Objects []json.RawMessage }
	if err := json.Unmarshal(raw, &bundle); err != nil {
		t.Fatal(err)
	}
	cert := h.Users["cert.analyst"]
	req, _ := http.NewRequest("POST", h.URL+"/api/v1/intel/bundles?community="+h.Circle+"&tlp=GREEN", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+cert.WriteToken)
	req.Header.Set("Content-Type", "application/stix+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Accepted, Rejected int
		Errors             []map[string]any
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(body, &rep); err != nil || resp.StatusCode != 200 {
		t.Fatalf("import: %d %s", resp.StatusCode, body)
	}
	if rep.Accepted != len(bundle.Objects) || rep.Rejected != 0 {
		t.Fatalf("import: %d accepted, %d rejected of %d: %v", rep.Accepted, rep.Rejected, len(bundle.Objects), rep.Errors[:min(5, len(rep.Errors))])
	}
	// Importing again adds nothing and refuses nothing.
	req, _ = http.NewRequest("POST", h.URL+"/api/v1/intel/bundles?community="+h.Circle+"&tlp=GREEN", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+cert.WriteToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	sme := h.Users["sme.analyst"]
	status, _, disc := taxiiGet(t, h, sme, "/taxii2/")
	if status != 200 {
		t.Fatalf("discovery: %d %v", status, disc)
	}
	circleRoot := "/taxii2/" + h.Circle + "/"
	got := map[string]json.RawMessage{}
	next := ""
	for pages := 0; ; pages++ {
		path := circleRoot + "collections/circle/objects/?limit=500"
		if next != "" {
			path += "&next=" + url.QueryEscape(next)
		}
		status, hdr, env := taxiiGet(t, h, sme, path)
		if status != 200 || hdr.Get("X-TAXII-Date-Added-First") == "" {
			t.Fatalf("page %d: %d %v", pages, status, hdr)
		}
		objs, _ := env["objects"].([]any)
		for _, o := range objs {
			b, _ := json.Marshal(o)
			var head struct{ ID string }
			_ = json.Unmarshal(b, &head)
			got[head.ID] = b
		}
		if env["more"] != true {
			break
		}
		next, _ = env["next"].(string)
	}
	if len(got) != len(bundle.Objects) {
		t.Errorf("TAXII pages hold %d objects, the bundle %d", len(got), len(bundle.Objects))
	}
	for _, o := range bundle.Objects {
		var head struct{ ID string }
		_ = json.Unmarshal(o, &head)
		var want, have any
		_ = json.Unmarshal(o, &want)
		_ = json.Unmarshal(got[head.ID], &have)
		if !jsonEqual(want, have) {
			t.Errorf("%s does not come back as it was sent", head.ID)
			break
		}
	}
	// The bundle export reads its pages (500 objects each) by key: every
	// object not revoked, and no relationship to a revoked one, once.
	type head struct {
		ID                   string
		Revoked              bool
		SourceRef, TargetRef string
	}
	heads := make([]head, len(bundle.Objects))
	revoked := map[string]bool{}
	for i, o := range bundle.Objects {
		var x struct {
			ID        string
			Revoked   bool
			SourceRef string `json:"source_ref"`
			TargetRef string `json:"target_ref"`
		}
		_ = json.Unmarshal(o, &x)
		heads[i] = head(x)
		revoked[x.ID] = x.Revoked
	}
	want := map[string]bool{}
	for _, o := range heads {
		if !o.Revoked && !revoked[o.SourceRef] && !revoked[o.TargetRef] {
			want[o.ID] = true
		}
	}
	_, exported, _ := basicGet(t, h, sme, "/api/v1/intel/export/bundle")
	dec := stix.NewDecoder(strings.NewReader(exported))
	seen := map[string]bool{}
	for o, err := range dec.All() {
		if err != nil {
			t.Fatalf("the exported bundle: %v", err)
		}
		if seen[o.ID()] || !want[o.ID()] {
			t.Fatalf("the export has %s twice or should not have it (revoked: %v)", o.ID(), revoked[o.ID()])
		}
		seen[o.ID()] = true
	}
	if len(seen) != len(want) || len(want) < 1500 {
		t.Errorf("the export holds %d objects, want %d (of %d)", len(seen), len(want), len(bundle.Objects))
	}
	if status, _, _ := taxiiGet(t, h, h.Users["outsider.analyst"], circleRoot); status != 404 {
		t.Errorf("the outsider reads the circle's API root: %d", status)
	}
	if status, _, env := taxiiGet(t, h, h.Users["outsider.analyst"], "/taxii2/"+h.Orgs["outsider"]+"/collections/all/objects/"); status != 200 || len(env) != 0 {
		t.Errorf("the outsider's own everything-collection: %d %v", status, env)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestIntelLookup: values are found in the indicators and observables the
// reader may see (an address also in a range that contains it), with
// their level, confidence and visible sightings; another org's hidden
// indicator answers like no indicator at all.
func TestIntelLookup(t *testing.T) { eachEngine(t, testIntelLookup) }

func testIntelLookup(t *testing.T, e db.Dialect) {
	h := apptest.WorldCovering(t, e)
	const bundle = `{"type":"bundle","id":"bundle--0a1b2c3d-0000-4000-8000-000000000001","objects":[
	 {"type":"indicator","spec_version":"2.1","id":"indicator--11111111-0000-4000-8000-000000000001","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"C2 server","confidence":80,
	  "pattern":"[ipv4-addr:value = '198.51.100.3'] OR [domain-name:value = 'Evil.Example']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"},
	 {"type":"indicator","spec_version":"2.1","id":"indicator--11111111-0000-4000-8000-000000000002","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"bad range",
	  "pattern":"[ipv4-addr:value ISSUBSET '203.0.113.0/24']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"},
	 {"type":"indicator","spec_version":"2.1","id":"indicator--11111111-0000-4000-8000-000000000003","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"dropper",
	  "pattern":"[file:hashes.'SHA-256' = 'AEC070645FE53EE3B3763059376134F058CC337247C978ADD178B6CCDFB0019F']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","valid_until":"2026-02-01T00:00:00Z"},
	 {"type":"sighting","spec_version":"2.1","id":"sighting--11111111-0000-4000-8000-000000000004","created":"2026-01-02T00:00:00.000Z","modified":"2026-01-02T00:00:00.000Z","sighting_of_ref":"indicator--11111111-0000-4000-8000-000000000001","count":3}]}`
	post := func(user, query, body string) { t.Helper(); postBundle(t, h, user, query, body) }
	post("cert.analyst", "community="+h.Circle+"&tlp=AMBER", bundle)
	// sme keeps its own indicator for the same address in the org.
	post("sme.analyst", "tlp=AMBER", `{"type":"bundle","id":"bundle--0a1b2c3d-0000-4000-8000-000000000002","objects":[
	 {"type":"indicator","spec_version":"2.1","id":"indicator--22222222-0000-4000-8000-000000000001","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"internal",
	  "pattern":"[ipv4-addr:value = '198.51.100.3']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}`)

	type match struct {
		STIXID     string `json:"stix_id"`
		TLP, Via   string
		Confidence *int
		Expired    bool
		Sightings  int
	}
	type result struct {
		Value, Kind string
		Matches     []match
	}
	lookup := func(user string, values ...string) map[string]result {
		t.Helper()
		r := h.API(t, h.Users[user].ReadToken, "POST", "/api/v1/intel/lookup", map[string]any{"values": values})
		if r.Status != 200 {
			t.Fatalf("lookup as %s: %d %s", user, r.Status, r.Body)
		}
		var ans struct {
			Results []result
			Matched int
		}
		r.JSON(t, &ans)
		out := map[string]result{}
		for _, x := range ans.Results {
			out[x.Value] = x
		}
		return out
	}
	got := lookup("cloud.analyst", "198.51.100.3", "evil.example.", "203.0.113.77", "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f", "192.0.2.1", "not a value")
	ip := got["198.51.100.3"]
	if len(ip.Matches) != 1 || ip.Matches[0].STIXID != "indicator--11111111-0000-4000-8000-000000000001" || ip.Matches[0].TLP != "TLP:AMBER" ||
		ip.Matches[0].Confidence == nil || *ip.Matches[0].Confidence != 80 || ip.Matches[0].Sightings != 1 {
		t.Errorf("cloud's lookup of the C2 address: %+v", ip)
	}
	if d := got["evil.example."]; len(d.Matches) != 1 || d.Kind != "domain" {
		t.Errorf("domain (case and trailing dot folded): %+v", d)
	}
	if c := got["203.0.113.77"]; len(c.Matches) != 1 || c.Matches[0].Via != "cidr" {
		t.Errorf("an address inside an indicator's range: %+v", c)
	}
	if hs := got["aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"]; len(hs.Matches) != 1 || !hs.Matches[0].Expired {
		t.Errorf("hash of an expired indicator: %+v", hs)
	}
	if _, ok := got["192.0.2.1"]; ok {
		t.Error("a value matching nothing is listed in a batch")
	}
	// sme sees its own indicator too; the outsider sees nothing, exactly
	// like a value nobody has.
	if m := lookup("sme.analyst", "198.51.100.3")["198.51.100.3"].Matches; len(m) != 2 {
		t.Errorf("sme's lookup: %+v", m)
	}
	if out := lookup("outsider.analyst", "198.51.100.3", "203.0.113.77"); len(out) != 0 {
		t.Errorf("LEAK: the outsider's lookup finds %+v", out)
	}
	one := h.API(t, h.Users["outsider.analyst"].ReadToken, "GET", "/api/v1/intel/lookup?value=198.51.100.3", nil)
	none := h.API(t, h.Users["outsider.analyst"].ReadToken, "GET", "/api/v1/intel/lookup?value=192.0.2.1", nil)
	if one.Status != 200 || !bytes.Equal(bytes.ReplaceAll(one.Body, []byte("198.51.100.3"), []byte("192.0.2.1")), none.Body) {
		t.Errorf("LEAK: a hidden match answers differently from no match: %s vs %s", one.Body, none.Body)
	}
}

// importAs imports a bundle as user with the query's options and returns
// the hub id of the version of stixID.
func importAs(t *testing.T, h *apptest.Hub, user, query, bundle, stixID string) string {
	t.Helper()
	postBundle(t, h, user, query, bundle)
	var list struct{ Items []struct{ ID string } }
	h.API(t, h.Users[user].ReadToken, "GET", "/api/v1/intel/objects?stix_id="+stixID, nil).JSON(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("find %s: %+v", stixID, list)
	}
	return list.Items[0].ID
}

// TestIntelSightings: "we saw this" reaches the owner live and only the
// owner; a CERT relays a member's sighting without naming it, keeping the
// member in its own audit trail; only a CERT may relay.
func TestIntelSightings(t *testing.T) { eachEngine(t, testIntelSightings) }

func testIntelSightings(t *testing.T, e db.Dialect) {
	h := apptest.WorldCovering(t, e)
	const ind = "indicator--33333333-0000-4000-8000-000000000001"
	id := importAs(t, h, "cloud.analyst", "community="+h.Circle+"&tlp=AMBER", `{"type":"bundle","id":"bundle--33333333-0000-4000-8000-000000000009","objects":[
	 {"type":"indicator","spec_version":"2.1","id":"`+ind+`","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"scanner",
	  "pattern":"[ipv4-addr:value = '203.0.113.9']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}`, ind)
	owner := openStream(t, h.URL, h.Users["cloud.analyst"].ReadToken, "")
	other := openStream(t, h.URL, h.Users["cert.analyst"].ReadToken, "")
	r := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/intel/objects/"+id+"/sightings", map[string]any{"count": 4, "description": "an der Firewall"})
	if r.Status != http.StatusCreated {
		t.Fatalf("sighting: %d %s", r.Status, r.Body)
	}
	var s struct {
		ID   string
		STIX map[string]any
	}
	r.JSON(t, &s)
	if s.STIX["sighting_of_ref"] != ind || s.STIX["count"] != 4.0 || s.STIX["where_sighted_refs"] == nil {
		t.Errorf("the sighting: %v", s.STIX)
	}
	// The identity the sighting names comes with it: the owner resolves it.
	if refs, _ := s.STIX["where_sighted_refs"].([]any); len(refs) == 1 {
		var list struct{ Items []struct{ Name string } }
		h.API(t, h.Users["cloud.analyst"].ReadToken, "GET", "/api/v1/intel/objects?stix_id="+fmt.Sprint(refs[0]), nil).JSON(t, &list)
		if len(list.Items) != 1 || list.Items[0].Name != "Müller Maschinenbau GmbH" {
			t.Errorf("the sighting's identity %v: %+v", refs[0], list)
		}
	}
	owner.waitFor(t, s.ID, 3*time.Second)
	other.never(t, s.ID, 300*time.Millisecond)
	sightings := func(user string) int {
		var ans struct {
			Results []struct{ Matches []struct{ Sightings int } }
		}
		h.API(t, h.Users[user].ReadToken, "GET", "/api/v1/intel/lookup?value=203.0.113.9", nil).JSON(t, &ans)
		return ans.Results[0].Matches[0].Sightings
	}
	if n, m := sightings("cloud.analyst"), sightings("cert.analyst"); n != 1 || m != 0 {
		t.Errorf("visible sightings: owner %d, another member %d; want 1 and 0", n, m)
	}
	// The CERT relays for sme: cloud sees the CERT, not sme.
	r = h.API(t, h.Users["cert.analyst"].WriteToken, "POST", "/api/v1/intel/objects/"+id+"/sightings", map[string]any{"on_behalf_of": h.Orgs["sme"]})
	if r.Status != http.StatusCreated {
		t.Fatalf("relayed sighting: %d %s", r.Status, r.Body)
	}
	s.STIX = nil
	r.JSON(t, &s)
	if s.STIX["where_sighted_refs"] != nil {
		t.Errorf("the relayed sighting names where it was seen: %v", s.STIX)
	}
	var seen struct {
		OrgName string `json:"org_name"`
		STIX    map[string]any
	}
	h.API(t, h.Users["cloud.analyst"].ReadToken, "GET", "/api/v1/intel/objects/"+s.ID, nil).JSON(t, &seen)
	if seen.OrgName != "CERT Süd" || strings.Contains(fmt.Sprint(seen.STIX), h.Orgs["sme"]) {
		t.Errorf("cloud sees the relayed sighting as %q: %v", seen.OrgName, seen.STIX)
	}
	trail := string(h.API(t, h.Users["cert.admin"].ReadToken, "GET", "/api/v1/audit?limit=50", nil).Body)
	if !strings.Contains(trail, `"on_behalf_of":"`+h.Orgs["sme"]+`"`) {
		t.Error("the CERT's audit trail does not keep who saw it")
	}
	if cloudTrail := string(h.API(t, h.Users["cloud.admin"].ReadToken, "GET", "/api/v1/audit?limit=50", nil).Body); strings.Contains(cloudTrail, "on_behalf_of") {
		t.Error("LEAK: the owner's audit trail names the relayed reporter")
	}
	if r := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/intel/objects/"+id+"/sightings", map[string]any{"on_behalf_of": h.Orgs["cloud"]}); r.Status != http.StatusForbidden || r.ErrorCode() != "cert_only" {
		t.Errorf("a company relays: %d %s", r.Status, r.Body)
	}
	// A CERT relays only for an org it knows: the outsider's org answers
	// like one that does not exist.
	for _, org := range []string{h.Orgs["outsider"], "no-such-org"} {
		if r := h.API(t, h.Users["cert.analyst"].WriteToken, "POST", "/api/v1/intel/objects/"+id+"/sightings", map[string]any{"on_behalf_of": org}); r.Status != http.StatusBadRequest || r.ErrorCode() != "unknown_org" {
			t.Errorf("the CERT relays for %s, an org it does not know: %d %s", org, r.Status, r.Body)
		}
	}
	// The form offers the relay to the CERT, naming the orgs it knows,
	// and to no one else.
	certPage := string(h.Login(t, h.Users["cert.analyst"]).Get(t, "/intel/objects/"+id).Body)
	if !strings.Contains(certPage, `name="on_behalf_of"`) || !strings.Contains(certPage, `value="`+h.Orgs["sme"]+`"`) || strings.Contains(certPage, `value="`+h.Orgs["outsider"]+`"`) {
		t.Error("the CERT's sighting form does not offer the relay for the orgs it knows, or offers others")
	}
	if strings.Contains(string(h.Login(t, h.Users["sme.analyst"]).Get(t, "/intel/objects/"+id).Body), `name="on_behalf_of"`) {
		t.Error("a company's sighting form offers the relay")
	}
	// A sighting does not reach further than the AMBER indicator.
	if r := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/intel/objects/"+id+"/sightings", map[string]any{"tlp": "CLEAR"}); r.Status != http.StatusBadRequest || r.ErrorCode() != "tlp_below_object" {
		t.Errorf("a CLEAR sighting of an AMBER indicator: %d %s", r.Status, r.Body)
	}
	if r := h.API(t, h.Users["outsider.analyst"].WriteToken, "POST", "/api/v1/intel/objects/"+id+"/sightings", map[string]any{}); r.Status != http.StatusNotFound {
		t.Errorf("the outsider sights what it cannot see: %d %s", r.Status, r.Body)
	}
}

// basicGet fetches path with HTTP Basic (e-mail and read token), as a
// firewall fetching its block list does.
func basicGet(t *testing.T, h *apptest.Hub, u *apptest.User, path string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", h.URL+path, nil)
	req.SetBasicAuth(u.Email, u.ReadToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestIntelExports: block lists carry the valid values the reader may see
// (expired indicators, revoked objects and known-benign values left out),
// up to the level asked for; the CSV and the bundle too; an outsider's
// lists are empty.
func TestIntelExports(t *testing.T) { eachEngine(t, testIntelExports) }

func testIntelExports(t *testing.T, e db.Dialect) {
	h := apptest.WorldCovering(t, e)
	ind := func(n int, name, pattern, extra string) string {
		return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--44444444-0000-4000-8000-0000000000%02d","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":%q,"pattern":%q,"pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"%s}`, n, name, pattern, extra)
	}
	green := `,"object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]`
	bundle := `{"type":"bundle","id":"bundle--44444444-0000-4000-8000-000000000099","objects":[` + strings.Join([]string{
		ind(1, "c2", "[ipv4-addr:value = '198.51.100.7']", `,"confidence":90`+green),
		ind(2, "old", "[ipv4-addr:value = '198.51.100.8']", `,"valid_until":"2026-02-01T00:00:00Z"`),
		ind(3, "resolver", "[ipv4-addr:value = '8.8.8.8'] OR [ipv4-addr:value = '10.1.2.3']", ""),
		ind(4, "phish", "[domain-name:value = 'login-bank.example'] OR [url:value = 'https://login-bank.example/x']", `,"confidence":40`),
		ind(5, "both", "[domain-name:value = 'a.example' AND file:name = 'x']", ""),
		ind(6, "revoked", "[ipv4-addr:value = '198.51.100.9']", `,"revoked":true`),
	}, ",") + `]}`
	importAs(t, h, "cert.analyst", "community="+h.Circle+"&tlp=AMBER", bundle, "indicator--44444444-0000-4000-8000-000000000001")
	sme := h.Users["sme.analyst"]
	status, body, hdr := basicGet(t, h, sme, "/api/v1/intel/export/blocklist/ipv4")
	if status != 200 || body != "198.51.100.7\n" || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Errorf("ipv4 block list: %d %q", status, body)
	}
	if _, body, _ := basicGet(t, h, sme, "/api/v1/intel/export/blocklist/domain"); body != "login-bank.example\n" {
		t.Errorf("domain block list (an AND pattern's value is not enough alone): %q", body)
	}
	if _, body, _ := basicGet(t, h, sme, "/api/v1/intel/export/blocklist/domain?min_confidence=50"); body != "" {
		t.Errorf("min_confidence keeps %q", body)
	}
	if _, body, _ := basicGet(t, h, sme, "/api/v1/intel/export/blocklist/ipv4?max_tlp=GREEN"); body != "198.51.100.7\n" {
		t.Errorf("max_tlp=GREEN: %q", body)
	}
	if _, body, _ := basicGet(t, h, sme, "/api/v1/intel/export/blocklist/url?max_tlp=CLEAR"); body != "" {
		t.Errorf("max_tlp=CLEAR keeps AMBER values: %q", body)
	}
	if _, body, _ := basicGet(t, h, h.Users["outsider.analyst"], "/api/v1/intel/export/blocklist/ipv4"); body != "" {
		t.Errorf("LEAK: the outsider's block list: %q", body)
	}
	if status, _, _ := basicGet(t, h, sme, "/api/v1/intel/export/blocklist/colours"); status != 404 {
		t.Errorf("an unknown block list: %d", status)
	}
	req, _ := http.NewRequest("GET", h.URL+"/api/v1/intel/export/blocklist/ipv4", nil)
	req.SetBasicAuth(h.Users["cloud.analyst"].Email, sme.ReadToken) // another person's token
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("a token with another person's e-mail: %v %v", resp, err)
	}
	_, csvBody, _ := basicGet(t, h, sme, "/api/v1/intel/export/values.csv")
	if !strings.HasPrefix(csvBody, "kind,value,stix_id,") || !strings.Contains(csvBody, "ipv4,198.51.100.7,indicator--44444444-0000-4000-8000-000000000001,indicator,c2,90,") ||
		strings.Contains(csvBody, "198.51.100.8") || strings.Contains(csvBody, "198.51.100.9") {
		t.Errorf("CSV: %s", csvBody)
	}
	_, stixBody, _ := basicGet(t, h, sme, "/api/v1/intel/export/bundle?type=indicator")
	var b struct {
		Type    string
		Objects []struct{ ID string }
	}
	if err := json.Unmarshal([]byte(stixBody), &b); err != nil || b.Type != "bundle" || len(b.Objects) != 4 {
		t.Errorf("bundle export (4 valid, not revoked): %v %d %.300s", err, len(b.Objects), stixBody)
	}
	_, stixBody, _ = basicGet(t, h, sme, "/api/v1/intel/export/bundle?type=indicator&include_expired=1")
	if err := json.Unmarshal([]byte(stixBody), &b); err != nil || len(b.Objects) != 5 {
		t.Errorf("bundle export with expired: %d", len(b.Objects))
	}
}

// TestIntelEmitsValidSTIX: what the hub writes itself (a sighting, the
// demo's bundles as exported) validates against the official STIX 2.1
// schemas and the specification's rules.
func TestIntelEmitsValidSTIX(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	const ind = "indicator--66666666-0000-4000-8000-000000000001"
	id := importAs(t, h, "cloud.analyst", "community="+h.Circle, `{"type":"bundle","id":"bundle--66666666-0000-4000-8000-000000000009","objects":[
	 {"type":"indicator","spec_version":"2.1","id":"`+ind+`","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"x",
	  "pattern":"[ipv4-addr:value = '203.0.113.99']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}`, ind)
	for _, body := range []map[string]any{{}, {"count": 3, "first_seen": "2026-01-02T00:00:00Z", "last_seen": "2026-01-03T00:00:00Z", "description": "d", "tlp": "AMBER"}} {
		r := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/intel/objects/"+id+"/sightings", body)
		if r.Status != http.StatusCreated {
			t.Fatalf("sighting: %d %s", r.Status, r.Body)
		}
		var s struct{ STIX json.RawMessage }
		r.JSON(t, &s)
		checkSTIX(t, s.STIX)
	}
	_, raw, _ := basicGet(t, h, h.Users["cloud.analyst"], "/api/v1/intel/export/bundle")
	dec := stix.NewDecoder(strings.NewReader(raw))
	n := 0
	for o, err := range dec.All() {
		if err != nil {
			t.Fatalf("the exported bundle: %v", err)
		}
		checkSTIX(t, o.Raw())
		n++
	}
	if n < 2 || dec.BundleErr() != nil {
		t.Errorf("the exported bundle: %d objects, %v", n, dec.BundleErr())
	}
}

var schemas = stix.NewSchemas()

func checkSTIX(t *testing.T, raw []byte) {
	t.Helper()
	o, err := stix.ParseObject(raw)
	if err != nil {
		t.Fatalf("not a STIX object: %v: %s", err, raw)
	}
	if err := stix.Validate(o); err != nil {
		t.Errorf("%s breaks the specification's rules: %v", o.ID(), err)
	}
	if err := schemas.Validate(o); err != nil {
		t.Errorf("%s fails the official schema: %v", o.ID(), err)
	}
}

// TestIntelBlockListsCannotBeSteered: an indicator's value cannot add
// lines of its own choosing to other orgs' block lists, nor get the hub,
// a resolver, a private range or half the Internet onto them, however
// it is written.
func TestIntelBlockListsCannotBeSteered(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	var objs []string
	for i, p := range []string{
		"[domain-name:value = 'evil.example\n127.0.0.1']",
		"[url:value = 'http://evil2.example/\nhttp://127.0.0.1:8080/']",
		"[url:value = 'http://[::1]:443/']",
		"[url:value = 'http://[::ffff:127.0.0.1]:8080/']",
		"[url:value = 'http://127.0.0.1:8080\\\\@evil.example/']",
		"[ipv4-addr:value ISSUBSET '::ffff:10.0.0.0/104']",
		"[ipv4-addr:value ISSUBSET '::ffff:8.8.8.0/120']",
		"[ipv4-addr:value ISSUBSET '4.0.0.0/6']",
		"[domain-name:value = 'dns.google']",
		"[ipv4-addr:value = '::ffff:8.8.8.8']",
		"[url:value = 'http://ok.example/x']",
	} {
		b, _ := json.Marshal(map[string]any{"type": "indicator", "spec_version": "2.1", "id": fmt.Sprintf("indicator--77777777-0000-4000-8000-0000000000%02d", i),
			"created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "x", "pattern": p, "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"})
		objs = append(objs, string(b))
	}
	bundle := `{"type":"bundle","id":"bundle--77777777-0000-4000-8000-000000000099","objects":[` + strings.Join(objs, ",") + `]}`
	req, _ := http.NewRequest("POST", h.URL+"/api/v1/intel/bundles?community="+h.Circle+"&tlp=GREEN", strings.NewReader(bundle))
	req.Header.Set("Authorization", "Bearer "+h.Users["cloud.analyst"].WriteToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sme := h.Users["sme.analyst"]
	all := ""
	for _, kind := range []string{"ipv4", "ipv6", "cidr", "domain", "url"} {
		_, body, _ := basicGet(t, h, sme, "/api/v1/intel/export/blocklist/"+kind)
		all += body
	}
	if all != "http://ok.example/x\n" {
		t.Errorf("the block lists carry %q, want only http://ok.example/x", all)
	}
}

// TestIntelTruncatedBundle: a bundle that breaks off keeps what came
// before it and says that it broke off, through the API and over TAXII.
func TestIntelTruncatedBundle(t *testing.T) { eachEngine(t, testIntelTruncatedBundle) }

func testIntelTruncatedBundle(t *testing.T, e db.Dialect) {
	h := apptest.WorldCovering(t, e)
	obj := `{"type":"malware","spec_version":"2.1","id":"malware--88888888-0000-4000-8000-000000000001","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"m","is_family":true}`
	req, _ := http.NewRequest("POST", h.URL+"/api/v1/intel/bundles", strings.NewReader(`{"type":"bundle","id":"bundle--88888888-0000-4000-8000-000000000009","objects":[`+obj+`,{"type":"malw`))
	req.Header.Set("Authorization", "Bearer "+h.Users["sme.analyst"].WriteToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Accepted     int
		StoppedEarly string `json:"stopped_early"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&rep)
	resp.Body.Close()
	if resp.StatusCode != 200 || rep.Accepted != 1 || rep.StoppedEarly == "" {
		t.Errorf("a cut bundle: %d %+v", resp.StatusCode, rep)
	}
	sme := taxiiClient{t, h, h.Users["sme.analyst"]}
	st := sme.post("/taxii2/"+h.Orgs["sme"]+"/collections/own/objects/", `{"objects":[`+strings.Replace(obj, "000000000001", "000000000002", 1)+`,{"type`)
	if st.status != 202 || st.body["success_count"] != 1.0 || st.body["failure_count"] != 1.0 {
		t.Errorf("a cut envelope: %d %s", st.status, st.raw)
	}
}

// TestIntelHiddenNewerVersion: a newer version an org keeps to itself
// neither takes the older shared one away from the circle (which would
// tell of the newer) nor shows the older to the org as current.
func TestIntelHiddenNewerVersion(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		h := apptest.WorldCovering(t, e)
		v1 := `{"type":"malware","spec_version":"2.1","id":"malware--99999999-0000-4000-8000-000000000001","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"shared","is_family":true}`
		v2 := strings.Replace(strings.Replace(v1, `"modified":"2026-01-01T00:00:00.000Z"`, `"modified":"2026-02-01T00:00:00.000Z"`, 1), `"shared"`, `"internal"`, 1)
		importAs(t, h, "cert.analyst", "community="+h.Circle, `{"type":"bundle","id":"bundle--99999999-0000-4000-8000-000000000008","objects":[`+v1+`]}`, "malware--99999999-0000-4000-8000-000000000001")
		req, _ := http.NewRequest("POST", h.URL+"/api/v1/intel/bundles", strings.NewReader(`{"type":"bundle","id":"bundle--99999999-0000-4000-8000-000000000009","objects":[`+v2+`]}`))
		req.Header.Set("Authorization", "Bearer "+h.Users["cert.analyst"].WriteToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		names := func(user, path string) []string {
			var list struct{ Items []struct{ Name string } }
			h.API(t, h.Users[user].ReadToken, "GET", path, nil).JSON(t, &list)
			var out []string
			for _, it := range list.Items {
				out = append(out, it.Name)
			}
			return out
		}
		const q = "/api/v1/intel/objects?stix_id=malware--99999999-0000-4000-8000-000000000001"
		if got := fmt.Sprint(names("cloud.analyst", q)); got != "[shared]" {
			t.Errorf("the circle's member sees %s, want [shared]", got)
		}
		if got := fmt.Sprint(names("cert.analyst", q)); got != "[internal]" {
			t.Errorf("the owner sees %s, want [internal]", got)
		}
		cloud := taxiiClient{t, h, h.Users["cloud.analyst"]}
		if got := cloud.get("/taxii2/" + h.Circle + "/collections/circle/objects/malware--99999999-0000-4000-8000-000000000001/"); got.status != 200 {
			t.Errorf("TAXII: the shared version is gone for the circle: %d", got.status)
		}
	})
}

// TestIntelUnmarkedGoesOutMarked: an object that came without any marking
// leaves the hub (TAXII, the bundle export) with the TLP marking of the
// level it was given, so the next system does not take it for
// unrestricted; a marked one leaves as it came.
func TestIntelUnmarkedGoesOutMarked(t *testing.T) { eachEngine(t, testIntelUnmarkedGoesOutMarked) }

func testIntelUnmarkedGoesOutMarked(t *testing.T, e db.Dialect) {
	h := apptest.WorldCovering(t, e)
	mal := `{"type":"malware","spec_version":"2.1","id":"malware--aaaaaaaa-0000-4000-8000-000000000001","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"m","is_family":true}`
	importAs(t, h, "cert.analyst", "community="+h.Circle+"&tlp=AMBER", `{"type":"bundle","id":"bundle--aaaaaaaa-0000-4000-8000-000000000009","objects":[`+mal+`]}`, "malware--aaaaaaaa-0000-4000-8000-000000000001")
	const amber = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
	got := taxiiClient{t, h, h.Users["sme.analyst"]}.get("/taxii2/" + h.Circle + "/collections/circle/objects/malware--aaaaaaaa-0000-4000-8000-000000000001/")
	if !strings.Contains(got.raw, amber) {
		t.Errorf("TAXII hands out the AMBER object unmarked: %s", got.raw)
	}
	if _, body, _ := basicGet(t, h, h.Users["sme.analyst"], "/api/v1/intel/export/bundle?type=malware"); !strings.Contains(body, amber) {
		t.Errorf("the export hands out the AMBER object unmarked: %s", body)
	}
}

// TestIntelSearchFindsWhatAnalystsType: an ATT&CK id and a STIX id find
// their object, relationships stay out of a search unless asked for, the
// type filter holds with a query, and an object page takes a STIX id.
func TestIntelSearchFindsWhatAnalystsType(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	ap := `{"type":"attack-pattern","spec_version":"2.1","id":"attack-pattern--bbbbbbbb-0000-4000-8000-000000000001","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"Phishing","external_references":[{"source_name":"mitre-attack","external_id":"T1660"}]}`
	rel := `{"type":"relationship","spec_version":"2.1","id":"relationship--bbbbbbbb-0000-4000-8000-000000000002","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","relationship_type":"uses","description":"uses phishing","source_ref":"attack-pattern--bbbbbbbb-0000-4000-8000-000000000001","target_ref":"attack-pattern--bbbbbbbb-0000-4000-8000-000000000001"}`
	importAs(t, h, "cert.analyst", "community="+h.Circle+"&tlp=GREEN", `{"type":"bundle","id":"bundle--bbbbbbbb-0000-4000-8000-000000000009","objects":[`+ap+`,`+rel+`]}`, "attack-pattern--bbbbbbbb-0000-4000-8000-000000000001")
	types := func(q string) []string {
		var list struct{ Items []struct{ Type string } }
		h.API(t, h.Users["sme.analyst"].ReadToken, "GET", "/api/v1/intel/objects?"+q, nil).JSON(t, &list)
		var out []string
		for _, it := range list.Items {
			out = append(out, it.Type)
		}
		return out
	}
	for q, want := range map[string]string{
		"q=phishing":                   "[attack-pattern]",
		"q=T1660":                      "[attack-pattern]",
		"q=phishing&type=relationship": "[relationship]",
		"q=attack-pattern--bbbbbbbb-0000-4000-8000-000000000001": "[attack-pattern]",
	} {
		if got := fmt.Sprint(types(q)); got != want {
			t.Errorf("?%s finds %s, want %s", q, got, want)
		}
	}
	b := h.Login(t, h.Users["sme.analyst"])
	if r := b.Get(t, "/intel/objects/attack-pattern--bbbbbbbb-0000-4000-8000-000000000001"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/intel/objects/") {
		t.Errorf("an object page by STIX id: %d %s", r.Status, r.Header.Get("Location"))
	}
	out := h.Login(t, h.Users["outsider.analyst"])
	if r := out.Get(t, "/intel/objects/attack-pattern--bbbbbbbb-0000-4000-8000-000000000001"); r.Status != http.StatusNotFound {
		t.Errorf("the outsider's object page by STIX id: %d", r.Status)
	}
}

// TestIntelSecondHolderCannotVersion: another org importing a "newer
// version" of an object under the same STIX id (a forged revocation) does
// not pass for the creator's update for readers who see the creator's
// copy; the creator still deletes its own object over TAXII.
func TestIntelSecondHolderCannotVersion(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		h := apptest.WorldCovering(t, e)
		const id = "indicator--cccccccc-0000-4000-8000-000000000001"
		v1 := `{"type":"indicator","spec_version":"2.1","id":"` + id + `","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"real","pattern":"[ipv4-addr:value = '198.51.100.61']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`
		forged := strings.Replace(strings.Replace(v1, `"modified":"2026-01-01T00:00:00.000Z"`, `"modified":"2026-03-01T00:00:00.000Z","revoked":true`, 1), `"real"`, `"forged"`, 1)
		importAs(t, h, "cert.analyst", "community="+h.Circle, `{"type":"bundle","id":"bundle--cccccccc-0000-4000-8000-000000000008","objects":[`+v1+`]}`, id)
		req, _ := http.NewRequest("POST", h.URL+"/api/v1/intel/bundles?community="+h.Circle, strings.NewReader(`{"type":"bundle","id":"bundle--cccccccc-0000-4000-8000-000000000009","objects":[`+forged+`]}`))
		req.Header.Set("Authorization", "Bearer "+h.Users["cloud.analyst"].WriteToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		sme := taxiiClient{t, h, h.Users["sme.analyst"]}
		circle := "/taxii2/" + h.Circle + "/collections/circle/objects/" + id + "/"
		got := sme.get(circle)
		if len(ids(got, "objects")) != 1 || strings.Contains(got.raw, "forged") {
			t.Errorf("a circle member gets %s, want the creator's version only", got.raw)
		}
		if v := sme.get(circle + "versions/"); fmt.Sprint(v.body["versions"]) != "[2026-01-01T00:00:00.000Z]" {
			t.Errorf("versions: %s", v.raw)
		}
		cert := taxiiClient{t, h, h.Users["cert.analyst"]}
		if d := cert.do("DELETE", circle, nil, ""); d.status != 200 {
			t.Errorf("the creator deletes its object: %d %s", d.status, d.raw)
		}
	})
}

// TestIntelMarkingAfterUse: a marking definition later in a bundle that
// sets a stricter level takes back the objects that named it before (the
// order of a bundle must not lower a level); a statement marking at the
// end, as ATT&CK has, changes nothing.
func TestIntelMarkingAfterUse(t *testing.T) { eachEngine(t, testIntelMarkingAfterUse) }

func testIntelMarkingAfterUse(t *testing.T, e db.Dialect) {
	h := apptest.WorldCovering(t, e)
	const md = "marking-definition--dddddddd-0000-4000-8000-000000000001"
	obj := `{"type":"malware","spec_version":"2.1","id":"malware--dddddddd-0000-4000-8000-000000000002","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"secret","is_family":true,"object_marking_refs":["` + md + `"]}`
	red := `{"type":"marking-definition","spec_version":"2.1","id":"` + md + `","created":"2026-01-01T00:00:00.000Z","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"red"}}}`
	req, _ := http.NewRequest("POST", h.URL+"/api/v1/intel/bundles?community="+h.Circle, strings.NewReader(`{"type":"bundle","id":"bundle--dddddddd-0000-4000-8000-000000000009","objects":[`+obj+`,`+red+`]}`))
	req.Header.Set("Authorization", "Bearer "+h.Users["cert.analyst"].WriteToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct{ Accepted, Rejected int }
	_ = json.NewDecoder(resp.Body).Decode(&rep)
	resp.Body.Close()
	if rep.Rejected < 1 {
		t.Errorf("the object marked RED after the fact was kept: %+v", rep)
	}
	var list struct{ Items []struct{ Name string } }
	h.API(t, h.Users["sme.analyst"].ReadToken, "GET", "/api/v1/intel/objects?stix_id=malware--dddddddd-0000-4000-8000-000000000002", nil).JSON(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("LEAK: a circle member reads the object its own marking makes RED: %+v", list)
	}
}

// postBundle imports a bundle through the API as user and fails the test
// unless every object was taken.
func postBundle(t *testing.T, h *apptest.Hub, user, query, bundle string) {
	t.Helper()
	req, _ := http.NewRequest("POST", h.URL+"/api/v1/intel/bundles?"+query, bytes.NewReader([]byte(bundle)))
	req.Header.Set("Authorization", "Bearer "+h.Users[user].WriteToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"rejected":0`)) {
		t.Fatalf("import as %s: %d %s", user, resp.StatusCode, b)
	}
}

// TestIntelLookupFollowsTheStore: lookups skip values no org stores (the
// value filter), and the filter follows every change: a value imported
// after the first lookup is found, a deleted one is gone, and a value
// whose row takes the place of a deleted one (SQLite gives the rowids of
// the newest rows out again once they are deleted) is found too.
func TestIntelLookupFollowsTheStore(t *testing.T) { eachEngine(t, testIntelLookupFollowsTheStore) }

func testIntelLookupFollowsTheStore(t *testing.T, e db.Dialect) {
	h := apptest.WorldCovering(t, e)
	indicator := func(n int, value string) string {
		return fmt.Sprintf(`{"type":"bundle","id":"bundle--0a1b2c3d-0000-4000-8000-%012d","objects":[
		 {"type":"indicator","spec_version":"2.1","id":"indicator--33333333-0000-4000-8000-%012d","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"i",
		  "pattern":"[ipv4-addr:value = '%s']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}`, n, n, value)
	}
	matches := func(value string) int {
		t.Helper()
		r := h.API(t, h.Users["cert.analyst"].ReadToken, "GET", "/api/v1/intel/lookup?value="+value, nil)
		var ans struct{ Results []struct{ Matches []any } }
		r.JSON(t, &ans)
		if r.Status != 200 || len(ans.Results) != 1 {
			t.Fatalf("lookup %s: %d %s", value, r.Status, r.Body)
		}
		return len(ans.Results[0].Matches)
	}
	if matches("198.51.100.10") != 0 {
		t.Fatal("a value nobody stores matches")
	}
	first := importAs(t, h, "cert.analyst", "tlp=AMBER", indicator(1, "198.51.100.10"), "indicator--33333333-0000-4000-8000-000000000001")
	if matches("198.51.100.10") != 1 {
		t.Error("a value imported after a lookup is not found")
	}
	if r := h.API(t, h.Users["cert.analyst"].WriteToken, "DELETE", "/api/v1/intel/objects/"+first, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if matches("198.51.100.10") != 0 {
		t.Error("a deleted value still matches")
	}
	importAs(t, h, "cert.analyst", "tlp=AMBER", indicator(2, "198.51.100.11"), "indicator--33333333-0000-4000-8000-000000000002")
	if matches("198.51.100.11") != 1 {
		t.Error("a value stored in the place of a deleted one is not found")
	}
	if matches("198.51.100.10") != 0 {
		t.Error("the deleted value matches again")
	}
}

// TestIntelListTakesNewObjectsLive: an import announces its batch to the
// open intel lists of those who may see it (one event a batch), and the
// rows the event points to hold only what the reader may see.
func TestIntelListTakesNewObjectsLive(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	member := openStream(t, h.URL, h.Users["sme.analyst"].ReadToken, "?topic=intel")
	outsider := openStream(t, h.URL, h.Users["outsider.analyst"].ReadToken, "?topic=intel")
	bundle := `{"type":"bundle","id":"bundle--0a1b2c3d-0000-4000-8000-0000000000a1","objects":[
	 {"type":"indicator","spec_version":"2.1","id":"indicator--44444444-0000-4000-8000-000000000001","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"Livekampagne C2",
	  "pattern":"[ipv4-addr:value = '198.51.100.44']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"},
	 {"type":"relationship","spec_version":"2.1","id":"relationship--44444444-0000-4000-8000-000000000002","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","relationship_type":"related-to",
	  "source_ref":"indicator--44444444-0000-4000-8000-000000000001","target_ref":"indicator--44444444-0000-4000-8000-000000000001"}]}`
	postBundle(t, h, "cert.analyst", "community="+h.Circle+"&tlp=AMBER", bundle)
	var fragment string
	deadline := time.After(5 * time.Second)
	for fragment == "" {
		select {
		case e := <-member.events:
			if e["type"] == "intel.added" {
				fragment = e["fragment"]
			}
		case <-deadline:
			t.Fatal("the circle member's intel list got no event for the import")
		}
	}
	page := h.Login(t, h.Users["sme.analyst"]).Get(t, fragment)
	if page.Status != 200 || !strings.Contains(string(page.Body), "Livekampagne C2") || !strings.Contains(string(page.Body), `<tr id="intel-`) {
		t.Errorf("the rows of the new objects: %d %s", page.Status, page.Body)
	}
	if strings.Contains(string(page.Body), "relationship--") || strings.Count(string(page.Body), "<tr ") != 1 {
		t.Errorf("the rows list relationships, which the list leaves out: %s", page.Body)
	}
	// Outside the circle: no event, and the same rows are empty.
	select {
	case e := <-outsider.events:
		if e["type"] == "intel.added" {
			t.Errorf("LEAK: the outsider's intel list is told of the import: %v", e)
		}
	case <-time.After(300 * time.Millisecond):
	}
	if other := h.Login(t, h.Users["outsider.analyst"]).Get(t, fragment); other.Status != 200 || strings.Contains(string(other.Body), "<tr") {
		t.Errorf("LEAK: the outsider's rows: %d %s", other.Status, other.Body)
	}
	// The first page says it takes them; a filtered one does not.
	b := h.Login(t, h.Users["sme.analyst"])
	if body := string(b.Get(t, "/intel").Body); !strings.Contains(body, `data-live-list="intel.added"`) || !strings.Contains(body, `data-live="/events?topic=intel"`) {
		t.Error("the intel list does not take new objects live")
	}
	if body := string(b.Get(t, "/intel?type=indicator").Body); strings.Contains(body, `data-live-list="intel.added"`) {
		t.Error("a filtered intel list takes every new object live")
	}
	if r := b.Get(t, "/intel/added?from=5&to=1"); r.Status != 400 {
		t.Errorf("a range backwards: %d", r.Status)
	}
}

// TestIntelExportLeavesNoDanglingRelationship: the bundle export leaves
// out revoked objects and, with them, the relationships to them (ATT&CK's
// revoked-by); a revocation the reader cannot see changes nothing.
func TestIntelExportLeavesNoDanglingRelationship(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	const ts = `"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z"`
	obj := func(typ, n, extra string) string {
		return `{"type":"` + typ + `","spec_version":"2.1","id":"` + typ + `--55555555-0000-4000-8000-00000000000` + n + `",` + ts + extra + `}`
	}
	rel := func(n, kind, src, dst string) string {
		return obj("relationship", n, `,"relationship_type":"`+kind+`","source_ref":"`+src+`","target_ref":"`+dst+`"`)
	}
	old, successor := "attack-pattern--55555555-0000-4000-8000-000000000001", "attack-pattern--55555555-0000-4000-8000-000000000002"
	mal := "malware--55555555-0000-4000-8000-000000000003"
	bundle := `{"type":"bundle","id":"bundle--55555555-0000-4000-8000-0000000000b1","objects":[` +
		obj("attack-pattern", "1", `,"name":"old technique","revoked":true`) + `,` + obj("attack-pattern", "2", `,"name":"new technique"`) + `,` +
		obj("malware", "3", `,"name":"m","is_family":true`) + `,` +
		rel("4", "revoked-by", old, successor) + `,` + rel("5", "uses", mal, successor) + `]}`
	postBundle(t, h, "cert.analyst", "community="+h.Circle+"&tlp=GREEN", bundle)
	// sme relates its own malware to a technique cert revoked in its org
	// only: sme cannot see that revocation.
	hidden := "attack-pattern--55555555-0000-4000-8000-000000000006"
	postBundle(t, h, "cert.analyst", "tlp=AMBER", `{"type":"bundle","id":"bundle--55555555-0000-4000-8000-0000000000b2","objects":[`+
		obj("attack-pattern", "6", `,"name":"cert's own","revoked":true`)+`]}`)
	postBundle(t, h, "sme.analyst", "tlp=AMBER", `{"type":"bundle","id":"bundle--55555555-0000-4000-8000-0000000000b3","objects":[`+
		rel("7", "uses", mal, hidden)+`]}`)

	_, body, _ := basicGet(t, h, h.Users["sme.analyst"], "/api/v1/intel/export/bundle")
	for _, gone := range []string{old, "relationship--55555555-0000-4000-8000-000000000004"} {
		if strings.Contains(body, `"id":"`+gone+`"`) {
			t.Errorf("the export holds %s", gone)
		}
	}
	for _, kept := range []string{successor, mal, "relationship--55555555-0000-4000-8000-000000000005", "relationship--55555555-0000-4000-8000-000000000007"} {
		if !strings.Contains(body, `"id":"`+kept+`"`) {
			t.Errorf("the export lacks %s", kept)
		}
	}
}

// TestIntelExportPages: the CSV and block-list exports read their values
// a page (500) at a time by the values' key (kind, value, object): 700
// indicators over 300 addresses, two or three objects to an address, come
// out as 700 CSV lines and 300 block-list lines, each once, in order.
func TestIntelExportPages(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		h := apptest.WorldCovering(t, e)
		var b strings.Builder
		b.WriteString(`{"type":"bundle","id":"bundle--88888888-0000-4000-8000-000000000000","objects":[`)
		addr := func(i int) string {
			if i < 256 {
				return fmt.Sprintf("198.51.100.%d", i)
			}
			return fmt.Sprintf("203.0.113.%d", i-256)
		}
		for i := range 700 {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"type":"indicator","spec_version":"2.1","id":"indicator--88888888-0000-4000-8000-%012d","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"n%d","pattern":"[ipv4-addr:value = '%s']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, i, i, addr(i%300))
		}
		b.WriteString("]}")
		importAs(t, h, "cert.analyst", "community="+h.Circle+"&tlp=GREEN", b.String(), "indicator--88888888-0000-4000-8000-000000000000")
		sme := h.Users["sme.analyst"]
		_, csvBody, _ := basicGet(t, h, sme, "/api/v1/intel/export/values.csv")
		lines := strings.Split(strings.TrimSpace(csvBody), "\n")[1:]
		seen := map[string]bool{}
		for _, l := range lines {
			f := strings.Split(l, ",")
			if len(f) < 3 || seen[f[1]+" "+f[2]] {
				t.Fatalf("a CSV line twice or short: %q", l)
			}
			seen[f[1]+" "+f[2]] = true
		}
		if len(lines) != 700 {
			t.Errorf("the CSV export has %d lines, want 700", len(lines))
		}
		_, block, _ := basicGet(t, h, sme, "/api/v1/intel/export/blocklist/ipv4")
		values := strings.Fields(block)
		if len(values) != 300 || !slices.IsSorted(values) || len(slices.Compact(slices.Clone(values))) != 300 {
			t.Errorf("the block list has %d addresses (want 300, each once, sorted)", len(values))
		}
	})
}

// writeHook calls fn before the first write that reaches it.
type writeHook struct {
	w    io.Writer
	fn   func()
	done bool
}

func (h *writeHook) Write(p []byte) (int, error) {
	if !h.done {
		h.done = true
		h.fn()
	}
	return h.w.Write(p)
}

// TestIntelExportEndsWithTheAgreement: an export reads a page at a time
// for up to a minute; when the reader's org leaves the agreement that
// gave it the circle's intelligence while it runs, what it reads next is
// judged by the new state (attack review: an indicator shared after the
// revocation still came out).
func TestIntelExportEndsWithTheAgreement(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		h := apptest.WorldCovering(t, e)
		bundle := func(from, n int) string {
			var b strings.Builder
			b.WriteString(`{"type":"bundle","id":"bundle--99999999-0000-4000-8000-000000000000","objects":[`)
			for i := from; i < from+n; i++ {
				if i > from {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `{"type":"indicator","spec_version":"2.1","id":"indicator--99999999-0000-4000-8000-%012d","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"n%d","pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, i, i, i%250)
			}
			b.WriteString("]}")
			return b.String()
		}
		const late = "indicator--99999999-0000-4000-8000-000000099999"
		importAs(t, h, "cert.analyst", "community="+h.Circle+"&tlp=GREEN", bundle(0, 600), "indicator--99999999-0000-4000-8000-000000000000")
		ctx := context.Background()
		var out strings.Builder
		w := &writeHook{w: &out, fn: func() {
			if _, err := h.App.Agreements.Revoke(ctx, h.Users["sme.admin"].Actor, h.Charter); err != nil {
				t.Errorf("sme leaves the charter: %v", err)
			}
			importAs(t, h, "cert.analyst", "community="+h.Circle+"&tlp=GREEN", bundle(99999, 1), late)
		}}
		if err := h.App.Intel.ExportBundle(ctx, h.Users["sme.analyst"].Actor, intel.ExportFilter{MaxTLP: policy.Red}, w); err != nil {
			t.Fatal(err)
		}
		if !w.done {
			t.Fatal("the export wrote nothing")
		}
		if strings.Contains(out.String(), late) {
			t.Error("the export carried an indicator shared after sme left the charter")
		}
		if n := strings.Count(out.String(), `"type":"indicator"`); n >= 600 {
			t.Errorf("the export went on with the old agreement: %d indicators", n)
		}
	})
}

// attackForSME is a world with the ATT&CK bundle shared in the circle and
// a read token of sme.analyst's made for the test to revoke.
func attackForSME(t *testing.T) (*apptest.Hub, accounts.Token, string) {
	t.Helper()
	h := apptest.WorldCovering(t, db.SQLite)
	raw, err := os.ReadFile(sharedData(t, "attack/mobile-attack-17.1.json"))
	if err != nil {
		t.Fatal(err)
	}
	postBundle(t, h, "cert.analyst", "community="+h.Circle+"&tlp=GREEN", string(raw))
	tok, secret, err := h.App.Accounts.CreateToken(context.Background(), policy.System("test"), h.Users["sme.analyst"].ID, accounts.NewToken{Scope: "read"})
	if err != nil {
		t.Fatal(err)
	}
	return h, tok, secret
}

// TestIntelExportRechecksTheCredential: before each page after the first
// an export asks whether its reader's credential is still good, and ends
// with the answer when it is not; the routes ask the hub
// (web.Server.CheckCredential), here a revoked token answers.
func TestIntelExportRechecksTheCredential(t *testing.T) {
	h, tok, secret := attackForSME(t)
	ctx := context.Background()
	sme := h.Users["sme.analyst"]
	cred := web.Credential{Token: secret, IP: "127.0.0.1"}
	// The block lists take HTTP Basic: its user name must still be the
	// token's holder.
	basic := web.Credential{Basic: true, BasicUser: sme.Email, Token: sme.ReadToken, IP: "127.0.0.1"}
	if err := h.App.Web.CheckCredential(ctx, basic, sme.Actor); err != nil {
		t.Errorf("a good Basic credential: %v", err)
	}
	basic.BasicUser = h.Users["cloud.analyst"].Email
	if err := h.App.Web.CheckCredential(ctx, basic, sme.Actor); err == nil {
		t.Error("a Basic credential with another person's name passed")
	}
	var out strings.Builder
	asked := 0
	rctx := web.WithRecheck(ctx, func(ctx context.Context) error {
		asked++
		if asked == 2 {
			if err := h.App.Accounts.RevokeToken(ctx, sme.Actor, tok.ID); err != nil {
				t.Fatal(err)
			}
		}
		return h.App.Web.CheckCredential(ctx, cred, sme.Actor)
	})
	err := h.App.Intel.ExportBundle(rctx, sme.Actor, intel.ExportFilter{MaxTLP: policy.Red}, &out)
	if e, ok := fault.As(err); !ok || e.Kind != fault.Unauthenticated {
		t.Errorf("the export after its token was revoked: %v, want unauthenticated", err)
	}
	// ATT&CK's objects have a spec_version but for a few: the first two
	// pages hold at most 1,000 of them, the whole export about 2,000.
	if n := strings.Count(out.String(), `"spec_version"`); asked != 2 || n <= 500 || n > 1000 {
		t.Errorf("asked %d times, %d objects written; want 2 and the first two pages", asked, n)
	}
}

// TestIntelExportCutIsBroken: a download cut short (here: its token was
// revoked while its first page waited for the client) must not end like a
// whole one: the hub breaks the connection off, and the client's read
// fails instead of returning a shorter bundle.
func TestIntelExportCutIsBroken(t *testing.T) {
	h, tok, secret := attackForSME(t)
	ctx := context.Background()
	sme := h.Users["sme.analyst"]
	req, _ := http.NewRequest("GET", h.URL+"/api/v1/intel/export/bundle", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The first page (500 objects, about a megabyte) does not fit the
	// sockets' buffers while nothing is read: the hub waits inside it.
	if err := h.App.Accounts.RevokeToken(ctx, sme.Actor, tok.ID); err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || err == nil {
		t.Errorf("an export cut by its revoked token: status %d, read error %v, %d bytes (want a broken-off answer)", resp.StatusCode, err, len(body))
	}
	if n := strings.Count(string(body), `"spec_version"`); n > 1500 {
		t.Errorf("the export went on after its token was revoked: %d objects", n)
	}
}

// revokeAt is a request body that calls fn once its reader has passed at
// bytes.
type revokeAt struct {
	r    io.Reader
	at   int
	read int
	fn   func()
}

func (b *revokeAt) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.read < b.at && b.read+n >= b.at {
		b.fn()
	}
	b.read += n
	return n, err
}

// TestIntelImportEndsWithItsToken: a long import stores batch by batch
// (5,000 objects each); a token revoked while it runs ends it before its
// next batch, as for an export's next page (static review).
func TestIntelImportEndsWithItsToken(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	ctx := context.Background()
	cert := h.Users["cert.analyst"]
	tok, secret, err := h.App.Accounts.CreateToken(ctx, policy.System("test"), cert.ID, accounts.NewToken{Scope: "write"})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(`{"type":"bundle","id":"bundle--aaaaaaaa-0000-4000-8000-000000000000","objects":[`)
	for i := range 6000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"type":"indicator","spec_version":"2.1","id":"indicator--aaaaaaaa-0000-4000-8000-%012d","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"n%d","pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, i, i, i%250)
	}
	b.WriteString("]}")
	// At 95 % of the body the hub has had the first 5,000 objects to
	// read; the body waits until it has stored them, then the token is
	// revoked (revoked earlier, the request would be refused whole).
	body := &revokeAt{r: strings.NewReader(b.String()), at: b.Len() * 95 / 100, fn: func() {
		for range 200 {
			var n int
			if err := h.App.DB.R().QueryRow(ctx, `SELECT COUNT(*) FROM intel_objects WHERE org_id = ?`, cert.OrgID).Scan(&n); err == nil && n >= 5000 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err := h.App.Accounts.RevokeToken(ctx, cert.Actor, tok.ID); err != nil {
			t.Error(err)
		}
	}}
	req, _ := http.NewRequest("POST", h.URL+"/api/v1/intel/bundles?community="+h.Circle+"&tlp=GREEN", body)
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/stix+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep struct {
		Accepted     int
		StoppedEarly string `json:"stopped_early"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &rep); err != nil || rep.Accepted != 5000 || rep.StoppedEarly == "" {
		t.Errorf("an import whose token was revoked at 95 %%: %d %.300s (want the first batch only, and why it stopped)", resp.StatusCode, raw)
	}
}
