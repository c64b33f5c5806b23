package forum

import (
	"context"
	"fmt"
	"slices"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/policy"
)

// A channel's thread list from the thread cache. The entry "channel:<id>"
// keeps the channel's threads, latest activity first (the stored
// last_post_at, which counts every post), each with its envelope and
// audience lists and its posts' tally (policy.Groups: their envelopes
// grouped, with how many and the newest), unjudged. A reader's page is
// FindThreads' walk done in memory: each thread judged with Reader.Sees,
// its posts counted with Reader.Count (the kernel's Tally, judged the same
// way), the threads ordered by the activity the reader sees, and the walk
// stops where no thread further on can come before the page's last, as the
// database walk does. The channel itself is still checked in the database
// first (FindChannelByID).
//
// Every record that changes a thread's row or its tally (a post created,
// edited, reshared or deleted, a thread created or deleted) touches
// "channel:<id>" and "thread:<id>": the cache reads that thread again
// (row, audiences, tally), or learns it is gone. A record touching the
// channel without naming a thread drops the entry. An entry that keeps
// only the newest threads covers exactly those before its edge (the first
// left out): a thread read again that falls behind the edge leaves, one
// that moves before it comes in.

// listed is a kept thread of a channel's list; never changed once kept.
type listed struct {
	t      Thread        // LastPostAt: of any post, as stored
	groups policy.Groups // its posts' tally
	cost   int
}

// listedCost estimates a kept thread's memory.
func listedCost(l *listed) int {
	n := cachedPostCost + len(l.t.Title) + len(l.t.AuthorName) + len(l.t.OrgName)
	for _, o := range l.t.Share.Audience.Orgs {
		n += len(o) + 16
	}
	for _, u := range l.t.Share.Audience.People {
		n += len(u) + 16
	}
	for _, g := range l.groups {
		n += 2*len(g.Key) + 96
	}
	return n
}

// threadList returns a page of channel's threads for reader r, who may see
// the channel, after position (at, after) ("" from the start): up to
// limit+1 threads, each with the posts and activity the reader sees. ok is
// false when the cache cannot answer (a change to the channel waits to be
// chained, or the page reaches past the threads kept).
func (c *threadCache) threadList(ctx context.Context, r *policy.Reader, channel string, at int64, after string, limit int) ([]Thread, bool, error) {
	kept, ok, err := c.entryOf(ctx, "channel:"+channel, func(ctx context.Context, head int64) (*threadEntry, error) {
		return c.readChannel(ctx, channel, head)
	})
	if !ok || err != nil {
		return nil, false, err
	}
	s := c.svc
	judged := map[string]bool{}
	page := make([]Thread, 0, limit+1) // the best limit+1 so far, in list order
	full := func(at int64, id string) bool {
		// Every thread from (at, id) on is listed after the page's last:
		// its activity as the reader sees it is no later than as stored.
		return len(page) == limit+1 && !listedAfter(page[limit], at, id)
	}
	done := false
	for _, l := range kept.list {
		if full(l.t.LastPostAt, l.t.ID) {
			done = true
			break
		}
		if !r.Sees(s.threads, l.t.Share) {
			continue
		}
		t := l.t
		n := r.Count(s.posts, l.groups, judged)
		t.Posts, t.LastPostAt = n.N, max(n.Last, t.CreatedAt)
		if after != "" && !listedAfter(t, at, after) {
			continue
		}
		i, _ := slices.BinarySearchFunc(page, t, func(x, y Thread) int {
			if listedAfter(x, y.LastPostAt, y.ID) {
				return 1
			}
			return -1
		})
		if i <= limit {
			page = slices.Insert(page, i, t)
			page = page[:min(len(page), limit+1)]
		}
	}
	if !done && !kept.complete && !full(kept.edgeAt, kept.edge) {
		c.Misses.Add(1)
		return nil, false, nil // the threads left out may belong on the page
	}
	c.Hits.Add(1)
	return page, true, nil
}

// readChannel reads a channel's threads for its entry: the newest by
// activity, as many as an entry keeps and within its share of the memory.
func (c *threadCache) readChannel(ctx context.Context, channel string, head int64) (*threadEntry, error) {
	e := &threadEntry{tag: "channel:" + channel, channel: channel, version: head}
	q := c.threadQuery().Add(` WHERE t.channel_id = ? ORDER BY t.last_post_at DESC, t.id DESC LIMIT ?`, channel, c.perEntry+1)
	list, err := c.collectThreads(ctx, q)
	if err != nil {
		return nil, err
	}
	e.complete = true
	for i, l := range list {
		if i == c.perEntry || e.size+l.cost > c.entryMax() {
			e.complete, e.edgeAt, e.edge = false, l.t.LastPostAt, l.t.ID
			list = list[:i]
			break
		}
		e.size += l.cost
	}
	e.list = list
	return e, nil
}

