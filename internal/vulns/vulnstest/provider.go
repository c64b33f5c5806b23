package vulnstest

import (
	"net/http"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/csaf"
	"verbund/internal/policy"
)

// The CSAF provider's part of the kit: sme publishes a TLP:WHITE and an
// AMBER (own org) advisory for the matrix; the leak harness publishes
// every advisory it makes that CSAF 2.0 can label and reads it back
// through the provider's files, feeds and listings.

// docLabel is the CSAF label a harness document carries for sharing
// level tlp (AMBER+STRICT has none: the document says AMBER).
func docLabel(tlp string) string {
	switch l := strings.ToUpper(tlp); l {
	case "CLEAR", "":
		return "WHITE"
	case "AMBER+STRICT":
		return "AMBER"
	default:
		return l
	}
}

// Publish publishes advisory id through the API as u.
func Publish(t testing.TB, h *apptest.Hub, u *apptest.User, id string) apptest.Response {
	t.Helper()
	return h.API(t, u.WriteToken, http.MethodPut, "/api/v1/advisories/"+id+"/publication", nil)
}

// providerOf is sme's provider handle and key fingerprint.
func providerOf(t testing.TB, h *apptest.Hub) (slug, fingerprint string) {
	t.Helper()
	var p struct{ Slug, Fingerprint string }
	r := h.API(t, h.Users["sme.analyst"].ReadToken, http.MethodGet, "/api/v1/csaf-provider", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /api/v1/csaf-provider: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &p)
	return p.Slug, p.Fingerprint
}

// providerSetup publishes sme's {white} (CLEAR) and {amber} (own org)
// advisories: {slug}, {fpr}, {whitefile}, {amberfile}.
func providerSetup(t *testing.T, f *apptest.Fixture) {
	for _, x := range []struct{ name, tlp string }{{"white", "CLEAR"}, {"amber", "AMBER"}} {
		tracking := "PUB-" + strings.ToUpper(x.name) + "-" + f.Uniq()
		id := create(t, f.Hub, tracking, "Published "+x.name, policy.Sharing{TLP: x.tlp, Audience: "org"})
		if r := Publish(t, f.Hub, f.Hub.Users["sme.analyst"], id); r.Status != http.StatusOK {
			t.Fatalf("publish %s: %d %s", tracking, r.Status, r.Body)
		}
		f.IDs[x.name+"file"] = csaf.FileName(tracking)
	}
	f.IDs["slug"], f.IDs["fpr"] = providerOf(t, f.Hub)
}

// published imports and publishes a fresh AMBER advisory of sme's.
func published(t *testing.T, f *apptest.Fixture) string {
	id := freshAdvisory(t, f)
	if r := Publish(t, f.Hub, f.Hub.Users["sme.analyst"], id); r.Status != http.StatusOK {
		t.Fatalf("publish: %d %s", r.Status, r.Body)
	}
	return id
}

