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

// trail is a fake audit trail: chained changes and waiting ones.
type trail struct {
	mu      sync.Mutex
	changes []Change // chained, seq 1, 2, …
	waiting []string
	next    int64
	asked   int // NextChange calls
}

func (tr *trail) chain(touches string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.changes = append(tr.changes, Change{Seq: int64(len(tr.changes) + 1), Touches: touches})
}

func (tr *trail) source() Source {
	return Source{
		State: func(context.Context) (int64, []string, error) {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			return int64(len(tr.changes)), append([]string(nil), tr.waiting...), nil
		},
		Changes: func(_ context.Context, from, to int64) ([]Change, error) {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			return append([]Change(nil), tr.changes[from:to]...), nil
		},
		NextChange: func(context.Context, int64) (int64, error) {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			tr.asked++
			return tr.next, nil
		},
	}
}

var reader = policy.Actor{UserID: "u", OrgID: "o"}

// pager counts builds of each page.
type pager struct {
	c      *Cache
	builds map[string]int
}

func (p *pager) page(t *testing.T, now int64, name string, tags ...string) {
	t.Helper()
	b, err := p.c.Page(context.Background(), reader, now, []string{name}, tags, func() ([]byte, error) {
		p.builds[name]++
		return []byte(name), nil
	})
	if err != nil || string(b) != name {
		t.Fatalf("page %s: %q, %v", name, b, err)
	}
}

func TestChangesDropWhatTheyTouch(t *testing.T) {
	tr := &trail{}
	p := &pager{c: New(1<<20, tr.source()), builds: map[string]int{}}
	p.page(t, 1, "t1", "thread:1")
	p.page(t, 1, "t2", "thread:2")
	p.page(t, 1, "feed", "feed")
	p.page(t, 1, "t1", "thread:1")
	if p.builds["t1"] != 1 {
		t.Fatalf("t1 built %d times without a change, want 1", p.builds["t1"])
	}
	tr.chain("thread:1,feed") // a reply in thread 1
	p.page(t, 2, "t1", "thread:1")
	p.page(t, 2, "t2", "thread:2")
	p.page(t, 2, "feed", "feed")
	if p.builds["t1"] != 2 || p.builds["feed"] != 2 {
		t.Errorf("pages the change touched were not rebuilt: %v", p.builds)
	}
	if p.builds["t2"] != 1 {
		t.Errorf("thread 2's page was rebuilt though nothing touched it: %v", p.builds)
	}
	tr.chain("") // a sign-in: touches nothing
	p.page(t, 3, "t2", "thread:2")
	if p.builds["t2"] != 1 {
		t.Errorf("a change touching nothing dropped a page: %v", p.builds)
	}
	tr.chain("*") // an agreement revoked: everything
	for _, n := range []string{"t1", "t2", "feed"} {
		p.page(t, 4, n, map[string]string{"t1": "thread:1", "t2": "thread:2", "feed": "feed"}[n])
	}
	if p.builds["t1"] != 3 || p.builds["t2"] != 2 || p.builds["feed"] != 3 {
		t.Errorf("a change touching everything left pages: %v", p.builds)
	}
}

// TestWaitingChangesBypass: between a change's commit and its chaining, a
// page it touches is built for every request and never kept.
func TestWaitingChangesBypass(t *testing.T) {
	tr := &trail{}
	p := &pager{c: New(1<<20, tr.source()), builds: map[string]int{}}
	p.page(t, 1, "t1", "thread:1")
	tr.waiting = []string{"thread:1"}
	p.page(t, 1, "t1", "thread:1")
	p.page(t, 1, "t1", "thread:1")
	p.page(t, 1, "t2", "thread:2")
	p.page(t, 1, "t2", "thread:2")
	if p.builds["t1"] != 3 || p.builds["t2"] != 1 {
		t.Errorf("builds %v: a waiting change must bypass the pages it touches, and only those", p.builds)
	}
	tr.waiting = []string{"*"}
	p.page(t, 1, "t2", "thread:2")
	if p.builds["t2"] != 2 {
		t.Errorf("a waiting change touching everything did not bypass: %v", p.builds)
	}
	tr.waiting = nil
	tr.chain("thread:1")
	p.page(t, 2, "t1", "thread:1")
	p.page(t, 2, "t1", "thread:1")
	if p.builds["t1"] != 4 {
		t.Errorf("after chaining, t1 built %d times, want 4 (once more, then cached)", p.builds["t1"])
	}
}

