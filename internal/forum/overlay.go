package forum

import (
	"context"
	"fmt"
	"strings"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/policy"
)

// Reading around waiting records. A change committed a moment ago whose
// audit record is not chained yet (on PostgreSQL, between a writer's
// commit and the chaining pass after it; replicas take turns on the
// chain's head, so under an incident's writes one record or another waits
// most of the time) must show in the next page, but the cache has not
// applied it. Instead of reading the whole page from the database, the
// request reads the objects the waiting records name (a post, or a
// thread's posts for the feed, or a thread for a channel's list) and lays
// them over the kept entry for itself alone: the entry is not changed, the
// records are applied when chained, as always. A waiting record of any
// other kind still sends the page to the database.

// overlay is what one request reads around the waiting records touching
// an entry of posts: the posts (and for the feed the threads) they name,
// read again (fresh, in id order; a post gone is simply absent).
type overlay struct {
	gone        map[string]bool // post ids read again
	goneThreads map[string]bool // thread ids whose posts were read again (feed)
	fresh       []Post
}

// overlaid reports whether the kept post p is replaced by the overlay.
func (o *overlay) overlaid(p *Post) bool {
	return o.gone[p.ID] || o.goneThreads[p.ThreadID]
}

// waitingThread is the thread a record of the forum names ("" if
// none): a thread's own record, or a post's through its "thread:" touch.
func waitingThread(ch audit.Change) string {
	if ch.ObjectType == "thread" {
		return ch.ObjectID
	}
	for tag := range strings.SplitSeq(ch.Touches, ",") {
		if id, ok := strings.CutPrefix(tag, "thread:"); ok {
			return id
		}
	}
	return ""
}

// canOverlay reports whether the waiting records ws touching entry tag
// can be read around: each names a post (or, for the feed and a channel,
// a thread).
func canOverlay(tag string, ws []audit.Change) bool {
	for _, w := range ws {
		post := w.ObjectType == "post" && postChanges[w.Action] && w.ObjectID != ""
		thread := w.ObjectType == "thread" && w.ObjectID != ""
		switch {
		case w.Touches == "*":
			return false
		case strings.HasPrefix(tag, "channel:"):
			if waitingThread(w) == "" {
				return false
			}
		case tag == feedTag:
			if !post && !thread {
				return false
			}
		default: // a thread's entry
			if !post {
				return false
			}
		}
	}
	return true
}

// readOverlay reads, for snapshot s of entry tag, what the waiting records
// ws name, and lays it over s. ok is false when there is too much of it
// (the page is read from the database).
func (c *threadCache) readOverlay(ctx context.Context, tag string, ws []audit.Change, s snapshot) (snapshot, bool, error) {
	if channel, ok := strings.CutPrefix(tag, "channel:"); ok {
		return c.overlayList(ctx, channel, ws, s)
	}
	o := &overlay{gone: map[string]bool{}, goneThreads: map[string]bool{}}
	var posts, threads []any
	for _, w := range ws {
		if w.ObjectType == "post" {
			o.gone[w.ObjectID] = true
			posts = append(posts, w.ObjectID)
		} else {
			o.goneThreads[w.ObjectID] = true
			threads = append(threads, w.ObjectID)
		}
	}
	fresh, ok, err := c.freshPosts(context.WithoutCancel(ctx), posts, threads)
	if !ok {
		return s, false, err
	}
	if thread, ok := strings.CutPrefix(tag, "thread:"); ok {
		kept := fresh[:0]
		for _, p := range fresh {
			if p.ThreadID == thread {
				p.thread = nil
				kept = append(kept, p)
			}
		}
		fresh = kept
	}
	o.fresh = fresh
	s.over = o
	return s, true, nil
}

// freshPosts reads the posts with ids posts and the posts of the threads
// with ids threads, oldest first, in the feed's form (each with its
// thread's envelope and title; a thread's entry drops the thread). ok is
// false when they are more than an entry may take at once.
func (c *threadCache) freshPosts(ctx context.Context, posts, threads []any) ([]Post, bool, error) {
	max := 4 * c.perEntry
	if len(threads) > 0 {
		// The posts of the threads are looked up by id first. Asked for in
		// one statement with the joins, PostgreSQL expects a thread's
		// hundred posts and (its statistics stale while threads are being
		// opened) merges the threads with every share: 15–100 ms a read,
		// once per new thread. By id, every join is a look-up.
		var err error
		if posts, err = c.postsOf(ctx, posts, threads, max); err != nil || len(posts) > max {
			return nil, false, err
		}
	}
	if len(posts) == 0 {
		return nil, true, nil
	}
	feed := &threadEntry{tag: feedTag}
	q := c.query(feed).Add(` WHERE `).Append(policy.IDsIn("p", posts)).Add(` ORDER BY p.id LIMIT ?`, max+1)
	fresh, left, err := c.collect(ctx, feed, q, max, 0)
	return fresh, err == nil && left == "", err
}

