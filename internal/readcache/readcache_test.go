package readcache

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"verbund/internal/policy"
)

func TestVersionAndTime(t *testing.T) {
	c := New(1<<20, Source{})
	c.put("a", 5, 0, []byte("v5"))
	c.put("b", 5, 1000, []byte("until 1000"))
	if b, ok := c.get("a", 5, 10); !ok || string(b) != "v5" {
		t.Fatalf("hit expected: %q %v", b, ok)
	}
	if _, ok := c.get("b", 5, 1000); ok {
		t.Error("an entry is served at its end time")
	}
	if _, ok := c.get("b", 5, 999); !ok {
		t.Error("an entry before its end time is not served")
	}
	// An older reader (it read the version before a change) misses.
	if _, ok := c.get("a", 4, 10); ok {
		t.Error("served to a reader of an older version")
	}
	// A newer version drops everything.
	if _, ok := c.get("a", 6, 10); ok {
		t.Error("served after the database changed")
	}
	if c.len() != 0 {
		t.Errorf("%d entries kept after a newer version", c.len())
	}
	// A body built from an older state than the newest seen is not kept.
	c.put("a", 5, 0, []byte("v5"))
	if _, ok := c.get("a", 6, 10); ok || c.len() != 0 {
		t.Error("kept a body of an older version")
	}
	if c.Hits.Load() != 2 || c.Misses.Load() != 4 {
		t.Errorf("hits %d, misses %d", c.Hits.Load(), c.Misses.Load())
	}
}

func TestBoundedBytes(t *testing.T) {
	c := New(1000, Source{})
	body := bytes.Repeat([]byte("x"), 200)
	for _, k := range []string{"1", "2", "3", "4", "5", "6"} {
		c.put(k, 1, 0, body)
	}
	if c.len() != 5 || c.size != 1000 {
		t.Fatalf("%d entries, %d bytes", c.len(), c.size)
	}
	if _, ok := c.get("1", 1, 0); ok {
		t.Error("the oldest entry was not evicted")
	}
	if _, ok := c.get("6", 1, 0); !ok {
		t.Error("the newest entry was evicted")
	}
	// Replacing a key does not count it twice.
	c.put("6", 1, 0, []byte("y"))
	if c.size != 801 {
		t.Errorf("size %d after replacing, want 801", c.size)
	}
	// Too large for the cache: not kept.
	c.put("big", 1, 0, bytes.Repeat([]byte("z"), 300))
	if _, ok := c.get("big", 1, 0); ok {
		t.Error("a body over a quarter of the cache was kept")
	}
}

func TestBuildOncePerKeyAndVersion(t *testing.T) {
	c := New(1<<20, Source{})
	var calls atomic.Int32
	release := make(chan struct{})
	build := func() ([]byte, int64, error) {
		calls.Add(1)
		<-release
		return []byte("page"), 0, nil
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if b, err := c.build("k", 1, 0, build); err != nil || string(b) != "page" {
				t.Errorf("got %q, %v", b, err)
			}
		})
	}
	// Let the eight callers pile up on the one flight, then let it land.
	for deadline := time.Now().Add(2 * time.Second); calls.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("built %d times for one key and version, want 1", n)
	}
	// A newer version is built again; an error is not cached.
	if _, err := c.build("k", 2, 0, func() ([]byte, int64, error) { return nil, 0, errors.New("boom") }); err == nil {
		t.Error("the build error was lost")
	}
	if b, err := c.build("k", 2, 0, func() ([]byte, int64, error) { return []byte("v2"), 0, nil }); err != nil || string(b) != "v2" {
		t.Errorf("after an error: %q, %v", b, err)
	}
}

func TestPageFollowsSource(t *testing.T) {
	version, next := int64(1), int64(0)
	c := New(1<<20, Source{
		Version:    func(context.Context) (int64, error) { return version, nil },
		NextChange: func(context.Context, int64) (int64, error) { return next, nil },
	})
	builds := 0
	build := func() ([]byte, error) { builds++; return []byte("p"), nil }
	reader := policy.Actor{UserID: "u", OrgID: "o"}
	ctx := context.Background()
	page := func(now int64) {
		t.Helper()
		if b, err := c.Page(ctx, reader, now, []string{"k"}, build); err != nil || string(b) != "p" {
			t.Fatalf("page: %q, %v", b, err)
		}
	}
	page(10)
	page(11)
	if builds != 1 {
		t.Fatalf("built %d times for an unchanged source, want 1", builds)
	}
	version = 2 // a change anywhere
	page(12)
	if builds != 2 {
		t.Fatalf("not rebuilt after the version changed")
	}
	version, next = 3, 20 // an agreement ends at 20
	page(13)
	page(19)
	page(20)
	if builds != 4 {
		t.Errorf("built %d times, want 4: the page must end when an agreement does", builds)
	}
}

// TestPageKeyNamesReader: two readers asking for the same request never
// share a page, and parts that run together stay apart.
func TestPageKeyNamesReader(t *testing.T) {
	c := New(1<<20, Source{
		Version:    func(context.Context) (int64, error) { return 1, nil },
		NextChange: func(context.Context, int64) (int64, error) { return 0, nil },
	})
	ctx := context.Background()
	page := func(a policy.Actor, parts ...string) string {
		b, err := c.Page(ctx, a, 1, parts, func() ([]byte, error) { return []byte(a.UserID + "/" + a.OrgID), nil })
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	alice, bob := policy.Actor{UserID: "alice", OrgID: "o1"}, policy.Actor{UserID: "bob", OrgID: "o2"}
	if page(alice, "posts", "t1") != "alice/o1" || page(bob, "posts", "t1") != "bob/o2" {
		t.Fatal("a page built for one reader was served to another")
	}
	// The same user in another org (a moved account) is another reader.
	if got := page(policy.Actor{UserID: "alice", OrgID: "o2"}, "posts", "t1"); got != "alice/o2" {
		t.Errorf("served %q to alice in o2", got)
	}
}
