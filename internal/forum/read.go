package forum

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

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
}

// Cursor encodes a post id as an opaque page cursor.
func Cursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 64 {
		return "", fault.Invalidf("next", "bad_cursor", "the page cursor is not valid: start from the first page")
	}
	return string(b), nil
}

const postSelect = `SELECT p.id, p.thread_id, t.title, p.body, p.created_at, COALESCE(p.edited_at, 0), p.revisions,
	s.owner_org_id, s.author_id, s.category, s.tlp, s.audience, COALESCE(s.community_id, ''), u.name, o.name
	FROM posts p JOIN shares s ON s.id = p.id JOIN threads t ON t.id = p.thread_id
	JOIN users u ON u.id = p.author_id JOIN orgs o ON o.id = p.org_id`

func scanPost(r db.Scanner) (Post, error) {
	var p Post
	var cat, tlp int
	var aud string
	err := r.Scan(&p.ID, &p.ThreadID, &p.ThreadTitle, &p.Body, &p.CreatedAt, &p.EditedAt, &p.Revisions,
		&p.Share.Owner, &p.Share.Author, &cat, &tlp, &aud, &p.Share.Audience.Community, &p.AuthorName, &p.OrgName)
	p.Share.ID, p.Share.Kind, p.Share.Category, p.Share.TLP, p.Share.Audience.Kind = p.ID, "post", policy.Category(cat), policy.TLP(tlp), policy.AudienceKind(aud)
	p.Share.CreatedAt = p.CreatedAt
	return p, err
}