// threadQuery is the unjudged SELECT of threads with their envelopes,
// authors' and orgs' names, and their posts' tallies.
func (c *threadCache) threadQuery() *db.Query {
	s := c.svc
	return db.Q(`SELECT ` + s.threadColumns + `, COALESCE(g.groups, '') FROM `).Append(s.threads.Unjudged("t")).
		Add(` JOIN users u ON u.id = t_s.author_id JOIN orgs o ON o.id = t.org_id`).Append(s.posts.JoinGroups("g", "t.id"))
}

// collectThreads reads the threads q selects with their audience lists
// and their posts' tallies.
func (c *threadCache) collectThreads(ctx context.Context, q *db.Query) ([]*listed, error) {
	s, h := c.svc, c.svc.DB.R()
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("thread cache: read threads: %w", err)
	}
	// Closed before the audiences are read (see collect).
	type row struct {
		t      Thread
		groups string
	}
	rs, err := db.Collect(rows, "thread cache: read threads", func(sc db.Scanner) (r row, err error) {
		r.t, err = s.scanThread(sc, &r.groups)
		return r, err
	})
	if err != nil {
		return nil, err
	}
	ts := make([]Thread, len(rs))
	for i := range rs {
		ts[i] = rs[i].t
	}
	if err := policy.LoadAudiences(ctx, h, threadShares(ts)); err != nil {
		return nil, err
	}
	out := make([]*listed, len(ts))
	for i, t := range ts {
		groups, err := s.posts.ParseGroups(rs[i].groups)
		if err != nil {
			return nil, err
		}
		l := &listed{t: t, groups: groups}
		l.cost = listedCost(l)
		out[i] = l
	}
	return out, nil
}

// mergeListed returns list (a channel's kept threads) without the threads
// in ids and with fresh in their places: those the kept part covers (all
// if complete, else those before the edge (edgeAt, edge)). list is not
// changed: readers may hold it.
func mergeListed(list []*listed, ids map[string]bool, fresh []*listed, complete bool, edgeAt int64, edge string) []*listed {
	out := make([]*listed, 0, len(list)+len(fresh))
	if len(ids) == 1 {
		// A record names one thread: compared, not looked up (a channel
		// keeps a thousand threads, and hashing each id for every record
		// was 3 % of a hub's CPU under the mixed load).
		var id string
		for id = range ids {
		}
		for _, l := range list {
			if l.t.ID != id {
				out = append(out, l)
			}
		}
	} else {
		for _, l := range list {
			if !ids[l.t.ID] {
				out = append(out, l)
			}
		}
	}
	for _, l := range fresh {
		if !complete && !listedAfter(Thread{ID: edge, LastPostAt: edgeAt}, l.t.LastPostAt, l.t.ID) {
			continue // behind the edge: not among the threads kept
		}
		i, _ := slices.BinarySearchFunc(out, l, func(x, y *listed) int {
			if listedAfter(x.t, y.t.LastPostAt, y.t.ID) {
				return 1
			}
			return -1
		})
		out = slices.Insert(out, i, l)
	}
	return out
}

// patchList brings a channel's entry up to date with change ch, which
// touches it: it reads the thread ch names again. false: the entry must
// go (ch names no thread, or the thread could not be read). Callers hold
// c.catching.
func (c *threadCache) patchList(ctx context.Context, e *threadEntry, ch audit.Change, ahead map[string][]*listed) bool {
	thread := waitingThread(ch) // the thread a record names
	if thread == "" {
		return false
	}
	fresh, ok := ahead[thread]
	if ok {
		fresh = slices.DeleteFunc(slices.Clone(fresh), func(l *listed) bool { return l.t.ChannelID != e.channel })
	} else {
		var err error
		if fresh, err = c.collectThreads(ctx, c.threadQuery().Add(` WHERE t.id = ? AND t.channel_id = ?`, thread, e.channel)); err != nil {
			return false
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	before := e.size
	list := mergeListed(e.list, map[string]bool{thread: true}, fresh, e.complete, e.edgeAt, e.edge)
	e.size = 0
	for _, l := range list {
		e.size += l.cost
	}
	// Within what an entry keeps: the threads with the oldest activity go.
	for len(list) > 0 && (len(list) > c.perEntry || e.size > c.entryMax()) {
		last := list[len(list)-1]
		list = list[:len(list)-1]
		e.size -= last.cost
		e.complete, e.edgeAt, e.edge = false, last.t.LastPostAt, last.t.ID
	}
	e.list = list
	if c.entries[e.tag] == e {
		c.size += e.size - before
		for c.size > c.max && len(c.entries) > 0 {
			c.evictLocked()
		}
	}
	return true
}
