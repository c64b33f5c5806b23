package forum

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
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

// The thread cache keeps posts in memory, each with its whole envelope,
// once for every reader: the first posts of recently read threads, and
// the newest posts of the hub for the feed (each with its thread's
// envelope and title). A page is cut from it for one reader by judging
// each post with policy's Reader.Sees (View.CanSee, the tested twin of
// the SQL predicate): for a thread's page after the thread itself was
// checked in the database (Reader.Contents), for the feed together with
// each post's thread, as the predicate joins it. So a page costs no query
// over its posts, and a reply to a hot thread (during an incident,
// several a second) does not throw the thread or the feed away as the
// read cache's pages are: the cache reads that one post again.
//
// It learns of changes the way internal/readcache does, from the audit
// trail (every change is an audit record that says what it touches):
//
//   - chained records (up to the trail's head): a record of one post
//     (created, edited, reshared, deleted) makes every entry it touches
//     ("thread:<id>", "feed") read that post again, or drop it; a record
//     of a thread (created, deleted) makes the feed read that thread's
//     posts again and drops the thread's own entry; any other record drops
//     the entries it touches, and one touching everything ("*") drops all;
//   - records still waiting to be chained (committed a moment ago): an
//     entry one of them touches is not used; the page is read from the
//     database.
//
// The state is read before anything is judged, and every entry is filed
// under the head it was read after; a change chained meanwhile is applied
// to it before it is kept (history). What a reader may see is decided at
// every request from the reader's view of that moment, so a revoked
// agreement or a left circle takes effect at once without any record
// touching the posts. docs/SECURITY.md item 7 has the argument.

// threadCacheSource tells the cache about changes (package audit).
type threadCacheSource struct {
	state   func(ctx context.Context) (audit.State, error)
	changes func(ctx context.Context, from, to int64) ([]audit.Change, error)
}

// threadCache holds the entries.
type threadCache struct {
	svc *Service
	src threadCacheSource
	// perEntry is how many posts an entry keeps at most: a thread's first
	// ones, the feed's newest ones. A page further on is read from the
	// database.
	perEntry int

	catching sync.Mutex // one catch-up at a time; held while posts are read again

	mu      sync.Mutex
	max     int // bytes kept at most (estimated)
	size    int
	seen    int64
	history []audit.Change // the changes applied after floor, for entries read before them
	floor   int64          // an entry read after an older head cannot be kept
	entries map[string]*threadEntry
	tick    uint64 // last use, for eviction

	flights singleflight.Group

	Hits, Misses atomic.Uint64
	Overlaid     atomic.Uint64 // entries read around waiting records (overlay.go)
}

// feedTag names the feed's entry, as the records touching it name it.
const feedTag = "feed"

// threadEntry is a thread's first posts, or the feed's newest ones,
// oldest first. posts is replaced, never changed in place, but for
// appending past its length (readers hold shorter slices of the same
// array).
type threadEntry struct {
	tag      string // "thread:<id>" or "feed"
	thread   string // the thread's id; "" for the feed
	posts    []Post // each with its envelope and audience lists
	complete bool   // posts holds every post of the thread (of the hub, for the feed)
	// edge bounds what an entry that is not complete covers: a thread
	// every post before it (id < edge), the feed every post after it
	// (id > edge). It is the first post left out, and stays when the
	// posts next to it go, so that an old post changed later never
	// lands in a gap.
	edge string
	// A channel's thread list (channelcache.go): its threads, latest
	// activity first; edgeAt with edge is the first thread left out.
	channel string
	list    []*listed
	edgeAt  int64
	// head is a thread's entry's thread: its envelope (with audience
	// lists) and title, read with the posts; nil if it was not found.
	head    *keptThread
	version int64 // the head its builder read first
	size    int
	used    uint64
}

// keptThread is a feed post's thread: its envelope (with audience lists)
// and title.
type keptThread struct {
	share policy.Share
	title string
}

// cachedPostCost estimates a kept post's memory beyond its text, its
// JSON and its lists.
const cachedPostCost = 600

// postCost is a kept post's memory, estimated.
func postCost(p *Post) int {
	n := cachedPostCost + len(p.Body) + len(p.AuthorName) + len(p.OrgName)
	if e := p.encoded; e != nil {
		n += len(e.head) + len(e.tail)
	}
	for _, o := range p.Share.Audience.Orgs {
		n += len(o) + 16
	}
	for _, u := range p.Share.Audience.People {
		n += len(u) + 16
	}
	if t := p.thread; t != nil {
		n += len(t.title) + 16*(len(t.share.Audience.Orgs)+len(t.share.Audience.People))
	}
	return n
}