// TestPageBuiltBeforeAChangeIsNotKept: a page whose build began before a
// change that another request has applied meanwhile is not kept if the
// change touches it.
func TestPageBuiltBeforeAChangeIsNotKept(t *testing.T) {
	tr := &trail{}
	c := New(1<<20, tr.source())
	tr.chain("thread:9")
	tr.chain("thread:1")
	if err := c.catchUp(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	c.put("a", 1, 0, []string{"thread:1"}, []byte("old")) // built after change 1, before 2
	c.put("b", 1, 0, []string{"thread:2"}, []byte("fine"))
	if _, ok := c.get("a", 0); ok {
		t.Error("a page built before a change that touches it was kept")
	}
	if _, ok := c.get("b", 0); !ok {
		t.Error("a page no later change touches was not kept")
	}
}

// TestLongTrailSkipped: the first page after a start (or a long pause)
// does not read the whole trail: past what the cache remembers it starts
// afresh, drops what it had, and keeps no page built before that head.
func TestLongTrailSkipped(t *testing.T) {
	tr := &trail{}
	c := New(1<<20, tr.source())
	c.put("kept", 0, 0, []string{"thread:1"}, []byte("x"))
	read := 0
	src := tr.source()
	c.src.Changes = func(ctx context.Context, from, to int64) ([]Change, error) {
		read += int(to - from)
		return src.Changes(ctx, from, to)
	}
	for range historyLen + 10 {
		tr.chain("thread:2")
	}
	if err := c.catchUp(context.Background(), historyLen+10); err != nil {
		t.Fatal(err)
	}
	if read != 0 || c.seen != historyLen+10 {
		t.Errorf("%d changes read, seen %d", read, c.seen)
	}
	if _, ok := c.get("kept", 0); ok {
		t.Error("a page from before the skipped changes is still served")
	}
	c.put("late", 5, 0, []string{"thread:3"}, []byte("y")) // built before the head skipped to
	if _, ok := c.get("late", 0); ok {
		t.Error("a page built before the skipped changes was kept")
	}
}

func TestPageEndsWithAgreement(t *testing.T) {
	tr := &trail{next: 20}
	p := &pager{c: New(1<<20, tr.source()), builds: map[string]int{}}
	p.page(t, 10, "x", "feed")
	p.page(t, 19, "x", "feed")
	p.page(t, 20, "x", "feed")
	if p.builds["x"] != 2 {
		t.Errorf("built %d times, want 2: the page must end when an agreement does", p.builds["x"])
	}
}

// The next moment an agreement starts or ends is asked for again only
// when it may have moved: after a change that touches everything, at or
// after that moment, or for an earlier now.
func TestNextChangeRemembered(t *testing.T) {
	tr := &trail{next: 20}
	p := &pager{c: New(1<<20, tr.source()), builds: map[string]int{}}
	asked := func(want int, why string) {
		t.Helper()
		if tr.asked != want {
			t.Fatalf("%s: NextChange asked %d times, want %d", why, tr.asked, want)
		}
	}
	p.page(t, 10, "a", "thread:1")
	asked(1, "first page")
	tr.chain("thread:1")
	p.page(t, 11, "a", "thread:1")
	p.page(t, 12, "b", "feed")
	asked(1, "pages built after a change touching a thread")
	if p.builds["a"] != 2 {
		t.Fatalf("page a built %d times, want 2", p.builds["a"])
	}
	p.page(t, 9, "c", "feed")
	asked(2, "a page for an earlier moment")
	tr.next = 30
	p.page(t, 20, "d", "feed")
	asked(3, "a page at the remembered moment")
	// An agreement that starts at 25 is written (it touches everything).
	tr.next = 25
	tr.chain("*")
	p.page(t, 21, "e", "feed")
	asked(4, "a page after a change touching everything")
	p.page(t, 24, "e", "feed")
	p.page(t, 25, "e", "feed")
	if p.builds["e"] != 2 {
		t.Errorf("page e built %d times, want 2: it must end when the new agreement starts", p.builds["e"])
	}
}

func TestBoundedBytes(t *testing.T) {
	c := New(1000, (&trail{}).source())
	body := bytes.Repeat([]byte("x"), 200)
	for _, k := range []string{"1", "2", "3", "4", "5", "6"} {
		c.put(k, 0, 0, []string{"feed"}, body)
	}
	if c.len() != 5 || c.size != 1000 {
		t.Fatalf("%d entries, %d bytes", c.len(), c.size)
	}
	if _, ok := c.get("1", 0); ok {
		t.Error("the oldest entry was not evicted")
	}
	c.put("6", 0, 0, []string{"feed"}, []byte("y"))
	if c.size != 801 {
		t.Errorf("size %d after replacing, want 801", c.size)
	}
	c.put("big", 0, 0, nil, bytes.Repeat([]byte("z"), 300))
	if _, ok := c.get("big", 0); ok {
		t.Error("a body over a quarter of the cache was kept")
	}
	// Entries dropped by changes do not make the eviction order grow.
	tr := &trail{}
	c = New(1<<20, tr.source())
	for i := range 5000 {
		c.put("k", int64(i), 0, []string{"feed"}, body)
		tr.chain("feed")
		if err := c.catchUp(context.Background(), int64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.order) > 2000 {
		t.Errorf("the eviction order holds %d keys for %d entries", len(c.order), c.len())
	}
}

func TestBuildOncePerKey(t *testing.T) {
	tr := &trail{}
	c := New(1<<20, tr.source())
	var calls atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			b, err := c.Page(context.Background(), reader, 0, []string{"k"}, []string{"feed"}, func() ([]byte, error) {
				calls.Add(1)
				<-release
				return []byte("page"), nil
			})
			if err != nil || string(b) != "page" {
				t.Errorf("got %q, %v", b, err)
			}
		})
	}
	for deadline := time.Now().Add(2 * time.Second); calls.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("built %d times for one key, want 1", n)
	}
	// An error is not cached.
	tr.chain("feed")
	if _, err := c.Page(context.Background(), reader, 0, []string{"k"}, []string{"feed"}, func() ([]byte, error) { return nil, errors.New("boom") }); err == nil {
		t.Error("the build error was lost")
	}
	b, err := c.Page(context.Background(), reader, 0, []string{"k"}, []string{"feed"}, func() ([]byte, error) { return []byte("v2"), nil })
	if err != nil || string(b) != "v2" {
		t.Errorf("after an error: %q, %v", b, err)
	}
}

// TestPageKeyNamesReader: two readers asking for the same request never
// share a page.
func TestPageKeyNamesReader(t *testing.T) {
	c := New(1<<20, (&trail{}).source())
	page := func(a policy.Actor) string {
		b, err := c.Page(context.Background(), a, 1, []string{"posts", "t1"}, []string{"thread:t1"}, func() ([]byte, error) { return []byte(a.UserID + "/" + a.OrgID), nil })
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	alice, bob := policy.Actor{UserID: "alice", OrgID: "o1"}, policy.Actor{UserID: "bob", OrgID: "o2"}
	if page(alice) != "alice/o1" || page(bob) != "bob/o2" {
		t.Fatal("a page built for one reader was served to another")
	}
	if got := page(policy.Actor{UserID: "alice", OrgID: "o2"}); got != "alice/o2" {
		t.Errorf("served %q to alice in o2", got)
	}
}
