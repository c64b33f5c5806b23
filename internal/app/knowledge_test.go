package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/intel"
	"verbund/internal/knowledge"
	"verbund/internal/policy"
)

// article is an article as the API answers it.
type article struct {
	ID, Kind, Title, Body, HTML string
	Tags                        []string
	Version                     int
	Helpful                     int
	HelpfulByMe                 bool `json:"helpful_by_me"`
	Links                       []struct{ Type, ID, Name, URL string }
	Sharing                     struct {
		TLP      string
		Audience struct{ Kind, Community string }
	}
	NotDeliveredTo []string `json:"not_delivered_to"`
}

func createArticle(t *testing.T, h *apptest.Hub, user string, body map[string]any) article {
	t.Helper()
	r := h.API(t, h.Users[user].WriteToken, http.MethodPost, "/api/v1/articles", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create article as %s: %d %s", user, r.Status, r.Body)
	}
	var a article
	r.JSON(t, &a)
	return a
}

// uploadFile sends a file as a multipart upload with token.
func uploadFile(t *testing.T, h *apptest.Hub, token, path, name string, content []byte) apptest.Response {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fw, _ := w.CreateFormFile("file", name)
	_, _ = fw.Write(content)
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, h.URL+path, &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// TestArticleLifecycle: an article is written with the sharing fields of
// a thread (201 with its id), read with its sanitised HTML, changed into
// a second version with a readable diff, commented, voted helpful, given
// an attachment that is served only as a download, counted per org when
// opened, and deleted with everything in it — on both engines.
func TestArticleLifecycle(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			a := createArticle(t, h, "cert.analyst", map[string]any{"title": "Ransomware – Erste Schritte für KMU", "kind": "guide", "lang": "de",
				"body": "# Erste Schritte\n\n1. Netz trennen\n2. CERT anrufen\n", "tags": []string{"Ransomware", "KMU", "kmu"},
				"tlp": "GREEN", "audience": "community", "community_id": h.Circle})
			if a.ID == "" || a.Version != 1 || a.Sharing.TLP != "TLP:GREEN" || a.Sharing.Audience.Kind != "community" || strings.Join(a.Tags, ",") != "kmu,ransomware" {
				t.Fatalf("created %+v", a)
			}
			// Without an audience, an article named for a circle goes to it.
			b := createArticle(t, h, "sme.analyst", map[string]any{"title": "Checkliste", "kind": "checklist", "body": "- [ ] a", "tlp": "AMBER", "community_id": h.Circle})
			if b.Sharing.Audience.Kind != "community" || b.Sharing.Audience.Community != h.Circle {
				t.Errorf("default audience with community_id: %+v", b.Sharing)
			}
			var got article
			r := h.API(t, h.Users["sme.viewer"].ReadToken, http.MethodGet, "/api/v1/articles/"+a.ID, nil)
			r.JSON(t, &got)
			if r.Status != http.StatusOK || !strings.Contains(got.HTML, "<h1 id=") || !strings.Contains(got.HTML, "<li>Netz trennen</li>") || got.Body == "" {
				t.Fatalf("get: %d %s", r.Status, r.Body)
			}
			// The circle's library lists it; an outsider sees nothing of it.
			if ids := apptest.ListIDs(t, &apptest.LeakCase{Hub: h}, h.Users["sme.viewer"], "/api/v1/articles?community_id="+h.Circle); !contains(ids, a.ID) {
				t.Errorf("the circle's library lacks the guide: %v", ids)
			}
			if r := h.API(t, h.Users["outsider.analyst"].ReadToken, http.MethodGet, "/api/v1/articles/"+a.ID, nil); r.Status != http.StatusNotFound {
				t.Errorf("outsider reads the guide: %d", r.Status)
			}

			// A second version and its diff.
			r = h.API(t, h.Users["cert.analyst"].WriteToken, http.MethodPatch, "/api/v1/articles/"+a.ID, map[string]any{"body": "# Erste Schritte\n\n1. Netz trennen\n2. CERT Süd anrufen\n3. Nichts löschen\n"})
			r.JSON(t, &got)
			if r.Status != http.StatusOK || got.Version != 2 {
				t.Fatalf("edit: %d %s", r.Status, r.Body)
			}
			var diff struct {
				From, To int
				Lines    []struct{ Op, Text string }
			}
			h.API(t, h.Users["sme.viewer"].ReadToken, http.MethodGet, "/api/v1/articles/"+a.ID+"/diff", nil).JSON(t, &diff)
			var ops []string
			for _, l := range diff.Lines {
				ops = append(ops, l.Op+l.Text)
			}
			if diff.From != 1 || diff.To != 2 || !contains(ops, "-2. CERT anrufen") || !contains(ops, "+2. CERT Süd anrufen") || !contains(ops, "+3. Nichts löschen") || !contains(ops, " 1. Netz trennen") {
				t.Errorf("diff: %+v", diff)
			}
			var versions struct{ Items []struct{ Version int } }
			h.API(t, h.Users["sme.viewer"].ReadToken, http.MethodGet, "/api/v1/articles/"+a.ID+"/versions", nil).JSON(t, &versions)
			if len(versions.Items) != 2 || versions.Items[0].Version != 2 {
				t.Errorf("versions: %+v", versions)
			}
			// The versions page names each version by its number and links
			// its changes (the attack review found the whole version printed).
			if page := string(h.API(t, h.Users["sme.viewer"].ReadToken, http.MethodGet, "/knowledge/"+a.ID+"/versions", nil).Body); !strings.Contains(page, `id="version-2"`) || !strings.Contains(page, "versions?from=1&amp;to=2") {
				t.Error("the versions page does not name version 2 by its number")
			}
			// Only the owner's writers change it.
			if r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPatch, "/api/v1/articles/"+a.ID, map[string]any{"title": "x"}); r.Status != http.StatusForbidden || r.ErrorCode() != "not_owner" {
				t.Errorf("another org edits: %d %s", r.Status, r.Body)
			}

			// Comments inherit the article's sharing; a vote counts once.
			r = h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/articles/"+a.ID+"/comments", map[string]any{"body": "Danke, hilft uns sehr."})
			if r.Status != http.StatusCreated || !strings.Contains(string(r.Body), `"TLP:GREEN"`) {
				t.Errorf("comment: %d %s", r.Status, r.Body)
			}
			for range 2 {
				h.API(t, h.Users["sme.viewer"].WriteToken, http.MethodPut, "/api/v1/articles/"+a.ID+"/helpful", nil)
			}
			h.API(t, h.Users["sme.analyst"].ReadToken, http.MethodGet, "/api/v1/articles/"+a.ID, nil).JSON(t, &got)
			if got.Helpful != 1 || got.HelpfulByMe {
				t.Errorf("votes: %d by me %v", got.Helpful, got.HelpfulByMe)
			}

			// An attachment: its SHA-256 kept, served as a download only.
			content := []byte("<html><script>alert(1)</script></html>")
			r = uploadFile(t, h, h.Users["cert.analyst"].WriteToken, "/api/v1/articles/"+a.ID+"/attachments", "../../notfall.html", content)
			var at knowledge.Attachment
			r.JSON(t, &at)
			sum := sha256.Sum256(content)
			if r.Status != http.StatusCreated || at.SHA256 != hex.EncodeToString(sum[:]) || at.Name != "notfall.html" || at.Size != int64(len(content)) {
				t.Fatalf("attach: %d %s", r.Status, r.Body)
			}
			r = h.API(t, h.Users["sme.viewer"].ReadToken, http.MethodGet, "/api/v1/articles/"+a.ID+"/attachments/"+at.ID, nil)
			if r.Status != http.StatusOK || !bytes.Equal(r.Body, content) || r.Header.Get("Content-Type") != "application/octet-stream" ||
				!strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment;") || !strings.Contains(r.Header.Get("Content-Disposition"), "notfall.html") ||
				r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("download: %d %v", r.Status, r.Header)
			}
			// The attachment of another article is not found through this one.
			if r := h.API(t, h.Users["sme.viewer"].ReadToken, http.MethodGet, "/api/v1/articles/"+b.ID+"/attachments/"+at.ID, nil); r.Status != http.StatusNotFound {
				t.Errorf("attachment through another article: %d", r.Status)
			}

			// Reads per org: sme opened it (above, twice as sme), cert not.
			var reads knowledge.Reads
			h.API(t, h.Users["sme.viewer"].ReadToken, http.MethodGet, "/api/v1/articles/"+a.ID+"/reads", nil).JSON(t, &reads)
			if len(reads.Orgs) != 1 || reads.Orgs[0].OrgID != h.Orgs["sme"] || reads.Orgs[0].Reads < 2 || reads.Total != 0 {
				t.Errorf("sme's reads: %+v", reads)
			}
			h.API(t, h.Users["cert.admin"].ReadToken, http.MethodGet, "/api/v1/articles/"+a.ID+"/reads", nil).JSON(t, &reads)
			if reads.Total < 2 || len(reads.Orgs) != 1 || reads.Orgs[0].OrgName == "" {
				t.Errorf("the owner's reads: %+v", reads)
			}
			if strings.Contains(fmt.Sprint(reads), h.Users["sme.viewer"].ID) {
				t.Errorf("reads name a person: %+v", reads)
			}

			// Deleting it takes everything with it.
			if r := h.API(t, h.Users["cert.analyst"].WriteToken, http.MethodDelete, "/api/v1/articles/"+a.ID, nil); r.Status != http.StatusNoContent {
				t.Fatalf("delete: %d %s", r.Status, r.Body)
			}
			var n int
			err := h.App.DB.R().QueryRow(context.Background(), `SELECT (SELECT COUNT(*) FROM article_versions WHERE article_id = ?) + (SELECT COUNT(*) FROM article_comments WHERE article_id = ?)
				+ (SELECT COUNT(*) FROM article_attachments WHERE article_id = ?) + (SELECT COUNT(*) FROM search_docs WHERE id = ?) + (SELECT COUNT(*) FROM shares WHERE id = ? OR container_id = ?)`,
				a.ID, a.ID, a.ID, a.ID, a.ID, a.ID).Scan(&n)
			if err != nil || n != 0 {
				t.Errorf("after delete %d rows remain (%v)", n, err)
			}
		})
	}
}

