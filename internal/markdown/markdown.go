// Package markdown turns the Markdown people write (articles, training
// guides) into HTML that is safe to put on a page: goldmark renders
// CommonMark with GitHub's tables, strikethrough and task lists, without
// raw HTML, and bluemonday then keeps only the elements and attributes of
// ordinary text. Scripts, event handlers, styles and javascript: or data:
// links never reach a page, whatever the author typed.
package markdown

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// Renderer renders Markdown to sanitised HTML. It is safe for concurrent
// use; build one per process.
type Renderer struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

// New builds a renderer.
func New() *Renderer {
	md := goldmark.New(
		goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.TaskList, extension.Linkify),
		goldmark.WithParserOptions(parser.WithAutoHeadingID()),
		// No html.WithUnsafe: raw HTML in the source is dropped by goldmark
		// already; the policy below is the second wall, not the only one.
	)
	p := bluemonday.UGCPolicy()
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowURLSchemes("http", "https", "mailto")
	p.AllowAttrs("type", "checked", "disabled").OnElements("input") // task lists
	return &Renderer{md: md, policy: p}
}

// HTML renders src. The result is sanitised and may go into a template
// as it is.
func (r *Renderer) HTML(src string) (template.HTML, error) {
	var buf bytes.Buffer
	if err := r.md.Convert([]byte(src), &buf); err != nil {
		return "", fmt.Errorf("render markdown: %w", err)
	}
	out := imgTag.ReplaceAll(r.policy.SanitizeBytes(buf.Bytes()), nil)
	return template.HTML(out), nil // #nosec G203 -- sanitised by the policy
}

// imgTag matches an image in the sanitiser's output (which writes tags in
// one form). Images are left out of pages: the hub's CSP lets a page load
// images from the hub alone, so an image could only be a request to the
// hub made by every reader's browser (a read counted, a search run,
// attack review), never a picture from elsewhere. Files go as
// attachments.
var imgTag = regexp.MustCompile(`<img\b[^>]*>`)

// Problem is something in a Markdown source that the hub does not store:
// raw HTML, which the renderer would drop, or a link or image whose
// address it would not keep (anything but http, https, mailto or an
// address on the same site). Writers hear of it instead of finding it
// gone.
type Problem struct {
	Kind string // "raw_html" or "link"
	Text string // what was written (shortened)
	Line int    // 1-based
}

// Check lists the problems of src, in order; nil when there are none.
// Code spans and code blocks are text, whatever they hold.
func (r *Renderer) Check(src string) []Problem {
	source := []byte(src)
	doc := r.md.Parser().Parse(text.NewReader(source))
	var out []Problem
	add := func(kind, what string, pos int) {
		if len([]rune(what)) > 60 {
			what = string([]rune(what)[:60]) + "…"
		}
		out = append(out, Problem{Kind: kind, Text: what, Line: 1 + bytes.Count(source[:max(0, min(pos, len(source)))], []byte("\n"))})
	}
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.HTMLBlock:
			if n.Lines().Len() > 0 {
				seg := n.Lines().At(0)
				add("raw_html", strings.TrimSpace(string(seg.Value(source))), seg.Start)
			}
		case *ast.RawHTML:
			if n.Segments.Len() > 0 {
				seg := n.Segments.At(0)
				add("raw_html", string(seg.Value(source)), seg.Start)
			}
		case *ast.Link:
			if !safeURL(string(n.Destination)) {
				add("link", string(n.Destination), position(n, source))
			}
		case *ast.Image:
			if !safeURL(string(n.Destination)) {
				add("link", string(n.Destination), position(n, source))
			}
		case *ast.AutoLink:
			if u := string(n.URL(source)); !safeURL(u) && n.AutoLinkType == ast.AutoLinkURL {
				add("link", u, position(n, source))
			}
		}
		return ast.WalkContinue, nil
	})
	return out
}

// position is where inline node n starts in source, as far as its text
// tells (0 when it has none).
func position(n ast.Node, source []byte) int {
	for c := n.FirstChild(); c != nil; c = c.FirstChild() {
		if t, ok := c.(*ast.Text); ok {
			return t.Segment.Start
		}
	}
	if p := n.Parent(); p != nil && p.Lines().Len() > 0 {
		return p.Lines().At(0).Start
	}
	return 0
}

// safeURL reports whether a link address is one the policy keeps: no
// scheme (same site, an anchor) or http, https, mailto.
func safeURL(u string) bool {
	// Character references first (&#106;avascript:, javascript&#58;):
	// browsers resolve them in a link's destination, and so does goldmark.
	u = html.UnescapeString(u)
	clean := strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToLower(u))
	colon := strings.IndexByte(clean, ':')
	if colon < 0 {
		return true
	}
	if slash := strings.IndexAny(clean, "/?#"); slash >= 0 && slash < colon {
		return true // a colon in the path or query, not a scheme
	}
	switch clean[:colon] {
	case "http", "https", "mailto":
		return true
	}
	return false
}

// Text is the text of src without its markup: what a search indexes and
// quotes. Blocks end in a line break; link addresses and images' sources
// are left out, their texts kept.
func (r *Renderer) Text(src string) string {
	source := []byte(src)
	doc := r.md.Parser().Parse(text.NewReader(source))
	var b strings.Builder
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			if n.Type() == ast.TypeBlock && b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
				b.WriteByte('\n')
			}
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Text:
			b.Write(n.Segment.Value(source))
			if n.SoftLineBreak() || n.HardLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(n.Value)
		case *ast.AutoLink:
			b.Write(n.Label(source))
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			lines := n.Lines()
			for i := 0; i < lines.Len(); i++ {
				seg := lines.At(i)
				b.Write(seg.Value(source))
			}
			return ast.WalkSkipChildren, nil
		case *ast.HTMLBlock, *ast.RawHTML:
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return strings.TrimSpace(b.String())
}