// Posts lists visible posts: of one thread (which must be visible), or
// the feed across every thread the actor can see, optionally searched.
// It returns the cursor of the next page ("" at the end).
func (s *Service) Posts(ctx context.Context, a policy.Actor, f ListFilter) ([]Post, string, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	after, err := decodeCursor(f.After)
	if err != nil {
		return nil, "", err
	}
	now := db.Now()
	h := s.DB.R()
	pred, args := policy.Visible("s", a, now)
	q := postSelect + ` WHERE ` + pred
	order := ` ORDER BY p.id DESC`
	if f.Thread != "" {
		if err := threadVisible(ctx, h, a, f.Thread, now); err != nil {
			return nil, "", err
		}
		q += ` AND p.thread_id = ?`
		args = append(args, f.Thread)
		order = ` ORDER BY p.id`
		if after != "" {
			q += ` AND p.id > ?`
			args = append(args, after)
		}
	} else {
		// The thread's title is shown with each post: the thread must be
		// visible too.
		tpred, targs := policy.Visible("ts", a, now)
		q = strings.Replace(q, " WHERE ", " JOIN shares ts ON ts.id = p.thread_id WHERE "+tpred+" AND ", 1)
		args = append(targs, args...)
		if f.Query != "" {
			q += ` AND LOWER(p.body) LIKE ? ESCAPE '\'`
			args = append(args, "%"+likeEscape(strings.ToLower(f.Query))+"%")
		}
		if after != "" {
			q += ` AND p.id < ?`
			args = append(args, after)
		}
	}
	args = append(args, f.Limit+1)
	rows, err := h.Query(ctx, q+order+` LIMIT ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list posts: %w", err)
	}
	defer rows.Close()
	out := make([]Post, 0, f.Limit+1) // one more: the row that says a next page exists
	for rows.Next() {
		p, err := scanPost(rows)
		if err != nil {
			return nil, "", fmt.Errorf("scan post: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list posts: %w", err)
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = Cursor(out[len(out)-1].ID)
	}
	return out, next, nil
}

// Post returns one visible post (else not found), with its audience lists.
func (s *Service) Post(ctx context.Context, a policy.Actor, id string) (Post, error) {
	return post(ctx, s.DB.R(), a, id)
}

func post(ctx context.Context, h db.Handle, a policy.Actor, id string) (Post, error) {
	now := db.Now()
	pred, args := policy.Visible("s", a, now)
	tpred, targs := policy.Visible("ts", a, now)
	q := strings.Replace(postSelect+` WHERE p.id = ? AND `+pred, " WHERE ", " JOIN shares ts ON ts.id = p.thread_id WHERE "+tpred+" AND ", 1)
	p, err := scanPost(h.QueryRow(ctx, q, append(append(targs, id), args...)...))
	if err != nil {
		return p, db.NotFound(err, "load post")
	}
	full, err := policy.LoadShare(ctx, h, id)
	if err != nil {
		return p, err
	}
	p.Share = full
	return p, nil
}

const threadSelect = `SELECT t.id, t.channel_id, t.title, t.created_at, t.last_post_at,
	s.owner_org_id, s.author_id, s.category, s.tlp, s.audience, COALESCE(s.community_id, ''), u.name, o.name
	FROM threads t JOIN shares s ON s.id = t.id JOIN users u ON u.id = s.author_id JOIN orgs o ON o.id = t.org_id`

func scanThread(r db.Scanner) (Thread, error) {
	var t Thread
	var cat, tlp int
	var aud string
	err := r.Scan(&t.ID, &t.ChannelID, &t.Title, &t.CreatedAt, &t.LastPostAt,
		&t.Share.Owner, &t.Share.Author, &cat, &tlp, &aud, &t.Share.Audience.Community, &t.AuthorName, &t.OrgName)
	t.Share.ID, t.Share.Kind, t.Share.Category, t.Share.TLP, t.Share.Audience.Kind = t.ID, "thread", policy.Category(cat), policy.TLP(tlp), policy.AudienceKind(aud)
	t.Share.CreatedAt = t.CreatedAt
	return t, err
}

func thread(ctx context.Context, h db.Handle, a policy.Actor, id string) (Thread, error) {
	pred, args := policy.Visible("s", a, db.Now())
	t, err := scanThread(h.QueryRow(ctx, threadSelect+` WHERE t.id = ? AND `+pred, append([]any{id}, args...)...))
	if err != nil {
		return t, db.NotFound(err, "load thread")
	}
	full, err := policy.LoadShare(ctx, h, id)
	if err != nil {
		return t, err
	}
	t.Share = full
	return t, nil
}

// threadVisible is thread's check without loading the thread: not found
// unless the thread exists and the actor may see it (same predicate).
func threadVisible(ctx context.Context, h db.Handle, a policy.Actor, id string, now int64) error {
	pred, args := policy.Visible("s", a, now)
	var n int
	err := h.QueryRow(ctx, `SELECT COUNT(*) FROM threads t JOIN shares s ON s.id = t.id WHERE t.id = ? AND `+pred,
		append([]any{id}, args...)...).Scan(&n)
	if err != nil {
		return db.NotFound(err, "check thread")
	}
	if n != 1 {
		return fault.ErrNotFound
	}
	return nil
}

// Thread returns one visible thread.
func (s *Service) Thread(ctx context.Context, a policy.Actor, id string) (Thread, error) {
	return thread(ctx, s.DB.R(), a, id)
}

// Threads lists the visible threads of a channel, most recently active
// first, with the number of posts each shows to this reader, one page at a
// time: after is the cursor of the previous page ("" for the first), and
// the cursor of the next page is returned ("" at the end).
func (s *Service) Threads(ctx context.Context, a policy.Actor, channelID, after string, limit int) ([]Thread, string, error) {
	if _, err := s.Channel(ctx, a, channelID); err != nil {
		return nil, "", err
	}
	if limit <= 0 || limit > 200 {
		limit = 100
	}
	at, id, err := decodeThreadCursor(after)
	if err != nil {
		return nil, "", err
	}
	now := db.Now()
	pred, args := policy.Visible("s", a, now)
	ppred, pargs := policy.Visible("ps", a, now)
	q := strings.Replace(threadSelect, "SELECT t.id,", `SELECT (SELECT COUNT(*) FROM posts pp JOIN shares ps ON ps.id = pp.id WHERE pp.thread_id = t.id AND `+ppred+`), t.id,`, 1) +
		` WHERE t.channel_id = ? AND ` + pred
	all := append(append(pargs, channelID), args...)
	if id != "" {
		// Keyset paging on (last_post_at, id), the order of the list: a
		// thread that becomes active moves to the first page instead of
		// shifting every later page.
		q += ` AND (t.last_post_at < ? OR (t.last_post_at = ? AND t.id < ?))`
		all = append(all, at, at, id)
	}
	q += ` ORDER BY t.last_post_at DESC, t.id DESC LIMIT ?`
	all = append(all, limit+1)
	rows, err := s.DB.R().Query(ctx, q, all...)
	if err != nil {
		return nil, "", fmt.Errorf("list threads: %w", err)
	}
	defer rows.Close()
	out := make([]Thread, 0, limit+1)
	for rows.Next() {
		var n int
		var t Thread
		var cat, tlp int
		var aud string
		if err := rows.Scan(&n, &t.ID, &t.ChannelID, &t.Title, &t.CreatedAt, &t.LastPostAt,
			&t.Share.Owner, &t.Share.Author, &cat, &tlp, &aud, &t.Share.Audience.Community, &t.AuthorName, &t.OrgName); err != nil {
			return nil, "", fmt.Errorf("scan thread: %w", err)
		}
		t.Share.ID, t.Share.Kind, t.Share.Category, t.Share.TLP, t.Share.Audience.Kind = t.ID, "thread", policy.Category(cat), policy.TLP(tlp), policy.AudienceKind(aud)
		t.Posts = n
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list threads: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = Cursor(strconv.FormatInt(last.LastPostAt, 10) + ":" + last.ID)
	}
	return out, next, nil
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
		return 0, "", fault.Invalidf("next", "bad_cursor", "the page cursor is not valid: start from the first page")
	}
	return n, id, nil
}

// Revisions lists a visible post's earlier texts, newest first.
func (s *Service) Revisions(ctx context.Context, a policy.Actor, id string) ([]Revision, error) {
	if _, err := s.Post(ctx, a, id); err != nil {
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

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
