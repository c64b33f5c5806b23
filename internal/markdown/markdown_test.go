package markdown

import (
	"strings"
	"testing"
)

func TestRendersText(t *testing.T) {
	r := New()
	got, err := r.HTML("# Erste Schritte\n\n- **Backups** prüfen\n- [ ] offline\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[BSI](https://www.bsi.bund.de)")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<h1 id=", "<strong>Backups</strong> prüfen", "<table>", `href="https://www.bsi.bund.de"`, `rel="nofollow noreferrer noopener"`, `type="checkbox"`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("missing %q in %s", want, got)
		}
	}
}

func TestDropsActiveContent(t *testing.T) {
	r := New()
	for _, src := range []string{
		"<script>alert(1)</script>",
		"<img src=x onerror=alert(1)>",
		"[klick](javascript:alert(1))",
		"[klick](JaVaScRiPt:alert(1))",
		"[klick](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
		"<a href=\"javascript:alert(1)\">x</a>",
		"<div style=\"background:url(javascript:alert(1))\">x</div>",
		"<iframe src=\"https://example.org\"></iframe>",
		"![x](javascript:alert(1))",
		"![x](/knowledge/abc)",
		"![x](/search?q=a)",
		"<svg onload=alert(1)>",
		"[x](vbscript:msgbox)",
	} {
		got, err := r.HTML(src)
		if err != nil {
			t.Fatal(err)
		}
		low := strings.ToLower(string(got))
		for _, bad := range []string{"<script", "onerror", "onload", "javascript:", "vbscript:", "data:text", "<iframe", "style=", "<svg", "<img"} {
			if strings.Contains(low, bad) {
				t.Errorf("%q rendered %q, which holds %q", src, got, bad)
			}
		}
	}
}

func TestCheckNamesWhatWouldBeDropped(t *testing.T) {
	r := New()
	for src, want := range map[string]string{
		"<script>alert(1)</script>":              "raw_html",
		"Text <img src=x onerror=alert(1)> mehr": "raw_html",
		"[klick](javascript:alert(1))":           "link",
		"[klick](JaVaScript:alert(1))":           "link",
		"![x](data:image/png;base64,AAAA)":       "link",
		"<div onclick=\"x()\">\nblock\n</div>":   "raw_html",
		"Line one\n\n[x](vbscript:msgbox)":       "link",
		"Auto <javascript:alert(1)>":             "link",
		// Character references a browser resolves (attack review).
		"[a](&#106;avascript:alert(1))":               "link",
		"[a](javascript&#58;alert(1))":                "link",
		"[a](data&#58;text/html;base64,PHNjcmlwdD4=)": "link",
		"[a][r]\n\n[r]: &#106;avascript:alert(1)":     "link",
	} {
		ps := r.Check(src)
		if len(ps) == 0 || ps[0].Kind != want {
			t.Errorf("Check(%q) = %+v, want a %s problem", src, ps, want)
		}
	}
	for _, src := range []string{
		"# Titel\n\nText mit `<script>` im Code und [BSI](https://www.bsi.bund.de), [Mail](mailto:cert@example.org), [Abschnitt](#schritte), [Seite](/knowledge).",
		"```html\n<script>alert(1)</script>\n```",
		"Zeit 10:30 Uhr, Verhältnis 2:1",
	} {
		if ps := r.Check(src); ps != nil {
			t.Errorf("Check(%q) = %+v, want none", src, ps)
		}
	}
	if ps := r.Check("ok\n\nok\n\n<b>fett</b>"); len(ps) == 0 || ps[0].Line != 5 {
		t.Errorf("line of the problem: %+v", ps)
	}
}

func TestText(t *testing.T) {
	got := New().Text("# Erste Schritte\n\n1. **Netz** trennen\n2. [BSI anrufen](https://bsi.bund.de)\n\n```\nkill -9\n```\n\n| a | b |\n|---|---|\n| Zelle | x |")
	for _, want := range []string{"Erste Schritte\n", "Netz trennen", "BSI anrufen", "kill -9", "Zelle"} {
		if !strings.Contains(got, want) {
			t.Errorf("Text lacks %q: %q", want, got)
		}
	}
	for _, bad := range []string{"**", "https://", "#", "|"} {
		if strings.Contains(got, bad) {
			t.Errorf("Text keeps markup %q: %q", bad, got)
		}
	}
}
