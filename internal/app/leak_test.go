package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/policy"
)

func eachEngine(t *testing.T, fn func(t *testing.T, e db.Dialect)) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) { fn(t, e) })
	}
}

type created struct {
	thread, post, title string
}

func newThread(t *testing.T, h *apptest.Hub, user, channel string, body map[string]any) created {
	t.Helper()
	r := h.API(t, h.Users[user].WriteToken, "POST", "/api/v1/channels/"+channel+"/threads", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create thread as %s: %d %s", user, r.Status, r.Body)
	}
	var out struct {
		Thread struct{ ID, Title string }
		Post   struct{ ID string }
	}
	r.JSON(t, &out)
	return created{out.Thread.ID, out.Post.ID, out.Thread.Title}
}

// The objects of the leak tests, with who may see each.
func leakWorld(t *testing.T, h *apptest.Hub) map[string][]string {
	cloudAnalyst, sme2 := h.Users["cloud.analyst"].ID, h.Users["sme.analyst2"].ID
	spec := []struct {
		title string
		body  map[string]any
		seen  []string // users that see it, besides the whole sme org
		red   bool     // RED: inside sme only author and named
	}{
		{"clear-circle", map[string]any{"tlp": "CLEAR", "audience": "community"},
			[]string{"cloud.analyst", "cloud.admin", "cert.analyst", "nocontract.analyst", "outsider.analyst"}, false},
		{"green-circle", map[string]any{"tlp": "GREEN", "audience": "community"}, []string{"cloud.analyst", "cloud.admin", "cert.analyst"}, false},
		{"amber-circle", map[string]any{"tlp": "AMBER", "audience": "community"}, []string{"cloud.analyst", "cloud.admin", "cert.analyst"}, false},
		{"green-to-cloud", map[string]any{"tlp": "GREEN", "audience": "orgs", "orgs": []string{h.Orgs["cloud"]}}, []string{"cloud.analyst", "cloud.admin"}, false},
		{"strict-to-cloud", map[string]any{"tlp": "AMBER+STRICT", "audience": "orgs", "orgs": []string{h.Orgs["cloud"]}}, []string{"cloud.analyst", "cloud.admin"}, false},
		{"red-named", map[string]any{"tlp": "RED", "audience": "people", "people": []string{cloudAnalyst, sme2}}, []string{"cloud.analyst", "sme.analyst2"}, true},
		{"amber-internal", map[string]any{"tlp": "AMBER", "audience": "org"}, nil, false},
	}
	out := map[string][]string{}
	for _, s := range spec {
		body := map[string]any{"title": s.title, "body": "secret " + s.title}
		for k, v := range s.body {
			body[k] = v
		}
		channel := h.CircleChannel
		if s.title == "amber-internal" {
			channel = h.OrgChannel["sme"]
		}
		c := newThread(t, h, "sme.analyst", channel, body)
		seen := append([]string{"sme.analyst"}, s.seen...)
		if !s.red {
			seen = append(seen, "sme.admin", "sme.viewer", "sme.auditor", "sme.analyst2")
		}
		out[c.post] = seen
		out["title:"+c.post] = []string{s.title}
	}
	return out
}

