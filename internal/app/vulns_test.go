package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"verbund/internal/app/apptest"
	"verbund/internal/csaf"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/vulns"
	"verbund/internal/vulns/vulnstest"
)

// cisaInputs reads CISA's real CSAF documents with the .sha512 files
// published beside them.
func cisaInputs(t testing.TB) []vulns.Input {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data", "csaf-cisa", "csaf_files")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no CISA data: %v", err)
	}
	var out []vulns.Input
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") || strings.Contains(p, "feed") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		in := vulns.Input{Name: filepath.Base(p), Data: b}
		if s, err := os.ReadFile(p + ".sha512"); err == nil {
			in.SHA512 = strings.Fields(string(s))[0]
		}
		out = append(out, in)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVulnsImportCISA imports CISA's real advisories (IT 2024 and OT 2017,
// the OT ones checked against their .sha512) on both engines: every
// document, vulnerability and product is kept; TLP:WHITE is CLEAR, so
// every organisation reads them; importing again changes nothing.
func TestVulnsImportCISA(t *testing.T) {
	inputs := cisaInputs(t)
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			ctx := context.Background()
			for round := range 2 {
				rep, err := h.App.Vulns.Import(ctx, h.Users["cloud.analyst"].Actor, inputs, vulns.ImportOptions{Via: "test"})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Documents.Imported != 191 || rep.Documents.Rejected != 0 || rep.Vulnerabilities != 370 || rep.Products != 791 || len(rep.Errors) != 0 {
					t.Fatalf("round %d: %+v", round, rep)
				}
			}
			ids := listAll(t, h, h.Users["outsider.analyst"], "/api/v1/advisories?limit=200")
			if len(ids) != 191 {
				t.Fatalf("the outsider lists %d CLEAR advisories, want 191", len(ids))
			}
			var versions int
			if err := h.App.DB.R().QueryRow(ctx, `SELECT COUNT(*) FROM vuln_advisory_versions`).Scan(&versions); err != nil || versions != 191 {
				t.Errorf("%d versions held after importing twice (%v), want 191", versions, err)
			}
			var a vulns.Advisory
			r := h.API(t, h.Users["sme.viewer"].ReadToken, http.MethodGet, "/api/v1/advisories?q=VA-24-254-01", nil)
			var list struct{ Items []vulns.Advisory }
			r.JSON(t, &list)
			if len(list.Items) != 1 {
				t.Fatalf("search VA-24-254-01: %s", r.Body)
			}
			h.API(t, h.Users["sme.viewer"].ReadToken, http.MethodGet, "/api/v1/advisories/"+list.Items[0].ID, nil).JSON(t, &a)
			if a.TLP != "CLEAR" || a.Publisher != "CISA" || len(a.Vulns) == 0 || a.Vulns[0].CVSSv3 == nil || len(a.Products) == 0 || a.Products[0].Vendor != "IBM" || len(a.Versions) != 1 {
				t.Errorf("VA-24-254-01: %+v", a)
			}
			page := h.API(t, h.Users["sme.viewer"].ReadToken, http.MethodGet, "/vulns/advisories/"+a.ID+"?lang=de", nil)
			if page.Status != http.StatusOK || !strings.Contains(string(page.Body), "Angriffsvektor") || !strings.Contains(string(page.Body), `data-metric="AV:N"`) {
				t.Errorf("advisory page: %d, no readable CVSS", page.Status)
			}
		})
	}
}

func listAll(t *testing.T, h *apptest.Hub, u *apptest.User, path string) []string {
	t.Helper()
	var ids []string
	next := ""
	for range 100 {
		p := path
		if next != "" {
			p += "&next=" + next
		}
		var page struct {
			Items []struct{ ID string }
			Next  string
		}
		r := h.API(t, u.ReadToken, http.MethodGet, p, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, r.Status, r.Body)
		}
		r.JSON(t, &page)
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		if next = page.Next; next == "" {
			break
		}
	}
	return ids
}

