// Package vulnstest describes the vulns capability to the hub-wide tests
// (internal/app): the authorization matrix rows of its routes, its
// shareable kind (advisories) for the leak harness, and small CSAF 2.0
// documents to import.
package vulnstest

import (
	"context"
	"fmt"
	"maps"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/policy"
	"verbund/internal/vulns"
)

// Kit is the vulns capability's kit.
func Kit() apptest.Kit {
	rs := rows()
	maps.Copy(rs, providerRows())
	return apptest.Kit{Name: "vulns", Setup: setup, Rows: rs, Kinds: []apptest.LeakKind{advisoryKind(), statementKind()}}
}

// Document is a small valid CSAF 2.0 security advisory: one product
// (vendor Wolke, product Wolke Gateway, version 2.4.1, CPE and PURL) and
// one vulnerability with a CVSS 3.1 vector, published by sme's org
// (Müller Maschinenbau GmbH at https://mueller.example: sme publishes
// it). tlp is the document's
// distribution label (WHITE, GREEN, AMBER, RED) or "" for none.
func Document(trackingID, title, version, tlp string) string {
	dist := ""
	if tlp != "" {
		dist = fmt.Sprintf(`"distribution": {"tlp": {"label": %q}},`, tlp)
	}
	return fmt.Sprintf(`{
  "document": {
    "category": "csaf_security_advisory",
    "csaf_version": "2.0",
    %s
    "notes": [{"category": "summary", "title": "Summary", "text": "%s allows remote code execution."}],
    "publisher": {"category": "vendor", "name": "Müller Maschinenbau GmbH", "namespace": "https://mueller.example"},
    "references": [{"category": "self", "summary": "this advisory", "url": "https://mueller.example/csaf/%s.json"}],
    "title": %q,
    "tracking": {
      "current_release_date": "2026-11-%02dT10:00:00.000Z",
      "id": %q,
      "initial_release_date": "2026-11-01T10:00:00.000Z",
      "revision_history": [{"date": "2026-11-01T10:00:00.000Z", "number": "1", "summary": "first"}, {"date": "2026-11-%02dT10:00:00.000Z", "number": %q, "summary": "this"}],
      "status": "final",
      "version": %q
    }
  },
  "product_tree": {
    "branches": [{"category": "vendor", "name": "Wolke", "branches": [{"category": "product_name", "name": "Wolke Gateway", "branches": [
      {"category": "product_version", "name": "2.4.1", "product": {"name": "Wolke Gateway 2.4.1", "product_id": "WG-241",
        "product_identification_helper": {"cpe": "cpe:2.3:a:wolke:gateway:2.4.1:*:*:*:*:*:*:*", "purl": "pkg:generic/wolke/gateway@2.4.1"}}},
      {"category": "product_version", "name": "2.4.2", "product": {"name": "Wolke Gateway 2.4.2", "product_id": "WG-242"}}]}]}]
  },
  "vulnerabilities": [{
    "cve": "CVE-2026-10001",
    "title": "Remote code execution in %s",
    "product_status": {"known_affected": ["WG-241"], "fixed": ["WG-242"]},
    "remediations": [{"category": "vendor_fix", "details": "Update to 2.4.2.", "product_ids": ["WG-241"]}],
    "scores": [{"products": ["WG-241"], "cvss_v3": {"version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "baseScore": 9.8, "baseSeverity": "CRITICAL"}}]
  }]
}`, dist, title, strings.ToLower(trackingID), title, day(version), trackingID, day(version), version, version, title)
}

// day makes later versions released later ("1" → 2, "2" → 3 …).
func day(version string) int {
	n := 1
	_, _ = fmt.Sscanf(version, "%d", &n)
	return min(28, n+1)
}

// Import posts a document through the API as u (its write token) with the
// query q, and returns the advisory id it got (via the list).
func Import(t testing.TB, h *apptest.Hub, u *apptest.User, doc string, q url.Values) apptest.Response {
	t.Helper()
	return h.API(t, u.WriteToken, http.MethodPost, "/api/v1/advisories?"+q.Encode(), doc)
}

