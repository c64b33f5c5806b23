// Package forumtest describes the forum to the hub-wide tests
// (internal/app): the authorization matrix rows of its routes and its
// shareable kinds (threads, posts) for the leak harness.
package forumtest

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/forum"
	"verbund/internal/policy"
)

// Kit is the forum's kit.
func Kit() apptest.Kit {
	return apptest.Kit{Name: "forum", Setup: setup, Rows: rows(), Kinds: []apptest.LeakKind{threadKind(), postKind()}}
}

// setup creates the matrix's objects: an AMBER thread of sme.analyst to
// the circle ({thread}) and its first post ({post}).
func setup(t *testing.T, f *apptest.Fixture) {
	f.IDs["post"] = newPost(t, f)
	p, err := f.Hub.App.Forum.FindPostByID(context.Background(), f.Hub.Users["sme.analyst"].Actor, f.IDs["post"])
	if err != nil {
		t.Fatal(err)
	}
	f.IDs["thread"] = p.ThreadID
}

// newPost creates a fresh AMBER circle post by sme.analyst (for edits and
// deletes, which consume their object).
func newPost(t *testing.T, f *apptest.Fixture) string {
	_, p, err := f.Hub.App.Forum.CreateThread(context.Background(), f.Hub.Users["sme.analyst"].Actor, f.Hub.CircleChannel,
		forum.NewThread{Title: "t" + f.Uniq(), Body: "b", Sharing: policy.Sharing{TLP: "AMBER", Audience: "community"}})
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// newThread creates a fresh AMBER circle thread by sme.analyst (for
// deletes, which consume it).
func newThread(t *testing.T, f *apptest.Fixture) string {
	th, _, err := f.Hub.App.Forum.CreateThread(context.Background(), f.Hub.Users["sme.analyst"].Actor, f.Hub.CircleChannel,
		forum.NewThread{Title: "t" + f.Uniq(), Body: "b", Sharing: policy.Sharing{TLP: "AMBER", Audience: "community"}})
	if err != nil {
		t.Fatal(err)
	}
	return th.ID
}

func rows() map[string]apptest.Row {
	const (
		objPage = "anon=303 nocontract=404 outsider=404 *=200" // the AMBER circle post: members with agreement
		objAPI  = "anon=401 nocontract=404 outsider=404 *=200"
		writer  = apptest.WriterOnly
	)
	w, get, send, fresh, form := apptest.W, apptest.Get, apptest.Send, apptest.Fresh, apptest.Form
	thread := map[string]any{"title": "x", "body": "y", "tlp": "AMBER", "audience": "community"}
	owned := writer + " partner=403 coord=403 nocontract=404 outsider=404"
	return map[string]apptest.Row{
		"GET /forum":                       {Req: apptest.Static("/forum"), Want: w(apptest.PageRead)},
		"GET /forum/channels/{id}":         {Req: get("/forum/channels/{chan}"), Want: w("anon=303 outsider=404 *=200")},
		"GET /forum/threads/{id}":          {Req: get("/forum/threads/{thread}"), Want: w(objPage)},
		"GET /forum/threads/{id}/fragment": {Req: get("/forum/threads/{thread}/fragment"), Want: w(objPage)},
		"GET /forum/posts/{id}/fragment":   {Req: get("/forum/posts/{post}/fragment"), Want: w(objPage)},
		"GET /forum/posts/{id}/edit":       {Req: get("/forum/posts/{post}/edit"), Want: w(objPage)},
		// The compose forms' recipients line: the channel's members, the
		// thread's readers.
		"GET /forum/channels/{id}/recipients": {Req: get("/forum/channels/{chan}/recipients?tlp=AMBER&audience=community"), Want: w("anon=303 outsider=404 *=200")},
		"GET /forum/threads/{id}/recipients":  {Req: get("/forum/threads/{thread}/recipients"), Want: w(objPage)},
		"GET /api/v1/channels":                {Req: apptest.Static("/api/v1/channels"), Want: w(apptest.APIRead)},
		"GET /api/v1/channels/{id}/threads":   {Req: get("/api/v1/channels/{chan}/threads"), Want: w("anon=401 outsider=404 *=200")},
		"GET /api/v1/threads/{id}":            {Req: get("/api/v1/threads/{thread}"), Want: w(objAPI)},
		"GET /api/v1/threads/{id}/posts":      {Req: get("/api/v1/threads/{thread}/posts"), Want: w(objAPI)},
		"GET /api/v1/posts":                   {Req: apptest.Static("/api/v1/posts"), Want: w(apptest.APIRead)},
		"GET /api/v1/posts/{id}":              {Req: get("/api/v1/posts/{post}"), Want: w(objAPI)},
		"GET /api/v1/posts/{id}/revisions":    {Req: get("/api/v1/posts/{post}/revisions"), Want: w(objAPI)},

		"POST /api/v1/channels/{id}/threads": {Req: send("/api/v1/channels/{chan}/threads", thread), Want: w(writer + " outsider=404 *=201")},
		"POST /api/v1/threads/{id}/posts":    {Req: send("/api/v1/threads/{thread}/posts", map[string]any{"body": "reply"}), Want: w(writer + " nocontract=404 outsider=404 *=201")},
		"PATCH /api/v1/posts/{id}":           {Req: fresh(newPost, "/api/v1/posts/{new}", map[string]any{"body": "edited"}), Want: w(owned + " *=200")},
		"DELETE /api/v1/posts/{id}":          {Req: fresh(newPost, "/api/v1/posts/{new}", nil), Want: w(owned + " *=204")},
		"POST /forum/channels/{id}/threads":  {Req: send("/forum/channels/{chan}/threads", form("title", "x", "body", "y", "tlp", "AMBER", "audience", "community")), Want: w(writer + " outsider=404 *=303")},
		"POST /forum/threads/{id}/posts":     {Req: send("/forum/threads/{thread}/posts", form("body", "reply")), Want: w(writer + " nocontract=404 outsider=404 *=303")},
		"POST /forum/posts/{id}/edit":        {Req: fresh(newPost, "/forum/posts/{new}/edit", form("body", "edited")), Want: w(owned + " *=303")},
		"POST /forum/posts/{id}/delete":      {Req: fresh(newPost, "/forum/posts/{new}/delete", nil), Want: w(owned + " *=303")},
		"DELETE /api/v1/threads/{id}":        {Req: fresh(newThread, "/api/v1/threads/{new}", nil), Want: w(owned + " *=204")},
		"POST /forum/threads/{id}/delete":    {Req: fresh(newThread, "/forum/threads/{new}/delete", nil), Want: w(owned + " *=303")},
		"POST /api/v1/channels":              {Req: send("/api/v1/channels", map[string]any{"name": "UNIQ"}), Want: w(apptest.AdminOnly + " *=201")},
		"POST /forum/channels":               {Req: send("/forum/channels", form("name", "UNIQ")), Want: w(apptest.AdminOnly + " *=303")},
	}
}

// leakState is what the harness's forum objects live in.
type leakState struct {
	first   map[string]string // thread id → its first post
	carrier string            // the TLP:CLEAR thread the replies go to
}

// createThread opens a thread in the circle's channel as sme.analyst with
// the marker in title and body.
func createThread(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) (thread, post string) {
	h := c.Hub
	body := map[string]any{"title": "thread " + marker, "body": "first post " + marker, "tlp": s.TLP, "audience": s.Audience,
		"community_id": s.Community, "orgs": s.Orgs, "people": s.People}
	r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/channels/"+h.CircleChannel+"/threads", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create thread %s: %d %s", marker, r.Status, r.Body)
	}
	var out struct {
		Thread struct{ ID string }
		Post   struct{ ID string }
	}
	r.JSON(t, &out)
	return out.Thread.ID, out.Post.ID
}

