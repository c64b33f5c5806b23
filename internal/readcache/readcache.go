// Package readcache keeps recently built responses (an API page of posts)
// in memory, so that the same page asked for again by the same reader costs
// a small query instead of the visibility predicate over every row.
//
// A cached response is only as good as the state it was built from, and in
// a need-to-know system a stale page can be a leak (an agreement revoked a
// second ago). Every change to the database is an audit record (the tests
// refuse unaudited writes), and every record says what it touches: tags
// such as "thread:<id>" or "feed", or everything (agreements, memberships,
// people: whatever can change who sees what). The cache learns of changes
// from the audit trail, on every replica and from the CLI alike:
//
//   - chained records (the trail's head has passed them): each drops the
//     cached pages with a tag it touches that were built before it;
//   - records still waiting to be chained (the moment between a change's
//     commit and its chaining): a page with a tag one of them touches is
//     neither served from the cache nor kept.
//
// Both are read in one snapshot on every request, before the page is
// built; a page is filed under the head it was built after. And because
// visibility also changes with the clock, a page ends at the next moment an
// agreement starts or ends. Pages are filed under their reader (user and
// org): entries are never shared between readers. docs/SECURITY.md item 7
// argues why no stale page can be served.
package readcache

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/singleflight"

	"verbund/internal/policy"
)

// Source tells a cache about changes: the state (head of chained changes,
// touches of waiting ones), the chained changes in a range, and the next
// moment (Unix µs; 0: none) at which visibility changes by the clock alone.
type Source struct {
	State      func(ctx context.Context) (head int64, waiting []string, err error)
	Changes    func(ctx context.Context, from, to int64) ([]Change, error)
	NextChange func(ctx context.Context, now int64) (int64, error)
}

// Change is one chained change: its place and what it touches (a comma
// list of tags, "*" for everything).
type Change struct {
	Seq     int64
	Touches string
}

// touches reports whether a change touching t affects a page with tags.
func touches(t string, tags []string) bool {
	if t == "*" {
		return true
	}
	for _, x := range strings.Split(t, ",") {
		if x != "" && slices.Contains(tags, x) {
			return true
		}
	}
	return false
}

// historyLen is how many applied changes the cache remembers at least (up
// to twice as many), to decide whether a page built before the newest of
// them may still be kept.
const historyLen = 4096

// Cache is a bounded map of pages.
type Cache struct {
	src Source

	catching sync.Mutex // one catch-up with the trail at a time

	mu      sync.Mutex
	max     int // bytes of bodies kept at most
	size    int
	seen    int64 // changes up to here have been applied
	history []Change
	entries map[string]*entry
	byTag   map[string]map[string]bool // tag → keys of the entries with it
	order   []string                   // keys in insertion order, for eviction (oldest first)

	// lastAll is the place of the last change applied that touches
	// everything (agreements, memberships: whatever can move the next
	// moment visibility changes by the clock); next remembers the last
	// answer of Source.NextChange, which holds until such a change or
	// until its moment (under writes nearly every page is built, and the
	// question was a statement each).
	lastAll int64
	next    nextChange

	flights singleflight.Group

	Hits, Misses atomic.Uint64
}

// nextChange is an answer of Source.NextChange: asked at now after the
// changes up to version, the next moment is next (0: none).
type nextChange struct {
	version, at, next int64
	known             bool
}

type entry struct {
	body    []byte
	until   int64 // Unix µs at which the entry ends regardless of changes; 0: never
	tags    []string
	version int64 // the head its builder read first
}

// New returns a cache holding at most maxBytes of response bodies whose
// validity src tells.
func New(maxBytes int, src Source) *Cache {
	return &Cache{max: maxBytes, src: src, entries: map[string]*entry{}, byTag: map[string]map[string]bool{}}
}

