package app_test

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/config"
	"verbund/internal/db"
)

// TestThreadCacheAgreesWithDatabase is the thread cache's differential
// test (internal/forum, threadcache.go). Hub A answers thread pages from
// the thread cache (its page cache off, and at most 4 posts a thread
// kept, so pages run past the posts kept and replies land at its edge);
// replica B on the same database reads every page from the database
// through the visibility predicate. Random replies, edits, reshares and
// deletions of people of every org, then a circle left and an agreement
// revoked, are made through A or B; after each, every page of every thread
// (every cursor, two page sizes) is read by every reader from both hubs,
// and both answers must be the same bytes, 404s included.
func TestThreadCacheAgreesWithDatabase(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		a := apptest.WorldWith(t, e, func(c *config.Config) { c.ReadCache, c.ThreadCache, c.ThreadCachePosts = 0, 16, 4 })
		b := a.ReplicaWith(t, func(c *config.Config) { c.ReadCache, c.ThreadCache = 0, 0 })
		rng := rand.New(rand.NewPCG(8, uint64(len(e))))
		writers := []string{"sme.analyst", "sme.analyst2", "cloud.analyst", "cert.analyst", "nocontract.analyst"}
		readers := []string{"sme.analyst", "sme.analyst2", "sme.viewer", "cloud.analyst", "cloud.viewer", "cert.analyst", "nocontract.analyst", "outsider.analyst"}
		people := []string{a.Users["sme.analyst"].ID, a.Users["sme.analyst2"].ID, a.Users["cloud.analyst"].ID, a.Users["cert.analyst"].ID}
		orgs := []string{a.Orgs["sme"], a.Orgs["cloud"], a.Orgs["cert"], a.Orgs["nocontract"]}
		levels := []string{"CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"}
		// Envelopes a reply or a reshare may well get (the rule book refuses
		// the rest: a reply reaches no further than its thread), and now
		// and then a random one.
		likely := []map[string]any{
			{"tlp": "GREEN", "audience": "community"},
			{"tlp": "AMBER", "audience": "community"},
			{"tlp": "AMBER", "audience": "org"},
			{"tlp": "AMBER+STRICT", "audience": "orgs", "orgs": []string{a.Orgs["cloud"]}},
			{"tlp": "AMBER+STRICT", "audience": "orgs", "orgs": []string{a.Orgs["cert"], a.Orgs["sme"]}},
			{"tlp": "RED", "audience": "people", "people": []string{a.Users["sme.analyst2"].ID}},
			{"tlp": "RED", "audience": "people", "people": []string{a.Users["sme.analyst"].ID}},
			{"tlp": "RED", "audience": "people", "people": []string{a.Users["cloud.analyst"].ID}},
		}
		sharing := func() map[string]any {
			if rng.IntN(4) > 0 {
				return maps.Clone(likely[rng.IntN(len(likely))])
			}
			s := map[string]any{"tlp": levels[rng.IntN(len(levels))]}
			switch rng.IntN(3) {
			case 0:
				s["audience"] = "community"
			case 1:
				s["audience"], s["orgs"] = "orgs", []string{orgs[rng.IntN(len(orgs))], orgs[rng.IntN(len(orgs))]}
			default:
				s["audience"], s["people"] = "people", []string{people[rng.IntN(len(people))]}
			}
			return s
		}
		threads := []string{
			newThread(t, a, "sme.analyst", a.CircleChannel, map[string]any{"title": "green", "body": "first", "tlp": "GREEN", "audience": "community"}).thread,
			newThread(t, a, "cloud.analyst", a.CircleChannel, map[string]any{"title": "amber", "body": "first", "tlp": "AMBER", "audience": "community"}).thread,
			newThread(t, a, "sme.analyst", a.CircleChannel, map[string]any{"title": "strict", "body": "first", "tlp": "AMBER+STRICT", "audience": "orgs", "orgs": []string{a.Orgs["cloud"]}}).thread,
			newThread(t, a, "sme.analyst", a.OrgChannel["sme"], map[string]any{"title": "internal", "body": "first", "tlp": "AMBER", "audience": "org"}).thread,
		}
		// Changes go through either hub: B's reach A's cache through the
		// audit trail alone.
		via := func() *apptest.Hub { return []*apptest.Hub{a, b}[rng.IntN(2)] }
		type post struct{ id, author string }
		var posts []post // replies, which their authors may edit, reshare or delete

		compare := func(step string) {
			t.Helper()
			for _, rd := range readers {
				tok := a.Users[rd].ReadToken
				for _, th := range threads {
					for _, limit := range []int{2, 50} {
						next, pages := "", 0
						for {
							path := fmt.Sprintf("/api/v1/threads/%s/posts?limit=%d", th, limit)
							if next != "" {
								path += "&next=" + next
							}
							ra, rb := a.API(t, tok, "GET", path, nil), b.API(t, tok, "GET", path, nil)
							if ra.Status != rb.Status || !bytes.Equal(ra.Body, rb.Body) {
								t.Fatalf("%s: %s reads %s\ncache:    %d %s\ndatabase: %d %s", step, rd, path, ra.Status, ra.Body, rb.Status, rb.Body)
							}
							var page struct{ Next string }
							if ra.Status != http.StatusOK {
								break
							}
							ra.JSON(t, &page)
							if next, pages = page.Next, pages+1; next == "" || pages > 40 {
								break
							}
						}
					}
				}
			}
		}
		compare("start")
		for step := range 45 {
			var what string
			switch op := rng.IntN(10); {
			case op < 5 || len(posts) == 0: // a reply
				w, th := writers[rng.IntN(len(writers))], threads[rng.IntN(len(threads))]
				body := map[string]any{} // the thread's envelope, or another
				if rng.IntN(3) > 0 {
					body = sharing()
				}
				body["body"] = fmt.Sprintf("reply %d", step)
				r := via().API(t, a.Users[w].WriteToken, "POST", "/api/v1/threads/"+th+"/posts", body)
				what = fmt.Sprintf("reply by %s (%v): %d", w, body, r.Status)
				if r.Status == http.StatusCreated {
					var p struct{ ID string }
					r.JSON(t, &p)
					posts = append(posts, post{p.ID, w})
				}
			case op < 7: // an edit
				p := posts[rng.IntN(len(posts))]
				r := via().API(t, a.Users[p.author].WriteToken, "PATCH", "/api/v1/posts/"+p.id, map[string]any{"body": fmt.Sprintf("edited %d", step)})
				what = fmt.Sprintf("edit of %s: %d", p.id, r.Status)
			case op < 9: // a reshare
				p := posts[rng.IntN(len(posts))]
				s := sharing()
				r := via().API(t, a.Users[p.author].WriteToken, "PATCH", "/api/v1/posts/"+p.id, map[string]any{"sharing": s})
				what = fmt.Sprintf("reshare of %s to %v: %d", p.id, s, r.Status)
			default: // a deletion
				i := rng.IntN(len(posts))
				p := posts[i]
				r := via().API(t, a.Users[p.author].WriteToken, "DELETE", "/api/v1/posts/"+p.id, nil)
				what = fmt.Sprintf("deletion of %s: %d", p.id, r.Status)
				posts = slices.Delete(posts, i, i+1)
			}
			compare(fmt.Sprintf("step %d, after the %s", step, what))
		}
		if r := a.API(t, a.Users["cloud.admin"].WriteToken, "DELETE", "/api/v1/communities/"+a.Circle+"/members/"+a.Orgs["cloud"], nil); r.Status >= 300 {
			t.Fatalf("cloud leaves the circle: %d %s", r.Status, r.Body)
		}
		compare("after cloud left the circle")
		if r := a.API(t, a.Users["sme.admin"].WriteToken, "POST", "/api/v1/agreements/"+a.Bilateral+"/revoke", nil); r.Status >= 300 {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		compare("after the bilateral agreement was revoked")
		hits, misses := a.App.Forum.ThreadCacheStats()
		t.Logf("%d replies kept of 45 steps; thread cache: %d pages answered, %d read from the database", len(posts), hits, misses)
		if hits == 0 {
			t.Error("the thread cache answered no page: the test compared the database with itself")
		}
	})
}