func TestLeaksListsSearchCounts(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		h := apptest.World(t, e)
		world := leakWorld(t, h)
		readers := []string{"sme.analyst", "sme.admin", "sme.analyst2", "cloud.analyst", "cloud.admin", "cert.analyst", "nocontract.analyst", "outsider.analyst"}
		for _, u := range readers {
			var want []string
			for id, who := range world {
				if !strings.HasPrefix(id, "title:") && slices.Contains(who, u) {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			// The feed.
			var feed struct{ Items []struct{ ID, Body string } }
			h.API(t, h.Users[u].ReadToken, "GET", "/api/v1/posts?limit=200", nil).JSON(t, &feed)
			var got []string
			for _, p := range feed.Items {
				got = append(got, p.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: feed shows %d posts %v, want %d %v", u, len(got), got, len(want), want)
			}
			// Search for a word every post contains.
			var found struct{ Items []struct{ ID string } }
			h.API(t, h.Users[u].ReadToken, "GET", "/api/v1/posts?q=secret&limit=200", nil).JSON(t, &found)
			if len(found.Items) != len(want) {
				t.Errorf("%s: search finds %d, want %d", u, len(found.Items), len(want))
			}
			// Details: visible = 200, everything else 404, like a missing id.
			for id, who := range world {
				if strings.HasPrefix(id, "title:") {
					continue
				}
				r := h.API(t, h.Users[u].ReadToken, "GET", "/api/v1/posts/"+id, nil)
				wantStatus := http.StatusNotFound
				if slices.Contains(who, u) {
					wantStatus = http.StatusOK
				}
				if r.Status != wantStatus {
					t.Errorf("%s: GET post %s (%s): %d, want %d", u, id, world["title:"+id][0], r.Status, wantStatus)
				}
				if r.Status == http.StatusNotFound && r.ErrorCode() != "not_found" {
					t.Errorf("%s: invisible post answers %q, want the plain not_found", u, r.Body)
				}
			}
			missing := h.API(t, h.Users[u].ReadToken, "GET", "/api/v1/posts/01a00000-0000-7000-8000-000000000000", nil)
			if missing.Status != http.StatusNotFound || missing.ErrorCode() != "not_found" {
				t.Errorf("missing post: %d %s", missing.Status, missing.Body)
			}
			// Counts: the channel's thread list counts only visible posts
			// and lists only visible threads.
			if u == "outsider.analyst" {
				continue
			}
			var threads struct {
				Items []struct {
					ID, Title string
					Posts     int
				}
			}
			r := h.API(t, h.Users[u].ReadToken, "GET", "/api/v1/channels/"+h.CircleChannel+"/threads", nil)
			r.JSON(t, &threads)
			for _, th := range threads.Items {
				if th.Posts != 1 {
					t.Errorf("%s: thread %s counts %d posts, want 1", u, th.Title, th.Posts)
				}
				ok := false
				for _, id := range want {
					ok = ok || world["title:"+id][0] == th.Title
				}
				if !ok {
					t.Errorf("%s: thread list shows %q, which they may not see", u, th.Title)
				}
			}
		}
	})
}

// strictAndAmber shares two threads from sme in the circle channel: one
// AMBER+STRICT to cloud, covered only by the bilateral agreement (the
// charter stops at AMBER), and one AMBER to the circle, covered by the
// charter.
func strictAndAmber(t *testing.T, h *apptest.Hub) (strict, amber created) {
	t.Helper()
	strict = newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "strict", "body": "strict body", "tlp": "AMBER+STRICT", "audience": "orgs", "orgs": []string{h.Orgs["cloud"]}})
	amber = newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "amber", "body": "amber body", "tlp": "AMBER", "audience": "community"})
	return strict, amber
}

func TestRevokingHidesAtOnce(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		h := apptest.World(t, e)
		ctx := context.Background()
		strict, amber := strictAndAmber(t, h)
		cloud := h.Users["cloud.analyst"].ReadToken
		for _, id := range []string{strict.post, amber.post} {
			if r := h.API(t, cloud, "GET", "/api/v1/posts/"+id, nil); r.Status != 200 {
				t.Fatalf("before: %d", r.Status)
			}
		}
		// Revoke the bilateral agreement: the next request no longer sees.
		if r := h.API(t, h.Users["sme.admin"].WriteToken, "POST", "/api/v1/agreements/"+h.Bilateral+"/revoke", nil); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		if r := h.API(t, cloud, "GET", "/api/v1/posts/"+strict.post, nil); r.Status != 404 {
			t.Errorf("after revoking the agreement, strict post: %d, want 404", r.Status)
		}
		if r := h.API(t, cloud, "GET", "/api/v1/posts/"+amber.post, nil); r.Status != 200 {
			t.Errorf("the charter still covers the AMBER post: %d", r.Status)
		}
		// Sharing again at AMBER+STRICT is now refused, naming the org.
		r := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/channels/"+h.CircleChannel+"/threads",
			map[string]any{"title": "x", "body": "y", "tlp": "AMBER+STRICT", "audience": "orgs", "orgs": []string{h.Orgs["cloud"]}})
		if r.Status != http.StatusForbidden || r.ErrorCode() != "agreement_missing" || !strings.Contains(string(r.Body), "Wolke Cloud AG") {
			t.Errorf("share without agreement: %d %s", r.Status, r.Body)
		}
		// The circle's channel: its threads listed for a member (its row
		// is then kept in memory), not for an outsider.
		threads := "/api/v1/channels/" + h.CircleChannel + "/threads"
		if r := h.API(t, cloud, "GET", threads, nil); r.Status != 200 {
			t.Fatalf("a member lists the circle's threads: %d %s", r.Status, r.Body)
		}
		if r := h.API(t, h.Users["outsider.analyst"].ReadToken, "GET", threads, nil); r.Status != 404 {
			t.Errorf("an outsider lists the circle's threads: %d, want 404", r.Status)
		}
		// Membership: cloud leaves the circle; the AMBER circle post hides,
		// and so do the circle's channel and its threads.
		if err := h.App.Orgs.Leave(ctx, h.Users["cloud.admin"].Actor, h.Circle, h.Orgs["cloud"]); err != nil {
			t.Fatal(err)
		}
		if r := h.API(t, cloud, "GET", "/api/v1/posts/"+amber.post, nil); r.Status != 404 {
			t.Errorf("after leaving the circle, amber post: %d, want 404", r.Status)
		}
		if r := h.API(t, cloud, "GET", threads, nil); r.Status != 404 {
			t.Errorf("after leaving the circle, its channel's threads: %d, want 404", r.Status)
		}
		if r := h.API(t, h.Users["cloud.analyst"].WriteToken, "POST", threads, map[string]any{"title": "x", "body": "y", "tlp": "GREEN", "audience": "community"}); r.Status != 404 {
			t.Errorf("after leaving the circle, a new thread in its channel: %d %s, want 404", r.Status, r.Body)
		}
		if r := h.API(t, h.Users["cloud.analyst"].WriteToken, "POST", "/api/v1/threads/"+amber.thread+"/posts", map[string]any{"body": "y"}); r.Status != 404 {
			t.Errorf("after leaving the circle, a reply in its thread: %d %s, want 404", r.Status, r.Body)
		}
		var feed struct{ Items []struct{ ID string } }
		h.API(t, cloud, "GET", "/api/v1/posts", nil).JSON(t, &feed)
		for _, p := range feed.Items {
			if p.ID == amber.post || p.ID == strict.post {
				t.Errorf("feed still lists %s after revocation", p.ID)
			}
		}
	})
}

