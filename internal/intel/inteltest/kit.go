// Package inteltest describes threat intelligence to the hub-wide tests
// (internal/app): the authorization matrix rows of its routes (the JSON
// API and the TAXII server) and its shareable kind for the leak harness.
package inteltest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"verbund/internal/app/apptest"
	"verbund/internal/intel"
	"verbund/internal/policy"
)

// Kit is the intel capability's kit.
func Kit() apptest.Kit {
	return apptest.Kit{Name: "intel", Setup: setup, Rows: rows(), Kinds: []apptest.LeakKind{intelKind()}}
}

// indicator is a one-indicator bundle with a fresh id, name text and value.
func indicator(name string) (stixID, bundle string) {
	stixID = "indicator--" + uuid.NewString()
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	obj := map[string]any{"type": "indicator", "spec_version": "2.1", "id": stixID, "created": now, "modified": now,
		"name": name, "pattern": "[domain-name:value = '" + strings.ReplaceAll(name, " ", "-") + ".example'] OR [ipv4-addr:value = '" + addrOf(name) + "']", "pattern_type": "stix", "valid_from": now}
	b, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + uuid.NewString(), "objects": []any{obj}})
	return stixID, string(b)
}

// create imports one indicator as sme.analyst shared with aud at tlp and
// returns its STIX id and the hub's id of the version.
func create(t testing.TB, h *apptest.Hub, name, tlp string, aud policy.Audience) (stixID, id string) {
	t.Helper()
	a := h.Users["sme.analyst"].Actor
	stixID, bundle := indicator(name)
	rep, err := h.App.Intel.Import(context.Background(), a, strings.NewReader(bundle), intel.ImportOptions{TLP: tlp, Audience: aud, Via: "test"})
	if err != nil || rep.Accepted != 1 {
		t.Fatalf("import %s: %v %+v", name, err, rep)
	}
	objs, _, err := h.App.Intel.List(context.Background(), a, intel.Filter{IDs: []string{stixID}, All: true, Limit: 2})
	if err != nil || len(objs) != 1 {
		t.Fatalf("find %s: %v %v", name, err, objs)
	}
	return stixID, objs[0].ID
}

// setup makes sme's own AMBER indicator ({intel}: the hub's id, {stix}:
// its STIX id) and a TAXII status of sme.analyst ({status}).
func setup(t *testing.T, f *apptest.Fixture) {
	f.IDs["stix"], f.IDs["intel"] = create(t, f.Hub, "own "+f.Uniq(), "AMBER", policy.Audience{Kind: policy.AudOrg})
	_, bundle := indicator("status " + f.Uniq())
	req, _ := http.NewRequest("POST", f.Hub.URL+"/taxii2/"+f.Hub.Orgs["sme"]+"/collections/own/objects/", strings.NewReader(bundle))
	req.Header.Set("Authorization", "Bearer "+f.Hub.Users["sme.analyst"].WriteToken)
	req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("TAXII POST in setup: %d %v", resp.StatusCode, err)
	}
	f.IDs["status"] = st.ID
}

func fresh(t *testing.T, f *apptest.Fixture) (stixID, id string) {
	return create(t, f.Hub, "fresh "+f.Uniq(), "AMBER", policy.Audience{Kind: policy.AudOrg})
}

