package notify

import (
	"strings"
	"testing"

	"verbund/internal/i18n"
)

func testMailer(t *testing.T) *mailer {
	t.Helper()
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Add(files, "i18n"); err != nil {
		t.Fatal(err)
	}
	s := &Service{}
	s.SetMail(MailConfig{Addr: "127.0.0.1:25", From: "hub@example.org", TLS: "none", BaseURL: "https://hub.example/"}, cat)
	return s.mail
}

// What a title can hold does not become markup, a header or a link to
// elsewhere: the HTML part escapes it, the subject has no line breaks,
// and a link is built only from a path of the hub.
func TestMailTextIsInert(t *testing.T) {
	m := testMailer(t)
	evil := "<script>alert(1)</script>\r\nBcc: victim@example.org"
	for _, c := range []struct {
		path, link string
	}{
		{"/incidents/1", "https://hub.example/incidents/1"},
		{"//evil.example/x", ""},
		{"https://evil.example/", ""},
		{"/a\\b", ""},
		{"javascript:alert(1)", ""},
	} {
		o := &outMail{id: "mail_x", kind: "instant", name: "Eva <b>", lang: "en",
			items: []mailItem{{Type: "incident.created", Data: map[string]string{"title": evil, "status": "reported", "path": c.path}}}}
		subject, text, html, err := m.compose(o)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(subject, "\r\n") || !strings.HasPrefix(subject, "[verbund] Incident: <script>") {
			t.Errorf("subject %q", subject)
		}
		if strings.Contains(html, "<script>") || strings.Contains(html, "<b>") || !strings.Contains(html, "&lt;script&gt;") {
			t.Errorf("the HTML part shows markup of the title:\n%s", html)
		}
		if got := strings.Contains(text, "\n  https://"); (c.link != "") != got || c.link != "" && !strings.Contains(html, `href="`+c.link+`"`) {
			t.Errorf("path %q: link in text %v, want %q\n%s\n%s", c.path, got, c.link, text, html)
		}
		if strings.Contains(html, "evil.example") || strings.Contains(html, "javascript:") {
			t.Errorf("path %q: a link elsewhere:\n%s", c.path, html)
		}
	}
}

// Only the keys a mail may show are kept; a per-language title is kept
// per language and each reader gets theirs.
func TestMailDataKeepsOnlyItsKeys(t *testing.T) {
	data, err := mailData(Event{Type: "training.reminder", Severity: High, Data: map[string]any{"id": "a", "title": map[string]string{"de": "Phishing erkennen", "en": "Spotting phishing"},
		"description": "SECRET", "due": "2026-12-24", "file": "x.pdf"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(data, "SECRET") || strings.Contains(data, "x.pdf") || !strings.Contains(data, `"severity":"high"`) {
		t.Errorf("data %s", data)
	}
	m := testMailer(t)
	for lang, want := range map[string]string{"de": "[verbund] Schulung: Phishing erkennen ist am 24.12.2026 fällig", "en": "[verbund] Training: Spotting phishing is due on "} {
		o := &outMail{id: "mail_x", kind: "instant", lang: lang, items: []mailItem{{Type: "training.reminder", Data: map[string]string{"title.de": "Phishing erkennen", "title.en": "Spotting phishing", "due": "2026-12-24"}}}}
		subject, _, _, err := m.compose(o)
		if err != nil || !strings.HasPrefix(subject, want) {
			t.Errorf("%s: %q %v, want %q…", lang, subject, err, want)
		}
	}
}