// freshListed reads the posts with ids posts in the feed's form, oldest
// first, and each one's thread as a channel's list keeps it (lists, by
// the thread's id), in one statement: a record of a post changes its
// thread's entry, the feed and its channel's list, and one read serves
// all three (a catch-up read the post and then its thread). ok is false
// when they are more than an entry may take at once.
func (c *threadCache) freshListed(ctx context.Context, posts []any) (fresh []Post, lists map[string]*listed, ok bool, err error) {
	max := 4 * c.perEntry
	lists = map[string]*listed{}
	q := c.listedQuery().Add(` WHERE `).Append(policy.IDsIn("p", posts)).Add(` ORDER BY p.id LIMIT ?`, max+1)
	fresh, left, err := c.collectListed(ctx, &threadEntry{tag: feedTag}, q, max, 0, lists)
	return fresh, lists, err == nil && left == "", err
}

// postsOf returns the ids of the posts with ids posts (those that exist)
// and of the posts of the threads with ids threads: at most max+1 of them.
func (c *threadCache) postsOf(ctx context.Context, posts, threads []any, max int) ([]any, error) {
	// Each term on its own, never "1 = 0 OR …": SQLite then plans a scan of
	// every post instead of the index look-ups.
	q := db.Q(`SELECT id FROM posts WHERE thread_id IN (`+db.Placeholders(len(threads))+`)`, threads...)
	if len(posts) > 0 {
		q.Add(` OR id IN (`+db.Placeholders(len(posts))+`)`, posts...)
	}
	rows, err := c.svc.DB.R().Select(ctx, q.Add(` LIMIT ?`, max+1))
	if err != nil {
		return nil, fmt.Errorf("thread cache: find fresh posts: %w", err)
	}
	return db.Collect(rows, "thread cache: find fresh posts", func(r db.Scanner) (any, error) {
		var id string
		err := r.Scan(&id)
		return id, err
	})
}

// overlayList reads again the threads the waiting records ws name and
// returns snapshot s of channel's list with them in their places.
func (c *threadCache) overlayList(ctx context.Context, channel string, ws []audit.Change, s snapshot) (snapshot, bool, error) {
	ids := map[string]bool{}
	var args []any
	for _, w := range ws {
		if id := waitingThread(w); !ids[id] {
			ids[id] = true
			args = append(args, id)
		}
	}
	q := c.threadQuery().Add(` WHERE `).Append(policy.IDsIn("t", args)).Add(` AND t.channel_id = ?`, channel)
	fresh, err := c.collectThreads(context.WithoutCancel(ctx), q)
	if err != nil {
		return s, false, err
	}
	s.list = mergeListed(s.list, ids, fresh, s.complete, s.edgeAt, s.edge)
	return s, true, nil
}

// ascend calls yield with the posts of s after the post id after ("" from
// the first), oldest first, the overlay laid over them, until yield
// returns false.
func (s snapshot) ascend(after string, yield func(*Post) bool) {
	i := 0
	if after != "" {
		i = place(s.posts, after)
		if i < len(s.posts) && s.posts[i].ID == after {
			i++
		}
	}
	if s.over == nil {
		for ; i < len(s.posts); i++ {
			if !yield(&s.posts[i]) {
				return
			}
		}
		return
	}
	fresh := s.over.fresh
	j := 0
	for j < len(fresh) && (after != "" && fresh[j].ID <= after) {
		j++
	}
	for {
		for i < len(s.posts) && s.over.overlaid(&s.posts[i]) {
			i++
		}
		// A fresh post past a thread's edge is not among those kept.
		if j < len(fresh) && !s.complete && fresh[j].ID >= s.edge {
			j = len(fresh)
		}
		switch {
		case i < len(s.posts) && (j == len(fresh) || s.posts[i].ID < fresh[j].ID):
			if !yield(&s.posts[i]) {
				return
			}
			i++
		case j < len(fresh):
			if !yield(&fresh[j]) {
				return
			}
			j++
		default:
			return
		}
	}
}

// descend calls yield with the posts of s before the post id before (""
// from the newest), newest first, the overlay laid over them, until yield
// returns false.
func (s snapshot) descend(before string, yield func(*Post) bool) {
	i := len(s.posts)
	if before != "" {
		i = place(s.posts, before)
	}
	i--
	if s.over == nil {
		for ; i >= 0; i-- {
			if !yield(&s.posts[i]) {
				return
			}
		}
		return
	}
	fresh := s.over.fresh
	j := len(fresh) - 1
	for j >= 0 && before != "" && fresh[j].ID >= before {
		j--
	}
	for {
		for i >= 0 && s.over.overlaid(&s.posts[i]) {
			i--
		}
		// A fresh post before the feed's edge is not among those kept.
		if j >= 0 && !s.complete && fresh[j].ID <= s.edge {
			j = -1
		}
		switch {
		case i >= 0 && (j < 0 || s.posts[i].ID > fresh[j].ID):
			if !yield(&s.posts[i]) {
				return
			}
			i--
		case j >= 0:
			if !yield(&fresh[j]) {
				return
			}
			j--
		default:
			return
		}
	}
}
