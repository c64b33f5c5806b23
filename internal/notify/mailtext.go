package notify

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"verbund/internal/i18n"
)

// mailItem is one event a mail tells of.
type mailItem struct {
	id, share string
	Type      string
	Data      map[string]string
}

// line is one event as a mail shows it.
type line struct {
	Headline string   // "Incident: Ransomware at SME — acknowledged"
	Intro    string   // what happened, one sentence
	Fields   []string // "Status: acknowledged", …
	Link     string   // where to read it on the hub; "" for none
}

// mailView is what a mail's text and HTML are made of.
type mailView struct {
	Lang, Greeting, Footer, Open string
	Intro, Outro                 string // before and after the lines ("" for none)
	Lines                        []line
}

// link is the hub's page of path: only a path of the hub itself (from
// the event), never another site.
func (m *mailer) link(path string) string {
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") || strings.ContainsAny(path, "\\ \r\n") {
		return ""
	}
	return m.cfg.BaseURL + path
}

// t translates in the mail's language.
func (m *mailer) t(lang, key string, args ...any) string { return m.cat.T(lang, key, args...) }

// word translates key if the catalogue has it, else gives v as it is.
func (m *mailer) word(lang, key, v string) string {
	if v != "" && m.cat.Has(key) {
		return m.t(lang, key)
	}
	return v
}

// describe is one item as a mail shows it, in lang.
func (m *mailer) describe(lang string, it mailItem) line {
	d := it.Data
	status := m.word(lang, "notify.mail.status."+d["status"], d["status"])
	title := d["title"]
	if t := d["title."+lang]; t != "" {
		title = t
	}
	for _, l := range []string{"en", "de"} {
		if title == "" {
			title = d["title."+l]
		}
	}
	if title == "" {
		title = m.t(lang, "notify.mail.untitled")
	}
	due := d["due"]
	if t, err := time.Parse("2006-01-02", due); err == nil {
		due = i18n.FormatDate(lang, t, time.UTC)
	}
	args := []any{"title", title, "status", status, "summary", d["summary"], "due", due}
	key := "notify.mail.subject." + it.Type
	if !m.cat.Has(key) {
		key = "notify.mail.subject.other"
		args = append(args, "event", m.word(lang, "notify.mail.event."+it.Type, it.Type))
	}
	l := line{Headline: m.t(lang, key, args...), Link: m.link(d["path"])}
	if k := "notify.mail.intro." + it.Type; m.cat.Has(k) {
		l.Intro = m.t(lang, k)
	}
	if status != "" {
		l.Fields = append(l.Fields, m.t(lang, "notify.mail.field.status", "value", status))
	}
	if s := d["severity"]; s != "" {
		l.Fields = append(l.Fields, m.t(lang, "notify.mail.field.severity", "value", m.word(lang, "notify.severity."+s, s)))
	}
	if s := d["summary"]; s != "" {
		l.Fields = append(l.Fields, m.t(lang, "notify.mail.field.summary", "value", s))
	}
	if due != "" {
		l.Fields = append(l.Fields, m.t(lang, "notify.mail.field.due", "value", due))
	}
	return l
}

// compose is a mail's subject, plain text and HTML.
func (m *mailer) compose(o *outMail) (subject, text, html string, err error) {
	lang := i18n.Normalize(o.lang)
	v := mailView{Lang: lang, Greeting: m.t(lang, "notify.mail.greeting", "name", o.name), Open: m.t(lang, "notify.mail.open"),
		Footer: m.t(lang, "notify.mail.footer", "url", m.cfg.BaseURL+"/profile/mail")}
	switch o.kind {
	case "test":
		subject = m.t(lang, "notify.mail.test_subject")
		v.Outro = m.t(lang, "notify.mail.test_body", "url", m.cfg.BaseURL)
	case "digest":
		subject = m.t(lang, "notify.mail.digest_subject", "count", len(o.items))
		if len(o.items) == 1 {
			subject = m.t(lang, "notify.mail.digest_subject_one")
		}
		v.Intro = m.t(lang, "notify.mail.digest_intro", "count", len(o.items))
		for _, it := range o.items {
			v.Lines = append(v.Lines, m.describe(lang, it))
		}
	default:
		l := m.describe(lang, o.items[0])
		subject = l.Headline
		v.Lines = []line{l}
	}
	subject = "[verbund] " + strings.NewReplacer("\r", " ", "\n", " ").Replace(subject)
	var b strings.Builder
	b.WriteString(v.Greeting + "\n\n")
	if v.Intro != "" {
		b.WriteString(v.Intro + "\n\n")
	}
	for _, l := range v.Lines {
		if v.Intro != "" {
			b.WriteString("* ")
		}
		b.WriteString(l.Headline + "\n")
		if l.Intro != "" {
			b.WriteString(l.Intro + "\n")
		}
		for _, f := range l.Fields {
			b.WriteString("  " + f + "\n")
		}
		if l.Link != "" {
			b.WriteString("  " + l.Link + "\n")
		}
		b.WriteString("\n")
	}
	if v.Outro != "" {
		b.WriteString(v.Outro + "\n\n")
	}
	b.WriteString("-- \n" + v.Footer + "\n")
	var h bytes.Buffer
	if err := mailHTML.Execute(&h, v); err != nil {
		return "", "", "", fmt.Errorf("mail html: %w", err)
	}
	return subject, b.String(), h.String(), nil
}

// mailHTML is the HTML alternative: the same words, escaped.
var mailHTML = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>verbund</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #1a1a1a">
<p>{{.Greeting}}</p>
{{with .Intro}}<p>{{.}}</p>{{end}}
{{range .Lines}}<div style="margin: 0 0 1em 0">
<p style="margin: 0"><strong>{{.Headline}}</strong></p>
{{with .Intro}}<p style="margin: 0">{{.}}</p>{{end}}
{{if .Fields}}<ul style="margin: 0.2em 0">{{range .Fields}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{with .Link}}<p style="margin: 0"><a href="{{.}}">{{$.Open}}</a></p>{{end}}
</div>{{end}}
{{with .Outro}}<p>{{.}}</p>{{end}}
<hr><p style="font-size: small; color: #555">{{.Footer}}</p>
</body></html>
`))

// message builds the go-mail message of o.
func (m *mailer) message(o *outMail) (*gomail.Msg, error) {
	subject, text, html, err := m.compose(o)
	if err != nil {
		return nil, err
	}
	msg := gomail.NewMsg()
	if err := msg.From(m.cfg.From); err != nil {
		return nil, fmt.Errorf("--smtp-from: %w", err)
	}
	if err := msg.To(o.to); err != nil {
		return nil, fmt.Errorf("recipient: %w", err)
	}
	msg.Subject(subject)
	// The outbox id: a mail sent twice (at least once) is recognisably
	// the same.
	msg.SetMessageIDWithValue(strings.TrimPrefix(o.id, "mail_") + "@verbund")
	msg.SetDate()
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(gomail.Header("Content-Language"), i18n.Normalize(o.lang))
	msg.SetBodyString(gomail.TypeTextPlain, text)
	msg.AddAlternativeString(gomail.TypeTextHTML, html)
	return msg, nil
}
