package app_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
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
