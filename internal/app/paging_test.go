package app_test

import (
	"net/url"
	"slices"
	"strconv"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// TestThreadPagesCoverVisibleThreads pages through a channel's threads two
// at a time: every visible thread appears exactly once, most recently
// active first, and a thread the reader may not see never does.
func TestThreadPagesCoverVisibleThreads(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		h := apptest.World(t, e)
		var visible []string
		for _, title := range []string{"one", "two", "three", "four", "five"} {
			c := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": title, "body": "b", "tlp": "GREEN", "audience": "community"})
			visible = append(visible, c.thread)
		}
		hidden := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "red", "body": "b", "tlp": "RED", "audience": "people", "people": []string{h.Users["sme.analyst2"].ID}})
		slices.Reverse(visible) // most recently active first

		var got []string
		next, pages := "", 0
		for {
			path := "/api/v1/channels/" + h.CircleChannel + "/threads?limit=2"
			if next != "" {
				path += "&next=" + url.QueryEscape(next)
			}
			var page struct {
				Items []struct{ ID string }
				Next  string
			}
			r := h.API(t, h.Users["cloud.analyst"].ReadToken, "GET", path, nil)
			if r.Status != 200 {
				t.Fatalf("%s: %d %s", path, r.Status, r.Body)
			}
			r.JSON(t, &page)
			for _, it := range page.Items {
				got = append(got, it.ID)
			}
			pages++
			if page.Next == "" || pages > 10 {
				break
			}
			next = page.Next
		}
		if slices.Contains(got, hidden.thread) {
			t.Errorf("a RED thread for sme.analyst2 was listed to cloud")
		}
		if !slices.Equal(got, visible) {
			t.Errorf("pages gave %v, want %v", got, visible)
		}
		if pages != 3 {
			t.Errorf("%d pages for 5 threads at 2 a page, want 3", pages)
		}
	})
}

// TestHiddenReplyDoesNotMoveThread: a thread's place in the list and its
// last activity are those of the posts the reader can see. A RED reply
// for sme.analyst2 in an older thread moves it to the top for sme.analyst2
// only; for cloud it stays below the newer thread, with its old activity
// and count, on every page size.
func TestHiddenReplyDoesNotMoveThread(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		h := apptest.World(t, e)
		older := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "older", "body": "b", "tlp": "AMBER", "audience": "community"})
		newer := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "newer", "body": "b", "tlp": "AMBER", "audience": "community"})
		r := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/threads/"+older.thread+"/posts",
			map[string]any{"body": "hidden", "tlp": "RED", "audience": "people", "people": []string{h.Users["sme.analyst2"].ID}})
		if r.Status != 201 {
			t.Fatalf("RED reply: %d %s", r.Status, r.Body)
		}
		type item struct {
			ID         string
			Posts      int
			LastPostAt int64 `json:"last_post_at"`
		}
		list := func(user string, limit int) []item {
			var all []item
			next := ""
			for range 10 {
				path := "/api/v1/channels/" + h.CircleChannel + "/threads?limit=" + strconv.Itoa(limit)
				if next != "" {
					path += "&next=" + url.QueryEscape(next)
				}
				var page struct {
					Items []item
					Next  string
				}
				h.API(t, h.Users[user].ReadToken, "GET", path, nil).JSON(t, &page)
				all = append(all, page.Items...)
				if next = page.Next; next == "" {
					break
				}
			}
			return all
		}
		ids := func(items []item) []string {
			var out []string
			for _, it := range items {
				out = append(out, it.ID)
			}
			return out
		}
		for _, limit := range []int{1, 2, 50} {
			cloud := list("cloud.analyst", limit)
			if got := ids(cloud); !slices.Equal(got, []string{newer.thread, older.thread}) {
				t.Errorf("limit %d: cloud's list is %v, want the newer thread first (%s, %s)", limit, got, newer.thread, older.thread)
				continue
			}
			if cloud[1].Posts != 1 || cloud[1].LastPostAt > cloud[0].LastPostAt {
				t.Errorf("limit %d: cloud sees the older thread with %d posts, active at %d (the newer at %d)", limit, cloud[1].Posts, cloud[1].LastPostAt, cloud[0].LastPostAt)
			}
			if got := ids(list("sme.analyst2", limit)); !slices.Equal(got, []string{older.thread, newer.thread}) {
				t.Errorf("limit %d: sme.analyst2, who sees the reply, lists %v, want the older thread first", limit, got)
			}
		}
		var one item
		h.API(t, h.Users["cloud.analyst"].ReadToken, "GET", "/api/v1/threads/"+older.thread, nil).JSON(t, &one)
		if one.Posts != 1 {
			t.Errorf("the older thread shows cloud %d posts, want 1", one.Posts)
		}
	})
}