// create imports an advisory as sme.analyst with sharing s and returns
// its id.
func create(t testing.TB, h *apptest.Hub, trackingID, title string, s policy.Sharing) string {
	t.Helper()
	q := url.Values{"tlp": {s.TLP}, "audience": {s.Audience}}
	if s.Community != "" {
		q.Set("community_id", s.Community)
	}
	for _, o := range s.Orgs {
		q.Add("orgs", o)
	}
	for _, p := range s.People {
		q.Add("people", p)
	}
	r := Import(t, h, h.Users["sme.analyst"], Document(trackingID, title, "1", docLabel(s.TLP)), q)
	if r.Status != http.StatusOK {
		t.Fatalf("import %s: %d %s", trackingID, r.Status, r.Body)
	}
	var list struct {
		Items []struct {
			ID         string `json:"id"`
			TrackingID string `json:"tracking_id"`
		}
	}
	l := h.API(t, h.Users["sme.analyst"].ReadToken, http.MethodGet, "/api/v1/advisories?q="+url.QueryEscape(trackingID), nil)
	l.JSON(t, &list)
	for _, it := range list.Items {
		if it.TrackingID == trackingID {
			return it.ID
		}
	}
	t.Fatalf("advisory %s not listed after import: %s", trackingID, l.Body)
	return ""
}

// setup makes sme's own AMBER advisory ({advisory}) and starts a CSAF
// provider on loopback for the subscription rows ({cisaprovider}: its
// metadata URL; {subscription}: sme's subscription to it).
func setup(t *testing.T, f *apptest.Fixture) {
	f.IDs["advisory"] = create(t, f.Hub, "WOLKE-"+f.Uniq(), "Own advisory", policy.Sharing{TLP: "AMBER", Audience: "org"})
	if _, err := f.Hub.App.Vulns.SetStatement(context.Background(), f.Hub.Users["sme.analyst"].Actor, f.IDs["advisory"],
		vulns.StatementInput{ProductID: "WG-241", Status: "affected"}); err != nil {
		t.Fatal(err)
	}
	subscriptionSetup(t, f)
	providerSetup(t, f)
}

func upload(doc string) apptest.Raw {
	var b strings.Builder
	w := multipart.NewWriter(&b)
	_ = w.WriteField("tlp", "AMBER")
	fw, _ := w.CreateFormFile("files", "wolke-2026-1.json")
	_, _ = fw.Write([]byte(doc))
	_ = w.Close()
	return apptest.Raw{ContentType: w.FormDataContentType(), Body: b.String()}
}

