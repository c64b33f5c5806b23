package apptest

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// SearchPaths are the hub's search's paths for a kind whose objects are
// found as documents of type typ (the kernel's kind name, e.g. "post"):
// the API (every page, three results a page, so that cursors are walked)
// and the search page, each searched for the harness's markers. Neither
// may find, quote (snippets, titles) or link an object the reader may not
// see. docs maps the kind's objects to the documents the search finds for
// them (a thread is found by its first post); nil for the objects
// themselves.
func SearchPaths(typ string, docs func(c *LeakCase, objs []LeakObject) []LeakObject) []Path {
	of := func(c *LeakCase, objs []LeakObject) []LeakObject {
		if docs == nil {
			return objs
		}
		return docs(c, objs)
	}
	return []Path{
		{Route: "GET /api/v1/search", Check: func(t testing.TB, c *LeakCase, r *User, objs []LeakObject) {
			objs = of(c, objs)
			ExpectIDs(t, "the search API", r, ListIDs(t, c, r, "/api/v1/search?q=leakmark&limit=3&type="+typ), objs)
			// All kinds at once, and the raw answer: no marker of a hidden
			// object in any title or snippet.
			resp := c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/search?limit=100&q=leakmark", nil)
			if resp.Status != http.StatusOK {
				t.Fatalf("search as %s: %d %s", r.Key, resp.Status, resp.Body)
			}
			ExpectMarkers(t, "the search API's answer", r, string(resp.Body), objs, false)
		}},
		{Route: "GET /search", Check: func(t testing.TB, c *LeakCase, r *User, objs []LeakObject) {
			objs = of(c, objs)
			status, page := Page(t, c, r, "/search?q=leakmark&type="+url.QueryEscape(typ))
			if status != http.StatusOK {
				t.Fatalf("search page as %s: %d", r.Key, status)
			}
			var shown []string
			for _, m := range regexp.MustCompile(`id="result-([0-9a-f-]{36})"`).FindAllStringSubmatch(page, -1) {
				shown = append(shown, m[1])
			}
			ExpectIDs(t, "the search page", r, shown, objs)
			// Markers are highlighted word by word: compare the page's text.
			ExpectMarkers(t, "the search page", r, strings.NewReplacer("<mark>", "", "</mark>", "").Replace(page), objs, false)
		}},
	}
}
