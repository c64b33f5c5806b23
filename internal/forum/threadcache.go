package forum

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/singleflight"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/jsonenc"
	"verbund/internal/policy"
)

// The thread cache keeps the first posts of recently read threads in
// memory, each with its whole envelope, once for every reader. A page is
// cut from it for one reader by judging each post with policy's
// Reader.Sees (View.CanSee, the tested twin of the SQL predicate) after
// the thread itself was checked in the database (Reader.Contents). So a
// thread page costs no query over its posts, and a reply to a hot thread
// (during an incident, several a second) does not throw the thread away
// as the read cache's pages are: the cache re-reads that one post.
//
// It learns of changes the way internal/readcache does, from the audit
// trail (every change is an audit record that says what it touches):
//
//   - chained records (up to the trail's head): a record of one post
//     (created, edited, reshared, deleted) makes the cache read that post
//     again, or drop it; any other record touching "thread:<id>" drops the
//     thread; a record touching everything ("*") drops every thread;
//   - records still waiting to be chained (committed a moment ago): a
//     thread one of them touches is read from the database instead.
//
// The state is read before the thread is judged, and every entry is
// filed under the head it was read after; a change chained meanwhile is
// applied to it before it is kept (history). What a reader may see is
// decided at every request from the reader's view of that moment, so a
// revoked agreement or a left circle takes effect at once without any
// record touching the threads. docs/SECURITY.md item 7 has the argument.

// threadCacheSource tells the cache about changes (package audit).
type threadCacheSource struct {
	state   func(ctx context.Context) (audit.State, error)
	changes func(ctx context.Context, from, to int64) ([]audit.Change, error)
}

// threadCache holds threads' first posts.
type threadCache struct {
	svc *Service
	src threadCacheSource
	// perThread is how many posts of a thread are kept at most (its first
	// ones); a page further on is read from the database.
	perThread int

	catching sync.Mutex // one catch-up at a time; held while a post is re-read

	mu      sync.Mutex
	max     int // bytes kept at most (estimated)
	size    int
	seen    int64
	history []audit.Change // the last changes applied, for entries built before them
	entries map[string]*threadEntry
	tick    uint64 // last use, for eviction

	flights singleflight.Group

	Hits, Misses atomic.Uint64
}

// threadEntry is one thread's first posts, oldest first. posts is
// replaced, never changed in place, but for appending past its length
// (readers hold shorter slices of the same array).
type threadEntry struct {
	thread   string
	posts    []Post // each with its envelope and audience lists
	complete bool   // posts holds every post of the thread
	version  int64  // the head its builder read first
	size     int
	used     uint64
}

// cachedPostCost estimates a kept post's memory beyond its text.
const cachedPostCost = 400

func postCost(p *Post) int {
	n := cachedPostCost + 2*len(p.Body) + len(p.AuthorName) + len(p.OrgName)
	for _, o := range p.Share.Audience.Orgs {
		n += len(o) + 16
	}
	for _, u := range p.Share.Audience.People {
		n += len(u) + 16
	}
	return n
}

func newThreadCache(s *Service, maxBytes, perThread int, src threadCacheSource) *threadCache {
	return &threadCache{svc: s, src: src, max: maxBytes, perThread: perThread, entries: map[string]*threadEntry{}}
}

// page returns a page of thread's posts after the post id after (""
// from the start) for reader r, who may see the thread: up to limit+1
// posts, so the caller knows whether a next page exists. ok is false when
// the cache cannot answer (a change to the thread is waiting to be
// chained, or the page reaches past the posts kept): read the database.
func (c *threadCache) page(ctx context.Context, r *policy.Reader, thread, after string, limit int) ([]Post, bool, error) {
	st, err := c.src.state(ctx)
	if err != nil {
		return nil, false, err
	}
	tag := "thread:" + thread
	for _, w := range st.Waiting {
		if touchesTag(w, tag) {
			c.Misses.Add(1)
			return nil, false, nil
		}
	}
	if err := c.catchUp(ctx, st.Head); err != nil {
		return nil, false, err
	}
	posts, complete, err := c.thread(ctx, thread, st.Head)
	if err != nil {
		return nil, false, err
	}
	i := 0
	if after != "" {
		i, _ = slices.BinarySearchFunc(posts, after, func(p Post, id string) int { return strings.Compare(p.ID, id) })
		if i < len(posts) && posts[i].ID == after {
			i++
		}
	}
	out := make([]Post, 0, limit+1)
	for ; i < len(posts) && len(out) <= limit; i++ {
		if r.Sees(c.svc.posts, posts[i].Share) {
			out = append(out, posts[i])
		}
	}
	if len(out) <= limit && !complete {
		c.Misses.Add(1)
		return nil, false, nil // the page goes on past the posts kept
	}
	c.Hits.Add(1)
	return out, true, nil
}

// touchesTag reports whether a record's touches (comma list, "*") name tag.
func touchesTag(touches, tag string) bool {
	if touches == "*" {
		return true
	}
	for x := range strings.SplitSeq(touches, ",") {
		if x == tag {
			return true
		}
	}
	return false
}