// freshAsset adds an asset to sme's inventory.
func freshAsset(t *testing.T, f *apptest.Fixture) string {
	a, err := f.Hub.App.Vulns.CreateAsset(context.Background(), f.Hub.Users["sme.analyst"].Actor, vulns.NewAsset{Vendor: "Wolke", Product: "Gateway " + f.Uniq()})
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// freshAdvisory imports an AMBER advisory of sme's own.
func freshAdvisory(t *testing.T, f *apptest.Fixture) string {
	return create(t, f.Hub, "FRESH-"+f.Uniq(), "fresh", policy.Sharing{TLP: "AMBER", Audience: "org"})
}

// inventory is a page's upload of a CSV inventory.
func inventory(csv string) apptest.Raw {
	var b strings.Builder
	w := multipart.NewWriter(&b)
	fw, _ := w.CreateFormFile("file", "inventory.csv")
	_, _ = fw.Write([]byte(csv))
	_ = w.Close()
	return apptest.Raw{ContentType: w.FormDataContentType(), Body: b.String()}
}

func rows() map[string]apptest.Row {
	w, get, static, send := apptest.W, apptest.Get, apptest.Static, apptest.Send
	writer := apptest.WriterOnly
	// sme's own asset: another org's writers do not find it.
	owned := writer + " partner=404 coord=404 nocontract=404 outsider=404"
	doc := Document("WOLKE-MATRIX-1", "Matrix advisory", "1", "AMBER")
	return map[string]apptest.Row{
		"GET /vulns":                  {Req: static("/vulns?q=wolke"), Want: w(apptest.PageRead)},
		"GET /vulns/advisories/{id}":  {Req: get("/vulns/advisories/{advisory}"), Want: w(apptest.OwnOrgPage)},
		"GET /vulns/import":           {Req: static("/vulns/import"), Want: w("anon=303 viewer=403 auditor=403 readtok=403 *=200")},
		"POST /vulns/import":          {Req: send("/vulns/import", upload(Document("WOLKE-MATRIX-2", "Page upload", "1", "AMBER"))), Want: w(writer + " *=200")},
		"POST /api/v1/advisories":     {Req: send("/api/v1/advisories", apptest.Raw{ContentType: "application/json", Body: doc}), Want: w(writer + " *=200")},
		"GET /api/v1/advisories":      {Req: static("/api/v1/advisories"), Want: w(apptest.APIRead)},
		"GET /api/v1/advisories/{id}": {Req: get("/api/v1/advisories/{advisory}"), Want: w(apptest.OwnOrgAPI)},
		"PATCH /api/v1/advisories/{id}": {Req: func(t *testing.T, f *apptest.Fixture) (string, any) {
			return "/api/v1/advisories/" + freshAdvisory(t, f), map[string]any{"tlp": "AMBER", "audience": "community", "community_id": f.Hub.Circle}
		}, Want: w(owned + " *=200")},
		"POST /vulns/advisories/{id}/sharing": {Req: func(t *testing.T, f *apptest.Fixture) (string, any) {
			return "/vulns/advisories/" + freshAdvisory(t, f) + "/sharing", apptest.Form("tlp", "AMBER", "audience", "community", "community_id", f.Hub.Circle)
		}, Want: w(owned + " *=303")},
		"DELETE /api/v1/advisories/{id}":     {Req: apptest.Fresh(freshAdvisory, "/api/v1/advisories/{new}", nil), Want: w(owned + " *=204")},
		"POST /vulns/advisories/{id}/delete": {Req: apptest.Fresh(freshAdvisory, "/vulns/advisories/{new}/delete", nil), Want: w(owned + " *=303")},
		"GET /api/v1/advisories/{id}/csaf":   {Req: get("/api/v1/advisories/{advisory}/csaf"), Want: w(apptest.OwnOrgAPI)},
		"GET /vulns/assets":                  {Req: static("/vulns/assets"), Want: w(apptest.PageRead)},
		"GET /vulns/board":                   {Req: static("/vulns/board"), Want: w(apptest.PageRead)},
		"POST /vulns/assets":                 {Req: send("/vulns/assets", apptest.Form("vendor", "Wolke", "product", "Wolke Gateway", "version", "2.4.1")), Want: w(writer + " *=303")},
		"POST /vulns/assets/import":          {Req: send("/vulns/assets/import", inventory("vendor,product,version\nWolke,Wolke Gateway,2.4.1\n")), Want: w(writer + " *=200")},
		"POST /vulns/assets/{id}/delete":     {Req: apptest.Fresh(freshAsset, "/vulns/assets/{new}/delete", nil), Want: w(owned + " *=303")},
		"GET /api/v1/assets":                 {Req: static("/api/v1/assets"), Want: w(apptest.APIRead)},
		"GET /api/v1/affected-assets":        {Req: static("/api/v1/affected-assets"), Want: w(apptest.APIRead)},
		"POST /api/v1/assets":                {Req: send("/api/v1/assets", map[string]any{"vendor": "Wolke", "product": "Wolke Gateway", "version": "2.4.1"}), Want: w(writer + " *=201")},
		"POST /api/v1/assets/import":         {Req: send("/api/v1/assets/import", apptest.Raw{ContentType: "text/csv", Body: "product,vendor\nGateway,Wolke\n"}), Want: w(writer + " *=200")},
		"PATCH /api/v1/assets/{id}":          {Req: apptest.Fresh(freshAsset, "/api/v1/assets/{new}", map[string]any{"version": "2.4.2"}), Want: w(owned + " *=200")},
		"POST /vulns/assets/{id}":            {Req: apptest.Fresh(freshAsset, "/vulns/assets/{new}", apptest.Form("vendor", "Wolke", "product", "Wolke Gateway", "version", "2.4.2")), Want: w(owned + " *=303")},
		"DELETE /api/v1/assets/{id}":         {Req: apptest.Fresh(freshAsset, "/api/v1/assets/{new}", nil), Want: w(owned + " *=204")},
		"POST /vulns/advisories/{id}/statements": {Req: send("/vulns/advisories/{advisory}/statements", apptest.Form("product_id", "WG-241", "status", "affected")),
			Want: w(writer + " partner=404 coord=404 nocontract=404 outsider=404 *=303")},
		"POST /vulns/policy":                     {Req: send("/vulns/policy", apptest.Form("critical_days", "5", "high_days", "20", "medium_days", "60", "low_days", "120")), Want: w(apptest.AdminOnly + " *=303")},
		"GET /api/v1/advisories/{id}/statements": {Req: get("/api/v1/advisories/{advisory}/statements"), Want: w(apptest.OwnOrgAPI)},
		"POST /api/v1/advisories/{id}/statements": {Req: send("/api/v1/advisories/{advisory}/statements", map[string]any{"product_id": "WG-241", "status": "not_affected", "justification": "component_not_present"}),
			Want: w(writer + " partner=404 coord=404 nocontract=404 outsider=404 *=200")},
		"GET /api/v1/vex/openvex": {Req: static("/api/v1/vex/openvex"), Want: w(apptest.APIRead)},
		// sme's statement on {advisory} (setup): the other orgs have none.
		"GET /api/v1/vex/csaf":                  {Req: static("/api/v1/vex/csaf"), Want: w("anon=401 partner=409 coord=409 nocontract=409 outsider=409 *=200")},
		"GET /api/v1/patch-policy":              {Req: static("/api/v1/patch-policy"), Want: w(apptest.APIRead)},
		"PUT /api/v1/patch-policy":              {Req: send("/api/v1/patch-policy", map[string]any{"critical_days": 5, "high_days": 20, "medium_days": 60, "low_days": 120}), Want: w(apptest.AdminOnly + " *=200")},
		"GET /vulns/subscriptions":              {Req: static("/vulns/subscriptions"), Want: w(apptest.PageRead)},
		"POST /vulns/subscriptions":             {Req: freshSubscriptionBody("/vulns/subscriptions", true), Want: w(writer + " *=303")},
		"POST /vulns/subscriptions/{id}/run":    {Req: get("/vulns/subscriptions/{subscription}/run"), Want: w(writer + " partner=404 coord=404 nocontract=404 outsider=404 *=303")},
		"POST /vulns/subscriptions/{id}/delete": {Req: apptest.Fresh(freshSubscription, "/vulns/subscriptions/{new}/delete", nil), Want: w(owned + " *=303")},
		"GET /api/v1/subscriptions":             {Req: static("/api/v1/subscriptions"), Want: w(apptest.APIRead)},
		"POST /api/v1/subscriptions":            {Req: freshSubscriptionBody("/api/v1/subscriptions", false), Want: w(writer + " *=201")},
		"GET /api/v1/subscriptions/{id}":        {Req: get("/api/v1/subscriptions/{subscription}"), Want: w(apptest.OwnOrgAPI)},
		"POST /api/v1/subscriptions/{id}/run":   {Req: get("/api/v1/subscriptions/{subscription}/run"), Want: w(writer + " partner=404 coord=404 nocontract=404 outsider=404 *=200")},
		"DELETE /api/v1/subscriptions/{id}":     {Req: apptest.Fresh(freshSubscription, "/api/v1/subscriptions/{new}", nil), Want: w(owned + " *=204")},
		// The KEV catalogue is public reference data; the test world has
		// none imported, so every signed-in reader gets the plain 404.
		"GET /api/v1/kev/{cve}": {Req: static("/api/v1/kev/CVE-2021-44228"), Want: w("anon=401 *=404")},
	}
}

func advisoryKind() apptest.LeakKind {
	detail := func(route, path string) apptest.Path {
		return apptest.Path{Route: route, Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
			apptest.ExpectDetail(t, c, r, path, objs)
		}}
	}
	// Every reader's org runs the product the harness's advisories name,
	// so that each org's matches and board show what it may see, and
	// nothing of what it may not.
	setup := func(t testing.TB, c *apptest.LeakCase) any {
		for _, u := range []string{"sme.analyst", "cloud.analyst", "cert.analyst", "nocontract.analyst", "outsider.analyst"} {
			if _, err := c.Hub.App.Vulns.CreateAsset(context.Background(), c.Hub.Users[u].Actor, vulns.NewAsset{Vendor: "Wolke", Product: "Wolke Gateway", Version: "2.4.1"}); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	}
	// Matches are made for what an org as a whole may see (never for
	// TLP:RED or named people): these paths look for leaks only.
	noLeak := func(t testing.TB, what string, r *apptest.User, got []string, objs []apptest.LeakObject) {
		for _, o := range objs {
			if !o.Visible && slices.Contains(got, o.ID) {
				t.Errorf("LEAK on %s: %s sees %s (%s)", what, r.Key, o.Envelope, o.ID)
			}
		}
	}
	lp := &leakProvider{docs: map[string]string{}}
	return apptest.LeakKind{
		Kind:  "vuln_advisory",
		Setup: setup,
		Create: func(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
			id := create(t, c.Hub, "LEAK-"+marker, "advisory "+marker, s)
			lp.publish(t, c, id, "LEAK-"+marker, s.TLP)
			return id
		},
		Streamed: true,
		Paths: append([]apptest.Path{
			detail("GET /api/v1/advisories/{id}", "/api/v1/advisories/%s"),
			detail("GET /api/v1/advisories/{id}/csaf", "/api/v1/advisories/%s/csaf"),
			detail("GET /vulns/advisories/{id}", "/vulns/advisories/%s"),
			{Route: "GET /api/v1/advisories", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "the advisory list", r, apptest.ListIDs(t, c, r, "/api/v1/advisories?limit=3"), objs)
				apptest.ExpectIDs(t, "the advisory search", r, apptest.ListIDs(t, c, r, "/api/v1/advisories?q=leakmark"), objs)
			}},
			{Route: "GET /api/v1/affected-assets", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				var l struct {
					Items []struct {
						AdvisoryID string `json:"advisory_id"`
					}
				}
				c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/affected-assets", nil).JSON(t, &l)
				var ids []string
				for _, it := range l.Items {
					ids = append(ids, it.AdvisoryID)
				}
				noLeak(t, "the affected assets", r, ids, objs)
				if len(ids) == 0 && slices.ContainsFunc(objs, func(o apptest.LeakObject) bool { return o.Visible && strings.HasPrefix(o.Envelope, "CLEAR") }) {
					t.Errorf("the affected assets of %s miss the CLEAR advisory", r.Key)
				}
			}},
			{Route: "GET /vulns/board", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/vulns/board")
				apptest.ExpectMarkers(t, "the patch board", r, page, objs, false)
			}},
			detail("GET /api/v1/advisories/{id}/statements", "/api/v1/advisories/%s/statements"),
			{Route: "GET /api/v1/vex/csaf", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				// The export names the advisories of the org's statements
				// (the reader's org may have none: no_statements).
				status, doc := apptest.Page(t, c, r, "/api/v1/vex/csaf")
				if status != http.StatusOK && status != http.StatusConflict {
					t.Fatalf("CSAF VEX export as %s: %d %s", r.Key, status, doc)
				}
				apptest.ExpectMarkers(t, "the CSAF VEX export", r, doc, objs, false)
			}},
			{Route: "GET /api/v1/vex/openvex", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, doc := apptest.Page(t, c, r, "/api/v1/vex/openvex")
				apptest.ExpectMarkers(t, "the OpenVEX export", r, doc, objs, false)
			}},
			{Route: "GET /vulns", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/vulns")
				apptest.ExpectMarkers(t, "the advisory list page", r, page, objs, true)
			}},
			{Route: "GET /audit", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				status, page := apptest.Page(t, c, r, "/audit")
				if status == http.StatusForbidden {
					return
				}
				apptest.ExpectMarkers(t, "the audit page", r, page, objs, false)
				for _, o := range objs {
					if !o.Visible && strings.Contains(page, `href="/vulns/advisories/`+o.ID) {
						t.Errorf("LEAK on the audit page: %s gets a link to %s", r.Key, o.Envelope)
					}
				}
			}},
		}, append(lp.paths(), apptest.SearchPaths("vuln_advisory", nil)...)...),
	}
}

