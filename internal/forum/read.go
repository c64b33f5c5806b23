package forum

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// ListFilter pages through posts.
type ListFilter struct {
	Thread string // posts of one thread (oldest first); "" for the feed (newest first)
	Query  string // substring search in the body (feed only)
	After  string // cursor from a previous page
	Limit  int
	// Audiences fills in the named orgs and people of each post (pages
	// name them; API lists give the audience kind only).
	Audiences bool
}

// Cursor encodes a post id as an opaque page cursor.
func Cursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 64 || strings.IndexFunc(string(b), notCursorRune) >= 0 {
		// Junk that happens to be base64 ("zzz") must not read as a
		// position before every id: a damaged cursor would page from the
		// start again without a word.
		return "", fault.BadInput("next", "bad_cursor", "the page cursor is not valid: start from the first page")
	}
	return string(b), nil
}

// notCursorRune reports a character no cursor holds: they are ids
// (letters, digits, "-") and times ("1234:" before a thread's id).
func notCursorRune(r rune) bool {
	return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == ':')
}

func (s *Service) scanPost(r db.Scanner, extra ...any) (Post, error) {
	var p Post
	dest := make([]any, 0, 16)
	dest = append(dest, &p.ThreadID, &p.Body, &p.EditedAt, &p.Revisions, &p.AuthorName, &p.OrgName)
	dest = append(s.posts.Dest(&p.Share, dest), extra...)
	err := r.Scan(dest...)
	p.ID, p.CreatedAt = p.Share.ID, p.Share.CreatedAt
	return p, err
}

// FindPosts lists visible posts: of one thread (which must be visible), or
// the feed across every thread the actor can see, optionally searched
// (the hub's full-text index: every word, by prefix). It returns the
// cursor of the next page ("" at the end).
func (s *Service) FindPosts(ctx context.Context, a policy.Actor, f ListFilter) ([]Post, string, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	after, err := decodeCursor(f.After)
	if err != nil {
		return nil, "", err
	}
	var terms []string
	if f.Thread == "" && f.Query != "" {
		if terms, err = policy.Terms(f.Query); err != nil {
			return nil, "", err
		}
		if !s.searches.Allow(a.UserID, time.Now()) {
			return nil, "", fault.New(fault.RateLimited, "search_rate", "too many searches in a short time: wait a few seconds")
		}
	}
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, "", err
	}
	var q *db.Query
	var title string
	switch {
	case f.Thread != "":
		if s.cache != nil {
			// The thread and its posts judged in memory.
			out, title, ok, err := s.cache.threadPage(ctx, r, f.Thread, after, f.Limit)
			if err != nil {
				return nil, "", err
			}
			if ok {
				return cachedPage(out, title, f)
			}
		}
		// The thread is checked once, reading its title to show with
		// each post; its posts are judged by their own envelopes.
		from, err := r.Contents(ctx, h, s.posts, "p", f.Thread, "x.title", &title)
		if err != nil {
			return nil, "", err
		}
		q = db.Q(`SELECT `+s.postColumns+` FROM `).Append(from).
			Add(` JOIN users u ON u.id = p.author_id JOIN orgs o ON o.id = p.org_id WHERE p.thread_id = ?`, f.Thread)
		if after != "" {
			q.Add(` AND p.id > ?`, after)
		}
		q.Add(` ORDER BY p.id`)
	case terms != nil:
		// Newest match first: the index hands out matches by seq, so a
		// page is found without ranking every match.
		seq := policy.SearchSeq(h, "p")
		q = db.Q(`SELECT ` + s.postColumns + `, t.title, ` + seq + ` FROM `).Append(r.SearchIn(h, s.posts, "p", "t", terms)).
			Add(` JOIN users u ON u.id = p.author_id JOIN orgs o ON o.id = p.org_id`)
		if after != "" {
			// The cursor is the last post shown; its place in the index
			// is looked up, never handed out (it counts every document
			// of the hub, the reader's or not). Only a post the reader
			// may see is a cursor: an id of a hidden post must answer
			// exactly like an id that does not exist, or the cursor
			// would tell whether it does.
			if _, err := r.Envelope(ctx, h, s.posts, after); err != nil {
				if fault.Is(err, fault.NotFound) {
					return nil, "", fault.BadInput("next", "bad_cursor", "the page cursor is not valid: start from the first page")
				}
				return nil, "", err
			}
			q.Add(` WHERE `+seq+` < (SELECT d.seq FROM search_docs d WHERE d.id = ?)`, after)
		}
		q.Add(` ORDER BY ` + seq + ` DESC`)
	default:
		if s.cache != nil {
			out, ok, err := s.cache.feedPage(ctx, r, after, f.Limit)
			if err != nil {
				return nil, "", err
			}
			if ok {
				return cachedPage(out, "", f)
			}
		}
		// The thread's title is shown with each post: the thread must be
		// visible too.
		q = db.Q(`SELECT ` + s.postColumns + `, t.title, 0 FROM `).Append(r.FromIn(s.posts, "p", "t")).
			Add(` JOIN users u ON u.id = p.author_id JOIN orgs o ON o.id = p.org_id`)
		if after != "" {
			q.Add(` WHERE p.id < ?`, after)
		}
		q.Add(` ORDER BY p.id DESC`)
	}
	q.Add(` LIMIT ?`, f.Limit+1)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("list posts: %w", err)
	}
	out, err := db.CollectN(rows, f.Limit+1, "list posts", func(sc db.Scanner) (Post, error) {
		if f.Thread != "" {
			p, err := s.scanPost(sc)
			p.ThreadTitle = title
			return p, err
		}
		var t string
		var seq int64
		p, err := s.scanPost(sc, &t, &seq)
		p.ThreadTitle = t
		return p, err
	})
	if err != nil {
		return nil, "", err
	}
	if f.Audiences {
		if err := r.Audiences(ctx, h, postShares(out)); err != nil {
			return nil, "", err
		}
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = Cursor(out[len(out)-1].ID)
	}
	return out, next, nil
}

