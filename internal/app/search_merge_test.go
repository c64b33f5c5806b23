package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/config"
	"verbund/internal/db"
	"verbund/internal/search"
)

// SQLite's full-text index is merged into one segment when the hub is idle
// (internal/search, merge.go): every post written in its own transaction
// adds a segment, a merge that is told writes are waiting stops before
// its first step, and the keeper merges them all once writes stop, with
// every search finding what it found before.
func TestSearchIndexMergesWhenIdle(t *testing.T) {
	// The hub's own keeper is off: it must not merge before the index has
	// been looked at; this test runs one.
	h := apptest.WorldCoveringWith(t, db.SQLite, func(c *config.Config) { c.IndexMergeLook = -1 })
	h.App.Search.SetSearchRate(1_000_000)
	ctx := context.Background()
	for i := range 24 {
		newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": fmt.Sprintf("Lagebild %d", i),
			"body": fmt.Sprintf("Wasserrohrbruch im Rechenzentrum %d, Notstrom läuft", i), "tlp": "AMBER", "audience": "community"})
	}
	found := func() string {
		t.Helper()
		r := h.API(t, h.Users["cloud.analyst"].ReadToken, "GET", "/api/v1/posts?q=rechenzentrum&limit=200", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("search: %d %s", r.Status, r.Body)
		}
		return string(r.Body)
	}
	before := found()
	segs, err := search.Segments(ctx, h.App.DB)
	if err != nil || segs < 2 {
		t.Fatalf("%d segments after 24 posts (%v): the test needs an index of several", segs, err)
	}
	// Writes waiting: nothing is merged.
	if done, err := search.MergeIndex(ctx, h.App.DB, func() bool { return true }); err != nil || done {
		t.Fatalf("a busy merge: done %v, %v", done, err)
	}
	if n, _ := search.Segments(ctx, h.App.DB); n != segs {
		t.Fatalf("a busy merge changed the index: %d segments, were %d", n, segs)
	}
	// Idle: the keeper merges within a few looks.
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	go search.KeepIndexMerged(kctx, h.App.DB, slog.New(slog.DiscardHandler), 50*time.Millisecond)
	waitOneSegment(t, h, 20*time.Second)
	if after := found(); after != before {
		t.Errorf("the merged index finds other posts:\nbefore %s\nafter  %s", before, after)
	}
	// Merged already: another merge has nothing to do.
	if done, err := search.MergeIndex(ctx, h.App.DB, nil); err != nil || !done {
		t.Errorf("merging a merged index: done %v, %v", done, err)
	}
}

// Merging rewrites what it merges, so a large segment is merged with small
// ones only once they add up to a quarter of it: a few posts after a large
// import are merged among themselves and the import's segment stays.
func TestSearchIndexMergesSmallSegmentsAmongThemselves(t *testing.T) {
	h := apptest.WorldCoveringWith(t, db.SQLite, func(c *config.Config) { c.IndexMergeLook = -1 })
	seedPosts(t, h, 5000, 10)
	ctx := context.Background()
	if _, err := search.MergeIndex(ctx, h.App.DB, nil); err != nil {
		t.Fatal(err)
	}
	largest := func() (segid, segs int) {
		t.Helper()
		rows, err := h.App.DB.R().Query(ctx, `SELECT segid FROM search_fts_idx GROUP BY segid ORDER BY count(*) DESC`)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := db.Collect(rows, "segments", func(sc db.Scanner) (n int, err error) { return n, sc.Scan(&n) })
		if err != nil || len(ids) == 0 {
			t.Fatal(err, ids)
		}
		return ids[0], len(ids)
	}
	big, segs := largest()
	if segs != 1 {
		t.Fatalf("%d segments after merging the import", segs)
	}
	for i := range 3 {
		newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": fmt.Sprintf("Nachtrag %d", i),
			"body": "Notstrom läuft wieder", "tlp": "AMBER", "audience": "community"})
	}
	if _, segs = largest(); segs != 4 {
		t.Fatalf("%d segments after three posts, want the import's and one a post", segs)
	}
	if done, err := search.MergeIndex(ctx, h.App.DB, nil); err != nil || !done {
		t.Fatalf("merge: %v %v", done, err)
	}
	now, segs := largest()
	if now != big {
		t.Errorf("the import's segment %d was rewritten (now %d) to merge three posts", big, now)
	}
	if segs > 2 {
		t.Errorf("%d segments left: the posts' segments were not merged among themselves", segs)
	}
}

// The hub starts its keeper: posts written one by one end up in one
// segment once the hub is idle (FTS5's own merging would leave several).
func TestHubKeepsItsIndexMerged(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	for i := range 6 {
		newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": fmt.Sprintf("Meldung %d", i),
			"body": "Phishing-Welle gegen Kunden", "tlp": "AMBER", "audience": "community"})
	}
	waitOneSegment(t, h, 30*time.Second)
}

// waitOneSegment waits until the index is one segment, at most within.
func waitOneSegment(t *testing.T, h *apptest.Hub, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		n, err := search.Segments(context.Background(), h.App.DB)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the idle hub left %d segments", n)
		}
	}
}
