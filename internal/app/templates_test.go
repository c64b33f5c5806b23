package app_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"verbund/internal/i18n"
	"verbund/internal/policy"
)

// Every message key a template uses exists in the catalogue (both
// languages agree, which i18n.Load checks), including keys built with
// printf from known value sets.
func TestTemplateKeysExist(t *testing.T) {
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../*/templates/*.html")
	if len(files) < 10 {
		t.Fatalf("found only %d templates", len(files))
	}
	static := regexp.MustCompile(`\.T "([a-z0-9_.]+)"`)
	dynamic := regexp.MustCompile(`printf "([a-z_.]+)\.%s"`)
	values := map[string][]string{
		"role":             {"admin", "analyst", "viewer", "auditor"},
		"org.kind":         {"company", "provider", "cert", "isac"},
		"token.scope":      {"read", "write"},
		"agreement.status": {"proposed", "active", "revoked", "expired", "pending"},
		"agreement.kind":   {"bilateral", "charter"},
		"community.status": {"pending", "active", "rejected", "left"},
		"audience":         {"own_org", "community", "named_orgs", "named_people"},
		"category":         policy.Category(policy.AllCategories).Names(),
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range static.FindAllSubmatch(b, -1) {
			if !cat.Has(string(m[1])) {
				t.Errorf("%s uses missing key %q", f, m[1])
			}
		}
		for _, m := range dynamic.FindAllSubmatch(b, -1) {
			vs, ok := values[string(m[1])]
			if !ok {
				t.Errorf("%s builds keys %q.* from values this test does not know: add them", f, m[1])
			}
			for _, v := range vs {
				if k := string(m[1]) + "." + v; !cat.Has(k) {
					t.Errorf("%s: missing key %q", f, k)
				}
			}
		}
	}
	for _, code := range []int{400, 401, 403, 404, 409, 413, 415, 429, 500, 503} {
		for _, s := range []string{"title", "advice"} {
			if k := "error." + strconv.Itoa(code) + "." + s; !cat.Has(k) {
				t.Errorf("missing %s", k)
			}
		}
	}
}
