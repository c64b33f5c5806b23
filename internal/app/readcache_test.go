package app_test

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/config"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
)

// listIDs reads a page of posts through the API (the path served from the
// read cache) and returns the ids and bodies it lists.
func listIDs(t *testing.T, h *apptest.Hub, token, path string) (ids []string, bodies map[string]string) {
	t.Helper()
	var page struct{ Items []struct{ ID, Body string } }
	r := h.API(t, token, "GET", path, nil)
	if r.Status != 200 {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	r.JSON(t, &page)
	bodies = map[string]string{}
	for _, p := range page.Items {
		ids = append(ids, p.ID)
		bodies[p.ID] = p.Body
	}
	return ids, bodies
}

// TestCachedPagesFollowPolicy: API pages of posts are kept in memory
// (internal/readcache). Every change that alters what a reader may see must
// reach the next request at once, as if there were no cache: an agreement
// revoked or ending by the clock, a circle left, a post edited or deleted,
// and a change made on another replica. Pages are never shared between
// readers.
func TestCachedPagesFollowPolicy(t *testing.T) {
	eachCacheMode(t, func(t *testing.T, e db.Dialect, caches func(*config.Config)) {
		h := apptest.WorldWith(t, e, caches)
		ctx := context.Background()
		strict, amber := strictAndAmber(t, h)
		cloud := h.Users["cloud.analyst"].ReadToken
		feed, strictList, amberList := "/api/v1/posts?limit=50", "/api/v1/threads/"+strict.thread+"/posts", "/api/v1/threads/"+amber.thread+"/posts"

		// Fill the cache twice (the second read is a hit) and check it.
		for range 2 {
			ids, _ := listIDs(t, h, cloud, feed)
			if !slices.Contains(ids, strict.post) || !slices.Contains(ids, amber.post) {
				t.Fatalf("before: feed %v lacks the posts", ids)
			}
		}
		if ids, _ := listIDs(t, h, cloud, strictList); !slices.Contains(ids, strict.post) {
			t.Fatalf("before: thread list %v", ids)
		}

		// A RED post to a named person of the own org: the cached page of
		// the named reader is not served to a colleague.
		red := newThread(t, h, "sme.analyst", h.OrgChannel["sme"], map[string]any{"title": "red", "body": "red body", "tlp": "RED", "audience": "people", "people": []string{h.Users["sme.analyst2"].ID}})
		redList := "/api/v1/threads/" + red.thread + "/posts"
		if ids, _ := listIDs(t, h, h.Users["sme.analyst2"].ReadToken, redList); !slices.Contains(ids, red.post) {
			t.Fatalf("the named reader does not see the RED post: %v", ids)
		}
		if r := h.API(t, h.Users["sme.admin"].ReadToken, "GET", redList, nil); r.Status != 404 {
			t.Errorf("a colleague not named reads the RED thread's posts: %d %s", r.Status, r.Body)
		}

		// An edit shows at once.
		if _, bodies := listIDs(t, h, cloud, amberList); bodies[amber.post] != "amber body" {
			t.Fatalf("before the edit: %q", bodies[amber.post])
		}
		if r := h.API(t, h.Users["sme.analyst"].WriteToken, "PATCH", "/api/v1/posts/"+amber.post, map[string]any{"body": "amber edited"}); r.Status != 200 {
			t.Fatalf("edit: %d %s", r.Status, r.Body)
		}
		if _, bodies := listIDs(t, h, cloud, amberList); bodies[amber.post] != "amber edited" {
			t.Errorf("after the edit the page shows %q", bodies[amber.post])
		}

		// Revoking the bilateral agreement hides the AMBER+STRICT post.
		if r := h.API(t, h.Users["sme.admin"].WriteToken, "POST", "/api/v1/agreements/"+h.Bilateral+"/revoke", nil); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		if ids, _ := listIDs(t, h, cloud, feed); slices.Contains(ids, strict.post) || !slices.Contains(ids, amber.post) {
			t.Errorf("after revoking: feed %v (strict %s must be gone, amber %s kept)", ids, strict.post, amber.post)
		}
		if r := h.API(t, cloud, "GET", strictList, nil); r.Status != 404 {
			t.Errorf("after revoking: thread list %d, want 404", r.Status)
		}

		// Leaving the circle hides the circle's AMBER post.
		if err := h.App.Orgs.Leave(ctx, h.Users["cloud.admin"].Actor, h.Circle, h.Orgs["cloud"]); err != nil {
			t.Fatal(err)
		}
		if ids, _ := listIDs(t, h, cloud, feed); slices.Contains(ids, amber.post) {
			t.Errorf("after leaving the circle the feed still lists %s", amber.post)
		}

		// A delete shows at once, for the author's own org too.
		sme := h.Users["sme.analyst"].ReadToken
		if ids, _ := listIDs(t, h, sme, amberList); !slices.Contains(ids, amber.post) {
			t.Fatalf("author's org: %v", ids)
		}
		if r := h.API(t, h.Users["sme.analyst"].WriteToken, "DELETE", "/api/v1/posts/"+amber.post, nil); r.Status/100 != 2 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		if r := h.API(t, sme, "GET", amberList, nil); r.Status == 200 {
			if ids, _ := listIDs(t, h, sme, amberList); slices.Contains(ids, amber.post) {
				t.Errorf("after the delete the page still lists %s", amber.post)
			}
		}
	})
}

// TestCachedPagesEndWithAgreement: visibility also changes without any
// write, when an agreement reaches its end date. A cached page must not
// outlive it.
func TestCachedPagesEndWithAgreement(t *testing.T) {
	for _, m := range cacheModes {
		t.Run(m.name, func(t *testing.T) { cachedPagesEndWithAgreement(t, m.caches) })
	}
}

func cachedPagesEndWithAgreement(t *testing.T, caches func(*config.Config)) {
	h := apptest.WorldWith(t, db.SQLite, caches)
	ctx := context.Background()
	strict := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "strict", "body": "b", "tlp": "AMBER+STRICT", "audience": "orgs", "orgs": []string{h.Orgs["cloud"]}})
	// An AMBER+STRICT reply in an AMBER thread: the thread stays visible
	// to cloud through the charter, the reply only through the bilateral.
	amber := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "amber", "body": "b", "tlp": "AMBER", "audience": "community"})
	rp := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/threads/"+amber.thread+"/posts", map[string]any{"body": "strict reply", "tlp": "AMBER+STRICT", "audience": "orgs", "orgs": []string{h.Orgs["cloud"]}})
	if rp.Status != 201 {
		t.Fatalf("reply: %d %s", rp.Status, rp.Body)
	}
	var reply struct{ ID string }
	rp.JSON(t, &reply)
	amberList := "/api/v1/threads/" + amber.thread + "/posts"
	// The bilateral agreement (the only one covering AMBER+STRICT) ends in
	// 1.5 s. Set directly, as if it had been agreed with that end date.
	end := time.Now().Add(1500 * time.Millisecond)
	if err := h.App.DB.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE agreements SET valid_until = ? WHERE id = ?`, end.UnixMicro(), h.Bilateral)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	cloud, path := h.Users["cloud.analyst"].ReadToken, "/api/v1/posts?limit=50"
	for range 2 {
		if ids, _ := listIDs(t, h, cloud, path); !slices.Contains(ids, strict.post) {
			t.Fatalf("before the end: %v", ids)
		}
	}
	for range 2 {
		if ids, _ := listIDs(t, h, cloud, amberList); !slices.Contains(ids, reply.ID) {
			t.Fatalf("before the end: thread %v", ids)
		}
	}
	time.Sleep(time.Until(end) + 50*time.Millisecond)
	if ids, _ := listIDs(t, h, cloud, path); slices.Contains(ids, strict.post) {
		t.Errorf("the agreement ended, the page still lists %s", strict.post)
	}
	if ids, _ := listIDs(t, h, cloud, amberList); slices.Contains(ids, reply.ID) || !slices.Contains(ids, amber.post) {
		t.Errorf("the agreement ended, the thread's page lists %v (reply %s must be gone)", ids, reply.ID)
	}
}

// cacheModes are the ways the hub caches what readers read: API pages per
// reader over the thread cache (the default), and the thread cache alone
// (its pages are cut for each reader from posts shared by all).
var cacheModes = []struct {
	name   string
	caches func(*config.Config)
}{
	{"pages", nil},
	{"threads", func(c *config.Config) { c.ReadCache, c.ThreadCache = 0, 16 }},
}

// eachCacheMode runs fn on each engine in each cache mode.
func eachCacheMode(t *testing.T, fn func(t *testing.T, e db.Dialect, caches func(*config.Config))) {
	for _, m := range cacheModes {
		t.Run(m.name, func(t *testing.T) {
			eachEngine(t, func(t *testing.T, e db.Dialect) { fn(t, e, m.caches) })
		})
	}
}

// TestCachedPagesAcrossReplicas: a change committed through replica B
// reaches the next page read from replica A, whose cache knew nothing of
// it.
func TestCachedPagesAcrossReplicas(t *testing.T) {
	if !slices.Contains(dbtest.Engines(t), db.Postgres) {
		t.Skip("replicas need PostgreSQL (VERBUND_TEST_POSTGRES)")
	}
	a := apptest.World(t, db.Postgres)
	b := a.Replica(t)
	strict := newThread(t, a, "sme.analyst", a.CircleChannel, map[string]any{"title": "strict", "body": "b", "tlp": "AMBER+STRICT", "audience": "orgs", "orgs": []string{a.Orgs["cloud"]}})
	cloud, path := a.Users["cloud.analyst"].ReadToken, "/api/v1/posts?limit=50"
	for range 2 {
		if ids, _ := listIDs(t, a, cloud, path); !slices.Contains(ids, strict.post) {
			t.Fatalf("before: %v", ids)
		}
	}
	if r := b.API(t, b.Users["sme.admin"].WriteToken, "POST", "/api/v1/agreements/"+b.Bilateral+"/revoke", nil); r.Status != 200 {
		t.Fatalf("revoke on B: %d %s", r.Status, r.Body)
	}
	if ids, _ := listIDs(t, a, cloud, path); slices.Contains(ids, strict.post) {
		t.Errorf("revoked on replica B, replica A still lists %s", strict.post)
	}
}

// TestCachedPagesSurviveUnrelatedChanges: the cache drops what a change
// touches and keeps the rest. A failed sign-in, a token and a reply in
// another thread leave a thread's cached page in place; a reply in the
// thread itself drops it (and the new reply is listed at once).
func TestCachedPagesSurviveUnrelatedChanges(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		h := apptest.World(t, e)
		strict, amber := strictAndAmber(t, h)
		cloud := h.Users["cloud.analyst"].ReadToken
		page := "/api/v1/threads/" + amber.thread + "/posts"
		listIDs(t, h, cloud, page) // builds and keeps it
		hits := func() uint64 { return h.App.Pages.Hits.Load() }
		expectHit := func(what string) {
			t.Helper()
			before := hits()
			listIDs(t, h, cloud, page)
			if hits() != before+1 {
				t.Errorf("after %s the thread's page was built again instead of served from the cache", what)
			}
		}
		expectHit("nothing")
		r := loginRaw(t, h, h.Users["sme.viewer"].Email, "wrong password, wrong password")
		r.Body.Close()
		expectHit("a failed sign-in")
		// Tokens are made in a signed-in session (web.SessionOnly).
		if tok := h.Login(t, h.Users["sme.admin"]).PostForm(t, "/tokens", url.Values{"scope": {"read"}}); tok.Status != 201 {
			t.Fatalf("token: %d %s", tok.Status, tok.Body)
		}
		expectHit("a sign-in and a new token")
		if rp := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/threads/"+strict.thread+"/posts", map[string]any{"body": "elsewhere"}); rp.Status != 201 {
			t.Fatalf("reply elsewhere: %d %s", rp.Status, rp.Body)
		}
		expectHit("a reply in another thread")
		rp := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/threads/"+amber.thread+"/posts", map[string]any{"body": "here"})
		if rp.Status != 201 {
			t.Fatalf("reply: %d %s", rp.Status, rp.Body)
		}
		var reply struct{ ID string }
		rp.JSON(t, &reply)
		before := hits()
		if ids, _ := listIDs(t, h, cloud, page); !slices.Contains(ids, reply.ID) {
			t.Errorf("the thread's page does not list the new reply: %v", ids)
		}
		if hits() != before {
			t.Error("a reply in the thread did not drop its cached page")
		}
	})
}
