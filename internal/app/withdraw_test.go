package app_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// TestDeleteThread: the org that opened a thread withdraws it, and every
// post in it goes too (cloud's reply included): no path shows any of it,
// nothing of theirs is left in the kernel's tables, and the deletion is
// audited. Another org may not; deleting a reply leaves the thread, and
// deleting the first post removes the thread (no thread listed without
// posts).
func TestDeleteThread(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		h := apptest.World(t, e)
		ctx := context.Background()
		sme, cloud := h.Users["sme.analyst"], h.Users["cloud.analyst"]
		th := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "to withdraw", "body": "b", "tlp": "AMBER", "audience": "community"})
		r := h.API(t, cloud.WriteToken, "POST", "/api/v1/threads/"+th.thread+"/posts", map[string]any{"body": "vanishword reply"})
		if r.Status != http.StatusCreated {
			t.Fatalf("reply: %d %s", r.Status, r.Body)
		}
		var reply struct{ ID string }
		r.JSON(t, &reply)

		if r := h.API(t, cloud.WriteToken, "DELETE", "/api/v1/threads/"+th.thread, nil); r.Status != http.StatusForbidden || r.ErrorCode() != "not_owner" {
			t.Errorf("cloud deletes sme's thread: %d %s", r.Status, r.Body)
		}
		if r := h.API(t, h.Users["outsider.analyst"].WriteToken, "DELETE", "/api/v1/threads/"+th.thread, nil); r.Status != http.StatusNotFound {
			t.Errorf("an outsider deletes the thread: %d %s", r.Status, r.Body)
		}
		if r := h.API(t, sme.WriteToken, "DELETE", "/api/v1/threads/"+th.thread, nil); r.Status != http.StatusNoContent {
			t.Fatalf("sme deletes its thread: %d %s", r.Status, r.Body)
		}
		for _, u := range []string{"sme.analyst", "cloud.analyst", "cert.analyst"} {
			tok := h.Users[u].ReadToken
			for _, p := range []string{"/api/v1/threads/" + th.thread, "/api/v1/posts/" + reply.ID, "/api/v1/posts/" + th.post} {
				if r := h.API(t, tok, "GET", p, nil); r.Status != http.StatusNotFound {
					t.Errorf("%s: GET %s after the thread was deleted: %d", u, p, r.Status)
				}
			}
			if ids, _ := listIDs(t, h, tok, "/api/v1/channels/"+h.CircleChannel+"/threads"); slices.Contains(ids, th.thread) {
				t.Errorf("%s still lists the deleted thread", u)
			}
			if ids, _ := listIDs(t, h, tok, "/api/v1/posts?q=vanishword"); len(ids) > 0 {
				t.Errorf("%s still finds the deleted reply: %v", u, ids)
			}
		}
		var left int
		if err := h.App.DB.R().QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM shares WHERE id IN (?, ?, ?) OR container_id = ?)
			+ (SELECT COUNT(*) FROM share_tally WHERE container_id = ?) + (SELECT COUNT(*) FROM search_docs WHERE id IN (?, ?))`,
			th.thread, th.post, reply.ID, th.thread, th.thread, th.post, reply.ID).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("%d rows of the deleted thread are left in the kernel's tables", left)
		}
		var audited int
		if err := h.App.DB.R().QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM audit_log WHERE action = 'forum.thread.delete' AND object_id = ?)
			+ (SELECT COUNT(*) FROM audit_pending WHERE action = 'forum.thread.delete' AND object_id = ?)`, th.thread, th.thread).Scan(&audited); err != nil {
			t.Fatal(err)
		}
		if audited != 1 {
			t.Errorf("%d audit records of the deletion, want 1", audited)
		}

		// A reply's deletion leaves the thread; the first post's takes it.
		th2 := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "first post", "body": "b", "tlp": "AMBER", "audience": "community"})
		r = h.API(t, sme.WriteToken, "POST", "/api/v1/threads/"+th2.thread+"/posts", map[string]any{"body": "second"})
		r.JSON(t, &reply)
		if r := h.API(t, sme.WriteToken, "DELETE", "/api/v1/posts/"+reply.ID, nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete the reply: %d %s", r.Status, r.Body)
		}
		if r := h.API(t, cloud.ReadToken, "GET", "/api/v1/threads/"+th2.thread, nil); r.Status != http.StatusOK {
			t.Errorf("the thread went with a reply: %d", r.Status)
		}
		if r := h.API(t, sme.WriteToken, "DELETE", "/api/v1/posts/"+th2.post, nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete the first post: %d %s", r.Status, r.Body)
		}
		if r := h.API(t, cloud.ReadToken, "GET", "/api/v1/threads/"+th2.thread, nil); r.Status != http.StatusNotFound {
			t.Errorf("the thread stayed without its first post: %d", r.Status)
		}
		if ids, _ := listIDs(t, h, cloud.ReadToken, "/api/v1/channels/"+h.CircleChannel+"/threads"); slices.Contains(ids, th2.thread) {
			t.Errorf("a thread without posts is still listed")
		}
	})
}

// TestDeleteThreadAuditsEachOrg: deleting a thread counts in the deleting
// org's record only the posts it could see (a RED reply named to a
// colleague is not one more post in its trail), and each other org whose
// posts went learns it in its own trail, and only there.
func TestDeleteThreadAuditsEachOrg(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	th := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "geteilt", "body": "b", "tlp": "AMBER", "audience": "community"})
	r := h.API(t, h.Users["cloud.analyst"].WriteToken, "POST", "/api/v1/threads/"+th.thread+"/posts",
		map[string]any{"body": "nur für eine", "tlp": "RED", "audience": "people", "people": []string{h.Users["sme.analyst2"].ID}})
	if r.Status != http.StatusCreated {
		t.Fatalf("cloud's RED reply: %d %s", r.Status, r.Body)
	}
	if r := h.API(t, h.Users["sme.analyst"].WriteToken, "DELETE", "/api/v1/threads/"+th.thread, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	type record struct {
		Action   string
		ObjectID string `json:"object_id"`
		Detail   map[string]any
	}
	trail := func(user string) map[string]record {
		var page struct{ Items []record }
		h.API(t, h.Users[user].ReadToken, "GET", "/api/v1/audit?limit=500", nil).JSON(t, &page)
		out := map[string]record{}
		for _, rec := range page.Items {
			if rec.ObjectID == th.thread {
				out[rec.Action] = rec
			}
		}
		return out
	}
	sme := trail("sme.auditor")
	if d, ok := sme["forum.thread.delete"]; !ok || d.Detail["posts"] != 1.0 {
		t.Errorf("sme's record of the deletion: %+v, want posts 1 (the RED reply is not sme.analyst's to see)", d)
	}
	if _, ok := sme["forum.thread.delete.contributions"]; ok {
		t.Error("LEAK: sme's trail shows that another org had posts in the thread")
	}
	cloud := trail("cloud.admin")
	if d, ok := cloud["forum.thread.delete.contributions"]; !ok || d.Detail["posts"] != 1.0 || d.Detail["deleted_by_org"] != h.Orgs["sme"] {
		t.Errorf("cloud's trail does not say that its post was deleted with sme's thread: %+v", cloud)
	}
}