// TestVulnsBadInput: broken JSON, another CSAF version, an oversized
// document, a schema violation, an unknown CVSS vector, a tampered hash
// and a changed document under a version already held are each refused
// with their code, and leave nothing behind; the good document of the
// same upload is imported.
func TestVulnsBadInput(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			ctx := context.Background()
			u := h.Users["cloud.analyst"]
			good := vulnstest.Document("WOLKE-2026-1", "Wolke Gateway flaw", "1", "AMBER")
			if rep, err := h.App.Vulns.Import(ctx, u.Actor, []vulns.Input{{Name: "v1.json", Data: []byte(good)}}, vulns.ImportOptions{}); err != nil || rep.Documents.Imported != 1 {
				t.Fatalf("import: %+v %v", rep, err)
			}
			sum := sha256.Sum256([]byte(good))
			cases := []struct {
				name, code string
				in         vulns.Input
			}{
				{"broken JSON", "bad_json", vulns.Input{Data: []byte(good[:300])}},
				{"CSAF 2.1", "wrong_version", vulns.Input{Data: []byte(strings.Replace(vulnstest.Document("W-2", "x", "1", ""), `"2.0"`, `"2.1"`, 1))}},
				{"oversize", "too_large", vulns.Input{Data: []byte(vulnstest.Document("W-3", "x", "1", "") + strings.Repeat(" ", 16<<20))}},
				{"schema", "schema", vulns.Input{Data: []byte(strings.Replace(vulnstest.Document("W-4", "x", "1", ""), `"status": "final"`, `"status": "done"`, 1))}},
				{"unknown CVSS vector", "bad_cvss", vulns.Input{Data: []byte(strings.Replace(vulnstest.Document("W-5", "x", "1", ""),
					"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AC:L", 1))}},
				{"tampered hash", "hash_mismatch", vulns.Input{Data: []byte(vulnstest.Document("W-6", "x", "1", "")), SHA256: hex.EncodeToString(sum[:])}},
				{"changed content, same version", "version_conflict", vulns.Input{Data: []byte(strings.Replace(good, "allows remote", "permits remote", 1))}},
				{"TLP:RED for the whole org", "sharing", vulns.Input{Data: []byte(vulnstest.Document("W-7", "x", "1", "RED"))}},
			}
			var before int
			count := func() (n int) {
				must(t, h.App.DB.R().QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM vuln_advisories) + (SELECT COUNT(*) FROM vuln_advisory_versions) + (SELECT COUNT(*) FROM vuln_products) + (SELECT COUNT(*) FROM shares)`).Scan(&n))
				return n
			}
			before = count()
			var inputs []vulns.Input
			for _, c := range cases {
				c.in.Name = c.name
				inputs = append(inputs, c.in)
			}
			rep, err := h.App.Vulns.Import(ctx, u.Actor, inputs, vulns.ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Documents.Imported != 0 || rep.Documents.Rejected != len(cases) {
				t.Fatalf("report %+v", rep)
			}
			for i, c := range cases {
				if rep.Errors[i].File != c.name || rep.Errors[i].Code != c.code || rep.Errors[i].Message == "" {
					t.Errorf("%s: %+v, want %s", c.name, rep.Errors[i], c.code)
				}
			}
			if n := count(); n != before {
				t.Errorf("refused documents left %d rows", n-before)
			}
			// A new version is kept beside the first and becomes the current.
			v2 := strings.Replace(vulnstest.Document("WOLKE-2026-1", "Wolke Gateway flaw, updated", "2", "AMBER"), "allows remote", "permits remote", 1)
			rep, err = h.App.Vulns.Import(ctx, u.Actor, []vulns.Input{{Name: "v2.json", Data: []byte(v2)}}, vulns.ImportOptions{})
			if err != nil || rep.Documents.Imported != 1 {
				t.Fatalf("v2: %+v %v", rep, err)
			}
			list, _, err := h.App.Vulns.FindAdvisories(ctx, u.Actor, vulns.AdvisoryFilter{Q: "WOLKE-2026-1"})
			if err != nil || len(list) != 1 {
				t.Fatalf("list: %v %v", list, err)
			}
			a, err := h.App.Vulns.FindAdvisoryByID(ctx, u.Actor, list[0].ID)
			if err != nil || a.Version != "2" || len(a.Versions) != 2 || a.Title != "Wolke Gateway flaw, updated" || a.TLP != "AMBER" || a.Severity != "CRITICAL" {
				t.Errorf("after v2: %+v %v", a, err)
			}
			// A new version marked RED narrows the advisory (AMBER to the org
			// cannot hold RED: refused with its reason); one marked AMBER
			// on a CLEAR advisory makes it AMBER.
			red := vulnstest.Document("WOLKE-2026-1", "Wolke Gateway flaw, updated", "3", "RED")
			rep, err = h.App.Vulns.Import(ctx, u.Actor, []vulns.Input{{Name: "v3.json", Data: []byte(red)}}, vulns.ImportOptions{})
			if err != nil || rep.Documents.Rejected != 1 || rep.Errors[0].Code != "sharing" {
				t.Errorf("v3 (RED): %+v %v", rep, err)
			}
			if rep, err := h.App.Vulns.Import(ctx, u.Actor, []vulns.Input{{Name: "w1.json", Data: []byte(vulnstest.Document("WOLKE-2026-2", "Public", "1", "WHITE"))}}, vulns.ImportOptions{}); err != nil || rep.Documents.Imported != 1 {
				t.Fatalf("WHITE v1: %+v %v", rep, err)
			}
			if rep, err := h.App.Vulns.Import(ctx, u.Actor, []vulns.Input{{Name: "w2.json", Data: []byte(vulnstest.Document("WOLKE-2026-2", "Restricted now", "2", "AMBER"))}}, vulns.ImportOptions{}); err != nil || rep.Documents.Imported != 1 {
				t.Fatalf("AMBER v2: %+v %v", rep, err)
			}
			if l, _, err := h.App.Vulns.FindAdvisories(ctx, h.Users["outsider.analyst"].Actor, vulns.AdvisoryFilter{Q: "WOLKE-2026-2"}); err != nil || len(l) != 0 {
				t.Errorf("LEAK: the outsider still reads an advisory its publisher restricted to AMBER: %+v %v", l, err)
			}
			// Another org's analyst does not find it (AMBER, the org only).
			if _, err := h.App.Vulns.FindAdvisoryByID(ctx, h.Users["sme.analyst"].Actor, a.ID); err == nil {
				t.Error("sme reads cloud's own advisory")
			}
		})
	}
}

// TestVulnsUploadAndKEV: the API takes a provider's files as a form (the
// .sha256 beside the document is checked), the page takes the same
// upload, and a CVE in the KEV catalogue marks the advisory as known
// exploited with CISA's due date.
func TestVulnsUploadAndKEV(t *testing.T) {
	h := apptest.World(t, "sqlite")
	ctx := context.Background()
	f, err := os.Open(sharedData(t, "kev/known_exploited_vulnerabilities.json"))
	must(t, err)
	defer f.Close()
	if rep, err := h.App.Vulns.ImportKEV(ctx, h.Users["cloud.admin"].Actor, f); err != nil || rep.Entries != 1404 {
		t.Fatalf("KEV: %+v %v", rep, err)
	}
	doc := strings.ReplaceAll(vulnstest.Document("WOLKE-2026-7", "Git in the gateway", "1", "WHITE"), "CVE-2026-10001", "CVE-2025-48384")
	sum := sha256.Sum256([]byte(doc))
	form := func(digest string) apptest.Raw {
		var b strings.Builder
		w := multipart.NewWriter(&b)
		fw, _ := w.CreateFormFile("files", "wolke-2026-7.json")
		_, _ = fw.Write([]byte(doc))
		fw, _ = w.CreateFormFile("files", "wolke-2026-7.json.sha256")
		_, _ = fw.Write([]byte(digest + "  wolke-2026-7.json\n"))
		_ = w.Close()
		return apptest.Raw{ContentType: w.FormDataContentType(), Body: b.String()}
	}
	u := h.Users["cloud.analyst"]
	r := postRaw(t, h, u.WriteToken, "/api/v1/advisories", form(strings.Repeat("0", 64)))
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), `"hash_mismatch"`) {
		t.Fatalf("tampered upload: %d %s", r.Status, r.Body)
	}
	r = postRaw(t, h, u.WriteToken, "/api/v1/advisories", form(hex.EncodeToString(sum[:])))
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"imported":1`) {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	var list struct{ Items []vulns.Advisory }
	h.API(t, h.Users["sme.viewer"].ReadToken, http.MethodGet, "/api/v1/advisories?q="+url.QueryEscape("cve-2025-48384"), nil).JSON(t, &list)
	if len(list.Items) != 1 || !list.Items[0].KEV || list.Items[0].TLP != "CLEAR" {
		t.Fatalf("list: %+v", list)
	}
	var a vulns.Advisory
	h.API(t, h.Users["sme.viewer"].ReadToken, http.MethodGet, "/api/v1/advisories/"+list.Items[0].ID, nil).JSON(t, &a)
	if a.Vulns[0].KEV == nil || a.Vulns[0].KEV.DueDate != "2025-09-15" {
		t.Errorf("KEV entry: %+v", a.Vulns[0].KEV)
	}
	r = h.API(t, h.Users["sme.viewer"].ReadToken, http.MethodGet, "/api/v1/kev/CVE-2025-48384", nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"due_date":"2025-09-15"`) {
		t.Errorf("KEV look-up: %d %s", r.Status, r.Body)
	}
	// The board's deadline is the KEV due date itself, the same day as the
	// KEV line under it, both in the page's date format (not the next
	// day's midnight, which shows as 16.09.2025 in Berlin).
	if r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/assets", map[string]any{"vendor": "Wolke", "product": "Wolke Gateway", "version": "2.4.1", "name": "gw"}); r.Status != http.StatusCreated {
		t.Fatalf("asset: %d %s", r.Status, r.Body)
	}
	board := h.Login(t, h.Users["sme.analyst"]).Get(t, "/vulns/board?lang=de")
	if bs := string(board.Body); !strings.Contains(bs, "15.09.2025 <span") || !strings.Contains(bs, "KEV-Frist 15.09.2025") || strings.Contains(bs, "16.09.2025") || strings.Contains(bs, "2025-09-15") {
		t.Errorf("board KEV deadline: %s", bs)
	}
	adv := h.Login(t, h.Users["sme.analyst"]).Get(t, "/vulns/advisories/"+list.Items[0].ID+"?lang=de")
	if as := string(adv.Body); !strings.Contains(as, "Frist der CISA: 15.09.2025.") || !strings.Contains(as, `title="csaf_security_advisory">Sicherheitshinweis<`) ||
		!strings.Contains(as, "<strong>9,8</strong>") || strings.Contains(as, ">9.8<") {
		t.Errorf("advisory KEV box: %s", adv.Body)
	}
	// The page upload, signed in with a session (CSRF in the form).
	b := h.Login(t, u)
	page := b.Get(t, "/vulns/import")
	if page.Status != http.StatusOK {
		t.Fatalf("import page: %d", page.Status)
	}
	doc2 := vulnstest.Document("WOLKE-2026-8", "Page upload", "1", "GREEN")
	var body strings.Builder
	w := multipart.NewWriter(&body)
	_ = w.WriteField("_csrf", b.CSRF)
	fw, _ := w.CreateFormFile("files", "wolke-2026-8.json")
	_, _ = fw.Write([]byte(doc2))
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/vulns/import", strings.NewReader(body.String()))
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := b.Client.Do(req)
	must(t, err)
	defer resp.Body.Close()
	out := new(strings.Builder)
	_, _ = io.Copy(out, resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(out.String(), `id="imported">1<`) {
		t.Errorf("page upload: %d %s", resp.StatusCode, out)
	}

	// A German report says why in German, with the values: a digest that
	// does not match, a document without csaf_version (the browser sends
	// base names; a path from the CLI or a provider wraps at its slashes).
	body.Reset()
	w = multipart.NewWriter(&body)
	_ = w.WriteField("_csrf", b.CSRF)
	fw, _ = w.CreateFormFile("files", "wolke/2026/wolke-2026-9.json")
	_, _ = fw.Write([]byte(vulnstest.Document("WOLKE-2026-9", "Digest", "1", "GREEN")))
	fw, _ = w.CreateFormFile("files", "wolke/2026/wolke-2026-9.json.sha512")
	_, _ = fw.Write([]byte(strings.Repeat("a", 128) + "  wolke-2026-9.json\n"))
	fw, _ = w.CreateFormFile("files", "old.json")
	_, _ = fw.Write([]byte(strings.Replace(vulnstest.Document("WOLKE-2026-10", "Old", "1", "GREEN"), `"csaf_version": "2.0",`, "", 1)))
	_ = w.Close()
	req, _ = http.NewRequest(http.MethodPost, h.URL+"/vulns/import?lang=de", strings.NewReader(body.String()))
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp2, err := b.Client.Do(req)
	must(t, err)
	defer resp2.Body.Close()
	out.Reset()
	_, _ = io.Copy(out, resp2.Body)
	for _, want := range []string{`id="rejected">2<`, "Der SHA-512-Hashwert des Dokuments ist ", ", die .sha512-Datei nennt " + strings.Repeat("a", 128) + ".",
		"Das Dokument nennt keine CSAF-Version (document.csaf_version); dieser Hub liest CSAF 2.0.", `import-file">wolke-2026-9.json<`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("German import report lacks %q: %s", want, out)
		}
	}
	for _, english := range []string{"the SHA-512 of the document", "this hub reads"} {
		if strings.Contains(out.String(), english) {
			t.Errorf("German import report says %q", english)
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// postRaw posts a body of its own content type with a bearer token.
func postRaw(t *testing.T, h *apptest.Hub, token, path string, body apptest.Raw) apptest.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.URL+path, strings.NewReader(body.Body))
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", body.ContentType)
	resp, err := h.Server.Client().Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// TestVulnsSignatures: with the provider's OpenPGP key, a document whose
// .asc verifies is imported, one whose signature does not (a changed
// document, another key's signature) is refused with bad_signature, and
// leaves nothing behind.
func TestVulnsSignatures(t *testing.T) {
	h := apptest.World(t, "sqlite")
	provider, err := openpgp.NewEntity("Wolke CSAF", "", "csaf@wolke.example", nil)
	must(t, err)
	stranger, err := openpgp.NewEntity("Someone", "", "x@example.org", nil)
	must(t, err)
	sign := func(e *openpgp.Entity, doc string) []byte {
		var b bytes.Buffer
		must(t, openpgp.ArmoredDetachSign(&b, e, strings.NewReader(doc), nil))
		return b.Bytes()
	}
	good := vulnstest.Document("WOLKE-2026-30", "Signed", "1", "WHITE")
	changed := vulnstest.Document("WOLKE-2026-31", "Changed after signing", "1", "WHITE")
	inputs := []vulns.Input{
		{Name: "good.json", Data: []byte(good), Signature: sign(provider, good)},
		{Name: "changed.json", Data: []byte(changed), Signature: sign(provider, strings.Replace(changed, "Changed", "Original", 1))},
		{Name: "stranger.json", Data: []byte(vulnstest.Document("WOLKE-2026-32", "x", "1", "WHITE")), Signature: sign(stranger, vulnstest.Document("WOLKE-2026-32", "x", "1", "WHITE"))},
	}
	rep, err := h.App.Vulns.Import(t.Context(), h.Users["cloud.analyst"].Actor, inputs, vulns.ImportOptions{Keys: csaf.Keys{provider}})
	must(t, err)
	if rep.Documents.Imported != 1 || rep.Documents.Rejected != 2 || rep.Errors[0].Code != "bad_signature" || rep.Errors[1].Code != "bad_signature" {
		t.Fatalf("report: %+v", rep)
	}
	list, _, err := h.App.Vulns.FindAdvisories(t.Context(), h.Users["cloud.analyst"].Actor, vulns.AdvisoryFilter{Q: "WOLKE-2026-3"})
	if err != nil || len(list) != 1 || list[0].TrackingID != "WOLKE-2026-30" {
		t.Errorf("held: %+v %v", list, err)
	}
}

// TestVulnsSearch: the advisory list searches like the hub search (the
// same index, with stemming): German inflected words and words in any
// order find the advisory, on both engines.
func TestVulnsSearch(t *testing.T) { eachEngine(t, testVulnsSearch) }

func testVulnsSearch(t *testing.T, e db.Dialect) {
	h := apptest.World(t, e)
	u := h.Users["cloud.analyst"]
	if r := vulnstest.Import(t, h, u, vulnstest.Document("WOLKE-2026-20", "Zugangsdaten im Protokoll des Gateways", "1", "WHITE"), url.Values{}); r.Status != http.StatusOK {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	if r := vulnstest.Import(t, h, u, vulnstest.Document("WOLKE-2026-21", "Speicherüberlauf", "1", "WHITE"), url.Values{}); r.Status != http.StatusOK {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	for q, want := range map[string]int{"Zugangsdaten Protokoll": 1, "Protokolle": 1, "protokoll zugangsdaten": 1, "Speicherüberlauf": 1, "Feuerwehr": 0, "WOLKE-2026-22": 0, "wolke-2026-21": 1} {
		list, _, err := h.App.Vulns.FindAdvisories(t.Context(), h.Users["sme.viewer"].Actor, vulns.AdvisoryFilter{Q: q})
		if err != nil || len(list) != want {
			t.Errorf("%s: search %q: %d advisories (%v), want %d", e, q, len(list), err, want)
		}
		page := h.Login(t, h.Users["sme.viewer"]).Get(t, "/vulns?lang=de&q="+url.QueryEscape(q))
		if got := strings.Contains(string(page.Body), `href="/vulns/advisories/`); got != (want > 0) {
			t.Errorf("%s: page search %q shows an advisory: %v", e, q, got)
		}
	}
}
