package forum

import (
	"context"
	"fmt"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/policy"
)

// PostUpdate changes a post; nil fields stay.
type PostUpdate struct {
	Body    *string         `json:"body,omitempty"`
	Sharing *policy.Sharing `json:"sharing,omitempty"`
}

// ownPost reads a post the actor's org owns and may change (the kernel's
// Authorize), with its thread's channel, whether or not the actor can
// still see the thread: an owner may correct or withdraw its own post.
func (s *Service) ownPost(ctx context.Context, tx *db.Tx, a policy.Actor, id string) (Post, policy.Share, string, error) {
	o, err := s.posts.Authorize(ctx, tx, a, id)
	if err != nil {
		return Post{}, policy.Share{}, "", err
	}
	p := Post{ID: id, Share: o.Share, CreatedAt: o.CreatedAt}
	var channelID string
	err = tx.QueryRow(ctx, `SELECT p.thread_id, t.title, t.channel_id, p.body, COALESCE(p.edited_at, 0), p.revisions, u.name, org.name
		FROM posts p JOIN threads t ON t.id = p.thread_id JOIN users u ON u.id = p.author_id JOIN orgs org ON org.id = p.org_id
		WHERE p.id = ?`, id).Scan(&p.ThreadID, &p.ThreadTitle, &channelID, &p.Body, &p.EditedAt, &p.Revisions, &p.AuthorName, &p.OrgName)
	if err != nil {
		return p, policy.Share{}, "", db.NotFound(err, "load post")
	}
	return p, o.Container(), channelID, nil
}

// UpdatePost changes a post of the actor's org. A new text keeps the old
// one in the edit history. A new level or audience is a new disclosure
// (policy's Reshare): checked against the agreements like a new post,
// kept within its thread's, and audited with both the old and the new
// envelope.
func (s *Service) UpdatePost(ctx context.Context, a policy.Actor, id string, in PostUpdate) (Post, error) {
	var p Post
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		old, thread, channelID, err := s.ownPost(ctx, tx, a, id)
		if err != nil {
			return err
		}
		p = old
		now := db.Now()
		detail := map[string]any{}
		if in.Body != nil {
			body, err := checkBody(*in.Body)
			if err != nil {
				return err
			}
			if body != old.Body {
				if _, err := tx.Exec(ctx, `INSERT INTO post_revisions (post_id, rev, body, edited_by, edited_at) VALUES (?, ?, ?, ?, ?)`,
					id, old.Revisions+1, old.Body, a.UserID, now); err != nil {
					return fmt.Errorf("save revision: %w", err)
				}
				if _, err := tx.Exec(ctx, `UPDATE posts SET body = ?, edited_at = ?, revisions = revisions + 1 WHERE id = ?`, body, now, id); err != nil {
					return fmt.Errorf("update post: %w", err)
				}
				p.Body, p.EditedAt, p.Revisions = body, now, old.Revisions+1
				detail["revision"] = p.Revisions
				if err := s.posts.IndexBody(ctx, tx, id, body); err != nil {
					return err
				}
			}
		}
		if in.Sharing != nil {
			// Changing who receives it needs the channel (its circle's
			// members are who may be named).
			ch, err := s.channel(ctx, tx.Handle, a, channelID)
			if err != nil {
				return err
			}
			ns, err := envelope(a, s.posts, ch, *in.Sharing)
			if err != nil {
				return err
			}
			if err := checkChannelScope(ctx, tx.Handle, a, ch, ns); err != nil {
				return err
			}
			d, err := s.posts.Reshare(ctx, tx, a, id, ns.TLP, ns.Audience)
			if err != nil {
				return err
			}
			for k, v := range d.Detail() {
				detail[k] = v
			}
			p.NotDeliveredTo = d.Uncovered
			p.Share = d.Share
		}
		if len(detail) == 0 {
			return nil
		}
		tx.AfterCommit(func() { s.publishPost("forum.post.updated", p, thread, channelID) })
		action := "forum.post.edit"
		if in.Sharing != nil {
			action = "forum.post.reshare"
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: action, ObjectType: "post", ObjectID: id, Detail: detail, Touches: touches(p.ThreadID, channelID)})
	})
	return p, err
}