func TestLiveEventsFollowPolicy(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		h := apptest.World(t, e)
		cloud := openStream(t, h.URL, h.Users["cloud.analyst"].ReadToken, "")
		cert := openStream(t, h.URL, h.Users["cert.analyst"].ReadToken, "")
		nocontract := openStream(t, h.URL, h.Users["nocontract.analyst"].ReadToken, "")
		outsider := openStream(t, h.URL, h.Users["outsider.analyst"].ReadToken, "")
		smeAdmin := openStream(t, h.URL, h.Users["sme.admin"].ReadToken, "")

		amber := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "live", "body": "b", "tlp": "AMBER", "audience": "community"})
		red := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "red", "body": "b", "tlp": "RED", "audience": "people", "people": []string{h.Users["cloud.analyst"].ID}})
		cloud.waitFor(t, amber.thread, 5*time.Second)
		cert.waitFor(t, amber.thread, 5*time.Second)
		cloud.waitFor(t, red.thread, 5*time.Second)
		nocontract.never(t, amber.thread, 300*time.Millisecond)
		outsider.never(t, amber.thread, 100*time.Millisecond)
		cert.never(t, red.thread, 100*time.Millisecond)
		smeAdmin.never(t, red.thread, 100*time.Millisecond) // RED does not widen to the author's colleagues

		// cloud leaves the circle while its stream is open: the next AMBER
		// circle post must not reach it.
		if err := h.App.Orgs.Leave(context.Background(), h.Users["cloud.admin"].Actor, h.Circle, h.Orgs["cloud"]); err != nil {
			t.Fatal(err)
		}
		after := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "after", "body": "b", "tlp": "AMBER", "audience": "community"})
		cert.waitFor(t, after.thread, 5*time.Second)
		cloud.never(t, after.thread, 300*time.Millisecond)

		// Revoking the token behind an open stream ends it.
		tokens, _ := h.App.Accounts.FindTokens(context.Background(), h.Users["cert.analyst"].Actor)
		for _, tk := range tokens {
			if tk.Scope == "read" {
				if err := h.App.Accounts.RevokeToken(context.Background(), h.Users["cert.analyst"].Actor, tk.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "x", "body": "b", "tlp": "GREEN", "audience": "community"})
		if !cert.revoked(t, 5*time.Second) {
			t.Errorf("stream of a revoked token was not ended with a revoked event")
		}
	})
}