// entryMax is how much one entry may hold: a quarter of the cache. An
// entry of long posts keeps fewer of them.
func (c *threadCache) entryMax() int { return c.max / 4 }

func newThreadCache(s *Service, maxBytes, perEntry int, src threadCacheSource) *threadCache {
	return &threadCache{svc: s, src: src, max: maxBytes, perEntry: perEntry, entries: map[string]*threadEntry{}}
}

// threadPage returns a page of thread's posts after the post id after (""
// from the start) for reader r, with the thread's title: up to limit+1
// posts, so the caller knows whether a next page exists. The thread
// itself is judged first, in memory like its posts (the entry keeps its
// envelope: a thread's envelope never changes, and its deletion is a
// record that drops the entry). ok is false when the cache cannot answer
// (a change to the thread is waiting to be chained, the page reaches past
// the posts kept, or r may not see the thread: the database says "not
// found" as it does for a thread that does not exist): read the database.
func (c *threadCache) threadPage(ctx context.Context, r *policy.Reader, thread, after string, limit int) ([]Post, string, bool, error) {
	kept, ok, err := c.entry(ctx, "thread:"+thread, thread)
	if !ok || err != nil {
		return nil, "", false, err
	}
	if kept.head == nil || !r.Sees(c.svc.threads, kept.head.share) {
		c.Misses.Add(1)
		return nil, "", false, nil
	}
	out := make([]Post, 0, limit+1)
	kept.ascend(after, func(p *Post) bool {
		if r.Sees(c.svc.posts, p.Share) {
			out = append(out, *p)
		}
		return len(out) <= limit
	})
	if len(out) <= limit && !kept.complete {
		c.Misses.Add(1)
		return nil, "", false, nil // the page goes on past the posts kept
	}
	c.Hits.Add(1)
	return out, kept.head.title, true, nil
}

// feedPage returns a page of the feed for reader r: the newest posts
// before the post id before ("" from the newest) that r may see in
// threads r may see, each with its thread's title; up to limit+1 posts.
// ok as for threadPage.
func (c *threadCache) feedPage(ctx context.Context, r *policy.Reader, before string, limit int) ([]Post, bool, error) {
	kept, ok, err := c.entry(ctx, feedTag, "")
	if !ok || err != nil {
		return nil, false, err
	}
	threads := map[*keptThread]bool{} // judged for this reader
	out := make([]Post, 0, limit+1)
	kept.descend(before, func(p *Post) bool {
		visible, judged := threads[p.thread]
		if !judged {
			visible = r.Sees(c.svc.threads, p.thread.share)
			threads[p.thread] = visible
		}
		if visible && r.Sees(c.svc.posts, p.Share) {
			q := *p
			q.ThreadTitle = p.thread.title
			out = append(out, q)
		}
		return len(out) <= limit
	})
	if len(out) <= limit && !kept.complete {
		c.Misses.Add(1)
		return nil, false, nil
	}
	c.Hits.Add(1)
	return out, true, nil
}

// place is where a post with id belongs among posts (oldest first).
func place(posts []Post, id string) int {
	// By index: a Post is too large to copy for each comparison.
	return sort.Search(len(posts), func(i int) bool { return posts[i].ID >= id })
}

// entry returns the posts of the entry tag (a thread's, thread; the
// feed's, ""), up to date with the trail's head, reading them if none are
// kept (once for concurrent readers). ok is false when a change touching
// it is waiting to be chained.
func (c *threadCache) entry(ctx context.Context, tag, thread string) (snapshot, bool, error) {
	return c.entryOf(ctx, tag, func(ctx context.Context, head int64) (*threadEntry, error) { return c.read(ctx, tag, thread, head) })
}

