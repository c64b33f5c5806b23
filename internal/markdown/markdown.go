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
	"html/template"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
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
	return template.HTML(r.policy.SanitizeBytes(buf.Bytes())), nil // #nosec G203 -- sanitised by the policy
}
