package knowledge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Attachment is a file attached to an article, without its content.
type Attachment struct {
	ID        string `json:"id"`
	ArticleID string `json:"article_id"`
	Name      string `json:"name"`
	MediaType string `json:"media_type"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	AddedBy   string `json:"added_by_name"`
	AddedAt   int64  `json:"added_at"`
}

// cleanName keeps the last element of a file name, without control
// characters or quotes, at most MaxFileName characters: a name that is
// shown and offered as a download's file name, never used as a path.
func cleanName(n string) (string, error) {
	n = strings.ReplaceAll(n, `\`, "/")
	n = path.Base(strings.TrimSpace(n))
	n = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '"' || r == '/' {
			return -1
		}
		return r
	}, n)
	n = strings.TrimSpace(n)
	if n == "" || n == "." || n == ".." || !utf8.ValidString(n) {
		return "", fault.BadInput("file", "attachment_name", "the file needs a name")
	}
	if utf8.RuneCountInString(n) > MaxFileName {
		r := []rune(n)
		ext := path.Ext(n)
		n = string(r[:MaxFileName-utf8.RuneCountInString(ext)]) + ext
	}
	return n, nil
}

// mediaType keeps a declared media type when it parses (it is shown, and
// never decides how the file is served: downloads are always
// application/octet-stream).
func mediaType(t string) string {
	mt, _, err := mime.ParseMediaType(t)
	if err != nil || len(mt) > 100 {
		return "application/octet-stream"
	}
	return mt
}

// AddAttachment stores a file read from content (at most MaxAttachment
// bytes) with an article of the actor's org: its SHA-256, size and name
// are kept beside it. An empty or oversized file stores nothing.
func (s *Service) AddAttachment(ctx context.Context, a policy.Actor, articleID, name, media string, content io.Reader) (Attachment, error) {
	if !a.CanWrite() {
		return Attachment{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	name, err := cleanName(name)
	if err != nil {
		return Attachment{}, err
	}
	b, err := io.ReadAll(io.LimitReader(content, MaxAttachment+1))
	if err != nil {
		return Attachment{}, fault.Wrap(fault.Invalid, "attachment_unreadable", "the file could not be read", err)
	}
	if len(b) == 0 {
		return Attachment{}, fault.BadInput("file", "attachment_empty", "the file is empty")
	}
	if len(b) > MaxAttachment {
		return Attachment{}, fault.New(fault.TooLarge, "attachment_too_large", "the file is larger than {max} MB").With("max", MaxAttachment>>20)
	}
	sum := sha256.Sum256(b)
	at := Attachment{ID: db.NewID(), ArticleID: articleID, Name: name, MediaType: mediaType(media), Size: int64(len(b)),
		SHA256: hex.EncodeToString(sum[:]), AddedBy: a.Name, AddedAt: db.Now()}
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := s.articles.Authorize(ctx, tx, a, articleID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM article_attachments WHERE article_id = ?`, articleID).Scan(&n); err != nil {
			return fmt.Errorf("count attachments: %w", db.Map(err))
		}
		if n >= MaxAttachList {
			return fault.BadInput("file", "too_many_attachments", "an article has at most {max} attachments").With("max", MaxAttachList)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO article_attachments (id, article_id, name, media_type, size, sha256, content, added_by, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			at.ID, articleID, at.Name, at.MediaType, at.Size, at.SHA256, b, a.UserID, at.AddedAt); err != nil {
			return fmt.Errorf("insert attachment: %w", err)
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "knowledge.attachment.add", ObjectType: "article", ObjectID: articleID,
			Detail: map[string]any{"attachment": at.ID, "name": at.Name, "size": at.Size, "sha256": at.SHA256}, Touches: touches(articleID)})
	})
	return at, err
}

// FindAttachments lists the attachments of an article the reader may see
// (else not found).
func (s *Service) FindAttachments(ctx context.Context, a policy.Actor, articleID string) ([]Attachment, error) {
	if _, err := s.visible(ctx, a, articleID); err != nil {
		return nil, err
	}
	rows, err := s.DB.R().Query(ctx, `SELECT t.id, t.name, t.media_type, t.size, t.sha256, u.name, t.added_at FROM article_attachments t
		JOIN users u ON u.id = t.added_by WHERE t.article_id = ? ORDER BY t.added_at, t.id`, articleID)
	if err != nil {
		return nil, fmt.Errorf("list attachments: %w", err)
	}
	return db.Collect(rows, "list attachments", func(sc db.Scanner) (at Attachment, err error) {
		err = sc.Scan(&at.ID, &at.Name, &at.MediaType, &at.Size, &at.SHA256, &at.AddedBy, &at.AddedAt)
		at.ArticleID = articleID
		return at, err
	})
}

// FindAttachment returns an attachment with its content, if the reader
// may see its article (else not found, as for an attachment that does not
// exist or belongs to another article).
func (s *Service) FindAttachment(ctx context.Context, a policy.Actor, articleID, id string) (Attachment, []byte, error) {
	if _, err := s.visible(ctx, a, articleID); err != nil {
		return Attachment{}, nil, err
	}
	at := Attachment{ID: id, ArticleID: articleID}
	var content []byte
	err := s.DB.R().QueryRow(ctx, `SELECT name, media_type, size, sha256, added_at, content FROM article_attachments WHERE id = ? AND article_id = ?`, id, articleID).
		Scan(&at.Name, &at.MediaType, &at.Size, &at.SHA256, &at.AddedAt, &content)
	if err != nil {
		return at, nil, db.NotFound(err, "load attachment")
	}
	return at, content, nil
}

// DeleteAttachment removes an attachment of an article of the actor's org.
func (s *Service) DeleteAttachment(ctx context.Context, a policy.Actor, articleID, id string) error {
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := s.articles.Authorize(ctx, tx, a, articleID); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM article_attachments WHERE id = ? AND article_id = ?`, id, articleID)
		if err != nil {
			return fmt.Errorf("delete attachment: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.ErrNotFound
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "knowledge.attachment.delete", ObjectType: "article", ObjectID: articleID,
			Detail: map[string]any{"attachment": id}, Touches: touches(articleID)})
	})
}