// cachedPage finishes a page of the thread cache (a thread's, with its
// title; the feed's, whose posts carry theirs): the posts are copies of
// the cache's, and their audience lists are left out unless asked for,
// as the database's page leaves them.
func cachedPage(ps []Post, title string, f ListFilter) ([]Post, string, error) {
	for i := range ps {
		if title != "" {
			ps[i].ThreadTitle = title
		}
		if f.Audiences {
			ps[i].encoded = nil // the lists are part of the answer
		} else {
			ps[i].Share.Audience.Orgs, ps[i].Share.Audience.People = nil, nil
		}
	}
	next := ""
	if len(ps) > f.Limit {
		ps = ps[:f.Limit]
		next = Cursor(ps[len(ps)-1].ID)
	}
	return ps, next, nil
}

func postShares(ps []Post) []*policy.Share {
	out := make([]*policy.Share, len(ps))
	for i := range ps {
		out[i] = &ps[i].Share
	}
	return out
}

// FindPostByID returns one visible post (else not found), with its
// audience lists.
func (s *Service) FindPostByID(ctx context.Context, a policy.Actor, id string) (Post, error) {
	return s.post(ctx, s.DB.R(), a, id)
}

func (s *Service) post(ctx context.Context, h db.Handle, a policy.Actor, id string) (Post, error) {
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return Post{}, err
	}
	q := db.Q(`SELECT `+s.postColumns+`, t.title FROM `).Append(r.FromIn(s.posts, "p", "t")).
		Add(` JOIN users u ON u.id = p.author_id JOIN orgs o ON o.id = p.org_id WHERE p.id = ?`, id)
	var title string
	p, err := s.scanPost(h.SelectRow(ctx, q), &title)
	if err != nil {
		return p, db.NotFound(err, "load post")
	}
	p.ThreadTitle = title
	return p, r.Audiences(ctx, h, []*policy.Share{&p.Share})
}

func (s *Service) threadFrom(r *policy.Reader) *db.Query {
	return db.Q(`SELECT ` + s.threadColumns + ` FROM `).Append(r.From(s.threads, "t")).
		Add(` JOIN users u ON u.id = t_s.author_id JOIN orgs o ON o.id = t.org_id`)
}

func (s *Service) scanThread(r db.Scanner, extra ...any) (Thread, error) {
	var t Thread
	dest := make([]any, 0, 16)
	dest = append(dest, &t.ChannelID, &t.Title, &t.LastPostAt, &t.AuthorName, &t.OrgName)
	dest = append(s.threads.Dest(&t.Share, dest), extra...)
	err := r.Scan(dest...)
	t.ID, t.CreatedAt = t.Share.ID, t.Share.CreatedAt
	return t, err
}

// findThread reads one thread the reader may see, with its audience lists.
func (s *Service) findThread(ctx context.Context, h db.Handle, r *policy.Reader, id string) (Thread, error) {
	t, err := s.scanThread(h.SelectRow(ctx, s.threadFrom(r).Add(` WHERE t.id = ?`, id)))
	if err != nil {
		return t, db.NotFound(err, "load thread")
	}
	if err := r.Audiences(ctx, h, []*policy.Share{&t.Share}); err != nil {
		return t, err
	}
	r.Saw(h, s.threads, t.Share) // a reply's Disclose takes it as its container
	return t, nil
}

