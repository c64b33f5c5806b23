// Package knowledgetest describes the knowledge archive to the hub-wide
// tests (internal/app): the authorization matrix rows of its routes and
// its shareable kinds (articles, their comments) for the leak harness,
// attachments and search included.
package knowledgetest

import (
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/knowledge"
	"verbund/internal/policy"
)

// Kit is the knowledge capability's kit.
func Kit() apptest.Kit {
	return apptest.Kit{Name: "knowledge", Setup: setup, Rows: rows(), Kinds: []apptest.LeakKind{articleKind(), commentKind()}}
}

// newArticle creates a fresh AMBER article of sme.analyst in the circle's
// library.
func newArticle(t testing.TB, h *apptest.Hub, title string) string {
	a, err := h.App.Knowledge.CreateArticle(context.Background(), h.Users["sme.analyst"].Actor, knowledge.NewArticle{
		Title: title, Body: "# " + title + "\n\nText.", Kind: "guide", Tags: []string{"matrix"},
		Sharing: policy.Sharing{TLP: "AMBER", Audience: "community", Community: h.Circle}})
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

func attach(t testing.TB, h *apptest.Hub, article, name, content string) string {
	at, err := h.App.Knowledge.AddAttachment(context.Background(), h.Users["sme.analyst"].Actor, article, name, "text/plain", strings.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	return at.ID
}

func comment(t testing.TB, h *apptest.Hub, article string) string {
	c, err := h.App.Knowledge.CreateComment(context.Background(), h.Users["sme.analyst"].Actor, article, knowledge.NewComment{Body: "comment"})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// setup makes the matrix's objects: an AMBER circle article of
// sme.analyst ({article}) with an attachment ({attachment}) and a comment.
func setup(t *testing.T, f *apptest.Fixture) {
	f.IDs["article"] = newArticle(t, f.Hub, "article "+f.Uniq())
	f.IDs["attachment"] = attach(t, f.Hub, f.IDs["article"], "notes.txt", "notes")
	comment(t, f.Hub, f.IDs["article"])
}

// upload is a multipart body with a file part, as browsers and API
// clients send an attachment.
func upload(name, content string) apptest.Raw {
	var b strings.Builder
	w := multipart.NewWriter(&b)
	fw, _ := w.CreateFormFile("file", name)
	_, _ = fw.Write([]byte(content))
	_ = w.Close()
	return apptest.Raw{ContentType: w.FormDataContentType(), Body: b.String()}
}

func rows() map[string]apptest.Row {
	const (
		objPage = "anon=303 nocontract=404 outsider=404 *=200" // the AMBER circle article: members with agreement
		objAPI  = "anon=401 nocontract=404 outsider=404 *=200"
		writer  = apptest.WriterOnly
		voter   = "anon=401 readtok=403 nocontract=404 outsider=404"
	)
	owned := writer + " partner=403 coord=403 nocontract=404 outsider=404"
	w, get, send, form := apptest.W, apptest.Get, apptest.Send, apptest.Form
	fresh := func(t *testing.T, f *apptest.Fixture) string { return newArticle(t, f.Hub, "fresh "+f.Uniq()) }
	freshComment := func(t *testing.T, f *apptest.Fixture) string { return comment(t, f.Hub, f.IDs["article"]) }
	freshAttachment := func(t *testing.T, f *apptest.Fixture) string {
		return f.IDs["article"] + "/attachments/" + attach(t, f.Hub, f.IDs["article"], "x.txt", "x")
	}
	article := map[string]any{"title": "A guide", "body": "# Steps\n\n1. Breathe", "kind": "guide", "tlp": "AMBER", "audience": "community", "community_id": "{circle}"}
	return map[string]apptest.Row{
		"GET /knowledge":                               {Req: apptest.Static("/knowledge"), Want: w(apptest.PageRead)},
		"GET /knowledge/new":                           {Req: apptest.Static("/knowledge/new?kind=post_incident_review"), Want: w(apptest.PageRead)},
		"GET /knowledge/{id}":                          {Req: get("/knowledge/{article}"), Want: w(objPage)},
		"GET /knowledge/{id}/edit":                     {Req: get("/knowledge/{article}/edit"), Want: w(objPage)},
		"GET /knowledge/{id}/versions":                 {Req: get("/knowledge/{article}/versions"), Want: w(objPage)},
		"GET /knowledge/{id}/attachments/{attachment}": {Req: get("/knowledge/{article}/attachments/{attachment}"), Want: w(objPage)},
		"POST /knowledge": {Req: send("/knowledge", form("title", "x", "body", "y", "kind", "guide", "tlp", "AMBER", "audience", "community", "community_id", "{circle}")),
			Want: w(writer + " outsider=400 *=303")},
		"POST /knowledge/{id}/edit": {Req: func(t *testing.T, f *apptest.Fixture) (string, any) {
			return "/knowledge/" + fresh(t, f) + "/edit", form("title", "t", "body", "edited", "kind", "guide", "tlp", "AMBER", "audience", "community", "community_id", f.Hub.Circle)
		}, Want: w(owned + " *=303")},
		"POST /knowledge/{id}/delete":          {Req: apptest.Fresh(fresh, "/knowledge/{new}/delete", nil), Want: w(owned + " *=303")},
		"POST /knowledge/{id}/comments":        {Req: send("/knowledge/{article}/comments", form("body", "a remark")), Want: w(writer + " nocontract=404 outsider=404 *=303")},
		"POST /knowledge/comments/{id}/delete": {Req: apptest.Fresh(freshComment, "/knowledge/comments/{new}/delete", nil), Want: w(owned + " *=303")},
		"POST /knowledge/{id}/helpful":         {Req: send("/knowledge/{article}/helpful", form("helpful", "1")), Want: w(voter + " *=303")},
		"POST /knowledge/{id}/attachments": {Req: func(t *testing.T, f *apptest.Fixture) (string, any) {
			return "/knowledge/" + fresh(t, f) + "/attachments", upload("page.txt", "from the page")
		}, Want: w(owned + " *=303")},
		"POST /knowledge/{id}/attachments/{attachment}/delete": {Req: apptest.Fresh(freshAttachment, "/knowledge/{new}/delete", nil), Want: w(owned + " *=303")},

		"GET /api/v1/articles":                               {Req: apptest.Static("/api/v1/articles"), Want: w(apptest.APIRead)},
		"POST /api/v1/articles":                              {Req: send("/api/v1/articles", article), Want: w(writer + " outsider=400 *=201")},
		"GET /api/v1/articles/{id}":                          {Req: get("/api/v1/articles/{article}"), Want: w(objAPI)},
		"PATCH /api/v1/articles/{id}":                        {Req: apptest.Fresh(fresh, "/api/v1/articles/{new}", map[string]any{"body": "edited"}), Want: w(owned + " *=200")},
		"DELETE /api/v1/articles/{id}":                       {Req: apptest.Fresh(fresh, "/api/v1/articles/{new}", nil), Want: w(owned + " *=204")},
		"GET /api/v1/articles/{id}/versions":                 {Req: get("/api/v1/articles/{article}/versions"), Want: w(objAPI)},
		"GET /api/v1/articles/{id}/diff":                     {Req: get("/api/v1/articles/{article}/diff"), Want: w(objAPI)},
		"GET /api/v1/articles/{id}/reads":                    {Req: get("/api/v1/articles/{article}/reads"), Want: w(objAPI)},
		"GET /api/v1/articles/{id}/comments":                 {Req: get("/api/v1/articles/{article}/comments"), Want: w(objAPI)},
		"POST /api/v1/articles/{id}/comments":                {Req: send("/api/v1/articles/{article}/comments", map[string]any{"body": "a remark"}), Want: w(writer + " nocontract=404 outsider=404 *=201")},
		"DELETE /api/v1/article-comments/{id}":               {Req: apptest.Fresh(freshComment, "/api/v1/article-comments/{new}", nil), Want: w(owned + " *=204")},
		"PUT /api/v1/articles/{id}/helpful":                  {Req: get("/api/v1/articles/{article}/helpful"), Want: w(voter + " *=200")},
		"DELETE /api/v1/articles/{id}/helpful":               {Req: get("/api/v1/articles/{article}/helpful"), Want: w(voter + " *=200")},
		"GET /api/v1/articles/{id}/attachments":              {Req: get("/api/v1/articles/{article}/attachments"), Want: w(objAPI)},
		"GET /api/v1/article-templates/{kind}":               {Req: apptest.Static("/api/v1/article-templates/checklist?lang=de"), Want: w(apptest.APIRead)},
		"GET /api/v1/articles/{id}/attachments/{attachment}": {Req: get("/api/v1/articles/{article}/attachments/{attachment}"), Want: w(objAPI)},
		"POST /api/v1/articles/{id}/attachments": {Req: func(t *testing.T, f *apptest.Fixture) (string, any) {
			return "/api/v1/articles/" + fresh(t, f) + "/attachments", upload("api.txt", "from the API")
		}, Want: w(owned + " *=201")},
		"DELETE /api/v1/articles/{id}/attachments/{attachment}": {Req: apptest.Fresh(freshAttachment, "/api/v1/articles/{new}", nil), Want: w(owned + " *=204")},
	}
}

// leakState is what the harness's articles carry: each its attachment,
// and the carrier article the comments go to.
type leakState struct {
	attachment map[string]string // article → its attachment
	carrier    string
}

func state(c *apptest.LeakCase) *leakState { return c.State.(*leakState) }

// create writes an article as sme.analyst through the API with sharing s
// and the marker in title and text, and attaches a file whose name and
// content carry the marker too.
func create(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
	h := c.Hub
	body := map[string]any{"title": "article " + marker, "body": "## Schritte\n\nText " + marker + ".", "kind": "guide", "tags": []string{"leak"},
		"tlp": s.TLP, "audience": s.Audience, "community_id": s.Community, "orgs": s.Orgs, "people": s.People}
	r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/articles", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create article %s: %d %s", marker, r.Status, r.Body)
	}
	var a struct{ ID string }
	r.JSON(t, &a)
	return a.ID
}

func articleKind() apptest.LeakKind {
	detail := func(route, path string) apptest.Path {
		return apptest.Path{Route: route, Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
			apptest.ExpectDetail(t, c, r, path, objs)
		}}
	}
	download := func(route, path string) apptest.Path {
		return apptest.Path{Route: route, Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
			for _, o := range objs {
				p := fmt.Sprintf(path, o.ID, state(c).attachment[o.ID])
				resp := c.Hub.API(t, r.ReadToken, http.MethodGet, p, nil)
				switch {
				case o.Visible && resp.Status != http.StatusOK:
					t.Errorf("GET %s: %s gets %d for %s, want 200", path, r.Key, resp.Status, o.Envelope)
				case o.Visible && (!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
					resp.Header.Get("Content-Type") != "application/octet-stream" || !strings.Contains(string(resp.Body), o.Marker)):
					t.Errorf("GET %s: %s gets %v %q for %s, want the file as a download", path, r.Key, resp.Header, resp.Body, o.Envelope)
				case !o.Visible && resp.Status != http.StatusNotFound:
					t.Errorf("LEAK on GET %s: %s gets %d for %s, want 404", path, r.Key, resp.Status, o.Envelope)
				case !o.Visible && strings.Contains(string(resp.Body), o.Marker):
					t.Errorf("LEAK on GET %s: %s gets the content of %s", path, r.Key, o.Envelope)
				}
			}
		}}
	}
	return apptest.LeakKind{
		Kind:  "article",
		Setup: func(testing.TB, *apptest.LeakCase) any { return &leakState{attachment: map[string]string{}} },
		Create: func(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
			id := create(t, c, s, marker)
			state(c).attachment[id] = attach(t, c.Hub, id, marker+".txt", "file of "+marker)
			return id
		},
		Streamed: true,
		Touch: func(t testing.TB, c *apptest.LeakCase, o apptest.LeakObject) {
			h := c.Hub
			r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPatch, "/api/v1/articles/"+o.ID, map[string]any{"body": fmt.Sprintf("Edited %s %d", o.Marker, time.Now().UnixNano())})
			if r.Status != http.StatusOK {
				t.Fatalf("edit %s: %d %s", o.Marker, r.Status, r.Body)
			}
		},
		Paths: append([]apptest.Path{
			detail("GET /api/v1/articles/{id}", "/api/v1/articles/%s"),
			detail("GET /api/v1/articles/{id}/versions", "/api/v1/articles/%s/versions"),
			detail("GET /api/v1/articles/{id}/diff", "/api/v1/articles/%s/diff"),
			detail("GET /api/v1/articles/{id}/reads", "/api/v1/articles/%s/reads"),
			detail("GET /api/v1/articles/{id}/comments", "/api/v1/articles/%s/comments"),
			detail("GET /api/v1/articles/{id}/attachments", "/api/v1/articles/%s/attachments"),
			detail("GET /knowledge/{id}", "/knowledge/%s"),
			detail("GET /knowledge/{id}/edit", "/knowledge/%s/edit"),
			detail("GET /knowledge/{id}/versions", "/knowledge/%s/versions"),
			download("GET /api/v1/articles/{id}/attachments/{attachment}", "/api/v1/articles/%s/attachments/%s"),
			download("GET /knowledge/{id}/attachments/{attachment}", "/knowledge/%s/attachments/%s"),
			{Route: "GET /api/v1/articles", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "the article list", r, apptest.ListIDs(t, c, r, "/api/v1/articles?limit=4"), objs)
				circle := apptest.ListIDs(t, c, r, "/api/v1/articles?community_id="+c.Hub.Circle)
				for _, o := range objs {
					if !o.Visible && contains(circle, o.ID) {
						t.Errorf("LEAK on the circle's library: %s sees %s", r.Key, o.Envelope)
					}
				}
			}},
			{Route: "GET /knowledge", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/knowledge")
				apptest.ExpectIDs(t, "the library page", r, htmlIDs(page, "article-"), objs)
				apptest.ExpectMarkers(t, "the library page", r, page, objs, true)
			}},
			{Route: "GET /audit", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				status, page := apptest.Page(t, c, r, "/audit")
				if status == http.StatusForbidden {
					return
				}
				apptest.ExpectMarkers(t, "the audit page", r, page, objs, false)
				for _, o := range objs {
					if !o.Visible && strings.Contains(page, `href="/knowledge/`+o.ID) {
						t.Errorf("LEAK on the audit page: %s gets a link to %s", r.Key, o.Envelope)
					}
				}
			}},
		}, apptest.SearchPaths("article", nil)...),
	}
}

