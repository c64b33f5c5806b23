// Package i18ntest holds the checks every catalogue must pass beyond what
// i18n.Load and Catalog.Add enforce: German that is really translated,
// formal address and the glossary's terms (../../shared/GLOSSARY.md). The
// i18n package runs them on the shared catalogue, internal/app on the
// merged one that every capability has added its keys to.
package i18ntest

import (
	"regexp"
	"strings"
	"testing"

	"verbund/internal/i18n"
)

// allowedIdentical lists messages that are legitimately the same in English and
// German: TLP labels (never translated), acronyms, product and standard names,
// language endonyms and words German borrowed unchanged.
var allowedIdentical = map[string]bool{
	"verbund": true, "TLP": true,
	"TLP:CLEAR": true, "TLP:GREEN": true, "TLP:AMBER": true, "TLP:AMBER+STRICT": true, "TLP:RED": true,
	"CERT": true, "ISAC": true, "API-Token": true, "JSON Lines": true,
	"Forum": true, "Name": true, "Status": true, "Organisation": true,
	"Administrator": true, "Analyst": true, "Webhook": true, "Webhooks": true, "Version": true, "Playbook": true, "Playbooks": true,
	"English": true, "Deutsch": true,
}

var (
	hasLetter   = regexp.MustCompile(`\pL`)
	placeholder = regexp.MustCompile(`\{[A-Za-z_][A-Za-z0-9_]*\}`)
	informal    = regexp.MustCompile(`(?i)\b(du|dich|dir|dein|deine|deinen|deinem|deiner|deines|euch|euer|eure)\b`)
)

// glossary pairs English terms with the German term (lower case, or its
// stem) that a message using the English term must contain.
var glossary = []struct {
	en *regexp.Regexp
	de string
}{
	{regexp.MustCompile(`(?i)trust circle`), "vertrauenskreis"},
	{regexp.MustCompile(`(?i)data-sharing agreement`), "datenfreigabevereinbarung"},
	{regexp.MustCompile(`(?i)audit trail`), "prüfprotokoll"},
	{regexp.MustCompile(`(?i)\baudience\b`), "empfängerkreis"},
	{regexp.MustCompile(`(?i)two-factor`), "zwei-faktor-authentisierung"},
	{regexp.MustCompile(`(?i)recovery code`), "wiederherstellungscode"},
	{regexp.MustCompile(`(?i)retention period`), "aufbewahrungsfrist"},
	{regexp.MustCompile(`(?i)personal data`), "personenbezogene daten"},
	{regexp.MustCompile(`(?i)join request`), "beitrittsanfrage"},
	{regexp.MustCompile(`(?i)coordinator`), "koordinator"},
	{regexp.MustCompile(`(?i)\bchannels?\b`), "kan"},
	{regexp.MustCompile(`(?i)\bthreads?\b`), "them"},
	{regexp.MustCompile(`(?i)\bposts?\b([^-]|$)`), "beitr"}, // not "post-incident review" (Nachbereitung)
	{regexp.MustCompile(`(?i)post-incident review`), "nachbereitung"},
	{regexp.MustCompile(`(?i)knowledge archive`), "wissensarchiv"},
	{regexp.MustCompile(`(?i)\bsign out\b`), "abmelden"},
	{regexp.MustCompile(`(?i)\bsettings\b`), "einstellungen"},
	{regexp.MustCompile(`(?i)\bcategor(y|ies)\b`), "kategorie"},
	{regexp.MustCompile(`(?i)\bpurpose\b`), "zweck"},
}

// NoUntranslatedGerman fails on German messages that are the English ones
// unchanged (except the allowed names and labels).
func NoUntranslatedGerman(t testing.TB, c *i18n.Catalog) {
	t.Helper()
	for _, k := range c.Keys() {
		en, de := c.T("en", k), c.T("de", k)
		if en != de || allowedIdentical[de] {
			continue
		}
		if !hasLetter.MatchString(placeholder.ReplaceAllString(de, "")) {
			continue // only placeholders and punctuation
		}
		t.Errorf("%s: German message %q is identical to English; translate it or add it to allowedIdentical", k, de)
	}
}

// GermanStyle fails on informal address and on German messages that lack
// the glossary's term for an English term their English message uses.
func GermanStyle(t testing.TB, c *i18n.Catalog) {
	t.Helper()
	for _, k := range c.Keys() {
		en, de := c.T("en", k), c.T("de", k)
		if m := informal.FindString(de); m != "" {
			t.Errorf("%s: informal address %q in %q; use \"Sie\"", k, m, de)
		}
		for _, g := range glossary {
			if g.en.MatchString(en) && !strings.Contains(strings.ToLower(de), g.de) {
				t.Errorf("%s: English %q uses %q but German %q lacks glossary term %q", k, en, g.en, de, g.de)
			}
		}
	}
}