// statementKind: each statement of the harness is sme's on a CLEAR
// advisory of its own (so only the statement's envelope decides), with
// the marker in its note.
func statementKind() apptest.LeakKind {
	carrier := map[string]string{} // statement → its advisory
	n := 0
	return apptest.LeakKind{
		Kind: "vuln_statement",
		// sme, cloud and cert run the product the carriers name: their
		// boards list every carrier; only sme's readers who may see sme's
		// statement read its status there.
		Setup: func(t testing.TB, c *apptest.LeakCase) any {
			for _, u := range []string{"sme.analyst", "cloud.analyst", "cert.analyst"} {
				if _, err := c.Hub.App.Vulns.CreateAsset(context.Background(), c.Hub.Users[u].Actor, vulns.NewAsset{Vendor: "Wolke", Product: "Wolke Gateway", Version: "2.4.1"}); err != nil {
					t.Fatal(err)
				}
			}
			return nil
		},
		Create: func(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
			n++
			adv := create(t, c.Hub, fmt.Sprintf("CARRIER-%d", n), "carrier", policy.Sharing{TLP: "CLEAR", Audience: "org"})
			body := map[string]any{"product_id": "WG-241", "status": "not_affected", "justification": "component_not_present", "note": "note " + marker,
				"tlp": s.TLP, "audience": s.Audience, "community_id": s.Community, "orgs": s.Orgs, "people": s.People}
			r := c.Hub.API(t, c.Hub.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/advisories/"+adv+"/statements", body)
			if r.Status != http.StatusOK {
				t.Fatalf("statement %s: %d %s", marker, r.Status, r.Body)
			}
			var st struct{ ID string }
			r.JSON(t, &st)
			carrier[st.ID] = adv
			return st.ID
		},
		Paths: []apptest.Path{
			{Route: "GET /api/v1/advisories/{id}/statements", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				for _, o := range objs {
					var l struct{ Items []struct{ ID, Note string } }
					resp := c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/advisories/"+carrier[o.ID]+"/statements", nil)
					resp.JSON(t, &l)
					shown := slices.ContainsFunc(l.Items, func(x struct{ ID, Note string }) bool { return x.ID == o.ID })
					if shown != o.Visible || !o.Visible && strings.Contains(string(resp.Body), o.Marker) {
						t.Errorf("statements of %s as %s: shown %v, want %v", o.Envelope, r.Key, shown, o.Visible)
					}
				}
			}},
			{Route: "GET /vulns/advisories/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				for _, o := range objs {
					_, page := apptest.Page(t, c, r, "/vulns/advisories/"+carrier[o.ID])
					apptest.ExpectMarkers(t, "the advisory page", r, page, []apptest.LeakObject{o}, true)
				}
			}},
			{Route: "GET /api/v1/vex/csaf", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				// A reader who may see none of the org's statements gets
				// no_statements; either way no hidden note is in it.
				status, doc := apptest.Page(t, c, r, "/api/v1/vex/csaf")
				if status != http.StatusOK && status != http.StatusConflict {
					t.Fatalf("CSAF VEX export as %s: %d %s", r.Key, status, doc)
				}
				apptest.ExpectMarkers(t, "the CSAF VEX export", r, doc, objs, false)
			}},
			{Route: "GET /api/v1/vex/openvex", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, doc := apptest.Page(t, c, r, "/api/v1/vex/openvex")
				apptest.ExpectMarkers(t, "the OpenVEX export", r, doc, objs, false)
			}},
			{Route: "GET /api/v1/affected-assets", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				var l struct {
					Items []struct {
						AdvisoryID string `json:"advisory_id"`
						Status     string `json:"vex_status"`
					}
				}
				c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/affected-assets", nil).JSON(t, &l)
				if r.Key == "sme.analyst" && len(l.Items) < len(objs) {
					t.Errorf("sme's affected assets list %d carriers, want %d", len(l.Items), len(objs))
				}
				for _, o := range objs {
					for _, it := range l.Items {
						if it.AdvisoryID != carrier[o.ID] {
							continue
						}
						want := ""
						if o.Visible && strings.HasPrefix(r.Key, "sme.") {
							want = "not_affected"
						}
						if it.Status != want {
							t.Errorf("affected assets of %s: status %q on the carrier of %s, want %q", r.Key, it.Status, o.Envelope, want)
						}
					}
				}
			}},
			{Route: "GET /vulns/board", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/vulns/board")
				apptest.ExpectMarkers(t, "the patch board", r, page, objs, false)
			}},
			{Route: "GET /audit", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				status, page := apptest.Page(t, c, r, "/audit")
				if status != http.StatusForbidden {
					apptest.ExpectMarkers(t, "the audit page", r, page, objs, false)
				}
			}},
		},
	}
}