func (s *Service) thread(ctx context.Context, h db.Handle, a policy.Actor, id string) (Thread, error) {
	if h.Batched() {
		return s.threadBatched(ctx, h, a, id)
	}
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return Thread{}, err
	}
	return s.findThread(ctx, h, r, id)
}

// threadBatched is thread in a write transaction on PostgreSQL: the
// thread is read unjudged in the round trip of the writer's view (the
// first reads of a reply, one after the other before) and judged in
// memory with it (Reader.Sees, the predicate's twin), a thread the
// writer may not see answered as one that does not exist.
func (s *Service) threadBatched(ctx context.Context, h db.Handle, a policy.Actor, id string) (Thread, error) {
	var found []Thread
	q := db.Q(`SELECT `+s.threadColumns+` FROM `).Append(s.threads.Unjudged("t")).
		Add(` JOIN users u ON u.id = t_s.author_id JOIN orgs o ON o.id = t.org_id WHERE t.id = ?`, id)
	if err := h.QueueRows(ctx, "load thread", q.SQL(), q.Args(), func(sc db.Scanner) error {
		t, err := s.scanThread(sc)
		found = append(found, t)
		return err
	}); err != nil {
		return Thread{}, err
	}
	// Its named orgs and people are read whatever it is, in the same
	// round trip: a thread the writer may not see must cost what a
	// missing one does (an attack review timed the difference when they
	// were read only for a thread found).
	fill, err := policy.QueueAudiences(ctx, h, id)
	if err != nil {
		return Thread{}, err
	}
	r, err := policy.NewReader(ctx, h, a, db.Now()) // sends the reads above with its own
	if err != nil {
		return Thread{}, err
	}
	// Sent already, unless the view was remembered from earlier in the
	// transaction.
	if err := h.Send(ctx); err != nil {
		return Thread{}, err
	}
	if len(found) != 1 {
		return Thread{}, db.NotFound(sql.ErrNoRows, "load thread")
	}
	t := found[0]
	fill(&t.Share)
	if !r.Sees(s.threads, t.Share) {
		return Thread{}, db.NotFound(sql.ErrNoRows, "load thread")
	}
	r.Saw(h, s.threads, t.Share) // a reply's Disclose takes it as its container
	return t, nil
}

// FindThreadByID returns one visible thread, with its post count and last
// activity as the reader sees them.
func (s *Service) FindThreadByID(ctx context.Context, a policy.Actor, id string) (Thread, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return Thread{}, err
	}
	t, err := s.findThread(ctx, h, r, id)
	if err != nil {
		return t, err
	}
	one := []Thread{t}
	err = s.activity(ctx, h, r, one)
	return one[0], err
}

// FindThreads lists the visible threads of a channel, most recently active
// first, with the number of posts each shows to this reader, one page at a
// time: after is the cursor of the previous page ("" for the first), and
// the cursor of the next page is returned ("" at the end).
//
// Activity is what this reader can see: a thread's last activity is its
// newest post visible to the reader (the kernel's tally), never a hidden
// reply, which would otherwise move the thread up and tell of itself. The
// stored last_post_at counts every post, so it bounds what any reader
// sees: threads are read in that order, a batch at a time, and the scan
// stops once the next stored time cannot reach the page. Usually the first
// batch decides.
func (s *Service) FindThreads(ctx context.Context, a policy.Actor, channelID, after string, limit int) ([]Thread, string, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, "", err
	}
	if _, err := s.usableChannel(ctx, h, r, a.OrgID, channelID); err != nil {
		return nil, "", err
	}
	if limit <= 0 || limit > 200 {
		limit = 100
	}
	at, id, err := decodeThreadCursor(after)
	if err != nil {
		return nil, "", err
	}
	if s.cache != nil {
		page, ok, err := s.cache.threadList(ctx, r, channelID, at, id, limit)
		if err != nil {
			return nil, "", err
		}
		if ok {
			page, next := cutThreads(page, limit)
			return page, next, nil // kept with their audience lists
		}
	}
	batch := max(limit+1, 50)
	var page []Thread // the best limit+1 so far, in list order
	var scanAt int64
	scanID := ""
	for {
		q := s.threadFrom(r).Add(` WHERE t.channel_id = ?`, channelID)
		if scanID != "" {
			q.Add(` AND (t.last_post_at < ? OR (t.last_post_at = ? AND t.id < ?))`, scanAt, scanAt, scanID)
		}
		q.Add(` ORDER BY t.last_post_at DESC, t.id DESC LIMIT ?`, batch)
		rows, err := h.Select(ctx, q)
		if err != nil {
			return nil, "", fmt.Errorf("list threads: %w", err)
		}
		got, err := db.CollectN(rows, batch, "list threads", func(sc db.Scanner) (Thread, error) { return s.scanThread(sc) })
		if err != nil {
			return nil, "", err
		}
		if len(got) == 0 {
			break
		}
		last := got[len(got)-1]
		scanAt, scanID = last.LastPostAt, last.ID
		if err := s.activity(ctx, h, r, got); err != nil {
			return nil, "", err
		}
		for _, t := range got {
			if id == "" || listedAfter(t, at, id) {
				page = append(page, t)
			}
		}
		slices.SortFunc(page, func(x, y Thread) int {
			if listedAfter(x, y.LastPostAt, y.ID) {
				return 1
			}
			return -1
		})
		page = page[:min(len(page), limit+1)]
		// Every thread not read yet was stored before (scanAt, scanID),
		// so the reader sees it no later than that.
		if len(got) < batch || len(page) == limit+1 && !listedAfter(page[limit], scanAt, scanID) {
			break
		}
	}
	page, next := cutThreads(page, limit)
	// The named orgs and people of each thread, for the pages.
	if err := r.Audiences(ctx, h, threadShares(page)); err != nil {
		return nil, "", err
	}
	return page, next, nil
}

