package forum

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// MaxBody is the longest post body, in characters.
const MaxBody = 20000

// NewThread is the input for a new thread with its first post.
type NewThread struct {
	Title string `json:"title"`
	Body  string `json:"body"`
	policy.Sharing
}

// NewPost is the input for a reply.
type NewPost struct {
	Body string `json:"body"`
	policy.Sharing
}

func checkBody(body string) (string, error) {
	body = strings.TrimSpace(body)
	if body == "" {
		return "", fault.BadInput("body", "body_missing", "write a message")
	}
	if utf8.RuneCountInString(body) > MaxBody {
		return "", fault.BadInput("body", "body_too_long", "the message is longer than {max} characters").With("max", MaxBody)
	}
	return body, nil
}

// CreateThread opens a thread with its first post. Thread and post share
// one envelope, checked against the agreements before anything is written.
func (s *Service) CreateThread(ctx context.Context, a policy.Actor, channelID string, in NewThread) (Thread, Post, error) {
	if !a.CanWrite() {
		return Thread{}, Post{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	title := strings.TrimSpace(in.Title)
	if title == "" || utf8.RuneCountInString(title) > 200 {
		return Thread{}, Post{}, fault.BadInput("title", "bad_title", "the title must have 1 to 200 characters")
	}
	body, err := checkBody(in.Body)
	if err != nil {
		return Thread{}, Post{}, err
	}
	var t Thread
	var p Post
	// A short write: committed together with others waiting (db.GroupTx).
	err = s.DB.GroupTx(ctx, func(tx *db.Tx) error {
		ch, err := s.channel(ctx, tx.Handle, a, channelID)
		if err != nil {
			return err
		}
		ts, err := envelope(a, s.threads, ch, in.Sharing)
		if err != nil {
			return err
		}
		if err := checkChannelScope(ctx, tx.Handle, a, ch, ts); err != nil {
			return err
		}
		d, err := s.threads.Disclose(ctx, tx, a, ts)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO threads (id, channel_id, org_id, title, created_at, last_post_at) VALUES (?, ?, ?, ?, ?, ?)`,
			ts.ID, ch.ID, a.OrgID, title, ts.CreatedAt, ts.CreatedAt); err != nil {
			return fmt.Errorf("insert thread: %w", err)
		}
		t = Thread{ID: ts.ID, ChannelID: ch.ID, Title: title, Share: ts, AuthorName: a.Name, CreatedAt: ts.CreatedAt, LastPostAt: ts.CreatedAt, Posts: 1}
		// The first post has the thread's envelope.
		ps := s.posts.Envelope(a, ts.TLP, ts.Audience)
		if p, err = s.insertPost(ctx, tx, a, t.ID, title, body, ps); err != nil {
			return err
		}
		p.ThreadTitle, p.NotDeliveredTo = title, d.Uncovered
		tx.AfterCommit(func() {
			s.Events.Publish(events.Event{Type: "forum.thread", Share: &ts, Topics: []string{"channel:" + ch.ID, "forum"},
				Data: map[string]string{"id": ts.ID, "channel": ch.ID, "fragment": "/forum/threads/" + ts.ID + "/fragment",
					"row": "/forum/threads/" + ts.ID + "/fragment", "feed": "/forum/posts/" + p.ID + "/fragment?as=feed"}})
		})
		return audit.Write(ctx, tx, a, audit.Entry{Action: "forum.thread.create", ObjectType: "thread", ObjectID: t.ID, Detail: d.Detail(),
			Touches: touches(t.ID, ch.ID)})
	})
	return t, p, err
}

// CreatePost adds a reply to a thread the actor can see. The reply may not be
// less restricted than the thread: its level is at least the thread's.
func (s *Service) CreatePost(ctx context.Context, a policy.Actor, threadID string, in NewPost) (Post, error) {
	if !a.CanWrite() {
		return Post{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	body, err := checkBody(in.Body)
	if err != nil {
		return Post{}, err
	}
	var p Post
	// A short write: committed together with others waiting (db.GroupTx).
	err = s.DB.GroupTx(ctx, func(tx *db.Tx) error {
		t, err := s.thread(ctx, tx.Handle, a, threadID)
		if err != nil {
			return err
		}
		ch, err := s.channel(ctx, tx.Handle, a, t.ChannelID)
		if err != nil {
			return err
		}
		ps, err := envelope(a, s.posts, ch, replySharing(in.Sharing, t))
		if err != nil {
			return err
		}
		if err := checkChannelScope(ctx, tx.Handle, a, ch, ps); err != nil {
			return err
		}
		if p, err = s.insertPost(ctx, tx, a, t.ID, "", body, ps); err != nil {
			return err
		}
		p.ThreadTitle = t.Title
		// Never back: thread lists rely on last_post_at being at least the
		// newest post's time (FindThreads), and on PostgreSQL a reply
		// stamped earlier may commit after one stamped later.
		if err := tx.ExecLater(ctx, "touch thread", `UPDATE threads SET last_post_at = ? WHERE id = ? AND last_post_at < ?`, ps.CreatedAt, t.ID, ps.CreatedAt); err != nil {
			return err
		}
		tx.AfterCommit(func() { s.publishPost("forum.post", p, t.Share, ch.ID) })
		return audit.Write(ctx, tx, a, audit.Entry{Action: "forum.post.create", ObjectType: "post", ObjectID: p.ID, Touches: touches(t.ID, ch.ID),
			Detail: policy.Disclosure{Share: ps, Uncovered: p.NotDeliveredTo}.Detail()})
	})
	return p, err
}

// touches is what a change to a post of thread in channel touches, for
// the read cache: the thread's pages, the channel's lists and the feed.
func touches(thread, channel string) []string {
	return []string{"thread:" + thread, "channel:" + channel, "feed"}
}

// publishPost announces a new or changed post. Browsers fetch the fragment
// (thread view) or the feed entry, each through the policy check again.
func (s *Service) publishPost(typ string, p Post, thread policy.Share, channelID string) {
	sh := p.Share
	// row: the thread's line in its channel's list, with the new counts.
	data := map[string]string{"id": p.ID, "thread": p.ThreadID, "fragment": "/forum/posts/" + p.ID + "/fragment",
		"feed": "/forum/posts/" + p.ID + "/fragment?as=feed", "row": "/forum/threads/" + p.ThreadID + "/fragment"}
	if typ == "forum.post.updated" {
		data["replace"] = "true"
	}
	s.Events.Publish(events.Event{Type: typ, Share: &sh, Container: &thread, Topics: []string{"thread:" + p.ThreadID, "channel:" + channelID, "forum"}, Data: data})
}

// insertPost discloses a post's envelope, writes the post and indexes its
// text (a thread's first post with the thread's title).
func (s *Service) insertPost(ctx context.Context, tx *db.Tx, a policy.Actor, threadID, title, body string, ps policy.Share) (Post, error) {
	ps.Container = threadID // the thread lists count each reader's posts by it
	d, err := s.posts.Disclose(ctx, tx, a, ps)
	if err != nil {
		return Post{}, err
	}
	if err := tx.ExecLater(ctx, "insert post", `INSERT INTO posts (id, thread_id, org_id, author_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		ps.ID, threadID, a.OrgID, a.UserID, body, ps.CreatedAt); err != nil {
		return Post{}, err
	}
	if err := s.posts.Index(ctx, tx, ps.ID, title, body); err != nil {
		return Post{}, err
	}
	return Post{ID: ps.ID, ThreadID: threadID, Body: body, Share: ps, AuthorName: a.Name, CreatedAt: ps.CreatedAt, NotDeliveredTo: d.Uncovered}, nil
}
