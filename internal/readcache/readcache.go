// Package readcache keeps recently built responses (an API page of posts)
// in memory, so that the same page asked for again by the same reader costs
// two small queries instead of the visibility predicate over every row.
//
// A cached response is only as good as the state it was built from, and in
// a need-to-know system a stale page can be a leak (an agreement revoked a
// second ago). So an entry is valid only while
//
//   - the database has not changed since it was built: the version is the
//     audit trail's head sequence (audit.Head), which every state change on
//     every replica and from the CLI advances in its own transaction
//     (ARCHITECTURE.md: every change is audited); and
//   - no agreement has started or ended since (policy.NextChange), because
//     visibility also depends on the clock.
//
// Callers read the version before they build a response, so an entry is
// never older than the version it is filed under. Keys must name the reader
// (user and org): entries are never shared between readers.
package readcache

import (
	"context"
	"sync"
	"sync/atomic"
)

// Cache is a bounded map of responses for one database version. When a
// newer version is seen, everything cached for older ones is dropped at
// once: a change anywhere may change any reader's view.
type Cache struct {
	src     Source
	mu      sync.Mutex
	max     int // bytes of bodies kept at most
	size    int
	version int64
	entries map[string]entry
	order   []string // keys in insertion order, for eviction (oldest first)
	flights map[flightKey]*flight

	Hits, Misses atomic.Uint64
}

type entry struct {
	body  []byte
	until int64 // Unix µs at which the entry ends regardless of version; 0: never
}

// Source tells a cache what its pages depend on besides their key: the
// database version, and the next moment (Unix µs; 0: none) at which
// visibility changes by the clock alone.
type Source struct {
	Version    func(ctx context.Context) (int64, error)
	NextChange func(ctx context.Context, now int64) (int64, error)
}

// New returns a cache holding at most maxBytes of response bodies whose
// validity src tells.
func New(maxBytes int, src Source) *Cache {
	return &Cache{max: maxBytes, src: src, entries: map[string]entry{}, flights: map[flightKey]*flight{}}
}

// Page returns the page under key: cached if still valid, else built by
// build and kept until the source's version changes or its next change
// comes.
// The version is read before anything is built, so a page is never older
// than the version it is filed under. key must name the reader.
func (c *Cache) Page(ctx context.Context, key string, now int64, build func() ([]byte, error)) ([]byte, error) {
	version, err := c.src.Version(ctx)
	if err != nil {
		return nil, err
	}
	return c.Build(key, version, now, func() ([]byte, int64, error) {
		until, err := c.src.NextChange(ctx, now)
		if err != nil {
			return nil, 0, err
		}
		body, err := build()
		return body, until, err
	})
}

type flightKey struct {
	key     string
	version int64
}

// flight is one build of a response that other requests for the same key
// and version wait for.
type flight struct {
	done chan struct{}
	body []byte
	err  error
}

// Build is Get, and on a miss calls build once for all concurrent callers
// with the same key and version (right after a change, a burst of
// requests for a popular page would otherwise all run the same query).
// build returns the body and the time it is valid until (0: no limit).
// Errors are not cached, nor shared: a caller whose flight failed builds
// for itself.
func (c *Cache) Build(key string, version, now int64, build func() ([]byte, int64, error)) ([]byte, error) {
	if b, ok := c.Get(key, version, now); ok {
		return b, nil
	}
	fk := flightKey{key, version}
	c.mu.Lock()
	if f, ok := c.flights[fk]; ok {
		c.mu.Unlock()
		<-f.done
		if f.err == nil {
			return f.body, nil
		}
		// The build failed, perhaps only because its own request was
		// cancelled: build for this request alone.
		body, _, err := build()
		return body, err
	}
	f := &flight{done: make(chan struct{})}
	c.flights[fk] = f
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.flights, fk)
		c.mu.Unlock()
		close(f.done)
	}()
	body, until, err := build()
	f.body, f.err = body, err
	if err == nil {
		c.Put(key, version, until, body)
	}
	return body, err
}

// Get returns the body cached under key for version, if it is still valid
// at now (Unix µs). The body must not be modified.
func (c *Cache) Get(key string, version, now int64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(version)
	e, ok := c.entries[key]
	if !ok || version != c.version || (e.until != 0 && now >= e.until) {
		c.Misses.Add(1)
		return nil, false
	}
	c.Hits.Add(1)
	return e.body, true
}

// Put files body under key for version until until (0: no time limit).
// Bodies larger than a quarter of the cache are not kept.
func (c *Cache) Put(key string, version, until int64, body []byte) {
	if len(body) > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(version)
	if version != c.version {
		return // built from an older state than the newest seen: keep nothing
	}
	if old, ok := c.entries[key]; ok {
		c.size -= len(old.body)
	} else {
		c.order = append(c.order, key)
	}
	c.entries[key] = entry{body: body, until: until}
	c.size += len(body)
	for c.size > c.max && len(c.order) > 0 {
		k := c.order[0]
		c.order = c.order[1:]
		if e, ok := c.entries[k]; ok {
			c.size -= len(e.body)
			delete(c.entries, k)
		}
	}
}

// Len is the number of cached entries.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// advance drops every entry when version is newer than the cache's.
// Callers hold c.mu.
func (c *Cache) advance(version int64) {
	if version <= c.version {
		return
	}
	c.version = version
	clear(c.entries)
	c.order = c.order[:0]
	c.size = 0
}
