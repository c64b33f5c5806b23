// Package knowledge is the shared knowledge archive: articles in Markdown
// (guides, checklists, post-incident reviews, lessons learned) with
// versions and their diffs, tags, links to other objects of the hub,
// attachments, comments, a "helpful" vote and how often each org's
// readers opened them. Every article and comment is a shareable object
// (category knowledge) written, read and deleted only through the sharing
// kernel; an org's library is its articles, a trust circle's the articles
// shared with the circle. Articles are found by the hub's one search
// (internal/search): their text goes into the kernel's index.
package knowledge

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/markdown"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// Limits of what an article may hold.
const (
	MaxTitle      = 200
	MaxBody       = 100_000 // characters of Markdown
	MaxTags       = 20
	MaxTag        = 40
	MaxLinks      = 50
	MaxComment    = 10_000
	MaxAttachment = 10 << 20 // bytes
	MaxFileName   = 200
	MaxAttachList = 50 // attachments per article
)

// Kinds of articles, in the order forms offer them.
var Kinds = []string{"guide", "checklist", "post_incident_review", "lessons_learned"}

// Service is the knowledge capability.
type Service struct {
	DB     *db.DB
	Events *events.Broker
	// articles and comments are its shareable kinds: every envelope is
	// written, read and deleted through them.
	articles, comments *policy.Kind
	md                 *markdown.Renderer
	// resolve names objects of other capabilities for a reader (links):
	// web.Server.Resolve, set by Register.
	resolve func(ctx context.Context, a policy.Actor, typ string, ids []string) (map[string]web.Ref, error)
	// linkable are the object types an article may link to.
	linkable map[string]bool
	columns  string
}

// New returns the service and registers its kinds with the sharing kernel.
func New(d *db.DB, b *events.Broker, k *policy.Kernel) *Service {
	articles := k.Register(policy.KindSpec{Name: "article", Table: "articles", Category: policy.Knowledge, Search: true})
	s := &Service{DB: d, Events: b, articles: articles, md: markdown.New(),
		// A comment belongs to its article: visible only with it, never
		// reaching further (policy.Within), like a forum reply.
		comments: k.Register(policy.KindSpec{Name: "article_comment", Table: "article_comments", Category: policy.Knowledge, In: articles}),
		linkable: map[string]bool{"intel": true, "article": true, "post": true, "thread": true}}
	s.columns = `a.kind, a.lang, a.title, a.version, a.updated_at, u.name, o.name, COALESCE(e.name, ''), ` + articles.Columns("a")
	return s
}

// Kinds returns the capability's shareable kinds (for the load generator
// and tests).
func (s *Service) KindsOf() (articles, comments *policy.Kind) { return s.articles, s.comments }

// Markdown is the renderer of the articles' bodies.
func (s *Service) Markdown() *markdown.Renderer { return s.md }

// Link is a reference from an article to another object of the hub, by
// the type its capability registers (web.ObjectType) and its id.
type Link struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	// Name and URL are what the reader may know of it (only links to
	// objects the reader may see are shown at all).
	Name string `json:"name,omitempty"`
	URL  string `json:"url,omitempty"`
}

// Article is one article as a reader sees it.
type Article struct {
	ID            string        `json:"id"`
	Kind          string        `json:"kind"`
	Lang          string        `json:"lang,omitempty"`
	Title         string        `json:"title"`
	Body          string        `json:"body,omitempty"`
	HTML          template.HTML `json:"html,omitempty"`
	Tags          []string      `json:"tags"`
	Links         []Link        `json:"links,omitempty"`
	Share         policy.Share  `json:"sharing"`
	AuthorName    string        `json:"author_name"`
	OrgName       string        `json:"org_name"`
	CreatedAt     int64         `json:"created_at"`
	UpdatedAt     int64         `json:"updated_at"`
	UpdatedByName string        `json:"updated_by_name"`
	Version       int           `json:"version"`
	Helpful       int           `json:"helpful"`
	HelpfulByMe   bool          `json:"helpful_by_me"`
	// NotDeliveredTo lists circle members the article did not reach
	// because no agreement covers them (answer to a write only).
	NotDeliveredTo []string `json:"not_delivered_to,omitempty"`
	AudienceNames  []string `json:"-"`
}