func threadKind() apptest.LeakKind {
	state := func(c *apptest.LeakCase) *leakState { return c.State.(*leakState) }
	// firsts turns thread objects into their first posts (same envelope).
	firsts := func(c *apptest.LeakCase, objs []apptest.LeakObject) []apptest.LeakObject {
		out := make([]apptest.LeakObject, len(objs))
		for i, o := range objs {
			o.ID = state(c).first[o.ID]
			out[i] = o
		}
		return out
	}
	detail := func(route, path string, first bool) apptest.Path {
		return apptest.Path{Route: route, Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
			if first {
				objs = firsts(c, objs)
			}
			apptest.ExpectDetail(t, c, r, path, objs)
		}}
	}
	return apptest.LeakKind{
		Kind:  "thread",
		Setup: func(testing.TB, *apptest.LeakCase) any { return &leakState{first: map[string]string{}} },
		Create: func(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
			th, p := createThread(t, c, s, marker)
			state(c).first[th] = p
			return th
		},
		Streamed: true,
		Paths: append([]apptest.Path{
			detail("GET /api/v1/threads/{id}", "/api/v1/threads/%s", false),
			detail("GET /api/v1/threads/{id}/posts", "/api/v1/threads/%s/posts", false),
			detail("GET /forum/threads/{id}", "/forum/threads/%s", false),
			detail("GET /forum/threads/{id}/fragment", "/forum/threads/%s/fragment", false),
			detail("GET /api/v1/posts/{id}", "/api/v1/posts/%s", true),
			detail("GET /api/v1/posts/{id}/revisions", "/api/v1/posts/%s/revisions", true),
			detail("GET /forum/posts/{id}/fragment", "/forum/posts/%s/fragment", true),
			detail("GET /forum/posts/{id}/edit", "/forum/posts/%s/edit", true),
			detail("GET /forum/threads/{id}/recipients", "/forum/threads/%s/recipients", false),
			{Route: "GET /api/v1/channels/{id}/threads", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				if !inChannel(t, c, r, objs) {
					return
				}
				apptest.ExpectIDs(t, "the circle's thread list", r, apptest.ListIDs(t, c, r, "/api/v1/channels/"+c.Hub.CircleChannel+"/threads?limit=3"), objs)
			}},
			{Route: "GET /forum/channels/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				if !inChannel(t, c, r, objs) {
					return
				}
				_, page := apptest.Page(t, c, r, "/forum/channels/"+c.Hub.CircleChannel)
				apptest.ExpectIDs(t, "the circle's channel page", r, htmlIDs(page, "thread-"), objs)
			}},
			{Route: "GET /api/v1/posts", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "the feed", r, apptest.ListIDs(t, c, r, "/api/v1/posts?limit=4"), firsts(c, objs))
				apptest.ExpectIDs(t, "search", r, apptest.ListIDs(t, c, r, "/api/v1/posts?q=leakmark"), firsts(c, objs))
			}},
			{Route: "GET /forum", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/forum")
				apptest.ExpectIDs(t, "the forum page", r, htmlIDs(page, "feed-"), firsts(c, objs))
				_, page = apptest.Page(t, c, r, "/forum?q=leakmark")
				apptest.ExpectIDs(t, "the forum search", r, htmlIDs(page, "feed-"), firsts(c, objs))
			}},
			{Route: "GET /{$}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				home(t, c, r, firsts(c, objs), nil)
			}},
			{Route: "GET /audit", Check: auditPage},
		}, apptest.SearchPaths("post", firsts)...),
	}
}

