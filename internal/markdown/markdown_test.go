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
		"<svg onload=alert(1)>",
		"[x](vbscript:msgbox)",
	} {
		got, err := r.HTML(src)
		if err != nil {
			t.Fatal(err)
		}
		low := strings.ToLower(string(got))
		for _, bad := range []string{"<script", "onerror", "onload", "javascript:", "vbscript:", "data:text", "<iframe", "style=", "<svg"} {
			if strings.Contains(low, bad) {
				t.Errorf("%q rendered %q, which holds %q", src, got, bad)
			}
		}
	}
}
