package app_test

import (
	"net/url"
	"slices"
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