// cutThreads cuts a list of up to limit+1 threads to a page and the
// cursor of the next ("" if none).
func cutThreads(page []Thread, limit int) ([]Thread, string) {
	if len(page) <= limit {
		return page, ""
	}
	page = page[:limit]
	last := page[limit-1]
	return page, Cursor(strconv.FormatInt(last.LastPostAt, 10) + ":" + last.ID)
}

// listedAfter reports whether t comes after position (at, id) in a thread
// list (later activity first, then the larger id).
func listedAfter(t Thread, at int64, id string) bool {
	return t.LastPostAt < at || t.LastPostAt == at && t.ID < id
}

// activity sets each thread's post count and last activity to what the
// reader sees of its posts (the kernel's tally; a thread without a visible
// post was last active when it was opened).
func (s *Service) activity(ctx context.Context, h db.Handle, r *policy.Reader, ts []Thread) error {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	tallies, err := r.Tally(ctx, h, s.posts, ids)
	if err != nil {
		return err
	}
	for i := range ts {
		c := tallies[ts[i].ID]
		ts[i].Posts, ts[i].LastPostAt = c.N, max(c.Last, ts[i].CreatedAt)
	}
	return nil
}

func threadShares(ts []Thread) []*policy.Share {
	out := make([]*policy.Share, len(ts))
	for i := range ts {
		out[i] = &ts[i].Share
	}
	return out
}

// decodeThreadCursor reads the (last_post_at, id) position of a thread
// page cursor.
func decodeThreadCursor(c string) (int64, string, error) {
	raw, err := decodeCursor(c)
	if err != nil || raw == "" {
		return 0, "", err
	}
	at, id, ok := strings.Cut(raw, ":")
	n, perr := strconv.ParseInt(at, 10, 64)
	if !ok || perr != nil || id == "" {
		return 0, "", fault.BadInput("next", "bad_cursor", "the page cursor is not valid: start from the first page")
	}
	return n, id, nil
}

// CountPostsByLevel counts the posts created since then (Unix µs) that
// the actor can see, by TLP level.
func (s *Service) CountPostsByLevel(ctx context.Context, a policy.Actor, since int64) (map[policy.TLP]int, error) {
	r, err := policy.NewReader(ctx, s.DB.R(), a, db.Now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT p_s.tlp, COUNT(*) FROM `).Append(r.From(s.posts, "p")).Add(` WHERE p.created_at >= ? GROUP BY p_s.tlp`, since)
	rows, err := s.DB.R().Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("count posts by level: %w", err)
	}
	counts, err := db.Collect(rows, "count posts by level", func(sc db.Scanner) (c struct {
		l policy.TLP
		n int
	}, err error) {
		err = sc.Scan(&c.l, &c.n)
		return c, err
	})
	out := map[policy.TLP]int{}
	for _, c := range counts {
		out[c.l] = c.n
	}
	return out, err
}

// FindRevisions lists a visible post's earlier texts, newest first.
func (s *Service) FindRevisions(ctx context.Context, a policy.Actor, id string) ([]Revision, error) {
	if _, err := s.FindPostByID(ctx, a, id); err != nil {
		return nil, err
	}
	rows, err := s.DB.R().Query(ctx, `SELECT r.rev, r.body, u.name, r.edited_at FROM post_revisions r JOIN users u ON u.id = r.edited_by
		WHERE r.post_id = ? ORDER BY r.rev DESC`, id)
	if err != nil {
		return nil, fmt.Errorf("list revisions: %w", err)
	}
	return db.Collect(rows, "list revisions", func(s db.Scanner) (r Revision, err error) {
		err = s.Scan(&r.Rev, &r.Body, &r.EditorName, &r.EditedAt)
		return r, err
	})
}