func TestClientSentOwnerIgnored(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	// Unknown fields such as an owner are refused, not silently used.
	r := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/channels/"+h.CircleChannel+"/threads",
		map[string]any{"title": "x", "body": "y", "tlp": "GREEN", "audience": "community", "owner": h.Orgs["cloud"]})
	if r.Status != http.StatusBadRequest || r.ErrorCode() != "unknown_field" {
		t.Errorf("owner field: %d %s", r.Status, r.Body)
	}
	// A user created by an admin lands in the admin's org, whatever org_id says.
	r = h.API(t, h.Users["sme.admin"].WriteToken, "POST", "/api/v1/users",
		map[string]any{"email": "spy@x.example", "role": "admin", "org_id": h.Orgs["cloud"], "password": apptest.Password})
	if r.Status != http.StatusCreated {
		t.Fatalf("create user: %d %s", r.Status, r.Body)
	}
	var u struct {
		OrgID string `json:"org_id"`
	}
	r.JSON(t, &u)
	if u.OrgID != h.Orgs["sme"] {
		t.Errorf("user created in %s, want the admin's own org", u.OrgID)
	}
	// A post's owner and author are the actor's.
	c := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "x", "body": "y", "tlp": "GREEN", "audience": "community"})
	var p struct {
		Sharing policy.Share `json:"sharing"`
	}
	h.API(t, h.Users["sme.analyst"].ReadToken, "GET", "/api/v1/posts/"+c.post, nil).JSON(t, &p)
	if p.Sharing.Owner != h.Orgs["sme"] || p.Sharing.Author != h.Users["sme.analyst"].ID {
		t.Errorf("owner %s author %s", p.Sharing.Owner, p.Sharing.Author)
	}
}

