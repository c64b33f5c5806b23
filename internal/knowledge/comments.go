package knowledge

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

// Comment is a remark on an article: a shareable object of its own, in
// its article, never reaching further than the article (policy.Within).
type Comment struct {
	ID         string       `json:"id"`
	ArticleID  string       `json:"article_id"`
	Body       string       `json:"body"`
	Share      policy.Share `json:"sharing"`
	AuthorName string       `json:"author_name"`
	OrgName    string       `json:"org_name"`
	CreatedAt  int64        `json:"created_at"`
	// NotDeliveredTo: circle members the comment did not reach (answer to
	// a write only).
	NotDeliveredTo []string `json:"not_delivered_to,omitempty"`
	AudienceNames  []string `json:"-"`
}

// NewComment is the input of a comment. Without a level and audience it
// inherits its article's (policy.Inherit: a named audience keeps the
// article's author and owner org).
type NewComment struct {
	Body string `json:"body"`
	policy.Sharing
}

// CreateComment adds a comment to an article the actor may see.
func (s *Service) CreateComment(ctx context.Context, a policy.Actor, articleID string, in NewComment) (Comment, error) {
	if !a.CanWrite() {
		return Comment{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	body := strings.TrimSpace(in.Body)
	if body == "" {
		return Comment{}, fault.BadInput("body", "comment_missing", "write a comment")
	}
	if utf8.RuneCountInString(body) > MaxComment {
		return Comment{}, fault.BadInput("body", "comment_too_long", "the comment is longer than {max} characters").With("max", MaxComment)
	}
	var c Comment
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		art, err := r.Envelope(ctx, tx.Handle, s.articles, articleID)
		if err != nil {
			return err
		}
		sharing := in.Sharing
		if sharing.TLP == "" {
			sharing.TLP = art.TLP.Name()
		}
		if sharing.Audience == "" {
			aud := policy.Inherit(art)
			sharing = policy.Sharing{TLP: sharing.TLP, Audience: string(aud.Kind), Community: aud.Community, Orgs: aud.Orgs, People: aud.People}
		}
		tlp, aud, err := sharing.Parse()
		if err != nil {
			return err
		}
		if aud.Kind != policy.AudCommunity {
			aud.Community = ""
		}
		sh := s.comments.Envelope(a, tlp, aud)
		sh.Container = articleID
		d, err := s.comments.Disclose(ctx, tx, a, sh)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO article_comments (id, article_id, org_id, author_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			sh.ID, articleID, a.OrgID, a.UserID, body, sh.CreatedAt); err != nil {
			return fmt.Errorf("insert comment: %w", err)
		}
		c = Comment{ID: sh.ID, ArticleID: articleID, Body: body, Share: sh, AuthorName: a.Name, CreatedAt: sh.CreatedAt, NotDeliveredTo: d.Uncovered}
		if err := tx.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, a.OrgID).Scan(&c.OrgName); err != nil {
			return fmt.Errorf("name org: %w", db.Map(err))
		}
		// Open pages of the article take the comment (their comment list
		// is a live summary): only readers who see the comment and its
		// article are told.
		if s.Events != nil {
			ev, container := d.Share, art
			tx.AfterCommit(func() {
				s.Events.Publish(events.Event{Type: "knowledge.comment", Share: &ev, Container: &container, Topics: []string{"article:" + articleID},
					Data: map[string]string{"id": ev.ID}})
			})
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "knowledge.comment.create", ObjectType: "article_comment", ObjectID: sh.ID,
			Detail: d.Detail(), Touches: touches(articleID)})
	})
	return c, err
}

// FindComments lists the comments of an article the reader may see
// (else not found), oldest first: those the reader may see.
func (s *Service) FindComments(ctx context.Context, a policy.Actor, articleID string) ([]Comment, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	if _, err := r.Envelope(ctx, h, s.articles, articleID); err != nil {
		return nil, err
	}
	q := db.Q(`SELECT c.body, u.name, o.name, `+s.comments.Columns("c")+` FROM `).Append(r.FromIn(s.comments, "c", "ca")).
		Add(` JOIN users u ON u.id = c.author_id JOIN orgs o ON o.id = c.org_id WHERE c.article_id = ? ORDER BY c.id LIMIT 500`, articleID)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list comments: %w", err)
	}
	out, err := db.Collect(rows, "list comments", func(sc db.Scanner) (Comment, error) {
		var c Comment
		err := sc.Scan(s.comments.Dest(&c.Share, []any{&c.Body, &c.AuthorName, &c.OrgName})...)
		c.ID, c.ArticleID, c.CreatedAt = c.Share.ID, articleID, c.Share.CreatedAt
		return c, err
	})
	if err != nil {
		return nil, err
	}
	shares := make([]*policy.Share, len(out))
	for i := range out {
		shares[i] = &out[i].Share
	}
	if err := r.Audiences(ctx, h, shares); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].AudienceNames, err = policy.AudienceNamesWithCircle(ctx, h, out[i].Share.Audience); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DeleteComment withdraws a comment of the actor's org. It returns the
// comment's article.
func (s *Service) DeleteComment(ctx context.Context, a policy.Actor, id string) (string, error) {
	var article string
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		o, err := s.comments.Authorize(ctx, tx, a, id)
		if err != nil {
			return err
		}
		article = o.Container().ID
		if _, err := tx.Exec(ctx, `DELETE FROM article_comments WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete comment: %w", err)
		}
		if err := s.comments.Withdraw(ctx, tx, a, id); err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "knowledge.comment.delete", ObjectType: "article_comment", ObjectID: id, Touches: touches(article)})
	})
	return article, err
}

// SetHelpful records (or takes back) the actor's "helpful" vote on an
// article the actor may see, and returns the article's votes.
func (s *Service) SetHelpful(ctx context.Context, a policy.Actor, id string, helpful bool) (int, error) {
	if a.IsSystem() || a.Scope == policy.ScopeRead {
		return 0, fault.New(fault.Forbidden, "token_read_only", "this API token may only read; create a write token")
	}
	var n int
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		if _, err := r.Envelope(ctx, tx.Handle, s.articles, id); err != nil {
			return err
		}
		var res int64
		if helpful {
			q := `INSERT INTO article_votes (article_id, user_id, org_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (article_id, user_id) DO NOTHING`
			rs, err := tx.Exec(ctx, q, id, a.UserID, a.OrgID, db.Now())
			if err != nil {
				return fmt.Errorf("vote: %w", err)
			}
			res, _ = rs.RowsAffected()
		} else {
			rs, err := tx.Exec(ctx, `DELETE FROM article_votes WHERE article_id = ? AND user_id = ?`, id, a.UserID)
			if err != nil {
				return fmt.Errorf("take back vote: %w", err)
			}
			res, _ = rs.RowsAffected()
		}
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM article_votes WHERE article_id = ?`, id).Scan(&n); err != nil {
			return fmt.Errorf("count votes: %w", db.Map(err))
		}
		if res == 0 {
			return nil // nothing changed: nothing to audit
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "knowledge.article.helpful", ObjectType: "article", ObjectID: id,
			Detail: map[string]any{"helpful": helpful}, Touches: touches(id)})
	})
	return n, err
}