// TestThreadCacheUnderConcurrentReplies: replies, edits and reads of one
// thread at once (run under -race in the suite), then every reader's
// pages from the cache are the database's.
func TestThreadCacheUnderConcurrentReplies(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		a := apptest.WorldWith(t, e, func(c *config.Config) { c.ReadCache, c.ThreadCache, c.ThreadCachePosts = 0, 16, 30 })
		b := a.ReplicaWith(t, func(c *config.Config) { c.ReadCache, c.ThreadCache = 0, 0 })
		th := newThread(t, a, "sme.analyst", a.CircleChannel, map[string]any{"title": "hot", "body": "first", "tlp": "GREEN", "audience": "community"}).thread
		path := "/api/v1/threads/" + th + "/posts?limit=50"
		var wg sync.WaitGroup
		for w, who := range []string{"sme.analyst", "cloud.analyst"} {
			wg.Go(func() {
				for i := range 15 {
					body := map[string]any{"body": fmt.Sprintf("reply %d.%d", w, i)}
					if i%3 == 0 {
						body["tlp"], body["audience"], body["people"] = "RED", "people", []string{a.Users[who].ID}
					}
					r := a.API(t, a.Users[who].WriteToken, "POST", "/api/v1/threads/"+th+"/posts", body)
					if r.Status != http.StatusCreated {
						t.Errorf("reply: %d %s", r.Status, r.Body)
						return
					}
					if i%4 == 1 {
						var p struct{ ID string }
						r.JSON(t, &p)
						a.API(t, a.Users[who].WriteToken, "PATCH", "/api/v1/posts/"+p.ID, map[string]any{"body": "edited"})
					}
				}
			})
		}
		for _, rd := range []string{"sme.viewer", "cloud.viewer", "cert.analyst"} {
			wg.Go(func() {
				for range 30 {
					if r := a.API(t, a.Users[rd].ReadToken, "GET", path, nil); r.Status != http.StatusOK {
						t.Errorf("read: %d %s", r.Status, r.Body)
						return
					}
				}
			})
		}
		wg.Wait()
		for _, rd := range []string{"sme.analyst", "sme.viewer", "cloud.analyst", "cloud.viewer", "cert.analyst", "outsider.analyst"} {
			ra, rb := a.API(t, a.Users[rd].ReadToken, "GET", path, nil), b.API(t, a.Users[rd].ReadToken, "GET", path, nil)
			if ra.Status != rb.Status || !bytes.Equal(ra.Body, rb.Body) {
				t.Errorf("%s reads the hot thread\ncache:    %d %s\ndatabase: %d %s", rd, ra.Status, ra.Body, rb.Status, rb.Body)
			}
		}
	})
}