func rows() map[string]apptest.Row {
	const (
		// sme's own object, its org root and its statuses: sme only.
		own = apptest.OwnOrgAPI
		// The circle's API root: its members (nocontract too: it is a
		// member, without an agreement that would show it anything).
		circle = "anon=401 outsider=404 *=200"
		writer = apptest.WriterOnly
	)
	w, get, static, send := apptest.W, apptest.Get, apptest.Static, apptest.Send
	_, bundle := indicator("matrix")
	envelope := apptest.Raw{ContentType: "application/taxii+json;version=2.1", Body: bundle}
	freshSTIX := func(t *testing.T, f *apptest.Fixture) string { s, _ := fresh(t, f); return s }
	freshID := func(t *testing.T, f *apptest.Fixture) string { _, id := fresh(t, f); return id }
	upload := apptest.Raw{}
	upload.ContentType, upload.Body = uploadForm(map[string]string{"tlp": "AMBER"}, bundle)
	return map[string]apptest.Row{
		// The pages: every reader has them; sme's own object only sme.
		"GET /intel":                       {Req: static("/intel"), Want: w(apptest.PageRead)},
		"GET /intel/objects/{id}":          {Req: get("/intel/objects/{intel}"), Want: w(apptest.OwnOrgPage)},
		"GET /intel/objects/{id}/fragment": {Req: get("/intel/objects/{intel}/fragment"), Want: w(apptest.OwnOrgPage)},
		"GET /intel/added":                 {Req: static("/intel/added?from=1&to=9000000000000000"), Want: w(apptest.PageRead)},
		"POST /intel/objects/{id}/sightings": {Req: send("/intel/objects/{intel}/sightings", apptest.Form("count", "2")),
			Want: w(writer + " partner=404 coord=404 nocontract=404 outsider=404 *=303")},
		"GET /intel/lookup": {Req: static("/intel/lookup?value=198.51.100.3"), Want: w(apptest.PageRead)},
		// A lookup of many values only reads: read-only tokens may send it.
		"POST /intel/lookup": {Req: send("/intel/lookup", apptest.Form("values", "198.51.100.3\nexample.org")), Want: w("anon=401 *=200")},
		// Readers get the page without the form (their role may only read).
		"GET /intel/import":  {Req: static("/intel/import"), Want: w(apptest.PageRead)},
		"POST /intel/import": {Req: send("/intel/import", upload), Want: w(writer + " *=200")},
		"GET /intel/taxii":   {Req: static("/intel/taxii"), Want: w(apptest.PageRead)},

		"POST /api/v1/intel/bundles":        {Req: send("/api/v1/intel/bundles", apptest.Raw{ContentType: "application/stix+json", Body: bundle}), Want: w(writer + " *=200")},
		"GET /api/v1/intel/objects":         {Req: static("/api/v1/intel/objects"), Want: w(apptest.APIRead)},
		"GET /api/v1/intel/objects/{id}":    {Req: get("/api/v1/intel/objects/{intel}"), Want: w(own)},
		"DELETE /api/v1/intel/objects/{id}": {Req: apptest.Fresh(freshID, "/api/v1/intel/objects/{new}", nil), Want: w(writer + " partner=404 coord=404 nocontract=404 outsider=404 *=204")},
		// sme sights its own object (reported to itself, kept in the org).
		"POST /api/v1/intel/objects/{id}/sightings": {Req: send("/api/v1/intel/objects/{intel}/sightings", map[string]any{"count": 2}),
			Want: w(writer + " partner=404 coord=404 nocontract=404 outsider=404 *=201")},
		// Exports hold what the caller may see: any signed-in caller.
		"GET /api/v1/intel/export/bundle":             {Req: static("/api/v1/intel/export/bundle"), Want: w(apptest.APIRead)},
		"GET /api/v1/intel/export/values.csv":         {Req: static("/api/v1/intel/export/values.csv"), Want: w(apptest.APIRead)},
		"GET /api/v1/intel/export/blocklist/{kind}":   {Req: static("/api/v1/intel/export/blocklist/domain"), Want: w(apptest.APIRead)},
		"GET /api/v1/intel/objects/{id}/correlations": {Req: get("/api/v1/intel/objects/{intel}/correlations"), Want: w(own)},
		"GET /api/v1/intel/lookup":                    {Req: static("/api/v1/intel/lookup?value=198.51.100.3"), Want: w(apptest.APIRead)},
		// A batch lookup only reads: read-only tokens may send it.
		"POST /api/v1/intel/lookup":                                {Req: send("/api/v1/intel/lookup", map[string]any{"values": []string{"198.51.100.3"}}), Want: w(apptest.APIRead)},
		"GET /taxii2/{$}":                                          {Req: static("/taxii2/"), Want: w(apptest.APIRead)},
		"GET /taxii2/{root}/{$}":                                   {Req: get("/taxii2/{circle}/"), Want: w(circle)},
		"GET /taxii2/{root}/status/{status}/{$}":                   {Req: get("/taxii2/{sme}/status/{status}/"), Want: w(own)},
		"GET /taxii2/{root}/collections/{$}":                       {Req: get("/taxii2/{circle}/collections/"), Want: w(circle)},
		"GET /taxii2/{root}/collections/{collection}/{$}":          {Req: get("/taxii2/{circle}/collections/circle/"), Want: w(circle)},
		"GET /taxii2/{root}/collections/{collection}/manifest/{$}": {Req: get("/taxii2/{circle}/collections/circle/manifest/"), Want: w(circle)},
		"GET /taxii2/{root}/collections/{collection}/objects/{$}":  {Req: get("/taxii2/{circle}/collections/circle/objects/"), Want: w(circle)},
		// Writers of circle members add to the circle (a TAXII POST
		// answers 202 with its status).
		"POST /taxii2/{root}/collections/{collection}/objects/{$}": {Req: send("/taxii2/{circle}/collections/circle/objects/", envelope),
			Want: w(writer + " outsider=404 *=202")},
		"GET /taxii2/{root}/collections/{collection}/objects/{object}/{$}":          {Req: get("/taxii2/{sme}/collections/own/objects/{stix}/"), Want: w(own)},
		"GET /taxii2/{root}/collections/{collection}/objects/{object}/versions/{$}": {Req: get("/taxii2/{sme}/collections/own/objects/{stix}/versions/"), Want: w(own)},
		"DELETE /taxii2/{root}/collections/{collection}/objects/{object}/{$}": {Req: apptest.Fresh(freshSTIX, "/taxii2/{sme}/collections/own/objects/{new}/", nil),
			Want: w(writer + " partner=404 coord=404 nocontract=404 outsider=404 *=200")},
	}
}

