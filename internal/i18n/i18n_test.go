package i18n

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func mustLoad(t *testing.T) *Catalog {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// The shared catalogue loads and translates every key in every language.
// Its content (required keys, style, glossary) is checked on the merged
// catalogue, with every capability's keys, in internal/app.
func TestLoadCatalogsAgree(t *testing.T) {
	c := mustLoad(t)
	keys := c.Keys()
	if len(keys) < 50 {
		t.Fatalf("only %d keys; shared catalog too small", len(keys))
	}
	if !slices.IsSorted(keys) {
		t.Error("Keys() not sorted")
	}
	keys[0] = "mutated"
	if c.Keys()[0] == "mutated" {
		t.Error("Keys() returned internal slice")
	}
	for _, k := range c.Keys() {
		for _, lang := range Languages() {
			if got := c.T(lang, k); strings.HasPrefix(got, "!!") {
				t.Errorf("T(%q, %q) = %q", lang, k, got)
			}
		}
	}
}

func TestLoadRejectsDisagreement(t *testing.T) {
	tests := []struct {
		name, en, de string
		want         []string // substrings of the error
	}{
		{"missing in de", `{"a.b":"x","a.c":"y","a.d":"z"}`, `{"a.b":"X"}`, []string{"missing in de.json", "a.c, a.d"}},
		{"missing in en", `{"a.b":"x"}`, `{"a.b":"X","a.z":"Z"}`, []string{"missing in en.json", "a.z"}},
		{"placeholder differs", `{"a.b":"hi {name}"}`, `{"a.b":"hallo {nme}"}`, []string{`"a.b"`, "placeholders differ", "{name}", "{nme}"}},
		{"placeholder missing", `{"a.b":"{n} of {m}"}`, `{"a.b":"{n}"}`, []string{"placeholders differ"}},
		{"duplicate key", `{"a.b":"x","a.b":"y"}`, `{"a.b":"x"}`, []string{"duplicate"}},
		{"nested", `{"a":{"b":"x"}}`, `{"a":{"b":"x"}}`, []string{"must be a string"}},
		{"bad key", `{"Nav.Forum":"x"}`, `{"Nav.Forum":"x"}`, []string{"dotted lower-case"}},
		{"empty message", `{"a.b":" "}`, `{"a.b":"x"}`, []string{"empty message"}},
		{"not an object", `["a"]`, `{}`, []string{"JSON object"}},
		{"trailing", `{"a.b":"x"} {}`, `{"a.b":"x"}`, []string{"trailing"}},
		{"syntax", `{"a.b":"x",}`, `{"a.b":"x"}`, []string{"en.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"c/en.json": {Data: []byte(tt.en)},
				"c/de.json": {Data: []byte(tt.de)},
			}
			_, err := load(fsys, "c")
			if err == nil {
				t.Fatal("load succeeded, want error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// Repeated placeholders and order differences are fine.
	fsys := fstest.MapFS{
		"c/en.json": {Data: []byte(`{"a.b":"{x} and {y} and {x}"}`)},
		"c/de.json": {Data: []byte(`{"a.b":"{y} und {x}"}`)},
	}
	if _, err := load(fsys, "c"); err != nil {
		t.Errorf("load: %v", err)
	}
	if _, err := load(fstest.MapFS{}, "c"); err == nil {
		t.Error("load of missing files succeeded")
	}
}

// fixture adds messages with numeric placeholders to the shared catalogue.
var fixture = fstest.MapFS{
	"f/en.json": {Data: []byte(`{"fixture.too_many_attempts": "Too many failed attempts. Please wait {minutes} min before trying again.",
		"fixture.chain_broken": "Chain broken at record {seq}. The audit trail may have been tampered with."}`)},
	"f/de.json": {Data: []byte(`{"fixture.too_many_attempts": "Zu viele fehlgeschlagene Versuche. Bitte warten Sie {minutes} Min., bevor Sie es erneut versuchen.",
		"fixture.chain_broken": "Kette unterbrochen bei Eintrag {seq}. Das Prüfprotokoll wurde möglicherweise manipuliert."}`)},
}

type stringer struct{}

func (stringer) String() string { return "S" }

func TestT(t *testing.T) {
	c := mustLoad(t)
	if err := c.Add(fixture, "f"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang, key string
		args      []any
		want      string
	}{
		{"de", "nav.forum", nil, "Forum"},
		{"de", "nav.communities", nil, "Vertrauenskreise"},
		{"en", "nav.communities", nil, "Trust circles"},
		{"fr", "nav.communities", nil, "Trust circles"},
		{"", "nav.communities", nil, "Trust circles"},
		{"de-AT", "nav.communities", nil, "Vertrauenskreise"},
		{"DE", "nav.communities", nil, "Vertrauenskreise"},
		{"de", "no.such.key", nil, "!!no.such.key!!"},
		{"en", "no.such.key", []any{"a", 1}, "!!no.such.key!!"},
		{"de", "app.signed_in_as", []any{"name", "Eva Müller", "org", "Müller Maschinenbau GmbH"},
			"Sie sind angemeldet als Eva Müller (Müller Maschinenbau GmbH)."},
		{"en", "app.signed_in_as", []any{"org", "CERT Süd", "name", "Jo"}, "You are signed in as Jo (CERT Süd)."},
		// Missing argument stays visible; odd trailing argument is ignored.
		{"en", "app.signed_in_as", []any{"name", "Jo", "org"}, "You are signed in as Jo ({org})."},
		// Values are not re-expanded.
		{"en", "app.signed_in_as", []any{"name", "{org}", "org", "X"}, "You are signed in as {org} (X)."},
		{"en", "app.signed_in_as", []any{"name", stringer{}, "org", errors.New("E")}, "You are signed in as S (E)."},
		{"de", "fixture.too_many_attempts", []any{"minutes", 15},
			"Zu viele fehlgeschlagene Versuche. Bitte warten Sie 15 Min., bevor Sie es erneut versuchen."},
		{"de", "fixture.chain_broken", []any{"seq", int64(12345)},
			"Kette unterbrochen bei Eintrag 12.345. Das Prüfprotokoll wurde möglicherweise manipuliert."},
		{"en", "fixture.chain_broken", []any{"seq", uint32(12345)},
			"Chain broken at record 12,345. The audit trail may have been tampered with."},
		{"en", "fixture.chain_broken", []any{"seq", "12345"},
			"Chain broken at record 12345. The audit trail may have been tampered with."},
		{"de", "error.reference", []any{"id", 2.5}, "Referenz: 2,5"},
		{"de", "error.reference", []any{"id", time.Date(2026, 11, 28, 14, 5, 0, 0, time.UTC)}, "Referenz: 28.11.2026, 14:05"},
	}
	for _, tt := range tests {
		if got := c.T(tt.lang, tt.key, tt.args...); got != tt.want {
			t.Errorf("T(%q, %q, %v) = %q, want %q", tt.lang, tt.key, tt.args, got, tt.want)
		}
	}
}

func TestLanguages(t *testing.T) {
	l := Languages()
	if !slices.Equal(l, []string{"en", "de"}) {
		t.Fatalf("Languages() = %v", l)
	}
	l[0] = "xx"
	if Languages()[0] != "en" {
		t.Error("Languages() shares its slice")
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct{ header, want string }{
		{"", "en"},
		{"de-DE,de;q=0.9,en;q=0.8", "de"},
		{"de", "de"},
		{"DE-de", "de"},
		{"de_DE", "de"},
		{"fr", "en"},
		{"fr-FR,fr;q=0.9", "en"},
		{"fr-FR,fr;q=0.9,de;q=0.5", "de"},
		{"en-US,en;q=0.9,de;q=0.8", "en"},
		{"en;q=0.5,de;q=0.8", "de"},
		{"en;q=0.8, de ; q=0.9", "de"},
		{"de;q=0.8,en;q=0.8", "de"}, // tie: first wins
		{"en;q=0.8,de;q=0.8", "en"},
		{"de;q=0,en", "en"},
		{"en;q=0,de;q=0.1", "de"},
		{"de;q=0.9,en;q=0.5,de;q=0", "en"}, // later exclusion still applies
		{"de-CH;q=0,de;q=0.5", "de"},
		{"*", "en"},
		{"fr,*;q=0.5", "en"},
		{"en;q=0,*", "de"},
		{"de,*;q=0.5", "de"},
		{"de;q=2,en;q=0.1", "en"}, // q out of range: range ignored
		{"de;q=abc", "en"},
		{"de;q=NaN", "en"},
		{"d e,de-<script>", "en"},
		{"de-DE-1996;q=0.7", "de"},
		{",,, ;q=1, de", "de"},
		{"de;level=1;q=0.7,en;q=0.6", "de"},
		{"toolongsubtag-de", "en"},
		{strings.Repeat("fr,", 100) + "de", "en"}, // beyond the range limit
	}
	for _, tt := range tests {
		if got := Negotiate(tt.header); got != tt.want {
			t.Errorf("Negotiate(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{"de": "de", "de-AT": "de", "EN-gb": "en", "": "en", "xx": "en", " de ": "de"} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatTimeAndDate(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600)
	}
	ts := time.Date(2026, 11, 28, 13, 5, 59, 999, time.UTC)
	tests := []struct {
		lang       string
		loc        *time.Location
		time, date string
	}{
		{"de", berlin, "28.11.2026, 14:05", "28.11.2026"},
		{"en", berlin, "2026-11-28 14:05", "2026-11-28"},
		{"de", nil, "28.11.2026, 13:05", "28.11.2026"},
		{"en", time.UTC, "2026-11-28 13:05", "2026-11-28"},
		{"fr", time.UTC, "2026-11-28 13:05", "2026-11-28"},
		{"de", time.FixedZone("X", 11*3600), "29.11.2026, 00:05", "29.11.2026"},
	}
	for _, tt := range tests {
		if got := FormatTime(tt.lang, ts, tt.loc); got != tt.time {
			t.Errorf("FormatTime(%q, %v) = %q, want %q", tt.lang, tt.loc, got, tt.time)
		}
		if got := FormatDate(tt.lang, ts, tt.loc); got != tt.date {
			t.Errorf("FormatDate(%q, %v) = %q, want %q", tt.lang, tt.loc, got, tt.date)
		}
	}
	// Single-digit day, month and hour are zero-padded.
	early := time.Date(2027, 3, 5, 7, 9, 0, 0, time.UTC)
	if got := FormatTime("de", early, time.UTC); got != "05.03.2027, 07:09" {
		t.Errorf("FormatTime de = %q", got)
	}
}

func TestFormatNumber(t *testing.T) {
	tests := []struct {
		lang     string
		f        float64
		decimals int
		want     string
	}{
		{"de", 1234567.891, 2, "1.234.567,89"},
		{"en", 1234567.891, 2, "1,234,567.89"},
		{"de", 0.5, 1, "0,5"},
		{"en", 0.5, 0, "0"}, // round half to even, as strconv does
		{"de", 999.999, 2, "1.000,00"},
		{"de", 1000, 0, "1.000"},
		{"en", 100, 0, "100"},
		{"de", -1234.5, 1, "-1.234,5"},
		{"en", -0.04, 1, "0.0"}, // no negative zero
		{"de", 12.3456, -1, "12,3456"},
		{"en", 1e6, -1, "1,000,000"},
		{"de", 3.14159, 3, "3,142"},
		{"xx", 1234.5, 1, "1,234.5"},
		{"de-AT", 1234.5, 1, "1.234,5"},
	}
	for _, tt := range tests {
		if got := FormatNumber(tt.lang, tt.f, tt.decimals); got != tt.want {
			t.Errorf("FormatNumber(%q, %v, %d) = %q, want %q", tt.lang, tt.f, tt.decimals, got, tt.want)
		}
	}
}

func TestFormatInt(t *testing.T) {
	tests := []struct {
		lang string
		n    int64
		want string
	}{
		{"de", 0, "0"},
		{"de", 999, "999"},
		{"de", 1000, "1.000"},
		{"en", 1000, "1,000"},
		{"de", 1234567, "1.234.567"},
		{"en", 1234567, "1,234,567"},
		{"de", -12345, "-12.345"},
		{"en", -123, "-123"},
		{"en", -9223372036854775808, "-9,223,372,036,854,775,808"},
		{"de", 9223372036854775807, "9.223.372.036.854.775.807"},
	}
	for _, tt := range tests {
		if got := FormatInt(tt.lang, tt.n); got != tt.want {
			t.Errorf("FormatInt(%q, %d) = %q, want %q", tt.lang, tt.n, got, tt.want)
		}
	}
}

func BenchmarkT(b *testing.B) {
	c, err := Load()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c.T("de", "app.signed_in_as", "name", "Eva Müller", "org", "CERT Süd")
	}
}
