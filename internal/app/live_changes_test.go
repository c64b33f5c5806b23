package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// TestChangesReachOtherOrgsLive: an edit and a thread's withdrawal reach
// the readers of other orgs who have the thread open, as new replies do;
// a reader who never saw the thread hears of neither.
func TestChangesReachOtherOrgsLive(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	th := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "Lage", "body": "erste Fassung", "tlp": "AMBER", "audience": "community"})
	cloud := openStream(t, h.URL, h.Users["cloud.analyst"].ReadToken, "?topic=thread:"+th.thread)
	outsider := openStream(t, h.URL, h.Users["outsider.analyst"].ReadToken, "?topic=thread:"+th.thread)
	if r := h.API(t, h.Users["sme.analyst"].WriteToken, "PATCH", "/api/v1/posts/"+th.post, map[string]any{"body": "zweite Fassung"}); r.Status != http.StatusOK {
		t.Fatalf("edit: %d %s", r.Status, r.Body)
	}
	if e := cloud.waitFor(t, th.post, 3*time.Second); e["type"] != "forum.post.updated" {
		t.Errorf("cloud got %v for the edit", e)
	}
	// A reply deleted by its org leaves the others' open pages.
	r := h.API(t, h.Users["cloud.analyst"].WriteToken, "POST", "/api/v1/threads/"+th.thread+"/posts", map[string]any{"body": "Antwort"})
	var reply struct{ ID string }
	r.JSON(t, &reply)
	sme := openStream(t, h.URL, h.Users["sme.analyst"].ReadToken, "?topic=thread:"+th.thread)
	if r := h.API(t, h.Users["cloud.analyst"].WriteToken, "DELETE", "/api/v1/posts/"+reply.ID, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete the reply: %d %s", r.Status, r.Body)
	}
	if e := sme.waitFor(t, reply.ID, 3*time.Second); e["type"] != "forum.post.deleted" {
		t.Errorf("sme got %v for the deleted reply", e)
	}
	if r := h.API(t, h.Users["sme.analyst"].WriteToken, "DELETE", "/api/v1/threads/"+th.thread, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if e := cloud.waitFor(t, th.thread, 3*time.Second); e["type"] != "forum.thread.deleted" {
		t.Errorf("cloud got %v for the withdrawal", e)
	}
	outsider.never(t, th.thread, 300*time.Millisecond)
}

// TestViewChangeReachesItsUser: when what a reader may see or send
// changes (a member of their circle accepts its charter), their open
// pages are told to catch up; a reader whose reach did not change is not.
func TestViewChangeReachesItsUser(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	sme := openStream(t, h.URL, h.Users["sme.analyst"].ReadToken, "")
	out := openStream(t, h.URL, h.Users["outsider.analyst"].ReadToken, "")
	if _, err := h.App.Agreements.Accept(context.Background(), h.Users["nocontract.admin"].Actor, h.Charter); err != nil {
		t.Fatalf("accept the charter: %v", err)
	}
	waitType := func(s *stream, typ string, within time.Duration) bool {
		deadline := time.After(within)
		for {
			select {
			case e := <-s.events:
				if e["type"] == typ {
					return true
				}
			case <-deadline:
				return false
			}
		}
	}
	if !waitType(sme, "view", 5*time.Second) {
		t.Error("sme's stream was not told that its reach changed")
	}
	if waitType(out, "view", 500*time.Millisecond) {
		t.Error("the outsider's stream was told of a change that is not its own")
	}
}