func commentKind() apptest.LeakKind {
	return apptest.LeakKind{
		Kind: "article_comment",
		Setup: func(t testing.TB, c *apptest.LeakCase) any {
			return &leakState{carrier: create(t, c, policy.Sharing{TLP: "CLEAR", Audience: "community", Community: c.Hub.Circle}, "carrier")}
		},
		Create: func(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
			h := c.Hub
			body := map[string]any{"body": "comment " + marker, "tlp": s.TLP, "audience": s.Audience, "community_id": s.Community, "orgs": s.Orgs, "people": s.People}
			r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/articles/"+state(c).carrier+"/comments", body)
			if r.Status != http.StatusCreated {
				t.Fatalf("comment %s: %d %s", marker, r.Status, r.Body)
			}
			var out struct{ ID string }
			r.JSON(t, &out)
			return out.ID
		},
		Paths: []apptest.Path{
			{Route: "GET /api/v1/articles/{id}/comments", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "the comments", r, apptest.ListIDs(t, c, r, "/api/v1/articles/"+state(c).carrier+"/comments"), objs)
			}},
			{Route: "GET /knowledge/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/knowledge/"+state(c).carrier)
				apptest.ExpectIDs(t, "the article page's comments", r, htmlIDs(page, "comment-"), objs)
				apptest.ExpectMarkers(t, "the article page", r, page, objs, true)
			}},
			{Route: "GET /audit", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				status, page := apptest.Page(t, c, r, "/audit")
				if status == http.StatusForbidden {
					return
				}
				apptest.ExpectMarkers(t, "the audit page", r, page, objs, false)
				for _, o := range objs {
					if !o.Visible && strings.Contains(page, "#comment-"+o.ID) {
						t.Errorf("LEAK on the audit page: %s gets a link to %s", r.Key, o.Envelope)
					}
				}
			}},
		},
	}
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// htmlIDs lists the ids of elements id="<prefix><id>" in a page.
func htmlIDs(page, prefix string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`id="`+regexp.QuoteMeta(prefix)+`([0-9a-f-]{36})"`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}