// NewArticle is the input of a new article: its text and the sharing
// fields exactly as a forum thread's.
type NewArticle struct {
	Title string   `json:"title"`
	Body  string   `json:"body"`
	Kind  string   `json:"kind"`
	Lang  string   `json:"lang,omitempty"`
	Tags  []string `json:"tags,omitempty"`
	Links []Link   `json:"links,omitempty"`
	policy.Sharing
}

// ArticleUpdate changes an article; nil fields stay. A change of title,
// body, kind, language or tags is a new version; links and sharing are
// not (a new level or audience is a new disclosure, checked and audited).
type ArticleUpdate struct {
	Title   *string         `json:"title,omitempty"`
	Body    *string         `json:"body,omitempty"`
	Kind    *string         `json:"kind,omitempty"`
	Lang    *string         `json:"lang,omitempty"`
	Tags    *[]string       `json:"tags,omitempty"`
	Links   *[]Link         `json:"links,omitempty"`
	Sharing *policy.Sharing `json:"sharing,omitempty"`
}

// Version is one version of an article as written.
type Version struct {
	Version    int      `json:"version"`
	Kind       string   `json:"kind"`
	Title      string   `json:"title"`
	Body       string   `json:"body,omitempty"`
	Tags       []string `json:"tags"`
	EditorName string   `json:"editor_name"`
	EditedAt   int64    `json:"edited_at"`
}

// SetResolver gives the service the hub's way to name objects of other
// capabilities for a reader (links), and the types it may link to.
func (s *Service) SetResolver(fn func(ctx context.Context, a policy.Actor, typ string, ids []string) (map[string]web.Ref, error)) {
	s.resolve = fn
}

// Linkable reports whether articles may link to objects of type typ.
func (s *Service) Linkable(typ string) bool { return s.linkable[typ] }

// checkKind reads an article kind.
func checkKind(k string) (string, error) {
	k = strings.ToLower(strings.TrimSpace(k))
	if slices.Contains(Kinds, k) {
		return k, nil
	}
	return "", fault.BadInput("kind", "bad_article_kind", `unknown kind of article "{kind}": use guide, checklist, post_incident_review or lessons_learned`).With("kind", k)
}

func checkLang(l string) (string, error) {
	l = strings.ToLower(strings.TrimSpace(l))
	switch l {
	case "", "de", "en":
		return l, nil
	}
	return "", fault.BadInput("lang", "bad_article_lang", `unknown language "{lang}": use de or en`).With("lang", l)
}

func checkTitle(t string) (string, error) {
	t = strings.TrimSpace(t)
	if t == "" || utf8.RuneCountInString(t) > MaxTitle {
		return "", fault.BadInput("title", "bad_article_title", "the title must have 1 to {max} characters").With("max", MaxTitle)
	}
	return t, nil
}

// checkBody refuses an empty or oversized body and Markdown the hub would
// not render as written: raw HTML (scripts, event handlers and all) and
// links other than http, https, mailto or the hub's own pages. The writer
// hears what and where, nothing is stored.
func (s *Service) checkBody(body string) (string, error) {
	body = strings.TrimSpace(strings.ReplaceAll(body, "\r\n", "\n"))
	if body == "" {
		return "", fault.BadInput("body", "article_body_missing", "write the article's text")
	}
	if n := utf8.RuneCountInString(body); n > MaxBody {
		return "", fault.BadInput("body", "article_too_long", "the article is longer than {max} characters").With("max", MaxBody)
	}
	if ps := s.md.Check(body); len(ps) > 0 {
		p := ps[0]
		if p.Kind == "raw_html" {
			return "", fault.BadInput("body", "markdown_html", "line {line}: raw HTML ({text}) is not allowed in articles; write Markdown, or put code in backticks").
				With("line", p.Line).With("text", p.Text)
		}
		return "", fault.BadInput("body", "markdown_link", "line {line}: the link {text} is not allowed; links must start with https://, http:// or mailto:").
			With("line", p.Line).With("text", p.Text)
	}
	return body, nil
}

