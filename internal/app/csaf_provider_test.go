package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"verbund/internal/app/apptest"
	"verbund/internal/csaf"
	"verbund/internal/db/dbtest"
	"verbund/internal/policy"
	"verbund/internal/vulns/vulnstest"
)

// publishAs imports a document marked label as u with sharing q and
// publishes it; it returns the advisory id and the document's address
// on the provider.
func publishAs(t *testing.T, h *apptest.Hub, u *apptest.User, tracking, label string, q url.Values) (string, string) {
	t.Helper()
	if r := vulnstest.Import(t, h, u, vulnstest.Document(tracking, "Provider "+tracking, "1", label), q); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"imported":1`) {
		t.Fatalf("import %s: %d %s", tracking, r.Status, r.Body)
	}
	id := advisoryID(t, h, u, tracking)
	r := vulnstest.Publish(t, h, u, id)
	if r.Status != http.StatusOK {
		t.Fatalf("publish %s: %d %s", tracking, r.Status, r.Body)
	}
	var p struct{ URL string }
	r.JSON(t, &p)
	return id, p.URL
}

func advisoryID(t *testing.T, h *apptest.Hub, u *apptest.User, tracking string) string {
	t.Helper()
	var l struct {
		Items []struct {
			ID         string `json:"id"`
			TrackingID string `json:"tracking_id"`
		}
	}
	h.API(t, u.ReadToken, http.MethodGet, "/api/v1/advisories?limit=100", nil).JSON(t, &l)
	for _, it := range l.Items {
		if strings.EqualFold(it.TrackingID, tracking) {
			return it.ID
		}
	}
	t.Fatalf("advisory %s not found: %+v", tracking, l)
	return ""
}

// get fetches path with token ("" for none) without following
// redirects.
func get(t *testing.T, h *apptest.Hub, token, path string) (int, http.Header, []byte) {
	t.Helper()
	r := h.API(t, token, http.MethodGet, path, nil)
	return r.Status, r.Header, r.Body
}

// TestCSAFCompose writes advisories with the API: a complete one is
// published at once and served as valid CSAF; a draft missing a field,
// with a bad CVSS vector or that could not be published (AMBER+STRICT)
// is refused with its code and nothing is written.
func TestCSAFCompose(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.WorldCovering(t, e)
			sme := h.Users["sme.analyst"]
			draft := func(kv ...any) map[string]any {
				d := map[string]any{"tracking_id": "SME-2026-0001", "title": "Gateway: remote code execution", "summary": "The gateway runs code it is sent.",
					"vendor": "Müller", "product": "Gateway", "affected_version": "2.4.1", "fixed_version": "2.4.2", "cve": "CVE-2026-10001",
					"cvss_v3": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "remediation": "Update to 2.4.2.", "tlp": "CLEAR", "publish": true}
				for i := 0; i < len(kv); i += 2 {
					if kv[i+1] == nil {
						delete(d, kv[i].(string))
					} else {
						d[kv[i].(string)] = kv[i+1]
					}
				}
				return d
			}
			count := func() int {
				var n int
				if err := h.App.DB.R().QueryRow(context.Background(), `SELECT (SELECT COUNT(*) FROM vuln_advisories) + (SELECT COUNT(*) FROM csaf_publications)`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			for _, b := range []struct {
				code string
				d    map[string]any
			}{
				{"draft_missing", draft("summary", nil)},
				{"draft_missing", draft("affected_version", " ")},
				{"draft_bad_cvss", draft("cvss_v3", "CVSS:3.1/AV:X")},
				{"draft_bad_cve", draft("cve", "CVE-26-1")},
				{"publish_amber_strict", draft("tlp", "AMBER+STRICT")},
			} {
				before := count()
				r := h.API(t, sme.WriteToken, http.MethodPost, "/api/v1/advisories/compose", b.d)
				if r.Status != http.StatusBadRequest || r.ErrorCode() != b.code {
					t.Errorf("compose %v: %d %s, want 400 %s", b.d, r.Status, r.Body, b.code)
				}
				if count() != before {
					t.Errorf("a refused draft (%s) wrote something", b.code)
				}
			}
			r := h.API(t, sme.WriteToken, http.MethodPost, "/api/v1/advisories/compose", draft())
			if r.Status != http.StatusCreated {
				t.Fatalf("compose: %d %s", r.Status, r.Body)
			}
			var c struct {
				ID          string
				Publication struct{ URL string }
			}
			r.JSON(t, &c)
			u, err := url.Parse(c.Publication.URL)
			if err != nil || !strings.HasSuffix(u.Path, "/white/"+time.Now().UTC().Format("2006")+"/sme-2026-0001.json") {
				t.Fatalf("publication at %q", c.Publication.URL)
			}
			status, _, doc := get(t, h, "", u.Path)
			if status != http.StatusOK {
				t.Fatalf("GET %s: %d", u.Path, status)
			}
			parsed, err := csaf.Parse(doc)
			if err != nil {
				t.Fatalf("the written advisory is no valid CSAF: %v", err)
			}
			if parsed.TLP != "WHITE" || parsed.Category != "csaf_security_advisory" || len(parsed.Vulns) != 1 || parsed.Vulns[0].CVE != "CVE-2026-10001" || len(parsed.Products) != 2 {
				t.Errorf("written advisory: %+v", parsed)
			}
			if best, ok := parsed.Vulns[0].Best(); !ok || best.Score != 9.8 {
				t.Errorf("score %+v", best)
			}
			// The same tracking id again is the same advisory: a conflict.
			if r := h.API(t, sme.WriteToken, http.MethodPost, "/api/v1/advisories/compose", draft("title", "other")); r.Status != http.StatusBadRequest {
				t.Errorf("compose the same id with other content: %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestCSAFProviderAccess publishes one advisory per TLP label as
// sme.analyst and reads the provider as each kind of reader: WHITE is
// public; GREEN (to the circle), AMBER (sme only) and RED (named people)
// files, feeds, indexes, changes and listings are 401 without
// credentials and 404 to those the envelope hides them from; AMBER+STRICT
// and a label that disagrees with the envelope are refused; nothing
// redirects; hashes and signatures verify with the published key.
func TestCSAFProviderAccess(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.WorldCovering(t, e)
			sme := h.Users["sme.analyst"]
			_, white := publishAs(t, h, sme, "ACC-White:1", "WHITE", url.Values{"tlp": {"CLEAR"}})
			_, green := publishAs(t, h, sme, "ACC-Green-1", "GREEN", url.Values{"tlp": {"GREEN"}, "audience": {"community"}, "community_id": {h.Circle}})
			_, amber := publishAs(t, h, sme, "ACC-Amber-1", "AMBER", url.Values{"tlp": {"AMBER"}})
			_, red := publishAs(t, h, sme, "ACC-Red-1", "RED", url.Values{"tlp": {"RED"}, "audience": {"people"}, "people": {sme.ID}})
			if !strings.HasSuffix(white, "/white/2026/acc-white_1.json") {
				t.Errorf("WHITE document at %s, want …/white/2026/acc-white_1.json (CSAF 2.0 §5.1)", white)
			}
			path := func(u string) string {
				p, err := url.Parse(u)
				if err != nil {
					t.Fatal(err)
				}
				return p.Path
			}
			base := path(white)[:strings.Index(path(white), "/white/")]

			// Who reads what: "" is without credentials.
			readers := map[string]string{"anon": "", "sme.analyst": sme.ReadToken, "sme.viewer": h.Users["sme.viewer"].ReadToken,
				"cert.analyst": h.Users["cert.analyst"].ReadToken, "outsider.admin": h.Users["outsider.admin"].ReadToken}
			want := map[string]map[string]int{
				"white": {"anon": 200, "sme.analyst": 200, "sme.viewer": 200, "cert.analyst": 200, "outsider.admin": 200},
				"green": {"anon": 401, "sme.analyst": 200, "sme.viewer": 200, "cert.analyst": 200, "outsider.admin": 404},
				"amber": {"anon": 401, "sme.analyst": 200, "sme.viewer": 200, "cert.analyst": 404, "outsider.admin": 404},
				"red":   {"anon": 401, "sme.analyst": 200, "sme.viewer": 404, "cert.analyst": 404, "outsider.admin": 404},
			}
			docs := map[string]string{"white": path(white), "green": path(green), "amber": path(amber), "red": path(red)}
			for label, doc := range docs {
				folder := base + "/" + label + "/"
				files := []string{doc, doc + ".sha256", doc + ".sha512", doc + ".asc", folder, folder + "index.txt", folder + "changes.csv",
					folder + "csaf-feed-tlp-" + label + ".json", folder + "category-" + label + ".json", folder + "2026/"}
				for who, token := range readers {
					for _, f := range files {
						status, hdr, body := get(t, h, token, f)
						if bytes.Contains(body, []byte("PRIVATE KEY")) {
							t.Fatalf("LEAK: GET %s as %s shows a private key", f, who)
						}
						if status != want[label][who] {
							t.Errorf("GET %s as %s: %d, want %d (%s)", f, who, status, want[label][who], body)
						}
						if status >= 300 && status < 400 || hdr.Get("Location") != "" {
							t.Errorf("GET %s as %s redirects (%d, %s)", f, who, status, hdr.Get("Location"))
						}
						if status == http.StatusUnauthorized && hdr.Get("WWW-Authenticate") == "" {
							t.Errorf("GET %s as %s: 401 without WWW-Authenticate", f, who)
						}
					}
				}
			}
			// The listings, feeds and indexes name what the reader may
			// read and nothing else.
			for _, f := range []string{base + "/green/index.txt", base + "/green/csaf-feed-tlp-green.json", base + "/green/2026/", base + "/green/changes.csv"} {
				_, _, body := get(t, h, h.Users["cert.analyst"].ReadToken, f)
				if !bytes.Contains(body, []byte("acc-green-1.json")) {
					t.Errorf("%s as cert.analyst does not list the GREEN advisory: %s", f, body)
				}
			}
			for _, f := range []string{base + "/white/index.txt", base + "/white/csaf-feed-tlp-white.json", base + "/white/2026/"} {
				_, _, body := get(t, h, "", f)
				for _, hidden := range []string{"acc-green-1", "acc-amber-1", "acc-red-1"} {
					if bytes.Contains(body, []byte(hidden)) {
						t.Errorf("LEAK: the public %s names %s", f, hidden)
					}
				}
			}
			// Addresses without their slash, unknown folders and unknown
			// providers: not found, never redirected.
			for _, f := range []string{base + "/white", base + "/amber", base + "/white/2026", base + "/amber/2026", base + "/nope/",
				base + "/white/2025/", "/csaf/nobody/provider-metadata.json", "/csaf/nobody/white/", base + "/openpgp/0000.asc",
				"/.well-known/csaf/provider-metadata.json", "/.well-known/security.txt"} {
				for who, token := range map[string]string{"anon": "", "sme.analyst": sme.ReadToken} {
					status, hdr, _ := get(t, h, token, f)
					if status >= 300 && status < 400 || hdr.Get("Location") != "" {
						t.Errorf("GET %s as %s redirects (%d %s)", f, who, status, hdr.Get("Location"))
					}
					if status != http.StatusNotFound && !(status == http.StatusUnauthorized && who == "anon") {
						t.Errorf("GET %s as %s: %d, want 404", f, who, status)
					}
				}
			}

			// The provider metadata names the WHITE, GREEN, AMBER and RED
			// feeds and the key; hashes and the signature of each document
			// verify with it.
			status, _, pmdBody := get(t, h, "", base+"/provider-metadata.json")
			if status != http.StatusOK {
				t.Fatalf("provider-metadata.json: %d %s", status, pmdBody)
			}
			var pmd struct {
				Role          string `json:"role"`
				Distributions []struct {
					Rolie *struct {
						Feeds []struct {
							TLPLabel string `json:"tlp_label"`
						}
					}
				}
				Keys []struct{ Fingerprint, URL string } `json:"public_openpgp_keys"`
			}
			if err := json.Unmarshal(pmdBody, &pmd); err != nil {
				t.Fatal(err)
			}
			var labels []string
			for _, d := range pmd.Distributions {
				if d.Rolie != nil {
					for _, f := range d.Rolie.Feeds {
						labels = append(labels, f.TLPLabel)
					}
				}
			}
			if pmd.Role != "csaf_trusted_provider" || strings.Join(labels, ",") != "WHITE,GREEN,AMBER,RED" || len(pmd.Keys) != 1 {
				t.Fatalf("provider metadata: role %q, feeds %v, %d keys", pmd.Role, labels, len(pmd.Keys))
			}
			_, _, key := get(t, h, "", path(pmd.Keys[0].URL))
			ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(key))
			if err != nil {
				t.Fatalf("published key: %v", err)
			}
			if bytes.Contains(key, []byte("PRIVATE KEY")) {
				t.Fatal("LEAK: the published key file holds the private key")
			}
			for label, doc := range docs {
				_, _, d := get(t, h, sme.ReadToken, doc)
				_, _, s256 := get(t, h, sme.ReadToken, doc+".sha256")
				_, _, s512 := get(t, h, sme.ReadToken, doc+".sha512")
				_, _, sig := get(t, h, sme.ReadToken, doc+".asc")
				a, b := sha256.Sum256(d), sha512.Sum512(d)
				if !strings.HasPrefix(string(s256), hex.EncodeToString(a[:])) || !strings.HasPrefix(string(s512), hex.EncodeToString(b[:])) {
					t.Errorf("%s: the hash files do not match the document", label)
				}
				if _, err := openpgp.CheckArmoredDetachedSignature(ring, bytes.NewReader(d), bytes.NewReader(sig), nil); err != nil {
					t.Errorf("%s: the signature does not verify with the published key: %v", label, err)
				}
			}

			// Publishing checks: AMBER+STRICT is not published; a label
			// that is not the envelope's level is refused; a document
			// without a label too; nothing is written.
			bad := []struct {
				tracking, label, code string
				q                     url.Values
			}{
				{"ACC-Strict-1", "AMBER", "publish_amber_strict", url.Values{"tlp": {"AMBER+STRICT"}}},
				{"ACC-Mismatch-1", "GREEN", "publish_tlp_mismatch", url.Values{"tlp": {"AMBER"}}},
				{"ACC-Nolabel-1", "", "publish_no_tlp", url.Values{"tlp": {"AMBER"}}},
			}
			for _, b := range bad {
				if r := vulnstest.Import(t, h, sme, vulnstest.Document(b.tracking, "bad", "1", b.label), b.q); r.Status != http.StatusOK {
					t.Fatalf("import %s: %d %s", b.tracking, r.Status, r.Body)
				}
				r := vulnstest.Publish(t, h, sme, advisoryID(t, h, sme, b.tracking))
				if r.Status != http.StatusBadRequest || r.ErrorCode() != b.code {
					t.Errorf("publish %s: %d %s, want 400 %s", b.tracking, r.Status, r.Body, b.code)
				}
			}
			var n int
			if err := h.App.DB.R().QueryRow(context.Background(), `SELECT COUNT(*) FROM csaf_publications`).Scan(&n); err != nil || n != 4 {
				t.Errorf("publications after the refusals: %d (%v), want 4", n, err)
			}
			// Another org may not publish sme's advisory; a viewer may not
			// publish at all.
			amberID := advisoryID(t, h, sme, "ACC-Amber-1")
			if r := vulnstest.Publish(t, h, h.Users["cert.analyst"], amberID); r.Status != http.StatusNotFound {
				t.Errorf("cert publishes sme's AMBER advisory: %d, want 404", r.Status)
			}
			if r := h.API(t, h.Users["sme.viewer"].ReadToken, http.MethodPut, "/api/v1/advisories/"+amberID+"/publication", nil); r.Status != http.StatusForbidden {
				t.Errorf("a viewer publishes: %d, want 403", r.Status)
			}

			// Shared anew at another level, a publication is no longer
			// served under its old label; unpublished, it is gone.
			if r := h.API(t, sme.WriteToken, http.MethodPatch, "/api/v1/advisories/"+amberID, policy.Sharing{TLP: "RED", Audience: "people", People: []string{sme.ID}}); r.Status != http.StatusOK {
				t.Fatalf("reshare: %d %s", r.Status, r.Body)
			}
			if status, _, _ := get(t, h, sme.ReadToken, path(amber)); status != http.StatusNotFound {
				t.Errorf("AMBER publication shared anew as RED: %d, want 404", status)
			}
			if r := h.API(t, sme.WriteToken, http.MethodDelete, "/api/v1/advisories/"+amberID+"/publication", nil); r.Status != http.StatusNoContent {
				t.Errorf("unpublish: %d %s", r.Status, r.Body)
			}
			if r := h.API(t, sme.WriteToken, http.MethodDelete, "/api/v1/advisories/"+amberID+"/publication", nil); r.Status != http.StatusNotFound {
				t.Errorf("unpublish twice: %d, want 404", r.Status)
			}
			// A published advisory can be deleted; its publication goes.
			whiteID := advisoryID(t, h, sme, "ACC-White:1")
			if r := h.API(t, sme.WriteToken, http.MethodDelete, "/api/v1/advisories/"+whiteID, nil); r.Status != http.StatusNoContent {
				t.Fatalf("delete a published advisory: %d %s", r.Status, r.Body)
			}
			if status, _, _ := get(t, h, "", path(white)); status != http.StatusNotFound {
				t.Errorf("deleted advisory still served: %d", status)
			}
		})
	}
}