// TestArticleBadInput: empty, oversized and unsafe articles and
// attachments are refused with their own codes, and nothing is written.
func TestArticleBadInput(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	ctx := context.Background()
	tok := h.Users["sme.analyst"].WriteToken
	base := func(kv ...any) map[string]any {
		m := map[string]any{"title": "T", "body": "Text", "kind": "guide", "tlp": "AMBER", "audience": "org"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	// An intel object only cert can see.
	_, err := h.App.Intel.Import(ctx, h.Users["cert.analyst"].Actor, strings.NewReader(`{"type":"bundle","id":"bundle--6f1a7d3e-1c3a-4a5b-9e1e-0c7c8e1f2a3b","objects":[{"type":"malware","spec_version":"2.1","id":"malware--0c7c8e1f-2a3b-4a5b-9e1e-6f1a7d3e1c3a","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"Geheim","is_family":true}]}`), intel.ImportOptions{TLP: "AMBER", Audience: policy.Audience{Kind: policy.AudOrg}, Via: "test"})
	if err != nil {
		t.Fatal(err)
	}
	objs, _, err := h.App.Intel.List(ctx, h.Users["cert.analyst"].Actor, intel.Filter{IDs: []string{"malware--0c7c8e1f-2a3b-4a5b-9e1e-6f1a7d3e1c3a"}, All: true, Limit: 1})
	if err != nil || len(objs) != 1 {
		t.Fatal(err, objs)
	}
	count := func() (n int) {
		if err := h.App.DB.R().QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM articles) + (SELECT COUNT(*) FROM shares WHERE kind = 'article') + (SELECT COUNT(*) FROM search_docs WHERE kind = 'article')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	for _, c := range []struct {
		name string
		body map[string]any
		code string
	}{
		{"empty title", base("title", "  "), "bad_article_title"},
		{"long title", base("title", strings.Repeat("x", 201)), "bad_article_title"},
		{"empty body", base("body", " \n "), "article_body_missing"},
		{"oversize body", base("body", strings.Repeat("ä", knowledge.MaxBody+1)), "article_too_long"},
		{"script", base("body", "Hallo\n\n<script>alert(1)</script>"), "markdown_html"},
		{"event handler", base("body", "Bild <img src=x onerror=alert(1)>"), "markdown_html"},
		{"javascript link", base("body", "[klick](javascript:alert(document.cookie))"), "markdown_link"},
		{"data link", base("body", "![x](data:text/html;base64,PHNjcmlwdD4=)"), "markdown_link"},
		{"unknown kind", base("kind", "novel"), "bad_article_kind"},
		{"bad tag", base("tags", []string{"<b>"}), "bad_tag"},
		{"too many tags", base("tags", strings.Split("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u", ",")), "too_many_tags"},
		{"link to a hidden object", base("links", []map[string]string{{"type": "intel", "id": objs[0].ID}}), "link_unknown"},
		{"link to nothing", base("links", []map[string]string{{"type": "intel", "id": "01a23400-0000-7000-8000-000000000000"}}), "link_unknown"},
		{"link to an unknown type", base("links", []map[string]string{{"type": "user", "id": "x"}}), "bad_link_type"},
		{"RED to the org", base("tlp", "RED"), "red_needs_people"},
		{"outsider's circle", base("audience", "community", "community_id", "nope"), "not_a_member"},
		{"unknown field", base("html", "<b>x</b>"), "unknown_field"},
	} {
		r := h.API(t, tok, http.MethodPost, "/api/v1/articles", c.body)
		if r.Status != http.StatusBadRequest || r.ErrorCode() != c.code {
			t.Errorf("%s: %d %s, want 400 %s", c.name, r.Status, r.Body, c.code)
		}
	}
	if n := count(); n != before {
		t.Errorf("refused articles left %d rows", n-before)
	}
	// A refused edit keeps the article as it was.
	a := createArticle(t, h, "sme.analyst", base())
	if r := h.API(t, tok, http.MethodPatch, "/api/v1/articles/"+a.ID, map[string]any{"title": "Neu", "body": "<iframe src=x></iframe>"}); r.ErrorCode() != "markdown_html" {
		t.Errorf("edit with HTML: %d %s", r.Status, r.Body)
	}
	var got article
	h.API(t, tok, http.MethodGet, "/api/v1/articles/"+a.ID, nil).JSON(t, &got)
	if got.Title != "T" || got.Version != 1 {
		t.Errorf("after a refused edit: %+v", got)
	}
	// Attachments: empty, oversized, none.
	for _, c := range []struct {
		name    string
		content []byte
		status  int
		code    string
	}{
		{"empty file", nil, http.StatusBadRequest, "attachment_empty"},
		{"oversized file", bytes.Repeat([]byte("x"), knowledge.MaxAttachment+1), http.StatusRequestEntityTooLarge, "attachment_too_large"},
	} {
		r := uploadFile(t, h, tok, "/api/v1/articles/"+a.ID+"/attachments", "f.bin", c.content)
		if r.Status != c.status || r.ErrorCode() != c.code {
			t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
		}
	}
	var n int
	if err := h.App.DB.R().QueryRow(ctx, `SELECT COUNT(*) FROM article_attachments`).Scan(&n); err != nil || n != 0 {
		t.Errorf("refused attachments left %d rows (%v)", n, err)
	}
	// Exactly 10 MB is fine.
	if r := uploadFile(t, h, tok, "/api/v1/articles/"+a.ID+"/attachments", "full.bin", bytes.Repeat([]byte("y"), knowledge.MaxAttachment)); r.Status != http.StatusCreated {
		t.Errorf("a file of the maximum size: %d %s", r.Status, r.Body)
	}
}

// TestArticlePageIsSanitised: whatever an article's stored Markdown holds
// (written before the checks, or by hand into the database), the page and
// the API's HTML never carry scripts, event handlers, styles or
// javascript: links; ordinary Markdown still renders.
func TestArticlePageIsSanitised(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	a := createArticle(t, h, "sme.analyst", map[string]any{"title": "Harmlos", "body": "Harmlos", "kind": "guide", "tlp": "AMBER", "audience": "org"})
	evil := "# Titel\n\n<script>alert('s')</script>\n\n<img src=x onerror=alert('e')>\n\n[klick](javascript:alert('j'))\n\n" +
		"<a href=\"javascript:alert('a')\" onclick=\"alert('c')\">a</a>\n\n<div style=\"background:url(javascript:alert('st'))\">d</div>\n\n" +
		"<svg onload=alert('v')></svg>\n\n<iframe src=\"https://evil.example\"></iframe>\n\n[gut](https://www.bsi.bund.de) **fett**"
	ctx := dbtest.Unaudited(context.Background())
	if err := h.App.DB.Tx(ctx, func(tx *db.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE articles SET body = ? WHERE id = ?`, evil, a.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	page := h.Login(t, h.Users["sme.viewer"]).Get(t, "/knowledge/"+a.ID)
	var api article
	h.API(t, h.Users["sme.viewer"].ReadToken, http.MethodGet, "/api/v1/articles/"+a.ID, nil).JSON(t, &api)
	body := string(page.Body)
	start, end := strings.Index(body, `id="article-body"`), strings.Index(body, `id="attachments"`)
	if page.Status != http.StatusOK || start < 0 || end < start {
		t.Fatalf("page: %d", page.Status)
	}
	for what, fragment := range map[string]string{"the page": body[start:end], "the API's html": api.HTML} {
		for _, bad := range activeContent(fragment) {
			t.Errorf("%s holds %s: %s", what, bad, fragment)
		}
		for _, good := range []string{`href="https://www.bsi.bund.de"`, "<strong>fett</strong>", "<h1"} {
			if !strings.Contains(fragment, good) {
				t.Errorf("%s lacks %q: %s", what, good, fragment)
			}
		}
	}
	// The layout's own scripts are the only ones on the page.
	if n := strings.Count(strings.ToLower(body), "<script"); n != 1 {
		t.Errorf("the page has %d script elements, want the layout's one", n)
	}
}

// activeContent lists what in an HTML fragment could run or load
// anything: script, iframe, object, embed, svg, style elements, event
// handler and style attributes, and javascript:, vbscript: or data: in an
// address. Text that merely reads like code (escaped) is no content.
func activeContent(fragment string) []string {
	var out []string
	z := html.NewTokenizer(strings.NewReader(fragment))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return out
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		switch tok.Data {
		case "script", "iframe", "object", "embed", "svg", "style", "math", "form", "base":
			out = append(out, "a <"+tok.Data+"> element")
		}
		for _, at := range tok.Attr {
			v := strings.ToLower(strings.Join(strings.Fields(at.Val), ""))
			switch {
			case strings.HasPrefix(at.Key, "on"), at.Key == "style", at.Key == "srcdoc":
				out = append(out, "the attribute "+at.Key)
			case strings.HasPrefix(v, "javascript:"), strings.HasPrefix(v, "vbscript:"), strings.HasPrefix(v, "data:"):
				out = append(out, "the address "+at.Val)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestCommentInAnArticleOneCannotSee: a comment lives with its article. An
// article narrowed away from the commenter's org is not found for it, and
// neither is its own comment in it: deleting that comment answers 404,
// like a comment that does not exist (the attack review: 204 told a
// hidden article from a deleted one and changed inside it).
func TestCommentInAnArticleOneCannotSee(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/articles", map[string]any{
		"title": "Leitfaden: Notfallkontakte", "body": "Wen rufen wir an?", "kind": "guide", "tlp": "GREEN", "audience": "community", "community_id": h.Circle})
	var a struct{ ID string }
	r.JSON(t, &a)
	if r.Status != http.StatusCreated {
		t.Fatalf("article: %d %s", r.Status, r.Body)
	}
	r = h.API(t, h.Users["cloud.analyst"].WriteToken, http.MethodPost, "/api/v1/articles/"+a.ID+"/comments", map[string]any{"body": "Ergänzung von Wolke"})
	var c struct{ ID string }
	r.JSON(t, &c)
	if r.Status != http.StatusCreated {
		t.Fatalf("comment: %d %s", r.Status, r.Body)
	}
	if r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPatch, "/api/v1/articles/"+a.ID, map[string]any{"sharing": map[string]any{"tlp": "AMBER", "audience": "org"}}); r.Status != http.StatusOK {
		t.Fatalf("narrow the article: %d %s", r.Status, r.Body)
	}
	hidden := h.API(t, h.Users["cloud.analyst"].WriteToken, http.MethodDelete, "/api/v1/article-comments/"+c.ID, nil)
	missing := h.API(t, h.Users["cloud.analyst"].WriteToken, http.MethodDelete, "/api/v1/article-comments/0199aaaa-0000-7000-8000-000000000000", nil)
	if hidden.Status != http.StatusNotFound || string(hidden.Body) != string(missing.Body) {
		t.Errorf("LEAK: deleting one's comment in an article one cannot see: %d %s (a missing one: %d %s)", hidden.Status, hidden.Body, missing.Status, missing.Body)
	}
}

// TestArticleEditKeepsWhatTheFormDoesNotShow: saving the edit form keeps
// its editor in a named-people audience (the form cannot list them) and
// the links it does not show; a reshare that would hide the article from
// its editor is refused, not committed and answered 404 (attack review).
func TestArticleEditKeepsWhatTheFormDoesNotShow(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	// other writes it, editor (a colleague named in its audience) edits.
	editor, other := h.Users["sme.analyst"], h.Users["sme.analyst2"]
	r := h.API(t, other.WriteToken, http.MethodPost, "/api/v1/articles", map[string]any{
		"title": "Lagebild intern", "body": "Nur für zwei.", "kind": "guide", "tlp": "RED", "audience": "people", "people": []string{editor.ID, other.ID}})
	var a struct{ ID string }
	r.JSON(t, &a)
	if r.Status != http.StatusCreated {
		t.Fatalf("article: %d %s", r.Status, r.Body)
	}
	b := h.Login(t, editor)
	page := b.PostForm(t, "/knowledge/"+a.ID+"/edit", url.Values{"title": {"Lagebild intern"}, "body": {"Nur für zwei, ergänzt."}, "kind": {"guide"},
		"tlp": {"RED"}, "audience": {"people"}, "people": {other.ID}})
	if page.Status != http.StatusOK && page.Status != http.StatusSeeOther {
		t.Fatalf("save the form: %d", page.Status)
	}
	if r := h.API(t, editor.ReadToken, http.MethodGet, "/api/v1/articles/"+a.ID, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "ergänzt") {
		t.Errorf("after saving the form the editor reads: %d %s", r.Status, r.Body)
	}
	r = h.API(t, editor.WriteToken, http.MethodPatch, "/api/v1/articles/"+a.ID, map[string]any{"sharing": map[string]any{"tlp": "RED", "audience": "people", "people": []string{other.ID}}})
	if r.Status != http.StatusBadRequest || r.ErrorCode() != "reshare_hides_it" {
		t.Errorf("a reshare hiding the article from its editor: %d %s", r.Status, r.Body)
	}
}

// TestArticleCommentsArriveLive: a comment is announced to the open pages
// of its article for readers who see it (and the article), and the
// article page takes it into its comment list; an outsider hears nothing.
func TestArticleCommentsArriveLive(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/articles", map[string]any{
		"title": "Leitfaden: Backups prüfen", "body": "Offline-Kopie?", "kind": "guide", "tlp": "GREEN", "audience": "community", "community_id": h.Circle})
	var a struct{ ID string }
	r.JSON(t, &a)
	if r.Status != http.StatusCreated {
		t.Fatalf("article: %d %s", r.Status, r.Body)
	}
	member := openStream(t, h.URL, h.Users["cloud.analyst"].ReadToken, "?topic=article:"+a.ID)
	outsider := openStream(t, h.URL, h.Users["outsider.analyst"].ReadToken, "?topic=article:"+a.ID)
	r = h.API(t, h.Users["cert.analyst"].WriteToken, http.MethodPost, "/api/v1/articles/"+a.ID+"/comments", map[string]any{"body": "Bei uns wöchentlich."})
	var c struct{ ID string }
	r.JSON(t, &c)
	if r.Status != http.StatusCreated {
		t.Fatalf("comment: %d %s", r.Status, r.Body)
	}
	member.waitFor(t, c.ID, 3*time.Second)
	outsider.never(t, c.ID, 300*time.Millisecond)
	if page := string(h.Login(t, h.Users["cloud.analyst"]).Get(t, "/knowledge/"+a.ID).Body); !strings.Contains(page, `data-live-summary="knowledge.comment"`) {
		t.Error("the article page's comment list does not take comments live")
	}
}