func providerRows() map[string]apptest.Row {
	w, get, static := apptest.W, apptest.Get, apptest.Static
	owned := apptest.WriterOnly + " partner=404 coord=404 nocontract=404 outsider=404"
	public := "*=200"
	return map[string]apptest.Row{
		"POST /vulns/advisories/{id}/publish":        {Req: apptest.Fresh(freshAdvisory, "/vulns/advisories/{new}/publish", nil), Want: w(owned + " *=303")},
		"POST /vulns/advisories/{id}/unpublish":      {Req: apptest.Fresh(published, "/vulns/advisories/{new}/unpublish", nil), Want: w(owned + " *=303")},
		"PUT /api/v1/advisories/{id}/publication":    {Req: apptest.Fresh(freshAdvisory, "/api/v1/advisories/{new}/publication", nil), Want: w(owned + " *=200")},
		"DELETE /api/v1/advisories/{id}/publication": {Req: apptest.Fresh(published, "/api/v1/advisories/{new}/publication", nil), Want: w(owned + " *=204")},
		"GET /api/v1/csaf-provider":                  {Req: static("/api/v1/csaf-provider"), Want: w(apptest.OwnOrgAPI)},
		"GET /vulns/compose":                         {Req: static("/vulns/compose"), Want: w("anon=303 viewer=403 auditor=403 readtok=403 *=200")},
		"POST /vulns/compose": {Req: func(_ *testing.T, f *apptest.Fixture) (string, any) {
			return "/vulns/compose", apptest.Form("tracking_id", "WRITE-"+f.Uniq(), "title", "Written", "summary", "A flaw.", "vendor", "sme",
				"product", "Gateway", "affected_version", "1.0", "tlp", "AMBER")
		}, Want: w(apptest.WriterOnly + " *=303")},
		"POST /api/v1/advisories/compose": {Req: apptest.Send("/api/v1/advisories/compose", map[string]any{"tracking_id": "UNIQ", "title": "Written",
			"summary": "A flaw.", "vendor": "sme", "product": "Gateway", "affected_version": "1.0", "tlp": "AMBER"}), Want: w(apptest.WriterOnly + " *=201")},
		"GET /csaf/{org}/provider-metadata.json":       {Req: get("/csaf/{slug}/provider-metadata.json"), Want: w(public)},
		"GET /csaf/{org}/service.json":                 {Req: get("/csaf/{slug}/service.json"), Want: w(public)},
		"GET /csaf/{org}/openpgp/{file}":               {Req: get("/csaf/{slug}/openpgp/{fpr}.asc"), Want: w(public)},
		"GET /csaf/{org}/{folder}":                     {Req: get("/csaf/{slug}/white"), Want: w("*=404")},
		"GET /.well-known/csaf/provider-metadata.json": {Req: static("/.well-known/csaf/provider-metadata.json"), Want: w("*=404")},
		"GET /.well-known/csaf/service.json":           {Req: static("/.well-known/csaf/service.json"), Want: w("*=404")},
		"GET /.well-known/security.txt":                {Req: static("/.well-known/security.txt"), Want: w("*=404")},
		"GET /csaf/{org}/white/{$}":                    {Req: get("/csaf/{slug}/white/"), Want: w(public)},
		"GET /csaf/{org}/white/{name}":                 {Req: get("/csaf/{slug}/white/csaf-feed-tlp-white.json"), Want: w(public)},
		"GET /csaf/{org}/white/{year}/{$}":             {Req: get("/csaf/{slug}/white/2026/"), Want: w(public)},
		"GET /csaf/{org}/white/{year}/{file}":          {Req: get("/csaf/{slug}/white/2026/{whitefile}"), Want: w(public)},
		"GET /csaf/{org}/{tlp}/{$}":                    {Req: get("/csaf/{slug}/amber/"), Want: w(apptest.OwnOrgAPI)},
		"GET /csaf/{org}/{tlp}/{name}":                 {Req: get("/csaf/{slug}/amber/index.txt"), Want: w(apptest.OwnOrgAPI)},
		"GET /csaf/{org}/{tlp}/{year}/{$}":             {Req: get("/csaf/{slug}/amber/2026/"), Want: w(apptest.OwnOrgAPI)},
		"GET /csaf/{org}/{tlp}/{year}/{file}":          {Req: get("/csaf/{slug}/amber/2026/{amberfile}.asc"), Want: w(apptest.OwnOrgAPI)},
	}
}

// leakProvider remembers where the harness published each advisory.
type leakProvider struct {
	slug string
	docs map[string]string // advisory id → its document's path on the provider
}

// publishLeak publishes the harness's advisory id (shared at tlp) unless
// CSAF 2.0 cannot label it.
func (lp *leakProvider) publish(t testing.TB, c *apptest.LeakCase, id, tracking, tlp string) {
	if strings.EqualFold(tlp, "AMBER+STRICT") {
		if r := Publish(t, c.Hub, c.Hub.Users["sme.analyst"], id); r.Status != http.StatusBadRequest || r.ErrorCode() != "publish_amber_strict" {
			t.Fatalf("publish an AMBER+STRICT advisory: %d %s, want 400 publish_amber_strict", r.Status, r.Body)
		}
		return
	}
	if r := Publish(t, c.Hub, c.Hub.Users["sme.analyst"], id); r.Status != http.StatusOK {
		t.Fatalf("publish %s: %d %s", tracking, r.Status, r.Body)
	}
	if lp.slug == "" {
		lp.slug, _ = providerOf(t, c.Hub)
	}
	lp.docs[id] = "/csaf/" + lp.slug + "/" + strings.ToLower(docLabel(tlp)) + "/2026/" + csaf.FileName(tracking)
}