// auditPage checks the audit trail's page, which names and links the
// objects its records refer to: for readers who may read it, an object
// they may not see is neither named (its marker, in the title) nor linked.
func auditPage(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
	status, page := apptest.Page(t, c, r, "/audit")
	if status == http.StatusForbidden {
		return // analysts and viewers read no audit trail
	}
	if status != http.StatusOK {
		t.Errorf("the audit page answers %s with %d", r.Key, status)
		return
	}
	apptest.ExpectMarkers(t, "the audit page", r, page, objs, false)
	for _, o := range objs {
		if !o.Visible && (strings.Contains(page, `href="/forum/threads/`+o.ID) || strings.Contains(page, `#post-`+o.ID+`"`)) {
			t.Errorf("LEAK on the audit page: %s gets a link to %s", r.Key, o.Envelope)
		}
	}
}

func postKind() apptest.LeakKind {
	state := func(c *apptest.LeakCase) *leakState { return c.State.(*leakState) }
	detail := func(route, path string) apptest.Path {
		return apptest.Path{Route: route, Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
			apptest.ExpectDetail(t, c, r, path, objs)
		}}
	}
	// The carrier thread (TLP:CLEAR, seen by all) counts its first post.
	carrier := func(c *apptest.LeakCase) []apptest.LeakObject {
		return []apptest.LeakObject{{ID: "carrier", Envelope: "the carrier thread's first post", Visible: true}}
	}
	return apptest.LeakKind{
		Kind: "post",
		Setup: func(t testing.TB, c *apptest.LeakCase) any {
			th, _ := createThread(t, c, policy.Sharing{TLP: "CLEAR", Audience: "community"}, "carrier")
			return &leakState{carrier: th}
		},
		Create: func(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
			h := c.Hub
			body := map[string]any{"body": "reply " + marker, "tlp": s.TLP, "audience": s.Audience,
				"community_id": s.Community, "orgs": s.Orgs, "people": s.People}
			r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/threads/"+state(c).carrier+"/posts", body)
			if r.Status != http.StatusCreated {
				t.Fatalf("reply %s: %d %s", marker, r.Status, r.Body)
			}
			var p struct{ ID string }
			r.JSON(t, &p)
			return p.ID
		},
		Streamed: true,
		Touch: func(t testing.TB, c *apptest.LeakCase, o apptest.LeakObject) {
			h := c.Hub
			r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPatch, "/api/v1/posts/"+o.ID, map[string]any{"body": fmt.Sprintf("edited %s %d", o.Marker, time.Now().UnixNano())})
			if r.Status != http.StatusOK {
				t.Fatalf("edit %s: %d %s", o.Marker, r.Status, r.Body)
			}
		},
		Paths: append([]apptest.Path{
			detail("GET /api/v1/posts/{id}", "/api/v1/posts/%s"),
			detail("GET /api/v1/posts/{id}/revisions", "/api/v1/posts/%s/revisions"),
			detail("GET /forum/posts/{id}/fragment", "/forum/posts/%s/fragment"),
			detail("GET /forum/posts/{id}/edit", "/forum/posts/%s/edit"),
			{Route: "GET /api/v1/posts", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "the feed", r, apptest.ListIDs(t, c, r, "/api/v1/posts?limit=4"), objs)
				apptest.ExpectIDs(t, "search", r, apptest.ListIDs(t, c, r, "/api/v1/posts?q=leakmark"), objs)
			}},
			{Route: "GET /api/v1/threads/{id}/posts", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "the thread's posts", r, apptest.ListIDs(t, c, r, "/api/v1/threads/"+state(c).carrier+"/posts?limit=3"), objs)
			}},
			{Route: "GET /forum/threads/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/forum/threads/"+state(c).carrier)
				apptest.ExpectIDs(t, "the thread page", r, htmlIDs(page, "post-"), objs)
				apptest.ExpectMarkers(t, "the thread page", r, page, objs, true)
			}},
			{Route: "GET /forum", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/forum")
				apptest.ExpectIDs(t, "the forum page", r, htmlIDs(page, "feed-"), objs)
				_, page = apptest.Page(t, c, r, "/forum?q=leakmark")
				apptest.ExpectIDs(t, "the forum search", r, htmlIDs(page, "feed-"), objs)
			}},
			{Route: "GET /api/v1/channels/{id}/threads", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				if !inChannel(t, c, r, nil) {
					return
				}
				var list struct {
					Items []struct {
						ID         string
						Posts      int
						LastPostAt int64 `json:"last_post_at"`
					}
				}
				c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/channels/"+c.Hub.CircleChannel+"/threads", nil).JSON(t, &list)
				for _, it := range list.Items {
					if it.ID == state(c).carrier {
						expectCount(t, "the thread list's post count", r, it.Posts, append(objs, carrier(c)...))
						expectLastActivity(t, c, r, "the thread list", it.LastPostAt)
					}
				}
			}},
			{Route: "GET /forum/channels/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				if !inChannel(t, c, r, nil) {
					return
				}
				_, page := apptest.Page(t, c, r, "/forum/channels/"+c.Hub.CircleChannel)
				m := regexp.MustCompile(`id="thread-` + state(c).carrier + `"[\s\S]*?<td class="num[^"]*"[^>]*>(\d+)</td>`).FindStringSubmatch(page)
				if m == nil {
					t.Errorf("the channel page does not list the carrier thread for %s", r.Key)
					return
				}
				n, _ := strconv.Atoi(m[1])
				expectCount(t, "the channel page's post count", r, n, append(objs, carrier(c)...))
			}},
			{Route: "GET /api/v1/threads/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				var th struct {
					Posts      int
					LastPostAt int64 `json:"last_post_at"`
				}
				c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/threads/"+state(c).carrier, nil).JSON(t, &th)
				expectCount(t, "the thread's post count", r, th.Posts, append(objs, carrier(c)...))
				expectLastActivity(t, c, r, "the thread", th.LastPostAt)
			}},
			{Route: "GET /forum/threads/{id}/fragment", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, row := apptest.Page(t, c, r, "/forum/threads/"+state(c).carrier+"/fragment")
				m := regexp.MustCompile(`<td class="num[^"]*"[^>]*>(\d+)</td>`).FindStringSubmatch(row)
				if m == nil {
					t.Errorf("the thread's list row shows no post count for %s", r.Key)
					return
				}
				n, _ := strconv.Atoi(m[1])
				expectCount(t, "the thread's list row", r, n, append(objs, carrier(c)...))
			}},
			{Route: "GET /{$}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				home(t, c, r, objs, carrier(c))
			}},
			{Route: "GET /audit", Check: auditPage},
		}, apptest.SearchPaths("post", nil)...),
	}
}

