package knowledge

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// envelope builds the envelope of a new article from the client's
// sharing: without an audience, an article named for a trust circle goes
// to the circle (up to AMBER) and any other stays in the org.
func (s *Service) envelope(a policy.Actor, in policy.Sharing) (policy.Share, error) {
	tlp, aud, err := in.Parse()
	if err != nil {
		return policy.Share{}, err
	}
	if aud.Kind == "" {
		aud.Kind = policy.AudOrg
		if aud.Community != "" && tlp <= policy.Amber {
			aud.Kind = policy.AudCommunity
		}
	}
	if aud.Kind != policy.AudCommunity {
		aud.Community = ""
	}
	return s.articles.Envelope(a, tlp, aud), nil
}

// touches is what a change to an article touches, for the read cache.
func touches(id string) []string { return []string{"article:" + id, "knowledge"} }

// CreateArticle writes a new article, its first version, tags and links,
// and indexes its text: one transaction, its envelope checked against the
// agreements before anything is written.
func (s *Service) CreateArticle(ctx context.Context, a policy.Actor, in NewArticle) (Article, error) {
	if !a.CanWrite() {
		return Article{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	kind, err := checkKind(in.Kind)
	if err != nil {
		return Article{}, err
	}
	title, err := checkTitle(in.Title)
	if err != nil {
		return Article{}, err
	}
	body, err := s.checkBody(in.Body)
	if err != nil {
		return Article{}, err
	}
	lang, err := checkLang(in.Lang)
	if err != nil {
		return Article{}, err
	}
	tags, err := checkTags(in.Tags)
	if err != nil {
		return Article{}, err
	}
	links, err := s.checkLinks(ctx, a, in.Links)
	if err != nil {
		return Article{}, err
	}
	sh, err := s.envelope(a, in.Sharing)
	if err != nil {
		return Article{}, err
	}
	out := Article{ID: sh.ID, Kind: kind, Lang: lang, Title: title, Body: body, Tags: tags, Links: links, Share: sh,
		AuthorName: a.Name, CreatedAt: sh.CreatedAt, UpdatedAt: sh.CreatedAt, UpdatedByName: a.Name, Version: 1}
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		d, err := s.articles.Disclose(ctx, tx, a, sh)
		if err != nil {
			return err
		}
		out.NotDeliveredTo = d.Uncovered
		if _, err := tx.Exec(ctx, `INSERT INTO articles (id, org_id, kind, lang, title, body, version, created_at, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
			sh.ID, a.OrgID, kind, lang, title, body, sh.CreatedAt, sh.CreatedAt, a.UserID); err != nil {
			return fmt.Errorf("insert article: %w", err)
		}
		if err := s.saveVersion(ctx, tx, a, out); err != nil {
			return err
		}
		if err := s.saveTags(ctx, tx, sh.ID, tags); err != nil {
			return err
		}
		if err := s.saveLinks(ctx, tx, sh.ID, links); err != nil {
			return err
		}
		if err := s.index(ctx, tx, out); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, a.OrgID).Scan(&out.OrgName); err != nil {
			return fmt.Errorf("name org: %w", db.Map(err))
		}
		tx.AfterCommit(func() { s.publish("knowledge.article", out.Share, map[string]string{"id": out.ID}) })
		detail := d.Detail()
		detail["kind"], detail["version"] = kind, 1
		return audit.Write(ctx, tx, a, audit.Entry{Action: "knowledge.article.create", ObjectType: "article", ObjectID: sh.ID, Detail: detail, Touches: touches(sh.ID)})
	})
	return out, err
}

// index writes the article's searchable text: its title, the text of its
// Markdown without markup, and its tags.
func (s *Service) index(ctx context.Context, tx *db.Tx, ar Article) error {
	text := s.md.Text(ar.Body)
	if len(ar.Tags) > 0 {
		text += "\n" + strings.Join(ar.Tags, ", ")
	}
	return s.articles.Index(ctx, tx, ar.ID, ar.Title, text)
}

func (s *Service) saveVersion(ctx context.Context, tx *db.Tx, a policy.Actor, ar Article) error {
	if _, err := tx.Exec(ctx, `INSERT INTO article_versions (article_id, version, kind, title, body, tags, edited_by, edited_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ar.ID, ar.Version, ar.Kind, ar.Title, ar.Body, strings.Join(ar.Tags, ","), a.UserID, ar.UpdatedAt); err != nil {
		return fmt.Errorf("save version: %w", err)
	}
	return nil
}

func (s *Service) saveTags(ctx context.Context, tx *db.Tx, id string, tags []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM article_tags WHERE article_id = ?`, id); err != nil {
		return fmt.Errorf("clear tags: %w", err)
	}
	values := make([]any, 0, 2*len(tags))
	for _, t := range tags {
		values = append(values, id, t)
	}
	return tx.InsertMany(ctx, `article_tags (article_id, tag)`, 2, values)
}

func (s *Service) saveLinks(ctx context.Context, tx *db.Tx, id string, links []Link) error {
	if _, err := tx.Exec(ctx, `DELETE FROM article_links WHERE article_id = ?`, id); err != nil {
		return fmt.Errorf("clear links: %w", err)
	}
	values := make([]any, 0, 3*len(links))
	for _, l := range links {
		values = append(values, id, l.Type, l.ID)
	}
	return tx.InsertMany(ctx, `article_links (article_id, target_type, target_id)`, 3, values)
}

// publish announces a change of an article on live streams (the library
// page reloads its list): only to readers who may see it.
func (s *Service) publish(typ string, sh policy.Share, data map[string]string) {
	if s.Events == nil {
		return
	}
	s.Events.Publish(events.Event{Type: typ, Share: &sh, Topics: []string{"knowledge", "article:" + sh.ID}, Data: data})
}

// UpdateArticle changes an article of the actor's org. A new text, title,
// kind, language or set of tags is a new version (the earlier ones stay
// readable, with their diffs); new links replace the old; a new level or
// audience is a new disclosure (policy's Reshare), checked against the
// agreements like a new article and audited with both envelopes.
func (s *Service) UpdateArticle(ctx context.Context, a policy.Actor, id string, in ArticleUpdate) (Article, error) {
	// New links are checked before the transaction: naming them reads
	// other capabilities' objects through the pool, and a write that asks
	// the pool for a second connection while it holds one waits for
	// itself when the pool is small.
	var links, shown []Link
	if in.Links != nil {
		var err error
		if links, err = s.checkLinks(ctx, a, *in.Links); err != nil {
			return Article{}, err
		}
		if shown, err = s.links(ctx, s.DB.R(), a, id); err != nil {
			return Article{}, err
		}
	}
	var out Article
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		o, err := s.articles.Authorize(ctx, tx, a, id)
		if err != nil {
			return err
		}
		cur, err := s.current(ctx, tx.Handle, id)
		if err != nil {
			return err
		}
		cur.Share = o.Share
		next := cur
		if in.Title != nil {
			if next.Title, err = checkTitle(*in.Title); err != nil {
				return err
			}
		}
		if in.Body != nil {
			if next.Body, err = s.checkBody(*in.Body); err != nil {
				return err
			}
		}
		if in.Kind != nil {
			if next.Kind, err = checkKind(*in.Kind); err != nil {
				return err
			}
		}
		if in.Lang != nil {
			if next.Lang, err = checkLang(*in.Lang); err != nil {
				return err
			}
		}
		if in.Tags != nil {
			if next.Tags, err = checkTags(*in.Tags); err != nil {
				return err
			}
		}
		detail := map[string]any{}
		now := db.Now()
		if next.Title != cur.Title || next.Body != cur.Body || next.Kind != cur.Kind || next.Lang != cur.Lang || strings.Join(next.Tags, ",") != strings.Join(cur.Tags, ",") {
			next.Version, next.UpdatedAt, next.UpdatedByName = cur.Version+1, now, a.Name
			if _, err := tx.Exec(ctx, `UPDATE articles SET kind = ?, lang = ?, title = ?, body = ?, version = ?, updated_at = ?, updated_by = ? WHERE id = ?`,
				next.Kind, next.Lang, next.Title, next.Body, next.Version, now, a.UserID, id); err != nil {
				return fmt.Errorf("update article: %w", err)
			}
			if err := s.saveVersion(ctx, tx, a, next); err != nil {
				return err
			}
			if err := s.saveTags(ctx, tx, id, next.Tags); err != nil {
				return err
			}
			if err := s.index(ctx, tx, next); err != nil {
				return err
			}
			detail["version"] = next.Version
		}
		if in.Links != nil {
			// Links the editor cannot see stay: an edit replaces what its
			// editor was shown, not what another reader was (attack
			// review: a save dropped links to objects hidden from it).
			hidden, err := s.hiddenLinks(ctx, tx.Handle, id, shown)
			if err != nil {
				return err
			}
			// A link added since the editor was shown the links counts as
			// hidden; they may have sent it too (attack review: saved
			// twice, 409).
			keep := slices.Clone(links)
			for _, l := range hidden {
				if !slices.ContainsFunc(keep, func(x Link) bool { return x.Type == l.Type && x.ID == l.ID }) {
					keep = append(keep, l)
				}
			}
			if err := s.saveLinks(ctx, tx, id, keep); err != nil {
				return err
			}
			next.Links, detail["links"] = links, len(links)
		}
		action := "knowledge.article.edit"
		if in.Sharing != nil {
			ns, err := s.envelope(a, *in.Sharing)
			if err != nil {
				return err
			}
			d, err := s.articles.Reshare(ctx, tx, a, id, ns.TLP, ns.Audience)
			if err != nil {
				return err
			}
			for k, v := range d.Detail() {
				detail[k] = v
			}
			next.Share, next.NotDeliveredTo = d.Share, d.Uncovered
			action = "knowledge.article.reshare"
			// A reshare that takes the article away from its own editor
			// would commit and then answer "not found": refused instead.
			v, err := policy.LoadView(ctx, tx.Handle, a, now)
			if err != nil {
				return err
			}
			if !v.CanSee(d.Share) {
				return fault.BadInput("audience", "reshare_hides_it", "with this audience you would no longer see the article yourself: name yourself among the people")
			}
		}
		out = next
		if len(detail) == 0 {
			return nil
		}
		tx.AfterCommit(func() { s.publish("knowledge.article.updated", out.Share, map[string]string{"id": id}) })
		return audit.Write(ctx, tx, a, audit.Entry{Action: action, ObjectType: "article", ObjectID: id, Detail: detail, Touches: touches(id)})
	})
	if err != nil {
		return Article{}, err
	}
	return s.FindArticleByID(ctx, a, id)
}

// hiddenLinks are the links of article id whose targets the editor cannot
// see. shown are the links they were shown (links, read before the edit's
// transaction: naming them reads through the pool); a link added since is
// kept as one they did not see.
func (s *Service) hiddenLinks(ctx context.Context, h db.Handle, id string, shown []Link) ([]Link, error) {
	rows, err := h.Query(ctx, `SELECT target_type, target_id FROM article_links WHERE article_id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("read links: %w", err)
	}
	all, err := db.Collect(rows, "read links", func(sc db.Scanner) (l Link, err error) { err = sc.Scan(&l.Type, &l.ID); return l, err })
	if err != nil || s.resolve == nil {
		return nil, err
	}
	var out []Link
	for _, l := range all {
		if !slices.ContainsFunc(shown, func(x Link) bool { return x.Type == l.Type && x.ID == l.ID }) {
			out = append(out, Link{Type: l.Type, ID: l.ID})
		}
	}
	return out, nil
}

// current reads an article's own columns (no visibility check: callers
// have authorised the actor).
func (s *Service) current(ctx context.Context, h db.Handle, id string) (Article, error) {
	var ar Article
	err := h.QueryRow(ctx, `SELECT id, kind, lang, title, body, version, created_at, updated_at FROM articles WHERE id = ?`, id).
		Scan(&ar.ID, &ar.Kind, &ar.Lang, &ar.Title, &ar.Body, &ar.Version, &ar.CreatedAt, &ar.UpdatedAt)
	if err != nil {
		return ar, db.NotFound(err, "load article")
	}
	ar.Tags, err = s.tags(ctx, h, id)
	return ar, err
}

func (s *Service) tags(ctx context.Context, h db.Handle, id string) ([]string, error) {
	rows, err := h.Query(ctx, `SELECT tag FROM article_tags WHERE article_id = ? ORDER BY tag`, id)
	if err != nil {
		return nil, fmt.Errorf("read tags: %w", err)
	}
	out, err := db.Collect(rows, "read tags", func(sc db.Scanner) (t string, err error) { err = sc.Scan(&t); return t, err })
	if out == nil {
		out = []string{}
	}
	return out, err
}

// DeleteArticle withdraws an article of the actor's org with everything
// in it: versions, tags, links, attachments, votes, read counts and every
// comment (of other orgs too: they exist only in it).
func (s *Service) DeleteArticle(ctx context.Context, a policy.Actor, id string) error {
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		o, err := s.articles.Authorize(ctx, tx, a, id)
		if err != nil {
			return err
		}
		// The record counts the comments the deleting org could see: the
		// others exist for it as little as before (attack review).
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		var comments int
		q := db.Q(`SELECT COUNT(*) FROM `).Append(r.From(s.comments, "c")).Add(` WHERE c.article_id = ?`, id)
		if err := tx.SelectRow(ctx, q).Scan(&comments); err != nil {
			return fmt.Errorf("count comments: %w", db.Map(err))
		}
		for _, q := range []string{
			`DELETE FROM article_comments WHERE article_id = ?`,
			`DELETE FROM article_versions WHERE article_id = ?`,
			`DELETE FROM article_tags WHERE article_id = ?`,
			`DELETE FROM article_links WHERE article_id = ?`,
			`DELETE FROM article_attachments WHERE article_id = ?`,
			`DELETE FROM article_votes WHERE article_id = ?`,
			`DELETE FROM article_reads WHERE article_id = ?`,
			`DELETE FROM articles WHERE id = ?`,
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return fmt.Errorf("delete article: %w", err)
			}
		}
		if err := s.articles.Withdraw(ctx, tx, a, id); err != nil {
			return err
		}
		sh := o.Share
		tx.AfterCommit(func() {
			s.publish("knowledge.article.deleted", sh, map[string]string{"id": id, "remove": "article-" + id, "gone": "/knowledge/" + id})
		})
		return audit.Write(ctx, tx, a, audit.Entry{Action: "knowledge.article.delete", ObjectType: "article", ObjectID: id,
			Detail: map[string]any{"comments": comments}, Touches: touches(id)})
	})
}

