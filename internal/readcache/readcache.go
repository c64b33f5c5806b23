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
// Page reads the version before it builds, so an entry is never older
// than the version it is filed under, and it files every page under its
// reader (user and org): entries are never shared between readers.
package readcache

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/singleflight"

	"verbund/internal/policy"
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
	flights singleflight.Group

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
	return &Cache{max: maxBytes, src: src, entries: map[string]entry{}}
}

// Page returns the page that build makes for reader a and the request
// described by parts (route, object, cursor, limit …): cached if still
// valid, else built and kept until the source's version changes or its
// next change comes. The key always begins with the reader.
func (c *Cache) Page(ctx context.Context, a policy.Actor, now int64, parts []string, build func() ([]byte, error)) ([]byte, error) {
	version, err := c.src.Version(ctx)
	if err != nil {
		return nil, err
	}
	key := readerKey(a, parts)
	return c.build(key, version, now, func() ([]byte, int64, error) {
		until, err := c.src.NextChange(ctx, now)
		if err != nil {
			return nil, 0, err
		}
		body, err := build()
		return body, until, err
	})
}

// readerKey names the reader first, so no two readers share an entry.
func readerKey(a policy.Actor, parts []string) string {
	return a.UserID + "\x00" + a.OrgID + "\x00" + strings.Join(parts, "\x00")
}

// build is get, and on a miss calls build once for all concurrent callers
// with the same key and version (right after a change, a burst of
// requests for a popular page would otherwise all run the same query).
// build returns the body and the time it is valid until (0: no limit).
// Errors are not cached, nor shared: a caller whose shared build failed
// (perhaps only because the request that ran it was cancelled) builds for
// itself.
func (c *Cache) build(key string, version, now int64, build func() ([]byte, int64, error)) ([]byte, error) {
	if b, ok := c.get(key, version, now); ok {
		return b, nil
	}
	v, err, shared := c.flights.Do(strconv.FormatInt(version, 10)+"\x00"+key, func() (any, error) {
		body, until, err := build()
		if err == nil {
			c.put(key, version, until, body)
		}
		return body, err
	})
	if err != nil && shared {
		body, _, err := build()
		return body, err
	}
	body, _ := v.([]byte)
	return body, err
}

// get returns the body cached under key for version, if it is still valid
// at now (Unix µs). The body must not be modified.
func (c *Cache) get(key string, version, now int64) ([]byte, bool) {
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

// put files body under key for version until until (0: no time limit).
// Bodies larger than a quarter of the cache are not kept.
func (c *Cache) put(key string, version, until int64, body []byte) {
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

// len is the number of cached entries.
func (c *Cache) len() int {
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