func TestAuditExportOnlyOwnOrg(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	leakWorld(t, h)
	r := h.API(t, h.Users["outsider.admin"].ReadToken, "GET", "/api/v1/audit/export", nil)
	if r.Status != 200 {
		t.Fatalf("export: %d", r.Status)
	}
	lines := strings.Split(strings.TrimSpace(string(r.Body)), "\n")
	if len(lines) < 2 {
		t.Fatalf("outsider's export has %d records; want its own", len(lines))
	}
	for _, l := range lines {
		var rec struct {
			Orgs   []string `json:"orgs"`
			Action string   `json:"action"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(rec.Orgs, h.Orgs["outsider"]) {
			t.Errorf("outsider's export contains a record of other orgs: %s", l)
		}
		if strings.HasPrefix(rec.Action, "forum.") {
			t.Errorf("outsider sees sme's forum activity: %s", l)
		}
	}
	// The export is itself audited.
	var list struct{ Items []struct{ Action string } }
	h.API(t, h.Users["outsider.admin"].ReadToken, "GET", "/api/v1/audit?action=audit.export", nil).JSON(t, &list)
	if len(list.Items) != 1 {
		t.Errorf("audit.export records: %d, want 1", len(list.Items))
	}
}

// Readers of a thread with a named audience see who else received it.
func TestThreadShowsNamedAudience(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	c := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "red", "body": "b", "tlp": "RED", "audience": "people",
		"people": []string{h.Users["cloud.analyst"].ID, h.Users["sme.analyst"].ID}})
	page := h.Login(t, h.Users["cloud.analyst"]).Get(t, "/forum/threads/"+c.thread)
	body := string(page.Body)
	if page.Status != 200 || !strings.Contains(body, "cloud.analyst (Wolke Cloud AG)") || !strings.Contains(body, "sme.analyst (Müller Maschinenbau GmbH)") {
		t.Errorf("thread page does not name the audience: %d", page.Status)
	}
	// A reply can name other recipients than its thread: each post names
	// its own, on the page and in the live fragment.
	g := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "green", "body": "b", "tlp": "GREEN", "audience": "community"})
	r := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/threads/"+g.thread+"/posts",
		map[string]any{"body": "only for cloud", "tlp": "AMBER+STRICT", "audience": "orgs", "orgs": []string{h.Orgs["cloud"]}})
	if r.Status != 201 {
		t.Fatalf("reply: %d %s", r.Status, r.Body)
	}
	var reply struct{ ID string }
	r.JSON(t, &reply)
	cloud := h.Login(t, h.Users["cloud.analyst"])
	want := `<span class="audience">Named organisations: Wolke Cloud AG</span>`
	for _, path := range []string{"/forum/threads/" + g.thread, "/forum/posts/" + reply.ID + "/fragment"} {
		if page := cloud.Get(t, path); page.Status != 200 || !strings.Contains(string(page.Body), want) {
			t.Errorf("%s does not name the reply's audience: %d", path, page.Status)
		}
	}
}

// The author learns, in their language, that uncovered circle members did
// not receive a post.
func TestPartialDeliveryIsShown(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	b := h.Login(t, h.Users["sme.analyst"])
	r := b.PostForm(t, "/forum/channels/"+h.CircleChannel+"/threads", map[string][]string{"title": {"t"}, "body": {"b"}, "tlp": {"AMBER"}, "audience": {"community"}})
	loc := r.Header.Get("Location")
	if r.Status != 303 || !strings.Contains(loc, "?ok=partial_delivery") {
		t.Fatalf("create: %d %s", r.Status, loc)
	}
	page := b.Get(t, loc)
	if !strings.Contains(string(page.Body), "do not receive it") {
		t.Errorf("no notice of partial delivery on the thread page")
	}
}

// TestReplyInAThreadOneCannotSee: a reply is visible only with its thread.
// cloud replies to sme's AMBER circle thread; then sme leaves the circle,
// so cert no longer sees the thread, while cloud's reply on its own would
// still reach cert (both stay covered by the charter). cert must not learn
// of the reply on any path: detail, feed, search, the start page's count,
// live events.
func TestReplyInAThreadOneCannotSee(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		h := apptest.World(t, e)
		ctx := context.Background()
		thread := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "hidden later", "body": "b", "tlp": "AMBER", "audience": "community"})
		r := h.API(t, h.Users["cloud.analyst"].WriteToken, "POST", "/api/v1/threads/"+thread.thread+"/posts", map[string]any{"body": "orphanword reply"})
		if r.Status != http.StatusCreated {
			t.Fatalf("reply: %d %s", r.Status, r.Body)
		}
		var reply struct {
			ID      string
			Sharing policy.Share
		}
		r.JSON(t, &reply)
		if reply.Sharing.Audience.Kind != policy.AudCommunity || reply.Sharing.TLP != policy.Amber {
			t.Fatalf("the reply did not inherit the thread's envelope: %+v", reply.Sharing)
		}
		cert := h.Users["cert.analyst"]
		if r := h.API(t, cert.ReadToken, "GET", "/api/v1/posts/"+reply.ID, nil); r.Status != http.StatusOK {
			t.Fatalf("before: cert cannot read the reply: %d", r.Status)
		}
		stream := openStream(t, h.URL, cert.ReadToken, "")
		if err := h.App.Orgs.Leave(ctx, h.Users["sme.admin"].Actor, h.Circle, h.Orgs["sme"]); err != nil {
			t.Fatal(err)
		}
		// cloud no longer sees the thread either (sme left the circle):
		// its own reply in it is not found, like the thread, rather than
		// changeable inside a thread it cannot see (the attack review of
		// the fifth session: a 204 told a hidden container from a deleted
		// one).
		if r := h.API(t, h.Users["cloud.analyst"].WriteToken, "PATCH", "/api/v1/posts/"+reply.ID, map[string]any{"body": "orphanword edited"}); r.Status != http.StatusNotFound {
			t.Fatalf("edit of a reply in a thread its author cannot see: %d %s", r.Status, r.Body)
		}
		if r := h.API(t, h.Users["cloud.analyst"].WriteToken, "DELETE", "/api/v1/posts/"+reply.ID, nil); r.Status != http.StatusNotFound {
			t.Fatalf("delete of a reply in a thread its author cannot see: %d %s", r.Status, r.Body)
		}
		stream.never(t, reply.ID, 500*time.Millisecond)
		if r := h.API(t, cert.ReadToken, "GET", "/api/v1/posts/"+reply.ID, nil); r.Status != http.StatusNotFound {
			t.Errorf("cert reads the reply in a thread it cannot see: %d", r.Status)
		}
		ids, _ := listIDs(t, h, cert.ReadToken, "/api/v1/posts?limit=200")
		found, _ := listIDs(t, h, cert.ReadToken, "/api/v1/posts?q=orphanword")
		if slices.Contains(ids, reply.ID) || len(found) > 0 {
			t.Errorf("cert finds the reply: feed %v, search %v", slices.Contains(ids, reply.ID), found)
		}
		home := h.API(t, cert.ReadToken, "GET", "/", nil)
		if strings.Contains(string(home.Body), "<tr><th>TLP:AMBER</th><td>1</td></tr>") {
			t.Errorf("cert's start page counts the hidden reply")
		}
	})
}