// leakState maps the harness's objects (by the hub's id) to their STIX
// ids and audiences.
type leakState struct {
	stix     map[string]string
	audience map[string]policy.AudienceKind
	twin     string // a TLP:CLEAR indicator of every harness object's value (correlations)
}

func intelKind() apptest.LeakKind {
	state := func(c *apptest.LeakCase) *leakState { return c.State.(*leakState) }
	// taxiiIDs reads the hub ids behind the STIX ids of a TAXII list.
	taxiiIDs := func(t testing.TB, c *apptest.LeakCase, r *apptest.User, path string) []string {
		stixIDs := taxiiList(t, c, r, path)
		var out []string
		for id, s := range state(c).stix {
			if slices.Contains(stixIDs, s) {
				out = append(out, id)
			}
		}
		return out
	}
	only := func(c *apptest.LeakCase, objs []apptest.LeakObject, kind policy.AudienceKind) []apptest.LeakObject {
		var out []apptest.LeakObject
		for _, o := range objs {
			if state(c).audience[o.ID] == kind {
				out = append(out, o)
			}
		}
		return out
	}
	orgRoot := func(_ *apptest.LeakCase, r *apptest.User) string { return "/taxii2/" + r.Actor.OrgID + "/" }
	return apptest.LeakKind{
		Kind: "intel",
		Setup: func(testing.TB, *apptest.LeakCase) any {
			return &leakState{stix: map[string]string{}, audience: map[string]policy.AudienceKind{}}
		},
		Create: func(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
			_, aud, err := s.Parse()
			if err != nil {
				t.Fatal(err)
			}
			stixID, id := create(t, c.Hub, marker, s.TLP, aud)
			state(c).stix[id], state(c).audience[id] = stixID, aud.Kind
			return id
		},
		Paths: append([]apptest.Path{
			{Route: "GET /api/v1/intel/objects/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectDetail(t, c, r, "/api/v1/intel/objects/%s", objs)
			}},
			{Route: "GET /api/v1/intel/objects", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "the intel list", r, apptest.ListIDs(t, c, r, "/api/v1/intel/objects?limit=3"), objs)
				apptest.ExpectIDs(t, "intel search", r, apptest.ListIDs(t, c, r, "/api/v1/intel/objects?q=leakmark"), objs)
			}},
			{Route: "GET /taxii2/{root}/collections/{collection}/objects/{$}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "TAXII objects of all", r, taxiiIDs(t, c, r, orgRoot(c, r)+"collections/all/objects/?limit=2"), objs)
				if r.Actor.OrgID == c.Hub.Orgs["sme"] {
					apptest.ExpectIDs(t, "TAXII objects of own", r, taxiiIDs(t, c, r, orgRoot(c, r)+"collections/own/objects/"), only(c, objs, policy.AudOrg))
				}
				circle := "/taxii2/" + c.Hub.Circle + "/collections/circle/objects/"
				if status, _ := taxiiGet(t, c, r, circle); status == http.StatusOK {
					apptest.ExpectIDs(t, "TAXII objects of the circle", r, taxiiIDs(t, c, r, circle), only(c, objs, policy.AudCommunity))
				} else {
					apptest.ExpectIDs(t, "TAXII objects of the circle (no such root)", r, nil, hidden(only(c, objs, policy.AudCommunity)))
				}
			}},
			{Route: "GET /taxii2/{root}/collections/{collection}/manifest/{$}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "TAXII manifest of all", r, taxiiIDs(t, c, r, orgRoot(c, r)+"collections/all/manifest/?limit=2"), objs)
			}},
			{Route: "GET /taxii2/{root}/collections/{collection}/objects/{object}/{$}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				for _, o := range objs {
					for _, suffix := range []string{"/", "/versions/"} {
						path := orgRoot(c, r) + "collections/all/objects/" + state(c).stix[o.ID] + suffix
						status, body := taxiiGet(t, c, r, path)
						switch {
						case o.Visible && status != http.StatusOK:
							t.Errorf("GET %s: %s gets %d for %s, want 200", path, r.Key, status, o.Envelope)
						case !o.Visible && (status != http.StatusNotFound || !strings.Contains(body, `"error_code":"not_found"`)):
							t.Errorf("LEAK on GET %s: %s gets %d %s for %s, want the plain 404", path, r.Key, status, body, o.Envelope)
						}
					}
				}
			}},
			{Route: "GET /api/v1/intel/objects/{id}/correlations", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				// Every harness object is correlated with the twin the
				// kind's Setup shares with everyone: the twin's list of
				// correlations shows exactly the objects the reader sees.
				apptest.ExpectDetail(t, c, r, "/api/v1/intel/objects/%s/correlations", objs)
				if state(c).twin == "" {
					state(c).twin = twin(t, c.Hub, objs)
				}
				ids := apptest.ListIDs(t, c, r, "/api/v1/intel/objects/"+state(c).twin+"/correlations")
				apptest.ExpectIDs(t, "the correlations of a CLEAR twin", r, ids, objs)
			}},
			{Route: "GET /api/v1/intel/lookup", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				// Each harness object is an indicator for <marker>.example.
				var values []string
				var single []string
				for _, o := range objs {
					values = append(values, o.Marker+".example")
					res := c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/intel/lookup?value="+o.Marker+".example", nil)
					single = append(single, lookupIDs(t, res.Status, res.Body)...)
				}
				apptest.ExpectIDs(t, "a lookup", r, single, objs)
				res := c.Hub.API(t, r.ReadToken, http.MethodPost, "/api/v1/intel/lookup", map[string]any{"values": values})
				apptest.ExpectIDs(t, "a batch lookup", r, lookupIDs(t, res.Status, res.Body), objs)
			}},
			{Route: "GET /audit", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				// Each harness object's import record names it: only for
				// readers who may see it, and only those get its link.
				status, page := apptest.Page(t, c, r, "/audit")
				if status == http.StatusForbidden {
					return // analysts and viewers read no audit trail
				}
				apptest.ExpectMarkers(t, "the audit page", r, page, objs, false)
				for _, o := range objs {
					if !o.Visible && strings.Contains(page, `href="/intel/objects/`+o.ID) {
						t.Errorf("LEAK on the audit page: %s gets a link to %s", r.Key, o.Envelope)
					}
				}
			}},
			{Route: "GET /api/v1/intel/export/blocklist/{kind}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/api/v1/intel/export/blocklist/domain")
				apptest.ExpectMarkers(t, "the domain block list", r, page, objs, true)
			}},
			{Route: "GET /api/v1/intel/export/values.csv", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/api/v1/intel/export/values.csv")
				apptest.ExpectMarkers(t, "the CSV export", r, page, objs, true)
			}},
			{Route: "GET /api/v1/intel/export/bundle", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/api/v1/intel/export/bundle")
				apptest.ExpectMarkers(t, "the STIX export", r, page, objs, true)
			}},
			{Route: "GET /taxii2/{root}/collections/{collection}/objects/{object}/versions/{$}", Check: func(testing.TB, *apptest.LeakCase, *apptest.User, []apptest.LeakObject) {
				// Checked with the object's own path above.
			}},
			{Route: "GET /intel/objects/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectDetail(t, c, r, "/intel/objects/%s", objs)
			}},
			{Route: "GET /intel/objects/{id}/fragment", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectDetail(t, c, r, "/intel/objects/%s/fragment", objs)
			}},
			{Route: "GET /intel/added", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				// The rows live inserts fetch, over all time: the case's
				// objects are the newest, so they fit in the page.
				_, page := apptest.Page(t, c, r, "/intel/added?from=1&to=9000000000000000")
				apptest.ExpectMarkers(t, "the new rows of the intel list", r, page, objs, true)
			}},
			{Route: "GET /intel", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				for _, path := range []string{"/intel", "/intel?type=indicator"} {
					ids, pages := pageIDs(t, c, r, path)
					apptest.ExpectIDs(t, "the intel page "+path, r, ids, objs)
					for _, page := range pages {
						apptest.ExpectMarkers(t, "the intel page "+path, r, page, objs, false)
					}
				}
				status, page := apptest.Page(t, c, r, "/intel?q=leakmark")
				if status != http.StatusOK {
					t.Fatalf("the intel search as %s: %d", r.Key, status)
				}
				apptest.ExpectIDs(t, "the intel search page", r, htmlIDs(page, `id="intel-`), objs)
				apptest.ExpectMarkers(t, "the intel search page", r, page, objs, true)
			}},
			{Route: "GET /intel/lookup", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				// The page of one value, and the form of many (POST).
				var single, values []string
				for _, o := range objs {
					values = append(values, o.Marker+".example")
					status, page := apptest.Page(t, c, r, "/intel/lookup?value="+url.QueryEscape(o.Marker+".example"))
					if status != http.StatusOK {
						t.Fatalf("the lookup page as %s: %d", r.Key, status)
					}
					single = append(single, htmlIDs(page, `data-match="`)...)
				}
				apptest.ExpectIDs(t, "the lookup page", r, single, objs)
				req, _ := http.NewRequest("POST", c.Hub.URL+"/intel/lookup", strings.NewReader(url.Values{"values": {strings.Join(values, "\n")}}.Encode()))
				req.Header.Set("Authorization", "Bearer "+r.ReadToken)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("the lookup form as %s: %d", r.Key, resp.StatusCode)
				}
				apptest.ExpectIDs(t, "the lookup form", r, htmlIDs(string(b), `data-match="`), objs)
			}},
		}, apptest.SearchPaths("intel", nil)...),
	}
}