// expectLastActivity checks that a thread's last activity as shown to r is
// the time of the newest post r can list in it: a later time would tell
// of a post r may not see.
func expectLastActivity(t testing.TB, c *apptest.LeakCase, r *apptest.User, what string, shown int64) {
	var posts struct {
		Items []struct {
			Sharing struct {
				CreatedAt int64 `json:"created_at"`
			}
		}
	}
	c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/threads/"+c.State.(*leakState).carrier+"/posts?limit=200", nil).JSON(t, &posts)
	var newest int64
	for _, p := range posts.Items {
		newest = max(newest, p.Sharing.CreatedAt)
	}
	if shown > newest {
		t.Errorf("LEAK on %s: %s is shown last activity %d, after the newest post it can see (%d)", what, r.Key, shown, newest)
	} else if shown < newest {
		t.Errorf("%s: %s is shown last activity %d, before the newest post it can see (%d)", what, r.Key, shown, newest)
	}
}

// inChannel reports whether r may use the circle's channel (lists of the
// channel answer 404 otherwise, and then must show nothing).
func inChannel(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) bool {
	for _, id := range apptest.ListIDs(t, c, r, "/api/v1/channels") {
		if id == c.Hub.CircleChannel {
			return true
		}
	}
	if st := c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/channels/"+c.Hub.CircleChannel+"/threads", nil).Status; st != http.StatusNotFound {
		t.Errorf("LEAK: %s is not in the circle's channel but its thread list answers %d", r.Key, st)
	}
	return false
}