// thread returns the kept posts of a thread, reading them if none are
// kept (once for concurrent readers).
func (c *threadCache) thread(ctx context.Context, thread string, head int64) ([]Post, bool, error) {
	c.mu.Lock()
	if e := c.entries[thread]; e != nil {
		c.tick++
		e.used = c.tick
		posts, complete := e.posts, e.complete
		c.mu.Unlock()
		return posts, complete, nil
	}
	c.mu.Unlock()
	v, err, _ := c.flights.Do(strconv.FormatInt(head, 10)+"\x00"+thread, func() (any, error) {
		// The reading outlives a request that gives up: others wait for it.
		e, err := c.read(context.WithoutCancel(ctx), thread, head)
		if err != nil {
			return nil, err
		}
		return c.keep(ctx, e), nil
	})
	if err != nil {
		return nil, false, err
	}
	kept := v.(snapshot)
	return kept.posts, kept.complete, nil
}

// snapshot is an entry's posts at one moment.
type snapshot struct {
	posts    []Post
	complete bool
}

// read reads a thread's first posts with their envelopes, unjudged.
func (c *threadCache) read(ctx context.Context, thread string, head int64) (*threadEntry, error) {
	s := c.svc
	h := s.DB.R()
	q := db.Q(`SELECT `+s.postColumns+` FROM `).Append(s.posts.Unjudged("p")).
		Add(` JOIN users u ON u.id = p.author_id JOIN orgs o ON o.id = p.org_id WHERE p.thread_id = ? ORDER BY p.id LIMIT ?`, thread, c.perThread+1)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("thread cache: read posts: %w", err)
	}
	posts, err := db.CollectN(rows, c.perThread+1, "thread cache: read posts", func(sc db.Scanner) (Post, error) { return s.scanPost(sc) })
	if err != nil {
		return nil, err
	}
	e := &threadEntry{thread: thread, version: head, complete: len(posts) <= c.perThread}
	if !e.complete {
		posts = posts[:c.perThread]
	}
	if err := policy.LoadAudiences(ctx, h, postShares(posts)); err != nil {
		return nil, err
	}
	for i := range posts {
		if err := encodePost(&posts[i]); err != nil {
			return nil, err
		}
		e.size += postCost(&posts[i])
	}
	e.posts = posts
	return e, nil
}

// readPost reads one post of thread with its envelope, unjudged; ok false
// if it is gone.
func (c *threadCache) readPost(ctx context.Context, thread, id string) (Post, bool, error) {
	s := c.svc
	h := s.DB.R()
	q := db.Q(`SELECT `+s.postColumns+` FROM `).Append(s.posts.Unjudged("p")).
		Add(` JOIN users u ON u.id = p.author_id JOIN orgs o ON o.id = p.org_id WHERE p.id = ? AND p.thread_id = ?`, id, thread)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return Post{}, false, fmt.Errorf("thread cache: read post: %w", err)
	}
	ps, err := db.CollectN(rows, 1, "thread cache: read post", func(sc db.Scanner) (Post, error) { return s.scanPost(sc) })
	if err != nil || len(ps) == 0 {
		return Post{}, false, err
	}
	if err := policy.LoadAudiences(ctx, h, postShares(ps)); err != nil {
		return Post{}, false, err
	}
	return ps[0], true, encodePost(&ps[0])
}

// encodePost makes a kept post's JSON once for every reader: as
// AppendJSON writes it without a thread title and audience lists, cut
// where the title goes.
func encodePost(p *Post) error {
	q := *p
	q.ThreadTitle, q.encoded = "", nil
	q.Share.Audience.Orgs, q.Share.Audience.People = nil, nil
	b, err := q.AppendJSON(nil)
	if err != nil {
		return err
	}
	// The title follows the thread's id, the post's second field.
	cut := len(jsonenc.String(jsonenc.Field(jsonenc.String(jsonenc.Field([]byte{'{'}, "id", true), q.ID), "thread_id", false), q.ThreadID))
	p.encoded = &postJSON{head: b[:cut:cut], tail: b[cut:]}
	return nil
}