// from names the articles the reader may see with their author, owner and
// last editor, for the columns of s.columns.
func (s *Service) from(h db.Handle, r *policy.Reader, ordered bool) *db.Query {
	var q *db.Query
	if ordered {
		q = r.FromOrdered(h, s.articles, "a")
	} else {
		q = r.From(s.articles, "a")
	}
	return db.Q(`SELECT ` + s.columns + ` FROM `).Append(q).
		Add(` JOIN users u ON u.id = a_s.author_id JOIN orgs o ON o.id = a.org_id LEFT JOIN users e ON e.id = a.updated_by`)
}

func (s *Service) scan(sc db.Scanner, extra ...any) (Article, error) {
	var ar Article
	dest := []any{&ar.Kind, &ar.Lang, &ar.Title, &ar.Version, &ar.UpdatedAt, &ar.AuthorName, &ar.OrgName, &ar.UpdatedByName}
	dest = append(s.articles.Dest(&ar.Share, dest), extra...)
	err := sc.Scan(dest...)
	ar.ID, ar.CreatedAt = ar.Share.ID, ar.Share.CreatedAt
	return ar, err
}

// FindArticleByID returns one article the reader may see (else not
// found), with its body, its sanitised HTML, tags, the links to objects
// the reader may see, and its helpful votes.
func (s *Service) FindArticleByID(ctx context.Context, a policy.Actor, id string) (Article, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return Article{}, err
	}
	ar, err := s.scan(h.SelectRow(ctx, s.from(h, r, false).Add(` WHERE a.id = ?`, id)))
	if err != nil {
		return ar, db.NotFound(err, "load article")
	}
	if err := h.QueryRow(ctx, `SELECT body FROM articles WHERE id = ?`, id).Scan(&ar.Body); err != nil {
		return ar, db.NotFound(err, "load article")
	}
	if ar.HTML, err = s.md.HTML(ar.Body); err != nil {
		return ar, err
	}
	if ar.Tags, err = s.tags(ctx, h, id); err != nil {
		return ar, err
	}
	if ar.Links, err = s.links(ctx, h, a, id); err != nil {
		return ar, err
	}
	if err := h.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN user_id = ? THEN 1 ELSE 0 END), 0) FROM article_votes WHERE article_id = ?`, a.UserID, id).
		Scan(&ar.Helpful, &ar.HelpfulByMe); err != nil {
		return ar, fmt.Errorf("count votes: %w", db.Map(err))
	}
	if err := r.Audiences(ctx, h, []*policy.Share{&ar.Share}); err != nil {
		return ar, err
	}
	ar.AudienceNames, err = policy.AudienceNamesWithCircle(ctx, h, ar.Share.Audience)
	return ar, err
}

// links lists an article's links to objects the reader may see, named as
// their capability names them for the reader; links to anything else are
// left out, as if they were not there.
func (s *Service) links(ctx context.Context, h db.Handle, a policy.Actor, id string) ([]Link, error) {
	rows, err := h.Query(ctx, `SELECT target_type, target_id FROM article_links WHERE article_id = ? ORDER BY target_type, target_id`, id)
	if err != nil {
		return nil, fmt.Errorf("read links: %w", err)
	}
	all, err := db.Collect(rows, "read links", func(sc db.Scanner) (l Link, err error) { err = sc.Scan(&l.Type, &l.ID); return l, err })
	if err != nil || len(all) == 0 || s.resolve == nil {
		return nil, err
	}
	byType := map[string][]string{}
	for _, l := range all {
		byType[l.Type] = append(byType[l.Type], l.ID)
	}
	var out []Link
	for typ, ids := range byType {
		rs, err := s.resolve(ctx, a, typ, ids)
		if err != nil {
			return nil, err
		}
		for _, l := range all {
			if l.Type != typ {
				continue
			}
			if ref, ok := rs[l.ID]; ok {
				l.Name, l.URL = ref.Name, ref.URL
				out = append(out, l)
			}
		}
	}
	return out, nil
}

// ListFilter narrows the list of articles.
type ListFilter struct {
	// Library: "" every article the reader may see; "org" the reader's
	// org's own; "community:<id>" those shared with a trust circle;
	// "shared" those other orgs shared with the reader's org or people
	// by name.
	Library string
	Kind    string
	Tag     string
	After   string // cursor of the previous page
	Limit   int
}

// Cursor is an opaque page cursor: the last article's time of change and
// id. It holds nothing the reader could not see on that page.
func cursor(at int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at, 10) + "," + id))
}

func decodeCursor(c string) (int64, string, error) {
	bad := fault.BadInput("next", "bad_cursor", "the page cursor is not valid: start from the first page")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 100 {
		return 0, "", bad
	}
	at, id, ok := strings.Cut(string(b), ",")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return 0, "", bad
	}
	return n, id, nil
}

// FindArticles lists the articles the reader may see, most recently
// changed first, a page at a time.
func (s *Service) FindArticles(ctx context.Context, a policy.Actor, f ListFilter) ([]Article, string, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, "", err
	}
	q := s.from(h, r, true).Add(` WHERE 1 = 1`)
	switch lib := f.Library; {
	case lib == "":
	case lib == "org":
		q.Add(` AND a.org_id = ?`, a.OrgID)
	case strings.HasPrefix(lib, "community:"):
		q.Add(` AND a_s.audience = 'community' AND a_s.community_id = ? AND a_s.tlp > 0`, strings.TrimPrefix(lib, "community:"))
	case lib == "shared":
		q.Add(` AND a.org_id <> ? AND a_s.audience IN ('orgs', 'people')`, a.OrgID)
	case lib == "clear":
		q.Add(` AND a_s.tlp = 0`)
	default:
		return nil, "", fault.BadInput("library", "bad_library", `unknown library "{library}": use org, community:<id>, shared or clear`).With("library", lib)
	}
	if f.Kind != "" {
		k, err := checkKind(f.Kind)
		if err != nil {
			return nil, "", err
		}
		q.Add(` AND a.kind = ?`, k)
	}
	if f.Tag != "" {
		q.Add(` AND EXISTS (SELECT 1 FROM article_tags t WHERE t.article_id = a.id AND t.tag = ?)`, strings.ToLower(strings.TrimSpace(f.Tag)))
	}
	if f.After != "" {
		at, id, err := decodeCursor(f.After)
		if err != nil {
			return nil, "", err
		}
		q.Add(` AND (a.updated_at < ? OR a.updated_at = ? AND a.id < ?)`, at, at, id)
	}
	q.Add(` ORDER BY a.updated_at DESC, a.id DESC LIMIT ?`, f.Limit+1)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("list articles: %w", err)
	}
	out, err := db.CollectN(rows, f.Limit+1, "list articles", func(sc db.Scanner) (Article, error) { return s.scan(sc) })
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := out[len(out)-1]
		next = cursor(last.UpdatedAt, last.ID)
	}
	ids := make([]any, len(out))
	byID := map[string]*Article{}
	shares := make([]*policy.Share, len(out))
	for i := range out {
		ids[i] = out[i].ID
		out[i].Tags = []string{}
		byID[out[i].ID] = &out[i]
		shares[i] = &out[i].Share
	}
	if len(ids) > 0 {
		rows, err := h.Query(ctx, `SELECT article_id, tag FROM article_tags WHERE article_id IN (`+db.Placeholders(len(ids))+`) ORDER BY tag`, ids...)
		if err != nil {
			return nil, "", fmt.Errorf("list tags: %w", err)
		}
		pairs, err := db.Collect(rows, "list tags", func(sc db.Scanner) (p [2]string, err error) { err = sc.Scan(&p[0], &p[1]); return p, err })
		if err != nil {
			return nil, "", err
		}
		for _, p := range pairs {
			byID[p[0]].Tags = append(byID[p[0]].Tags, p[1])
		}
		if err := r.Audiences(ctx, h, shares); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

// FindVersions lists the versions of an article the reader may see,
// newest first, with their texts when withBody.
func (s *Service) FindVersions(ctx context.Context, a policy.Actor, id string, withBody bool) ([]Version, error) {
	if _, err := s.visible(ctx, a, id); err != nil {
		return nil, err
	}
	body := `''`
	if withBody {
		body = `v.body`
	}
	rows, err := s.DB.R().Query(ctx, `SELECT v.version, v.kind, v.title, `+body+`, v.tags, u.name, v.edited_at FROM article_versions v
		JOIN users u ON u.id = v.edited_by WHERE v.article_id = ? ORDER BY v.version DESC`, id)
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	return db.Collect(rows, "list versions", func(sc db.Scanner) (v Version, err error) {
		var tags string
		err = sc.Scan(&v.Version, &v.Kind, &v.Title, &v.Body, &tags, &v.EditorName, &v.EditedAt)
		v.Tags = ParseTags(tags)
		if v.Tags == nil {
			v.Tags = []string{}
		}
		return v, err
	})
}

// visible checks that the reader may see article id (else not found) and
// returns its envelope.
func (s *Service) visible(ctx context.Context, a policy.Actor, id string) (policy.Share, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return policy.Share{}, err
	}
	return r.Envelope(ctx, h, s.articles, id)
}