// home checks the start page: its latest posts show nothing invisible, and
// the chart counts exactly the visible posts by level (plus extra, posts
// that are not the harness's objects).
func home(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs, extra []apptest.LeakObject) {
	_, page := apptest.Page(t, c, r, "/")
	shown := htmlIDs(page, "feed-")
	for _, o := range objs {
		if !o.Visible && slices.Contains(shown, o.ID) {
			t.Errorf("LEAK on the start page: %s sees %s", r.Key, o.Envelope)
		}
	}
	counts := map[string]int{}
	for _, m := range regexp.MustCompile(`<tr><th>(TLP:[A-Z&#;0-9+]+)</th><td>(\d+)</td></tr>`).FindAllStringSubmatch(page, -1) {
		counts[html.UnescapeString(m[1])], _ = strconv.Atoi(m[2])
	}
	want := map[string]int{}
	for _, o := range append(objs, extra...) {
		if o.Visible {
			want[levelOf(o.Envelope)]++
		}
	}
	for _, l := range policy.Levels() {
		if counts[l.String()] != want[l.String()] {
			t.Errorf("the start page's chart counts %d %s posts for %s, want %d", counts[l.String()], l, r.Key, want[l.String()])
		}
	}
}

// levelOf reads the level from an envelope's name in the harness's table
// ("AMBER to cert", "the carrier …" is CLEAR).
func levelOf(envelope string) string {
	for _, l := range []string{"AMBER+STRICT", "CLEAR", "GREEN", "AMBER", "RED"} {
		if strings.HasPrefix(envelope, l+" ") {
			return "TLP:" + l
		}
	}
	return "TLP:CLEAR"
}

func expectCount(t testing.TB, what string, r *apptest.User, got int, objs []apptest.LeakObject) {
	want := 0
	for _, o := range objs {
		if o.Visible {
			want++
		}
	}
	if got > want {
		t.Errorf("LEAK on %s: %s counts %d, want %d", what, r.Key, got, want)
	} else if got < want {
		t.Errorf("%s: %s counts %d, want %d", what, r.Key, got, want)
	}
}

// htmlIDs lists the ids of elements id="<prefix><id>" in a page.
func htmlIDs(page, prefix string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`id="`+regexp.QuoteMeta(prefix)+`([0-9a-f-]{36})"`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}