// keep files a freshly read entry, after applying the changes chained
// since the head it was read after (they may have come before or after
// its reading: applying them again is harmless). It returns the entry's
// posts: the entry was read after the request's state, so it is fresh
// enough for the request even when it is not kept.
func (c *threadCache) keep(ctx context.Context, e *threadEntry) snapshot {
	c.catching.Lock()
	defer c.catching.Unlock()
	c.mu.Lock()
	var missed []audit.Change
	remembered := len(c.history) == 0 || c.history[0].Seq <= e.version+1
	for _, ch := range c.history {
		if ch.Seq > e.version {
			missed = append(missed, ch)
		}
	}
	c.mu.Unlock()
	keep := remembered && c.max > 0 && e.size <= c.max/4
	for _, ch := range missed {
		if !c.patch(ctx, e, ch) {
			keep = false
			break
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if keep {
		if old := c.entries[e.thread]; old != nil {
			c.dropLocked(old)
		}
		c.tick++
		e.used = c.tick
		c.entries[e.thread] = e
		c.size += e.size
		for c.size > c.max {
			c.evictLocked()
		}
	}
	return snapshot{e.posts, e.complete}
}

// catchUp applies the chained changes up to head.
func (c *threadCache) catchUp(ctx context.Context, head int64) error {
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
	c.mu.Unlock()
	if head <= seen {
		return nil
	}
	changes, err := c.src.changes(ctx, seen, head)
	if err != nil {
		return err
	}
	for _, ch := range changes {
		if err := c.apply(ctx, ch); err != nil {
			return err
		}
	}
	return nil
}

// historyLen is how many applied changes the cache remembers.
const historyLen = 4096

// apply applies one chained change to every entry it touches; only then
// does the cache count it as seen (a reader who finds it seen finds the
// entries patched). Callers hold c.catching.
func (c *threadCache) apply(ctx context.Context, ch audit.Change) error {
	c.mu.Lock()
	c.history = append(c.history, ch)
	if len(c.history) > historyLen {
		c.history = slices.Delete(c.history, 0, len(c.history)-historyLen)
	}
	var hit []*threadEntry
	if ch.Touches == "*" {
		for _, e := range c.entries {
			c.dropLocked(e)
		}
	} else {
		for tag := range strings.SplitSeq(ch.Touches, ",") {
			if id, ok := strings.CutPrefix(tag, "thread:"); ok {
				if e := c.entries[id]; e != nil && e.version < ch.Seq {
					hit = append(hit, e)
				}
			}
		}
	}
	c.mu.Unlock()
	for _, e := range hit {
		if !c.patch(ctx, e, ch) {
			c.mu.Lock()
			c.dropLocked(e)
			c.mu.Unlock()
		}
	}
	c.mu.Lock()
	c.seen = ch.Seq
	c.mu.Unlock()
	return nil
}

// postChanges are the records of one post that the cache follows by
// reading that post again; any other record touching a thread drops it.
var postChanges = map[string]bool{
	"forum.post.create": true, "forum.post.edit": true, "forum.post.reshare": true, "forum.post.delete": true,
}

// patch brings entry e up to date with change ch, which touches it: it
// reads the changed post again (or learns it is gone). It reports false
// when the entry cannot be patched and must go (not a post's change, or
// the post could not be read). Callers hold c.catching; e may be kept
// or not yet.
func (c *threadCache) patch(ctx context.Context, e *threadEntry, ch audit.Change) bool {
	if ch.Touches == "*" {
		return false
	}
	if !touchesTag(ch.Touches, "thread:"+e.thread) {
		return true
	}
	if ch.ObjectType != "post" || !postChanges[ch.Action] || ch.ObjectID == "" {
		return false
	}
	p, ok, err := c.readPost(context.WithoutCancel(ctx), e.thread, ch.ObjectID)
	if err != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	posts := e.posts
	i, found := slices.BinarySearchFunc(posts, ch.ObjectID, func(p Post, id string) int { return strings.Compare(p.ID, id) })
	delta := 0
	switch {
	case found && !ok: // deleted
		delta = -postCost(&posts[i])
		posts = slices.Concat(posts[:i], posts[i+1:])
	case found: // changed
		delta = postCost(&p) - postCost(&posts[i])
		posts = slices.Clone(posts)
		posts[i] = p
	case !ok:
		return true // gone, and never kept
	case i == len(posts) && !e.complete:
		return true // after the posts kept
	case len(posts) >= c.perThread:
		// One more than kept: the last kept one goes, unless the new one
		// comes after it.
		e.complete = false
		if i == len(posts) {
			return true
		}
		delta = postCost(&p) - postCost(&posts[len(posts)-1])
		posts = slices.Concat(posts[:i], []Post{p}, posts[i:len(posts)-1])
	case i == len(posts):
		// Appended in place: readers hold slices no longer than before.
		delta = postCost(&p)
		posts = append(posts, p)
	default:
		delta = postCost(&p)
		posts = slices.Concat(posts[:i], []Post{p}, posts[i:])
	}
	e.posts = posts
	e.size += delta
	if c.entries[e.thread] == e {
		c.size += delta
	}
	return true
}

// dropLocked removes an entry. Callers hold c.mu.
func (c *threadCache) dropLocked(e *threadEntry) {
	if c.entries[e.thread] == e {
		delete(c.entries, e.thread)
		c.size -= e.size
	}
}

// evictLocked drops the entry used longest ago. Callers hold c.mu.
func (c *threadCache) evictLocked() {
	var oldest *threadEntry
	for _, e := range c.entries {
		if oldest == nil || e.used < oldest.used {
			oldest = e
		}
	}
	if oldest == nil {
		c.size = 0
		return
	}
	c.dropLocked(oldest)
}
