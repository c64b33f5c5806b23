package app_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"verbund/internal/i18n"
	"verbund/internal/incidents"
	"verbund/internal/knowledge"
	"verbund/internal/policy"
	"verbund/internal/risks"
	"verbund/internal/vulns"
)

// Every message key a template uses exists in the catalogue (both
// languages agree, which i18n.Load checks), including keys built with
// printf from known value sets. A template or handler uses only shared keys
// and its own capability's (internal/<cap>/i18n): a key another capability
// keeps would vanish with it.
func TestTemplateKeysExist(t *testing.T) {
	cat := hubCatalog(t)
	shared, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../*/templates/*.html")
	if len(files) < 10 {
		t.Fatalf("found only %d templates", len(files))
	}
	gofiles, _ := filepath.Glob("../*/*.go")
	static := regexp.MustCompile(`\.T "([a-z0-9_.]+)"`)
	goStatic := regexp.MustCompile(`\.T\([^()"]*"([a-z0-9_]+(?:\.[a-z0-9_]+)+)"`)
	dynamic := regexp.MustCompile(`printf "([a-z_.]+)\.%s"`)
	values := map[string][]string{
		"role":                    {"admin", "analyst", "viewer", "auditor"},
		"org.kind":                {"company", "provider", "cert", "isac"},
		"token.scope":             {"read", "write"},
		"agreement.status":        {"proposed", "active", "revoked", "expired", "pending"},
		"agreement.kind":          {"bilateral", "charter"},
		"agreement.end":           {"revoke", "withdraw_proposal", "decline", "withdraw_acceptance"},
		"community.status":        {"pending", "active", "rejected", "left"},
		"audience":                {"own_org", "community", "named_orgs", "named_people"},
		"tlp":                     {"clear", "green", "amber", "amber_strict", "red"},
		"category":                policy.Category(policy.AllCategories).Names(),
		"knowledge.kind":          knowledge.Kinds,
		"knowledge.link_type":     {"intel", "article", "thread", "post"},
		"incidents.category":      incidents.Categories,
		"incidents.severity":      incidents.Severities,
		"incidents.status":        incidents.Statuses,
		"incidents.clock":         incidents.ClockNames,
		"incidents.role":          incidents.Roles,
		"incidents.entry":         incidents.EntryKinds,
		"incidents.request":       {"pending", "accepted", "declined", "forwarded"},
		"incidents.run_state":     {"open", "done", "skipped"},
		"incidents.run_deviation": {"skipped", "out_of_order"},
		"notify.state":            {"delivered", "pending", "dead"},
		"notify.severity":         {"low", "medium", "high", "critical"},
		"notify.error":            {"answer", "unreachable", "deleted", "not_visible", "plain_http"},
		"notify.mail.state":       {"dead", "delivered", "gathered", "pending", "skipped", "waiting"},
		"notify.mail.kind":        {"digest", "instant", "item", "test"},
		"notify.mail.group":       {"incidents", "intel", "training"},
		"notify.mail.group_hint":  {"incidents", "intel", "training"},
		"notify.mail.mode":        {"digest", "instant", "off"},
		"notify.mail.error":       {"auth", "disabled", "not_visible", "off", "rejected", "temporary", "tls", "unreachable"},
		"vulns.severity":          vulns.SeverityKeys,
		"vulns.status":            vulns.TrackingStatuses,
		"vulns.ps":                vulns.ProductStatuses,
		"vulns.rem":               vulns.RemediationKinds,
		"vulns.reject":            vulns.RejectCodes,
		"vulns.reject_detail":     vulns.RejectDetails,
		"vulns.doccat":            vulns.DocCategories,
		"vulns.sub.error":         vulns.SubscriptionErrors,
		"vulns.by":                vulns.MatchRules,
		"vulns.vex":               vulns.VEXStatuses,
		"vulns.just":              vulns.Justifications,
		"risks.treatment":         risks.Treatments,
		"risks.score":             {"residual", "inherent"},
		"risks.workshop.status":   risks.WorkshopStatuses,
		"risks.link":              risks.LinkTypes,
		"risks.field_name":        risks.HistoryFields,
	}
	own := map[string]map[string]string{} // capability → its own keys
	ownKeys := func(pkg string) map[string]string {
		if m, ok := own[pkg]; ok {
			return m
		}
		m := map[string]string{}
		if b, err := os.ReadFile(filepath.Join("..", pkg, "i18n", "en.json")); err == nil {
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s: %v", pkg, err)
			}
		}
		own[pkg] = m
		return m
	}
	// home checks that a key used by pkg is shared or pkg's own.
	home := func(f, key string) {
		pkg := filepath.Base(filepath.Dir(f))
		if strings.HasSuffix(filepath.Dir(f), "templates") {
			pkg = filepath.Base(filepath.Dir(filepath.Dir(f)))
		}
		if _, ok := ownKeys(pkg)[key]; ok || shared.Has(key) || !cat.Has(key) {
			return
		}
		t.Errorf("%s uses %q, which another capability keeps: move it to internal/i18n/catalog or use a key of %s's own", f, key, pkg)
	}
	for _, f := range append(files, gofiles...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		re := static
		if strings.HasSuffix(f, ".go") {
			re = goStatic
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			if !cat.Has(string(m[1])) {
				t.Errorf("%s uses missing key %q", f, m[1])
			}
			home(f, string(m[1]))
		}
		for _, m := range dynamic.FindAllSubmatch(b, -1) {
			vs, ok := values[string(m[1])]
			if !ok {
				t.Errorf("%s builds keys %q.* from values this test does not know: add them", f, m[1])
			}
			for _, v := range vs {
				k := string(m[1]) + "." + v
				if !cat.Has(k) {
					t.Errorf("%s: missing key %q", f, k)
				}
				home(f, k)
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

// A page shows a form error only through the layout's partial "form-error",
// which shows the message in the reader's language: no template builds its
// own error box or shows a fault's English Message.
func TestFormErrorHasOneHome(t *testing.T) {
	files, _ := filepath.Glob("../*/templates/*.html")
	raw := regexp.MustCompile(`flash-error|\.Error\.Message`)
	for _, f := range files {
		if f == filepath.Join("..", "web", "templates", "layout.html") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := raw.Find(b); m != nil {
			t.Errorf("%s: %q: show errors with {{template \"form-error\" ($.Fault .Error)}}", f, m)
		}
	}
}