// DeletePost removes a post of the actor's org with its history. The
// first post opens the thread: deleting it withdraws the thread with every
// reply (as DeleteThread), so no thread is left listed without posts. It
// reports what went.
func (s *Service) DeletePost(ctx context.Context, a policy.Actor, id string) (Deletion, error) {
	var d Deletion
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		p, thread, channelID, err := s.ownPost(ctx, tx, a, id)
		if err != nil {
			return err
		}
		d = Deletion{Thread: p.ThreadID, Channel: channelID}
		var first string
		if err := tx.QueryRow(ctx, `SELECT MIN(id) FROM posts WHERE thread_id = ?`, p.ThreadID).Scan(&first); err != nil {
			return fmt.Errorf("find the thread's first post: %w", db.Map(err))
		}
		if first == id {
			d.ThreadGone = true
			return s.removeThread(ctx, tx, a, thread, channelID)
		}
		for _, q := range []string{`DELETE FROM post_revisions WHERE post_id = ?`, `DELETE FROM posts WHERE id = ?`} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return fmt.Errorf("delete post: %w", err)
			}
		}
		if err := s.posts.Withdraw(ctx, tx, a, id); err != nil {
			return err
		}
		// Who could read the reply sees it go (the thread's page drops it).
		sh := p.Share
		tx.AfterCommit(func() {
			s.Events.Publish(events.Event{Type: "forum.post.deleted", Share: &sh, Container: &thread,
				Topics: []string{"thread:" + p.ThreadID, "channel:" + channelID, "forum"},
				Data:   map[string]string{"id": id, "thread": p.ThreadID, "remove": "post-" + id + " feed-" + id, "row": "/forum/threads/" + p.ThreadID + "/fragment"}})
		})
		return audit.Write(ctx, tx, a, audit.Entry{Action: "forum.post.delete", ObjectType: "post", ObjectID: id, Touches: touches(p.ThreadID, channelID)})
	})
	return d, err
}

// Deletion is what DeletePost removed: a post of Thread in Channel, and
// with it the thread when it was the first post.
type Deletion struct {
	Thread, Channel string
	ThreadGone      bool
}

// DeleteThread withdraws a thread of the actor's org with all its posts,
// replies of other orgs included (they exist only in it). It returns the
// thread's channel.
func (s *Service) DeleteThread(ctx context.Context, a policy.Actor, id string) (channelID string, err error) {
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		o, err := s.threads.Authorize(ctx, tx, a, id)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT channel_id FROM threads WHERE id = ?`, id).Scan(&channelID); err != nil {
			return db.NotFound(err, "load thread")
		}
		return s.removeThread(ctx, tx, a, o.Share, channelID)
	})
	return channelID, err
}

// removeThread deletes a thread's rows and withdraws its envelope (the
// kernel takes its posts' envelopes with it), audited. The deleting org's
// record counts only the posts it may see: a hidden RED reply of another
// org must not show up as one more post in its trail. Every other org
// whose posts went gets a record of its own, in its trail only, with how
// many of its posts were withdrawn and by whom.
func (s *Service) removeThread(ctx context.Context, tx *db.Tx, a policy.Actor, thread policy.Share, channelID string) error {
	id := thread.ID
	r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
	if err != nil {
		return err
	}
	var visible int
	q := db.Q(`SELECT COUNT(*) FROM `).Append(r.From(s.posts, "p")).Add(` WHERE p.thread_id = ?`, id)
	if err := tx.SelectRow(ctx, q).Scan(&visible); err != nil {
		return fmt.Errorf("count the thread's posts: %w", db.Map(err))
	}
	rows, err := tx.Query(ctx, `SELECT org_id, COUNT(*) FROM posts WHERE thread_id = ? AND org_id <> ? GROUP BY org_id ORDER BY org_id`, id, a.OrgID)
	if err != nil {
		return fmt.Errorf("count the thread's contributions: %w", db.Map(err))
	}
	type contribution struct {
		org   string
		posts int
	}
	others, err := db.Collect(rows, "contributions", func(sc db.Scanner) (c contribution, err error) {
		err = sc.Scan(&c.org, &c.posts)
		return c, err
	})
	if err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM post_revisions WHERE post_id IN (SELECT id FROM posts WHERE thread_id = ?)`,
		`DELETE FROM posts WHERE thread_id = ?`,
		`DELETE FROM threads WHERE id = ?`,
	} {
		if _, err := tx.Exec(ctx, q, id); err != nil {
			return fmt.Errorf("delete thread: %w", err)
		}
	}
	if err := s.threads.Withdraw(ctx, tx, a, id); err != nil {
		return err
	}
	for _, c := range others {
		// Written by the hub, not the deleting person: a record with an
		// actor lands in the actor's org's trail too, and this one is
		// only for the contributor's.
		if err := audit.Write(ctx, tx, policy.System("forum"), audit.Entry{Action: "forum.thread.delete.contributions", ObjectType: "thread", ObjectID: id,
			Orgs: []string{c.org}, Detail: map[string]any{"posts": c.posts, "deleted_by_org": a.OrgID},
			Touches: touches(id, channelID)}); err != nil {
			return err
		}
	}
	// Who could read the thread sees it go: lists drop its row and its
	// posts' feed entries, its open page says it was withdrawn.
	tx.AfterCommit(func() {
		s.Events.Publish(events.Event{Type: "forum.thread.deleted", Share: &thread, Topics: []string{"thread:" + id, "channel:" + channelID, "forum"},
			Data: map[string]string{"id": id, "channel": channelID, "remove": "thread-" + id, "remove_thread": id, "gone": "/forum/threads/" + id}})
	})
	return audit.Write(ctx, tx, a, audit.Entry{Action: "forum.thread.delete", ObjectType: "thread", ObjectID: id,
		Detail: map[string]any{"posts": visible}, Touches: touches(id, channelID)})
}
