package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

func TestBadInputGetsClearErrorsAndWritesNothing(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	tok := h.Users["sme.analyst"].WriteToken
	admin := h.Users["sme.admin"].WriteToken
	threads := "/api/v1/channels/" + h.CircleChannel + "/threads"
	count := func() int {
		var n int
		if err := h.App.DB.R().QueryRow(context.Background(), `SELECT COUNT(*) FROM shares`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	cases := []struct {
		name, token, method, path string
		body                      any
		status                    int
		code                      string
	}{
		{"malformed json", tok, "POST", threads, `{"title": "x",`, 400, "malformed_json"},
		{"not an object", tok, "POST", threads, `[1,2]`, 400, "wrong_type"},
		{"unknown field", tok, "POST", threads, `{"title":"x","body":"y","tlp":"AMBER","colour":"red"}`, 400, "unknown_field"},
		{"two objects", tok, "POST", threads, `{"title":"x","body":"y","tlp":"AMBER"} {}`, 400, "malformed_json"},
		{"empty body", tok, "POST", threads, ``, 400, "body_missing"},
		{"oversize", tok, "POST", threads, `{"title":"x","body":"` + strings.Repeat("a", 2<<20) + `","tlp":"AMBER"}`, 413, "body_too_large"},
		{"bad tlp", tok, "POST", threads, map[string]any{"title": "x", "body": "y", "tlp": "PINK"}, 400, "bad_tlp"},
		{"tlp 1.0 white is clear", tok, "POST", threads, map[string]any{"title": "x", "body": "y", "tlp": "WHITE", "audience": "community"}, 201, ""},
		{"red to the circle", tok, "POST", threads, map[string]any{"title": "x", "body": "y", "tlp": "RED", "audience": "community"}, 400, "tlp_audience_mismatch"},
		{"unknown audience", tok, "POST", threads, map[string]any{"title": "x", "body": "y", "tlp": "GREEN", "audience": "world"}, 400, "bad_audience"},
		{"unknown org in audience", tok, "POST", threads, map[string]any{"title": "x", "body": "y", "tlp": "GREEN", "audience": "orgs", "orgs": []string{"nope"}}, 400, "outside_channel"},
		{"empty title", tok, "POST", threads, map[string]any{"title": " ", "body": "y", "tlp": "GREEN"}, 400, "bad_title"},
		{"wrong type", tok, "POST", threads, `{"title": 5, "body":"y","tlp":"GREEN"}`, 400, "wrong_type"},
		{"form instead of json", tok, "POST", threads, "title=x", 400, "malformed_json"},
		{"bad limit", tok, "GET", "/api/v1/posts?limit=0", nil, 400, "bad_limit"},
		{"bad cursor", tok, "GET", "/api/v1/posts?next=!!!!", nil, 400, "bad_cursor"},
		{"junk cursor that is base64", tok, "GET", "/api/v1/posts?next=zzz", nil, 400, "bad_cursor"},
		{"bad thread cursor", tok, "GET", threads + "?next=bm9jb2xvbg", nil, 400, "bad_cursor"},
		{"duplicate community", admin, "POST", "/api/v1/communities", map[string]any{"name": "mittelstand SÜD"}, 400, "name_taken"},
		{"duplicate email", admin, "POST", "/api/v1/users", map[string]any{"email": h.Users["sme.viewer"].Email, "role": "viewer", "password": apptest.Password}, 400, "email_taken"},
		{"weak password", admin, "POST", "/api/v1/users", map[string]any{"email": "new@x.example", "role": "viewer", "password": "short"}, 400, "weak_password"},
		{"bad role", admin, "POST", "/api/v1/users", map[string]any{"email": "new@x.example", "role": "god", "password": apptest.Password}, 400, "bad_role"},
		{"bad email", admin, "POST", "/api/v1/users", map[string]any{"email": "not-an-address", "role": "viewer", "password": apptest.Password}, 400, "bad_email"},
		{"bad category", admin, "POST", "/api/v1/agreements", map[string]any{"partner_org_id": h.Orgs["cloud"], "categories": []string{"gossip"}, "max_tlp": "GREEN", "retention_days": 30}, 400, "bad_category"},
		{"bad retention", admin, "POST", "/api/v1/agreements", map[string]any{"partner_org_id": h.Orgs["cloud"], "categories": []string{"log"}, "max_tlp": "GREEN", "retention_days": 0}, 400, "bad_retention"},
		{"bad date", admin, "POST", "/api/v1/agreements", map[string]any{"partner_org_id": h.Orgs["cloud"], "categories": []string{"log"}, "max_tlp": "GREEN", "retention_days": 3, "valid_until": "31.12.2026"}, 400, "bad_date"},
		{"unknown route", tok, "GET", "/api/v1/nothing", nil, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.API(t, c.token, c.method, c.path, c.body)
			if r.Status != c.status || (c.code != "" && r.ErrorCode() != c.code) {
				t.Errorf("status %d code %q, want %d %q: %s", r.Status, r.ErrorCode(), c.status, c.code, r.Body[:min(len(r.Body), 300)])
			}
			if c.status >= 400 && c.code != "" && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Errorf("error is not JSON: %s", r.Header.Get("Content-Type"))
			}
		})
	}
	if after := count(); after != before+2 { // the WHITE thread: thread + post
		t.Errorf("shares went from %d to %d: a refused request wrote something", before, after)
	}
}

func TestUnavailableDatabase(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	if r := h.API(t, "", "GET", "/readyz", nil); r.Status != 200 {
		t.Fatalf("readyz: %d", r.Status)
	}
	h.App.DB.Close()
	r := h.API(t, "", "GET", "/readyz", nil)
	if r.Status != http.StatusServiceUnavailable {
		t.Errorf("readyz with closed database: %d", r.Status)
	}
	r = h.API(t, h.Users["sme.analyst"].ReadToken, "GET", "/api/v1/posts", nil)
	if r.Status != http.StatusServiceUnavailable || r.ErrorCode() != "database_unavailable" {
		t.Errorf("API with closed database: %d %s", r.Status, r.Body)
	}
}

// TestReadOnlyDatabase: a database that still answers reads but refuses
// writes is not ready (a balancer must send writers elsewhere), and a
// write gets 503 with its own code, not 500; once it takes writes again,
// the hub is ready again.
func TestReadOnlyDatabase(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	ctx := context.Background()
	set := func(on bool) {
		t.Helper()
		if err := h.App.DB.SetQueryOnly(ctx, on); err != nil {
			t.Fatal(err)
		}
	}
	set(true)
	r := h.API(t, "", "GET", "/readyz", nil)
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "database_read_only") {
		t.Errorf("readyz on a read-only database: %d %s", r.Status, r.Body)
	}
	w := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/channels/"+h.CircleChannel+"/threads",
		map[string]any{"title": "t", "body": "b", "tlp": "GREEN", "audience": "community"})
	if w.Status != http.StatusServiceUnavailable || w.ErrorCode() != "database_read_only" {
		t.Errorf("a write to a read-only database: %d %s", w.Status, w.Body)
	}
	if r := h.API(t, h.Users["sme.analyst"].ReadToken, "GET", "/api/v1/posts", nil); r.Status != http.StatusOK {
		t.Errorf("reads from a read-only database: %d", r.Status)
	}
	set(false)
	if r := h.API(t, "", "GET", "/readyz", nil); r.Status != http.StatusOK {
		t.Errorf("readyz once writable again: %d %s", r.Status, r.Body)
	}
}