// Page returns the page that build makes for reader a and the request
// described by parts (route, object, cursor, limit …), whose content
// depends on what tags name (e.g. "thread:<id>", "feed"): cached if no
// change touching a tag came since it was built, else built (and kept).
// The key always begins with the reader.
func (c *Cache) Page(ctx context.Context, a policy.Actor, now int64, parts, tags []string, build func() ([]byte, error)) ([]byte, error) {
	head, waiting, err := c.src.State(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.catchUp(ctx, head); err != nil {
		return nil, err
	}
	for _, w := range waiting {
		if touches(w, tags) {
			// A change to this page has committed but is not chained
			// yet: build it fresh, keep nothing.
			c.Misses.Add(1)
			return build()
		}
	}
	key := a.UserID + "\x00" + a.OrgID + "\x00" + strings.Join(parts, "\x00")
	if b, ok := c.get(key, now); ok {
		return b, nil
	}
	v, err, shared := c.flights.Do(strconv.FormatInt(head, 10)+"\x00"+key, func() (any, error) {
		until, err := c.nextChange(ctx, head, now)
		if err != nil {
			return nil, err
		}
		body, err := build()
		if err == nil {
			c.put(key, head, until, tags, body)
		}
		return body, err
	})
	if err != nil && shared {
		// The build we waited for failed, perhaps only because its own
		// request was cancelled: build for this request alone.
		return build()
	}
	body, _ := v.([]byte)
	return body, err
}

// nextChange returns the next moment after now at which visibility
// changes by the clock alone, for a page built after head (the cache has
// applied the changes up to it). The remembered answer holds while no
// change touching everything has been applied since it was asked for, and
// for a now between its asking and its moment: in that span the
// agreements' times are the same, and none lies between.
func (c *Cache) nextChange(ctx context.Context, head, now int64) (int64, error) {
	c.mu.Lock()
	n := c.next
	valid := n.known && c.lastAll <= n.version && now >= n.at && (n.next == 0 || now < n.next)
	c.mu.Unlock()
	if valid {
		return n.next, nil
	}
	next, err := c.src.NextChange(ctx, now)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	if head >= c.next.version {
		c.next = nextChange{version: head, at: now, next: next, known: true}
	}
	c.mu.Unlock()
	return next, nil
}

// catchUp applies the chained changes up to head.
func (c *Cache) catchUp(ctx context.Context, head int64) error {
	c.mu.Lock()
	seen := c.seen
	c.mu.Unlock()
	if head <= seen {
		return nil
	}
	c.catching.Lock()
	defer c.catching.Unlock()
	c.mu.Lock()
	seen = c.seen
	if head-seen > historyLen {
		// More changes than the cache remembers (the first request after
		// the start, or after a long pause): reading them all would hold
		// every other request up. Start afresh at head; a page built
		// before it is not kept (put finds no history for it).
		for k := range c.entries {
			c.dropLocked(k)
		}
		c.history, c.seen, seen = nil, head, head
		c.lastAll = head // what the skipped changes were is not known
	}
	c.mu.Unlock()
	if head <= seen {
		return nil // another request caught up meanwhile
	}
	changes, err := c.src.Changes(ctx, seen, head)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range changes {
		c.apply(ch)
	}
	c.seen = head
	return nil
}

// apply drops the entries a change touches that were built before it.
// Callers hold c.mu.
func (c *Cache) apply(ch Change) {
	c.history = append(c.history, ch)
	if len(c.history) > 2*historyLen {
		// Trimmed to historyLen now and then, not by one at every change:
		// that moved 4,095 changes a record.
		c.history = slices.Delete(c.history, 0, len(c.history)-historyLen)
	}
	if ch.Touches == "*" {
		c.lastAll = ch.Seq
		for k, e := range c.entries {
			if e.version < ch.Seq {
				c.dropLocked(k)
			}
		}
		return
	}
	for _, tag := range strings.Split(ch.Touches, ",") {
		for k := range c.byTag[tag] {
			if e := c.entries[k]; e != nil && e.version < ch.Seq {
				c.dropLocked(k)
			}
		}
	}
}

// get returns the body cached under key, if it has not ended at now (Unix
// µs). The body must not be modified.
func (c *Cache) get(key string, now int64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || (e.until != 0 && now >= e.until) {
		c.Misses.Add(1)
		return nil, false
	}
	c.Hits.Add(1)
	return e.body, true
}

// put keeps body under key, built after head version, until until (0: no
// time limit). A page built before changes the cache has applied since is
// kept only if the cache remembers them all and none touches it. Bodies
// larger than a quarter of the cache are not kept.
func (c *Cache) put(key string, version, until int64, tags []string, body []byte) {
	if len(body) > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if version < c.seen {
		if len(c.history) == 0 || c.history[0].Seq > version+1 {
			return // the changes since are forgotten: keep nothing
		}
		for _, ch := range c.history {
			if ch.Seq > version && touches(ch.Touches, tags) {
				return
			}
		}
	}
	if _, ok := c.entries[key]; ok {
		c.dropLocked(key)
	}
	c.entries[key] = &entry{body: body, until: until, tags: tags, version: version}
	c.order = append(c.order, key)
	c.size += len(body)
	for _, t := range tags {
		if c.byTag[t] == nil {
			c.byTag[t] = map[string]bool{}
		}
		c.byTag[t][key] = true
	}
	for c.size > c.max && len(c.order) > 0 {
		k := c.order[0]
		c.order = c.order[1:]
		c.dropLocked(k)
	}
	if len(c.order) > 2*len(c.entries)+1024 {
		c.compactLocked()
	}
}

// compactLocked forgets the keys in c.order whose entries were dropped by
// changes (so that the order does not grow while entries churn), keeping
// each live key once, at its latest place. Callers hold c.mu.
func (c *Cache) compactLocked() {
	last := make(map[string]int, len(c.entries))
	for i, k := range c.order {
		last[k] = i
	}
	kept := c.order[:0]
	for i, k := range c.order {
		if _, ok := c.entries[k]; ok && last[k] == i {
			kept = append(kept, k)
		}
	}
	c.order = kept
}

// dropLocked removes an entry (its key may stay in c.order; eviction skips
// keys without entries). Callers hold c.mu.
func (c *Cache) dropLocked(key string) {
	e, ok := c.entries[key]
	if !ok {
		return
	}
	delete(c.entries, key)
	c.size -= len(e.body)
	for _, t := range e.tags {
		delete(c.byTag[t], key)
		if len(c.byTag[t]) == 0 {
			delete(c.byTag, t)
		}
	}
}

// len is the number of cached entries.
func (c *Cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