// entryOf is entry for any kind of entry, read by read.
func (c *threadCache) entryOf(ctx context.Context, tag string, read func(ctx context.Context, head int64) (*threadEntry, error)) (snapshot, bool, error) {
	st, err := c.src.state(ctx)
	if err != nil {
		return snapshot{}, false, err
	}
	var waiting []audit.Change // the waiting records touching the entry
	for i, w := range st.Waiting {
		if touchesTag(w, tag) {
			waiting = append(waiting, st.WaitingChanges[i])
		}
	}
	if len(waiting) > 0 && !canOverlay(tag, waiting) {
		c.Misses.Add(1)
		return snapshot{}, false, nil
	}
	kept, err := c.current(ctx, tag, st.Head, read)
	if err != nil || len(waiting) == 0 {
		return kept, err == nil, err
	}
	kept, ok, err := c.readOverlay(ctx, tag, waiting, kept)
	switch {
	case ok:
		c.Overlaid.Add(1)
	case err == nil:
		c.Misses.Add(1)
	}
	return kept, ok, err
}

// current returns entry tag's snapshot up to date with head: kept, or
// read (once for concurrent readers) and kept.
func (c *threadCache) current(ctx context.Context, tag string, head int64, read func(ctx context.Context, head int64) (*threadEntry, error)) (snapshot, error) {
	if err := c.catchUp(ctx, head); err != nil {
		return snapshot{}, err
	}
	c.mu.Lock()
	if e := c.entries[tag]; e != nil {
		c.tick++
		e.used = c.tick
		kept := e.snap()
		c.mu.Unlock()
		return kept, nil
	}
	c.mu.Unlock()
	v, err, _ := c.flights.Do(strconv.FormatInt(head, 10)+"\x00"+tag, func() (any, error) {
		// The reading outlives a request that gives up: others wait for it.
		e, err := read(context.WithoutCancel(ctx), head)
		if err != nil {
			return nil, err
		}
		return c.keep(ctx, e), nil
	})
	if err != nil {
		return snapshot{}, err
	}
	return v.(snapshot), nil
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

// snapshot is an entry's posts (or threads) at one moment.
type snapshot struct {
	posts    []Post
	list     []*listed
	complete bool
	edgeAt   int64
	edge     string
	head     *keptThread
	over     *overlay // read around waiting records for one request (overlay.go); nil: none
}

// snap is e's snapshot. Callers hold c.mu (or own e alone).
func (e *threadEntry) snap() snapshot {
	return snapshot{posts: e.posts, list: e.list, complete: e.complete, edgeAt: e.edgeAt, edge: e.edge, head: e.head}
}

// read reads an entry's posts with their envelopes, unjudged: a thread's
// first ones, or the feed's newest ones.
func (c *threadCache) read(ctx context.Context, tag, thread string, head int64) (*threadEntry, error) {
	e := &threadEntry{tag: tag, thread: thread, version: head}
	if thread != "" {
		// The thread first: a thread that does not exist has no posts to
		// read, and its entry is not kept (keep), whatever the id asked.
		var err error
		if e.head, err = c.readThread(ctx, thread); err != nil {
			return nil, err
		}
		if e.head == nil {
			return e, nil
		}
		e.size += len(e.head.title) + cachedPostCost
	}
	q := c.query(e)
	if thread != "" {
		q.Add(` WHERE p.thread_id = ? ORDER BY p.id LIMIT ?`, thread, c.perEntry+1)
	} else {
		q.Add(` ORDER BY p.id DESC LIMIT ?`, c.perEntry+1)
	}
	// A thread's first posts, the feed's newest, as many as an entry
	// keeps and within its share of the memory: the reading stops at the
	// first post left out, which becomes the edge.
	posts, left, err := c.collect(ctx, e, q, c.perEntry, c.entryMax())
	if err != nil {
		return nil, err
	}
	e.complete, e.edge = left == "", left
	for i := range posts {
		e.size += postCost(&posts[i])
	}
	if thread == "" {
		slices.Reverse(posts)
	}
	e.posts = posts
	return e, nil
}

// readThread reads thread id's envelope (with audience lists) and title,
// unjudged; nil if there is no such thread.
func (c *threadCache) readThread(ctx context.Context, id string) (*keptThread, error) {
	s, h := c.svc, c.svc.DB.R()
	var t keptThread
	q := db.Q(`SELECT t.title, `+s.threads.Columns("t")+` FROM `).Append(s.threads.Unjudged("t")).Add(` WHERE t.id = ?`, id)
	err := h.SelectRow(ctx, q).Scan(s.threads.Dest(&t.share, []any{&t.title})...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("thread cache: read thread: %w", db.Map(err))
	}
	if err := policy.LoadAudiences(ctx, h, []*policy.Share{&t.share}); err != nil {
		return nil, err
	}
	return &t, nil
}

// query is the unjudged SELECT of an entry's posts, for the feed with
// each post's thread.
func (c *threadCache) query(e *threadEntry) *db.Query {
	s := c.svc
	cols, from := s.postColumns, s.posts.Unjudged("p")
	if e.thread == "" {
		cols += `, t.title, ` + s.threads.Columns("t")
		from.Append(s.threads.JoinUnjudged("t", "p.thread_id"))
	}
	return db.Q(`SELECT ` + cols + ` FROM `).Append(from).Add(` JOIN users u ON u.id = p.author_id JOIN orgs o ON o.id = p.org_id`)
}

// listedQuery is the feed's query with each post's thread as a channel's
// list keeps it: its channel, stored activity, author's and org's names
// and its posts' tally (after the feed's columns; collect with lists).
func (c *threadCache) listedQuery() *db.Query {
	s := c.svc
	return db.Q(`SELECT ` + s.postColumns + `, t.title, ` + s.threads.Columns("t") + `, t.channel_id, t.last_post_at, tu.name, tor.name, COALESCE(g.groups, '') FROM `).
		Append(s.posts.Unjudged("p")).Append(s.threads.JoinUnjudged("t", "p.thread_id")).
		Add(` JOIN users u ON u.id = p.author_id JOIN orgs o ON o.id = p.org_id JOIN users tu ON tu.id = t_s.author_id JOIN orgs tor ON tor.id = t.org_id`).
		Append(s.posts.JoinGroups("g", "t.id"))
}

// collect reads the posts q selects for entry e, with their audience
// lists (and their threads', for the feed) and their JSON: at most max,
// and (budget > 0) no more than budget bytes of them. left is the id of
// the first post read and left out ("" if none was).
func (c *threadCache) collect(ctx context.Context, e *threadEntry, q *db.Query, max, budget int) (posts []Post, left string, err error) {
	return c.collectListed(ctx, e, q, max, budget, nil)
}

// listedRow is what listedQuery adds to a post's row for its thread.
type listedRow struct {
	channel, author, org, groups string
	lastPostAt                   int64
}

// collectListed is collect; for a query of listedQuery's columns it also
// puts each post's thread, as a channel's list keeps it, into lists (by
// the thread's id).
func (c *threadCache) collectListed(ctx context.Context, e *threadEntry, q *db.Query, max, budget int, lists map[string]*listed) (posts []Post, left string, err error) {
	s, h := c.svc, c.svc.DB.R()
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("thread cache: read posts: %w", err)
	}
	threads := map[string]*keptThread{}
	listedRows := map[string]listedRow{}
	// The rows are closed before the audiences are read: a reader holding
	// its connection while it waits for another would starve the pool.
	err = func() error {
		defer rows.Close()
		size := 0
		for rows.Next() {
			var p Post
			var err error
			if e.thread != "" {
				p, err = s.scanPost(rows)
			} else {
				var t keptThread
				var l listedRow
				dest := s.threads.Dest(&t.share, []any{&t.title})
				if lists != nil {
					dest = append(dest, &l.channel, &l.lastPostAt, &l.author, &l.org, &l.groups)
				}
				if p, err = s.scanPost(rows, dest...); err == nil {
					if threads[p.ThreadID] == nil {
						threads[p.ThreadID] = &t
						listedRows[p.ThreadID] = l
					}
					p.thread = threads[p.ThreadID]
				}
			}
			if err != nil {
				return fmt.Errorf("thread cache: read posts: %w", err)
			}
			if err := encodePost(&p); err != nil {
				return err
			}
			if size += postCost(&p); len(posts) == max || budget > 0 && size > budget {
				left = p.ID
				return nil
			}
			posts = append(posts, p)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("thread cache: read posts: %w", db.Map(err))
		}
		return nil
	}()
	if err != nil {
		return nil, "", err
	}
	if err := policy.LoadAudiences(ctx, h, postShares(posts)); err != nil {
		return nil, "", err
	}
	shares := make([]*policy.Share, 0, len(threads))
	for _, t := range threads {
		shares = append(shares, &t.share)
	}
	if err := policy.LoadAudiences(ctx, h, shares); err != nil {
		return nil, "", err
	}
	if lists != nil {
		for id, t := range threads {
			r := listedRows[id]
			groups, err := s.posts.ParseGroups(r.groups)
			if err != nil {
				return nil, "", err
			}
			l := &listed{t: Thread{ID: id, ChannelID: r.channel, Title: t.title, Share: t.share, AuthorName: r.author, OrgName: r.org,
				CreatedAt: t.share.CreatedAt, LastPostAt: r.lastPostAt}, groups: groups}
			l.cost = listedCost(l)
			lists[id] = l
		}
	}
	return posts, left, nil
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
	remembered := e.version >= c.floor
	for _, ch := range c.history {
		if ch.Seq > e.version {
			missed = append(missed, ch)
		}
	}
	c.mu.Unlock()
	// A thread's entry is kept only for a thread that exists: ids a
	// reader makes up (any text, 404 from the database) take no room.
	keep := remembered && c.max > 0 && (e.thread == "" || e.head != nil)
	for _, ch := range missed {
		if !c.patch(ctx, e, ch, nil) {
			keep = false
			break
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if keep {
		if old := c.entries[e.tag]; old != nil {
			c.dropLocked(old)
		}
		// Every entry costs its tag and its bookkeeping, also when it
		// holds nothing (a channel without threads).
		e.size += len(e.tag) + cachedPostCost
		c.tick++
		e.used = c.tick
		c.entries[e.tag] = e
		c.size += e.size
		for c.size > c.max {
			c.evictLocked()
		}
	}
	return e.snap()
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
	if head-seen > historyLen {
		// More changes than the cache remembers (the first request after
		// the start, or after a long pause): reading them would cost more
		// than reading the entries again. Start afresh at head; an entry
		// read after an older head is then not kept (floor).
		for _, e := range c.entries {
			c.dropLocked(e)
		}
		c.history, c.floor, c.seen = nil, head, head
	}
	seen = c.seen
	c.mu.Unlock()
	if head <= seen {
		return nil
	}
	changes, err := c.src.changes(ctx, seen, head)
	if err != nil {
		return err
	}
	pre := c.readAhead(context.WithoutCancel(ctx), changes)
	for _, ch := range changes {
		if err := c.apply(ctx, ch, pre); err != nil {
			return err
		}
	}
	return nil
}

// readAhead is what one catch-up reads at once for the records it
// applies, instead of statements per record and entry: the posts they
// name (by id), each with its thread's row for the channels' lists, and
// the other threads they name (for the lists), each only if an entry the
// record touches is kept. They are read after every one of the records
// was chained, so a record's patch may take what a later record changed
// too: applying that one again is harmless.
type readAhead struct {
	posts   map[string]*postRead
	threads map[string][]*listed // absent: not read ahead
}

// readAhead reads ahead for changes (nothing it could not read: the
// entries then read for themselves).
func (c *threadCache) readAhead(ctx context.Context, changes []audit.Change) *readAhead {
	pre := &readAhead{posts: map[string]*postRead{}, threads: map[string][]*listed{}}
	var posts, threads []any
	seen := map[string]bool{}
	c.mu.Lock()
	for _, ch := range changes {
		if ch.Touches == "*" || ch.ObjectID == "" {
			continue
		}
		for tag := range strings.SplitSeq(ch.Touches, ",") {
			if c.entries[tag] == nil {
				continue
			}
			if ch.ObjectType == "post" && postChanges[ch.Action] && !seen["p"+ch.ObjectID] {
				seen["p"+ch.ObjectID] = true
				posts = append(posts, ch.ObjectID)
			}
			if strings.HasPrefix(tag, "channel:") {
				if t := waitingThread(ch); t != "" && !seen["t"+t] {
					seen["t"+t] = true
					threads = append(threads, t)
				}
			}
		}
	}
	c.mu.Unlock()
	if len(posts) > 0 && len(posts) <= 4*c.perEntry {
		if fresh, lists, ok, _ := c.freshListed(ctx, posts); ok {
			for _, id := range posts {
				pre.posts[id.(string)] = &postRead{done: true, ok: true}
			}
			for _, p := range fresh {
				r := pre.posts[p.ID]
				r.posts = append(r.posts, p)
			}
			for id, l := range lists {
				pre.threads[id] = []*listed{l}
			}
			// The threads of the posts read are read.
			threads = slices.DeleteFunc(threads, func(t any) bool { return lists[t.(string)] != nil })
		}
	}
	if len(threads) > 0 && len(threads) <= 4*c.perEntry {
		fresh, err := c.collectThreads(ctx, c.threadQuery().Add(` WHERE `).Append(policy.IDsIn("t", threads)))
		if err == nil {
			for _, id := range threads {
				pre.threads[id.(string)] = nil
			}
			for _, l := range fresh {
				pre.threads[l.t.ID] = append(pre.threads[l.t.ID], l)
			}
		}
	}
	return pre
}

// historyLen is how many applied changes the cache remembers at least
// (up to twice as many).
const historyLen = 4096

// apply applies one chained change to every entry it touches; only then
// does the cache count it as seen (a reader who finds it seen finds the
// entries patched). Callers hold c.catching.
func (c *threadCache) apply(ctx context.Context, ch audit.Change, pre *readAhead) error {
	c.mu.Lock()
	c.history = append(c.history, ch)
	// Trimmed to historyLen now and then, not by one at every change:
	// that moved 4,095 changes a record.
	if n := len(c.history) - historyLen; n > historyLen {
		c.floor = c.history[n-1].Seq
		c.history = slices.Delete(c.history, 0, n)
	}
	var hit []*threadEntry
	if ch.Touches == "*" {
		for _, e := range c.entries {
			c.dropLocked(e)
		}
	} else {
		for tag := range strings.SplitSeq(ch.Touches, ",") {
			if e := c.entries[tag]; e != nil && e.version < ch.Seq {
				hit = append(hit, e)
			}
		}
	}
	c.mu.Unlock()
	// A record of one post touches its thread, its channel and the feed:
	// the post is read once for the thread's entry and the feed's.
	shared := pre.posts[ch.ObjectID]
	if shared == nil || ch.ObjectType != "post" {
		shared = &postRead{}
	}
	shared.threads = pre.threads
	for _, e := range hit {
		if !c.patch(ctx, e, ch, shared) {
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
// reading that post again.
var postChanges = map[string]bool{
	"forum.post.create": true, "forum.post.edit": true, "forum.post.reshare": true, "forum.post.delete": true,
}

// patch brings entry e up to date with change ch: it reads the changed
// post again (or learns it is gone), or for the feed every post of a
// changed thread. It reports false when the entry cannot be patched and
// must go (a change of another kind, or the posts could not be read).
// Callers hold c.catching; e may be kept or not yet. shared (nil: none)
// keeps a post read for one entry for the next entries of the same record.
func (c *threadCache) patch(ctx context.Context, e *threadEntry, ch audit.Change, shared *postRead) bool {
	if ch.Touches == "*" {
		return false
	}
	if !touchesTag(ch.Touches, e.tag) {
		return true
	}
	ctx = context.WithoutCancel(ctx)
	if e.channel != "" {
		var ahead map[string][]*listed
		if shared != nil {
			ahead = shared.threads
		}
		return c.patchList(ctx, e, ch, ahead)
	}
	q := c.query(e)
	var changed changedPosts
	switch {
	case ch.ObjectType == "post" && postChanges[ch.Action] && ch.ObjectID != "":
		changed = changedPosts{post: ch.ObjectID}
		if shared != nil {
			fresh, ok := c.readPost(ctx, ch.ObjectID, shared)
			if !ok {
				return false
			}
			if e.thread != "" {
				fresh = slices.DeleteFunc(fresh, func(p Post) bool { return p.ThreadID != e.thread })
				for i := range fresh {
					fresh[i].thread = nil // a thread's entry keeps no thread with its posts
				}
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			c.replaceLocked(e, changed, fresh)
			return true
		}
		q.Add(` WHERE p.id = ?`, ch.ObjectID)
		if e.thread != "" {
			q.Add(` AND p.thread_id = ?`, e.thread)
		}
	case e.thread == "" && ch.ObjectType == "thread" && ch.ObjectID != "":
		// A thread created or deleted: its posts in the feed are read again,
		// as far back as the feed keeps.
		q.Add(` WHERE p.thread_id = ?`, ch.ObjectID)
		c.mu.Lock()
		if !e.complete {
			q.Add(` AND p.id > ?`, e.edge)
		}
		c.mu.Unlock()
		q.Add(` ORDER BY p.id LIMIT ?`, 4*c.perEntry+1)
		changed = changedPosts{thread: ch.ObjectID}
	default:
		return false
	}
	fresh, left, err := c.collect(ctx, e, q, 4*c.perEntry, 0)
	if err != nil || left != "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replaceLocked(e, changed, fresh)
	return true
}

// postRead is one post read for every entry a record touches (or read
// ahead for a catch-up's records), with the threads read ahead.
type postRead struct {
	done, ok bool
	posts    []Post // the post with its thread (as the feed keeps it); none if gone
	threads  map[string][]*listed
}

// readPost reads post id once for all entries of one record: in the
// feed's form (with its thread's envelope and title), which a thread's
// entry takes without the thread. It returns a copy each entry may keep.
func (c *threadCache) readPost(ctx context.Context, id string, r *postRead) ([]Post, bool) {
	if !r.done {
		r.done = true
		r.posts, r.ok, _ = c.freshPosts(ctx, []any{id}, nil)
	}
	return slices.Clone(r.posts), r.ok
}

// changedPosts names the posts a record changed: one post, or every post
// of a thread.
type changedPosts struct{ post, thread string }

// has reports whether p is among them.
func (c changedPosts) has(p *Post) bool {
	if c.post != "" {
		return p.ID == c.post
	}
	return p.ThreadID == c.thread
}

// in reports whether any of posts (in id order) is among them: one post
// is looked up, not searched for (a reply is new to every entry, and
// each entry was walked for it).
func (c changedPosts) in(posts []Post) bool {
	if c.post != "" {
		i := place(posts, c.post)
		return i < len(posts) && posts[i].ID == c.post
	}
	for i := range posts {
		if c.has(&posts[i]) {
			return true
		}
	}
	return false
}

// replaceLocked takes the posts changed reports out of e and puts fresh
// in, within what e keeps: a thread its first posts, the feed its newest.
// Callers hold c.mu.
func (c *threadCache) replaceLocked(e *threadEntry, changed changedPosts, fresh []Post) {
	posts, copied := e.posts, false
	before := e.size
	if changed.in(posts) {
		kept := make([]Post, 0, len(posts)+len(fresh))
		for i := range posts {
			if changed.has(&posts[i]) {
				e.size -= postCost(&posts[i])
			} else {
				kept = append(kept, posts[i])
			}
		}
		posts, copied = kept, true
	}
	for _, p := range fresh {
		i := place(posts, p.ID)
		switch {
		case e.thread != "" && !e.complete && p.ID >= e.edge:
			continue // after the thread's posts kept
		case e.thread == "" && !e.complete && p.ID <= e.edge:
			continue // before the feed's posts kept
		case e.thread != "" && len(posts) >= c.perEntry:
			// One more than a thread keeps: the last one goes (or the new
			// one, if it comes after it) and marks the edge.
			e.complete = false
			if i == len(posts) {
				e.edge = p.ID
				continue
			}
			last := len(posts) - 1
			e.edge = posts[last].ID
			e.size -= postCost(&posts[last])
			posts = slices.Insert(slices.Clone(posts[:last]), i, p)
			copied = true
		case i == len(posts):
			// Appended in place: readers hold slices no longer than before.
			posts = append(posts, p)
		default:
			if !copied {
				posts, copied = slices.Clone(posts), true
			}
			posts = slices.Insert(posts, i, p)
		}
		e.size += postCost(&p)
	}
	if e.thread == "" && len(posts) > 2*c.perEntry {
		// The feed keeps its newest posts: the oldest go now and then.
		cut := len(posts) - c.perEntry
		for i := range cut {
			e.size -= postCost(&posts[i])
		}
		e.edge, e.complete = posts[cut-1].ID, false
		posts = slices.Clone(posts[cut:])
	}
	// Within its share of the memory: a thread loses its last posts, the
	// feed its oldest.
	if e.size > c.entryMax() {
		lo, hi := 0, len(posts)
		for e.size > c.entryMax() && lo < hi {
			if e.thread != "" {
				hi--
				e.size -= postCost(&posts[hi])
				e.edge = posts[hi].ID
			} else {
				e.size -= postCost(&posts[lo])
				e.edge = posts[lo].ID
				lo++
			}
		}
		posts, e.complete = slices.Clone(posts[lo:hi]), false
	}
	e.posts = posts
	if c.entries[e.tag] == e {
		c.size += e.size - before
		for c.size > c.max && len(c.entries) > 0 {
			c.evictLocked()
		}
	}
}

// dropLocked removes an entry. Callers hold c.mu.
func (c *threadCache) dropLocked(e *threadEntry) {
	if c.entries[e.tag] == e {
		delete(c.entries, e.tag)
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