// paths read the published advisories back: each document, .asc and
// .sha512 is served to exactly the readers the envelope lets see it (404
// to the others), and the feeds, indexes and listings of its folder
// name it for them only.
func (lp *leakProvider) paths() []apptest.Path {
	file := func(route, suffix string) apptest.Path {
		return apptest.Path{Route: route, Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
			for _, o := range objs {
				p, ok := lp.docs[o.ID]
				if !ok {
					continue
				}
				res := c.Hub.API(t, r.ReadToken, http.MethodGet, p+suffix, nil)
				switch {
				case o.Visible && res.Status != http.StatusOK:
					t.Errorf("GET %s: %s gets %d for %s, want 200", p+suffix, r.Key, res.Status, o.Envelope)
				case !o.Visible && res.Status != http.StatusNotFound:
					t.Errorf("LEAK on GET %s: %s gets %d for %s, want 404", p+suffix, r.Key, res.Status, o.Envelope)
				}
			}
		}}
	}
	listed := func(route, what string) apptest.Path {
		return apptest.Path{Route: route, Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
			for _, o := range objs {
				p, ok := lp.docs[o.ID]
				if !ok {
					continue
				}
				dir, name := p[:strings.LastIndex(p, "/")+1], p[strings.LastIndex(p, "/")+1:]
				folder := dir[:len(dir)-len("2026/")]
				target := map[string]string{"feed": folder + "csaf-feed-tlp-" + strings.TrimSuffix(strings.TrimPrefix(folder, "/csaf/"+lp.slug+"/"), "/") + ".json",
					"index": folder + "index.txt", "folder": folder, "year": dir}[what]
				status, body := apptest.Page(t, c, r, target)
				if what == "folder" {
					// A folder lists its year folders: it is there for
					// whoever may read one of its documents.
					if o.Visible && status != http.StatusOK {
						t.Errorf("%s: %s gets %d with %s visible", target, r.Key, status, o.Envelope)
					}
					continue
				}
				shown := status == http.StatusOK && strings.Contains(body, name)
				if shown && !o.Visible {
					t.Errorf("LEAK on %s: %s sees %s (%s)", target, r.Key, o.Envelope, o.ID)
				}
				if !shown && o.Visible {
					t.Errorf("%s: %s does not see %s (%s): %d", target, r.Key, o.Envelope, o.ID, status)
				}
			}
		}}
	}
	return []apptest.Path{
		file("GET /csaf/{org}/{tlp}/{year}/{file}", ""),
		file("GET /csaf/{org}/white/{year}/{file}", ".asc"),
		listed("GET /csaf/{org}/{tlp}/{name}", "feed"),
		listed("GET /csaf/{org}/white/{name}", "index"),
		listed("GET /csaf/{org}/{tlp}/{$}", "folder"),
		listed("GET /csaf/{org}/{tlp}/{year}/{$}", "year"),
		{Route: "GET /api/v1/csaf-provider", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
			var p struct {
				Publications []struct {
					AdvisoryID string `json:"advisory_id"`
				}
			}
			res := c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/csaf-provider", nil)
			if res.Status == http.StatusOK {
				res.JSON(t, &p)
			}
			var ids []string
			for _, x := range p.Publications {
				ids = append(ids, x.AdvisoryID)
			}
			// The summary is the org's own: another org's readers get
			// their own (none), so it shows only what is sme's and visible.
			for _, o := range objs {
				if _, ok := lp.docs[o.ID]; !ok {
					continue
				}
				shown := false
				for _, id := range ids {
					shown = shown || id == o.ID
				}
				if shown && !o.Visible {
					t.Errorf("LEAK on /api/v1/csaf-provider: %s sees %s (%s)", r.Key, o.Envelope, o.ID)
				}
				if !shown && o.Visible && r.OrgID == c.Hub.Users["sme.analyst"].OrgID {
					t.Errorf("/api/v1/csaf-provider: %s does not see %s (%s)", r.Key, o.Envelope, o.ID)
				}
			}
		}},
	}
}