// checkTags normalises tags: trimmed, lower case, letters, digits, spaces
// and "-", distinct, sorted.
func checkTags(in []string) ([]string, error) {
	var out []string
	for _, t := range in {
		t = strings.ToLower(strings.Join(strings.Fields(t), " "))
		if t == "" {
			continue
		}
		if utf8.RuneCountInString(t) > MaxTag || strings.IndexFunc(t, func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' ' && r != '-'
		}) >= 0 {
			return nil, fault.BadInput("tags", "bad_tag", `the tag "{tag}" is not allowed: up to 40 letters, digits, spaces or hyphens`).With("tag", t)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		return nil, fault.BadInput("tags", "too_many_tags", "an article has at most {max} tags").With("max", MaxTags)
	}
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// ParseTags reads tags written in one field, separated by commas.
func ParseTags(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// checkLinks refuses links to types articles do not link to and to
// objects the writer cannot see (answered alike for objects that do not
// exist: a link must not tell what is hidden).
func (s *Service) checkLinks(ctx context.Context, a policy.Actor, in []Link) ([]Link, error) {
	if len(in) > MaxLinks {
		return nil, fault.BadInput("links", "too_many_links", "an article has at most {max} links").With("max", MaxLinks)
	}
	var out []Link
	byType := map[string][]string{}
	for _, l := range in {
		l.Type, l.ID = strings.TrimSpace(l.Type), strings.TrimSpace(l.ID)
		if !s.linkable[l.Type] {
			return nil, fault.BadInput("links", "bad_link_type", `articles cannot link to objects of type "{type}": use one of {types}`).With("type", l.Type).With("types", "intel, article, thread, post")
		}
		if l.ID == "" || len(l.ID) > 100 {
			return nil, fault.BadInput("links", "link_unknown", `there is no {type} "{id}" that you can see`).With("type", l.Type).With("id", l.ID)
		}
		if !slices.ContainsFunc(out, func(o Link) bool { return o.Type == l.Type && o.ID == l.ID }) {
			out = append(out, Link{Type: l.Type, ID: l.ID})
			byType[l.Type] = append(byType[l.Type], l.ID)
		}
	}
	if s.resolve == nil {
		return out, nil
	}
	for typ, ids := range byType {
		refs, err := s.resolve(ctx, a, typ, ids)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if _, ok := refs[id]; !ok {
				return nil, fault.BadInput("links", "link_unknown", `there is no {type} "{id}" that you can see`).With("type", typ).With("id", id)
			}
		}
	}
	return out, nil
}

// Skeleton is the template of a new article of a kind in a language.
type Skeleton struct {
	Kind  string `json:"kind"`
	Lang  string `json:"lang"`
	Title string `json:"title"`
	Body  string `json:"body"`
}

//go:embed skeletons
var skeletons embed.FS

// FindSkeleton returns the template of kind in lang (de or en; others
// get English): its first line is the title, the rest the body.
func FindSkeleton(kind, lang string) (Skeleton, error) {
	k, err := checkKind(kind)
	if err != nil {
		return Skeleton{}, err
	}
	if lang != "de" {
		lang = "en"
	}
	b, err := fs.ReadFile(skeletons, fmt.Sprintf("skeletons/%s.%s.md", k, lang))
	if err != nil {
		return Skeleton{}, fmt.Errorf("article template %s.%s: %w", k, lang, err)
	}
	title, body, _ := strings.Cut(string(b), "\n")
	return Skeleton{Kind: k, Lang: lang, Title: strings.TrimSpace(strings.TrimPrefix(title, "# ")), Body: strings.TrimLeft(body, "\n")}, nil
}
