package web

import "testing"

// TestSafeNext: only paths of this site survive, whatever a browser would
// make of the rest. Browsers drop tabs and newlines from URLs and read a
// backslash as a slash, so "/\t/evil.example" is "//evil.example" to
// them: another site.
func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/":                        "/",
		"/forum":                   "/forum",
		"/forum/threads/1?x=1#p-2": "/forum/threads/1?x=1#p-2",
		"/search?q=a%20b":          "/search?q=a%20b",
		"/%2F/evil.example":        "/%2F/evil.example", // a path segment, not a host
		"":                         "/",
		"forum":                    "/",
		"//evil.example":           "/",
		"/\\evil.example":          "/",
		"/\t/evil.example":         "/",
		"/\t/evil.example/x":       "/",
		"/\n/evil.example":         "/",
		"/\r/evil.example":         "/",
		"/ /evil.example":          "/",
		"\t//evil.example":         "/",
		"/x\\y":                    "/",
		"/x\x00":                   "/",
		"/x\x7f":                   "/",
		"/\u00a0/evil.example":     "/",
		"/\u2028/evil.example":     "/",
		"https://evil.example/":    "/",
		"https:/evil.example":      "/",
		"javascript:alert(1)":      "/",
		"/\xff":                    "/",
	} {
		if got := SafeNext(next); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", next, got, want)
		}
	}
}
