package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db/dbtest"
	"verbund/internal/vulns/vulnstest"
)

// providerPublisher reads the publisher of a provider-metadata.json.
func providerPublisher(t *testing.T, h *apptest.Hub, path string) (pub struct{ Category, Name, Namespace string }, raw []byte) {
	t.Helper()
	status, _, body := get(t, h, "", path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	var m struct {
		Publisher struct{ Category, Name, Namespace string } `json:"publisher"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m.Publisher, body
}

// TestCSAFPublisherIdentity: an org publishes only as itself. Its first
// publication claims its namespace; another org of the hub can neither
// publish under that namespace (nor under another org's provider
// address) nor as that org's name, by upload or by compose, and nothing
// is written then; the provider metadata names the org, never a
// document's publisher; the well-known provider is the org the operator
// names by id or exact name, never by a handle another org could get.
func TestCSAFPublisherIdentity(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.WorldCovering(t, e)
			sme, hansa := h.Users["sme.analyst"], h.Users["outsider.admin"]
			_, white := publishAs(t, h, sme, "IDN-1", "WHITE", url.Values{"tlp": {"CLEAR"}})
			base := white[:strings.Index(white, "/white/")]
			smeBase := path(t, base)
			pub, _ := providerPublisher(t, h, smeBase+"/provider-metadata.json")
			if pub.Name != "Müller Maschinenbau GmbH" || pub.Namespace != "https://mueller.example" || pub.Category != "vendor" {
				t.Fatalf("sme's provider publisher: %+v", pub)
			}
			count := func() int {
				var n int
				if err := h.App.DB.R().QueryRow(context.Background(), `SELECT (SELECT COUNT(*) FROM vuln_advisories) + (SELECT COUNT(*) FROM csaf_publications)`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			draft := func(tracking, ns string) map[string]any {
				return map[string]any{"tracking_id": tracking, "title": "Gateway: remote code execution", "summary": "The gateway runs code it is sent.",
					"vendor": "Hansa", "product": "Gateway", "affected_version": "1.0", "tlp": "CLEAR", "publish": true, "namespace": ns}
			}
			// Hansa composes under sme's namespace or sme's provider
			// address: refused, nothing written.
			for _, ns := range []string{"https://mueller.example", "HTTPS://Mueller.example/", base} {
				before := count()
				r := h.API(t, hansa.WriteToken, http.MethodPost, "/api/v1/advisories/compose", draft("IDN-2026-0007", ns))
				if r.Status != http.StatusBadRequest || r.ErrorCode() != "publish_namespace_taken" {
					t.Errorf("Hansa composes under %s: %d %s, want 400 publish_namespace_taken", ns, r.Status, r.Body)
				}
				if count() != before {
					t.Errorf("a draft under another org's namespace %s wrote something", ns)
				}
			}
			// Hansa uploads a document naming sme as its publisher and
			// publishes it: refused, with what to set.
			if r := vulnstest.Import(t, h, hansa, vulnstest.Document("IDN-Hansa-1", "Raw", "1", "WHITE"), url.Values{"tlp": {"CLEAR"}}); r.Status != http.StatusOK {
				t.Fatalf("import: %d %s", r.Status, r.Body)
			}
			r := vulnstest.Publish(t, h, hansa, advisoryID(t, h, hansa, "IDN-Hansa-1"))
			if r.Status != http.StatusBadRequest || r.ErrorCode() != "publish_publisher_mismatch" || !strings.Contains(string(r.Body), "Hansa Logistik AG") {
				t.Errorf("Hansa publishes a document by Müller: %d %s, want 400 publish_publisher_mismatch naming Hansa Logistik AG", r.Status, r.Body)
			}
			// Its own name under sme's namespace: refused too.
			doc := strings.ReplaceAll(vulnstest.Document("IDN-Hansa-2", "Raw", "1", "WHITE"), "Müller Maschinenbau GmbH", "Hansa Logistik AG")
			if r := vulnstest.Import(t, h, hansa, doc, url.Values{"tlp": {"CLEAR"}}); r.Status != http.StatusOK {
				t.Fatalf("import: %d %s", r.Status, r.Body)
			}
			if r := vulnstest.Publish(t, h, hansa, advisoryID(t, h, hansa, "IDN-Hansa-2")); r.Status != http.StatusBadRequest || r.ErrorCode() != "publish_namespace_taken" {
				t.Errorf("Hansa publishes as itself under sme's namespace: %d %s, want 400 publish_namespace_taken", r.Status, r.Body)
			}
			// Composed without a namespace, Hansa publishes as itself at
			// its provider's address; sme's provider is unchanged.
			r = h.API(t, hansa.WriteToken, http.MethodPost, "/api/v1/advisories/compose", draft("IDN-2026-0008", ""))
			if r.Status != http.StatusCreated {
				t.Fatalf("Hansa composes its own: %d %s", r.Status, r.Body)
			}
			var c struct{ Publication struct{ URL string } }
			r.JSON(t, &c)
			hansaBase := c.Publication.URL[:strings.Index(c.Publication.URL, "/white/")]
			hp, _ := providerPublisher(t, h, path(t, hansaBase)+"/provider-metadata.json")
			if hp.Name != "Hansa Logistik AG" || hp.Namespace != hansaBase || hp.Category != "vendor" {
				t.Errorf("Hansa's provider publisher: %+v, want Hansa Logistik AG at %s", hp, hansaBase)
			}
			if p, _ := providerPublisher(t, h, smeBase+"/provider-metadata.json"); p != pub {
				t.Errorf("sme's publisher after Hansa published: %+v, want %+v", p, pub)
			}
			// sme now publishes only under its claimed namespace.
			doc = strings.ReplaceAll(vulnstest.Document("IDN-Other-1", "Raw", "1", "WHITE"), "https://mueller.example", "https://mueller-new.example")
			if r := vulnstest.Import(t, h, sme, doc, url.Values{"tlp": {"CLEAR"}}); r.Status != http.StatusOK {
				t.Fatalf("import: %d %s", r.Status, r.Body)
			}
			if r := vulnstest.Publish(t, h, sme, advisoryID(t, h, sme, "IDN-Other-1")); r.Status != http.StatusBadRequest || r.ErrorCode() != "publish_publisher_mismatch" ||
				!strings.Contains(string(r.Body), "https://mueller.example") {
				t.Errorf("sme publishes under another namespace: %d %s, want 400 publish_publisher_mismatch naming https://mueller.example", r.Status, r.Body)
			}

			// The well-known provider: named by exact name or id, not by
			// a handle.
			svc := h.App.Vulns
			svc.Provider.WellKnown = "mueller-maschinenbau-gmbh"
			if err := svc.ResolveWellKnown(context.Background()); err == nil {
				t.Error("a provider handle resolves as --csaf-provider-org")
			}
			svc.Provider.WellKnown = "Müller Maschinenbau GmbH"
			if err := svc.ResolveWellKnown(context.Background()); err != nil {
				t.Fatal(err)
			}
			if svc.Provider.WellKnown != sme.OrgID {
				t.Errorf("--csaf-provider-org resolved to %q, want sme's id %q", svc.Provider.WellKnown, sme.OrgID)
			}
			if p, _ := providerPublisher(t, h, "/.well-known/csaf/provider-metadata.json"); p != pub {
				t.Errorf("well-known publisher %+v, want sme's %+v", p, pub)
			}
			svc.Provider.WellKnown = ""

			// The claim outlives sme's publications: with everything
			// unpublished, an org that never published cannot
			// publish under it.
			rows, err := h.App.DB.R().Query(context.Background(), `SELECT advisory_id FROM csaf_publications WHERE org_id = ?`, sme.OrgID)
			if err != nil {
				t.Fatal(err)
			}
			var published []string
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				published = append(published, id)
			}
			rows.Close()
			for _, id := range published {
				if r := h.API(t, sme.WriteToken, http.MethodDelete, "/api/v1/advisories/"+id+"/publication", nil); r.Status/100 != 2 {
					t.Fatalf("unpublish %s: %d %s", id, r.Status, r.Body)
				}
			}
			var left int
			if err := h.App.DB.R().QueryRow(context.Background(), `SELECT COUNT(*) FROM csaf_publications WHERE org_id = ?`, sme.OrgID).Scan(&left); err != nil || left != 0 {
				t.Fatalf("sme's publications after unpublishing: %d (%v)", left, err)
			}
			if r := h.API(t, h.Users["cert.analyst"].WriteToken, http.MethodPost, "/api/v1/advisories/compose", draft("IDN-2026-0009", "https://mueller.example")); r.Status != http.StatusBadRequest || r.ErrorCode() != "publish_namespace_taken" {
				t.Errorf("CERT Süd composes under sme's namespace after sme unpublished everything: %d %s, want 400 publish_namespace_taken", r.Status, r.Body)
			}
		})
	}
}

// TestCSAFProviderMetadataHidesProtected: the public provider metadata
// is the same before and after a RED (or GREEN or AMBER) publication:
// it names every feed whatever is published, and last_updated moves
// only with public publications.
func TestCSAFProviderMetadataHidesProtected(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.WorldCovering(t, e)
			sme := h.Users["sme.analyst"]
			_, white := publishAs(t, h, sme, "HID-White-1", "WHITE", url.Values{"tlp": {"CLEAR"}})
			pmd := path(t, white[:strings.Index(white, "/white/")]) + "/provider-metadata.json"
			_, before := providerPublisher(t, h, pmd)
			for _, x := range []struct{ tracking, label string }{{"HID-Red-1", "RED"}, {"HID-Amber-1", "AMBER"}, {"HID-Green-1", "GREEN"}} {
				q := url.Values{"tlp": {x.label}, "audience": {"people"}, "people": {sme.ID}}
				if x.label == "GREEN" {
					q = url.Values{"tlp": {"GREEN"}, "audience": {"community"}, "community_id": {h.Circle}}
				}
				publishAs(t, h, sme, x.tracking, x.label, q)
				if _, after := providerPublisher(t, h, pmd); string(after) != string(before) {
					t.Errorf("LEAK: the public provider metadata changed with a %s publication:\nbefore %s\nafter  %s", x.label, before, after)
				}
			}
			for _, l := range []string{"white", "green", "amber", "red"} {
				if !strings.Contains(string(before), "/"+l+"/csaf-feed-tlp-"+l+".json") {
					t.Errorf("the provider metadata does not name the %s feed: %s", l, before)
				}
			}
		})
	}
}

func path(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Path
}