// hidden marks every object invisible (a reader without the API root).
func hidden(objs []apptest.LeakObject) []apptest.LeakObject {
	out := slices.Clone(objs)
	for i := range out {
		out[i].Visible = false
	}
	return out
}

// taxiiGet reads a TAXII path as r (Bearer) and returns status and body.
func taxiiGet(t testing.TB, c *apptest.LeakCase, r *apptest.User, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", c.Hub.URL+path, nil)
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	req.Header.Set("Authorization", "Bearer "+r.ReadToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := new(strings.Builder)
	_, _ = io.Copy(buf, resp.Body)
	return resp.StatusCode, buf.String()
}

// taxiiList reads the STIX ids of every page of a TAXII objects or
// manifest list.
func taxiiList(t testing.TB, c *apptest.LeakCase, r *apptest.User, path string) []string {
	t.Helper()
	var ids []string
	next := ""
	for range 100 {
		p := path
		if next != "" {
			p += map[bool]string{true: "&", false: "?"}[strings.Contains(p, "?")] + "next=" + next
		}
		status, body := taxiiGet(t, c, r, p)
		if status != http.StatusOK {
			t.Fatalf("GET %s as %s: %d %s", p, r.Key, status, body)
		}
		var page struct {
			More    bool
			Next    string
			Objects []struct{ ID string }
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		for _, o := range page.Objects {
			ids = append(ids, o.ID)
		}
		if !page.More {
			return ids
		}
		next = page.Next
	}
	t.Fatalf("GET %s: more than 100 pages", path)
	return nil
}

// lookupIDs reads the hub ids of the matches of a lookup answer.
func lookupIDs(t testing.TB, status int, body []byte) []string {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("lookup: %d %s", status, body)
	}
	var ans struct {
		Results []struct {
			Matches []struct{ ID string }
		}
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range ans.Results {
		for _, m := range r.Matches {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// addrOf is an address that stands for a name in indicators: the
// correlation twin names the addresses, not the names, so that the
// marker checks of the other paths see only the harness's objects.
func addrOf(name string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	n := h.Sum32()
	return fmt.Sprintf("198.18.%d.%d", n>>8&0xff, n&0xff)
}

// twin imports, as cloud.analyst at TLP:CLEAR, one indicator of the
// addresses of all the harness's objects: each of them correlates with it.
func twin(t testing.TB, h *apptest.Hub, objs []apptest.LeakObject) string {
	t.Helper()
	var parts []string
	for _, o := range objs {
		parts = append(parts, "[ipv4-addr:value = '"+addrOf(o.Marker)+"']")
	}
	stixID := "indicator--" + uuid.NewString()
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	b, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + uuid.NewString(), "objects": []any{map[string]any{
		"type": "indicator", "spec_version": "2.1", "id": stixID, "created": now, "modified": now, "name": "twin",
		"pattern": strings.Join(parts, " OR "), "pattern_type": "stix", "valid_from": now}}})
	a := h.Users["cloud.analyst"].Actor
	if rep, err := h.App.Intel.Import(context.Background(), a, strings.NewReader(string(b)), intel.ImportOptions{TLP: "CLEAR", Community: h.Circle, Via: "test"}); err != nil || rep.Accepted != 1 {
		t.Fatalf("import the twin: %v %+v", err, rep)
	}
	objsOf, _, err := h.App.Intel.List(context.Background(), a, intel.Filter{IDs: []string{stixID}, All: true, Limit: 1})
	if err != nil || len(objsOf) != 1 {
		t.Fatalf("find the twin: %v", err)
	}
	return objsOf[0].ID
}

// uploadForm is a multipart form as the import page sends it: its fields,
// then the bundle as the file "bundle".
func uploadForm(fields map[string]string, bundle string) (contentType, body string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("bundle", "bundle.json")
	_, _ = io.WriteString(fw, bundle)
	_ = mw.Close()
	return mw.FormDataContentType(), b.String()
}

// htmlIDs reads the hub ids a page marks with prefix (`id="intel-`,
// `data-match="`).
func htmlIDs(page, prefix string) []string {
	re := regexp.MustCompile(regexp.QuoteMeta(prefix) + `([0-9a-f-]{36})"`)
	var ids []string
	for _, m := range re.FindAllStringSubmatch(page, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

var nextRe = regexp.MustCompile(`href="(/intel\?next=[^"]+)" rel="next"`)

// pageIDs reads the ids of every page of an intel list page, and the
// pages.
func pageIDs(t testing.TB, c *apptest.LeakCase, r *apptest.User, path string) ([]string, []string) {
	t.Helper()
	var ids, pages []string
	for range 100 {
		status, page := apptest.Page(t, c, r, path)
		if status != http.StatusOK {
			t.Fatalf("GET %s as %s: %d", path, r.Key, status)
		}
		ids = append(ids, htmlIDs(page, `id="intel-`)...)
		pages = append(pages, page)
		m := nextRe.FindStringSubmatch(page)
		if m == nil {
			return ids, pages
		}
		path = html.UnescapeString(m[1])
	}
	t.Fatalf("GET %s: more than 100 pages", path)
	return nil, nil
}
