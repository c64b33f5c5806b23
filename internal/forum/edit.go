package forum

import (
	"context"
	"fmt"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// PostUpdate changes a post; nil fields stay.
type PostUpdate struct {
	Body    *string  `json:"body,omitempty"`
	Sharing *Sharing `json:"sharing,omitempty"`
}

// EditPost changes a post of the actor's org. A new text keeps the old one
// in the edit history. A new level or audience is a new disclosure: it is
// checked against the agreements like a new post, and audited with both
// the old and the new envelope.
func (s *Service) EditPost(ctx context.Context, a policy.Actor, id string, in PostUpdate) (Post, error) {
	var p Post
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		old, err := post(ctx, tx.Handle, a, id)
		if err != nil {
			return err
		}
		if old.Share.Owner != a.OrgID {
			return fault.New(fault.Forbidden, "not_owner", "only the organisation that wrote a post may change it")
		}
		if !a.CanWrite() {
			return fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
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
			}
		}
		if in.Sharing != nil {
			t, err := thread(ctx, tx.Handle, a, old.ThreadID)
			if err != nil {
				return err
			}
			ch, err := channel(ctx, tx.Handle, a, t.ChannelID)
			if err != nil {
				return err
			}
			ns, err := share(a, "post", ch, *in.Sharing)
			if err != nil {
				return err
			}
			ns.ID, ns.Author, ns.CreatedAt = old.Share.ID, old.Share.Author, old.Share.CreatedAt
			if ns.TLP < t.Share.TLP {
				return fault.Invalidf("tlp", "tlp_below_thread", "a post cannot be less restricted than its thread (%s)", t.Share.TLP)
			}
			if err := checkChannelScope(ctx, tx.Handle, ch, ns); err != nil {
				return err
			}
			uncovered, err := policy.CheckShare(ctx, tx.Handle, a, ns, now)
			if err != nil {
				return err
			}
			if err := policy.UpdateShare(ctx, tx, ns); err != nil {
				return err
			}
			detail["from"], detail["to"] = shareDetail(old.Share, nil), shareDetail(ns, uncovered)
			p.NotDeliveredTo = uncovered
			p.Share = ns
		}
		if len(detail) == 0 {
			return nil
		}
		cid := ""
		if t, err := thread(ctx, tx.Handle, a, old.ThreadID); err == nil {
			cid = t.ChannelID
		}
		tx.AfterCommit(func() { s.publishPost("forum.post.updated", p, cid) })
		action := "forum.post.edit"
		if in.Sharing != nil {
			action = "forum.post.reshare"
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: action, ObjectType: "post", ObjectID: id, Detail: detail})
	})
	return p, err
}

// DeletePost removes a post of the actor's org with its history. The first
// post of a thread goes with its thread only when it is the last post.
func (s *Service) DeletePost(ctx context.Context, a policy.Actor, id string) error {
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		p, err := post(ctx, tx.Handle, a, id)
		if err != nil {
			return err
		}
		if p.Share.Owner != a.OrgID {
			return fault.New(fault.Forbidden, "not_owner", "only the organisation that wrote a post may delete it")
		}
		if !a.CanWrite() {
			return fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
		}
		for _, q := range []string{
			`DELETE FROM post_revisions WHERE post_id = ?`, `DELETE FROM posts WHERE id = ?`,
			`DELETE FROM share_orgs WHERE share_id = ?`, `DELETE FROM share_people WHERE share_id = ?`, `DELETE FROM shares WHERE id = ?`,
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return fmt.Errorf("delete post: %w", err)
			}
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "forum.post.delete", ObjectType: "post", ObjectID: id})
	})
}
