package words

import (
	"slices"
	"strings"
	"testing"
)

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"Verschlüsselung": "verschlusselung", "Straße": "strasse", "Éléphant": "elephant", "Øre": "ore",
		"plain": "plain", "ÄÖÜ": "aou",
	} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"verschluesselung": "verschlusselung", "quelle": "quelle", "maerz": "marz", "boese": "bose"} {
		if got := foldGerman(in); got != want {
			t.Errorf("foldGerman(%q) = %q, want %q", in, got, want)
		}
	}
}

// A word finds its inflections, its spelling without umlauts (dots left
// off or written out) and the compounds that end in it, in German and
// English; it does not find words that merely start or end alike when
// they are short.
func TestTermMatches(t *testing.T) {
	cases := []struct {
		query string
		finds []string
		not   []string
	}{
		{"Angriff", []string{"Angriffe", "Angriffs", "Angriffen", "Ransomwareangriffe", "Ransomware-Angriff", "angriffsvektor"}, []string{"Angebot", "Griff"}},
		{"Griff", []string{"Griffe", "Türgriffe"}, []string{"Angriff", "Angriffe"}}, // a compound needs a first part of three letters
		{"Angriffe", []string{"Angriff", "Ransomwareangriff"}, nil},
		{"Verschlusselung", []string{"Verschlüsselung", "Verschlüsselungen", "Festplattenverschlüsselung"}, []string{"Schlüssel"}},
		{"Verschluesselung", []string{"Verschlüsselung"}, nil},
		{"Verschlüsselung", []string{"Verschlusselung", "Verschluesselung"}, nil},
		{"Vorfall", []string{"Vorfälle", "Sicherheitsvorfall", "Sicherheitsvorfälle", "Vorfalls"}, []string{"Zwischenfall"}},
		{"Sicherung", []string{"Datensicherung", "Datensicherungen", "Sicherungen"}, nil},
		{"policy", []string{"policies", "Policy"}, nil},
		{"attacks", []string{"attack", "attacked", "attacker"}, nil},
		{"encryption", []string{"encrypted", "encrypt"}, nil},
		{"phish", []string{"phishing", "Phishing-Mail"}, nil},
		{"mail", []string{"Mailserver"}, []string{"Phishingmail"}}, // a short word is no compound's tail
		{"198", []string{"198.51.100.3"}, []string{"1198"}},
	}
	for _, c := range cases {
		terms := Terms(Split(c.query))
		for _, text := range c.finds {
			if len(Spans(text, terms)) == 0 {
				t.Errorf("%q does not find %q", c.query, text)
			}
		}
		for _, text := range c.not {
			if len(Spans(text, terms)) != 0 {
				t.Errorf("%q finds %q", c.query, text)
			}
		}
	}
}

// The index's stems and tails hold what the terms look for: the query
// side and the index side agree.
func TestIndexAgreesWithTerms(t *testing.T) {
	doc := "Ransomwareangriffe auf KMU: erste Schritte nach der Verschlüsselung. Sicherheitsvorfälle melden; policies."
	stems, tails := strings.Fields(Stems(doc)), strings.Fields(Tails(doc))
	for _, q := range []string{"Angriff", "Vorfall", "Schritt", "Verschlusselung", "policy"} {
		tm := NewTerm(strings.ToLower(q))
		found := slices.Contains(stems, tm.German) || slices.Contains(stems, tm.English)
		if tm.Tail != "" {
			for _, x := range tails {
				if strings.HasPrefix(x, tm.Tail) {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%q: neither stems %v nor tails %v hold %+v", q, stems, tails, tm)
		}
	}
	if s := Stems("198.51.100.3 a3f5c0ffee"); s != "" {
		t.Errorf("numbers and hashes are not stemmed: %q", s)
	}
}

func TestSnippet(t *testing.T) {
	text := strings.Repeat("Füllwort ", 40) + "Nach einem Ransomware-Angriff trennen Sie die betroffenen Rechner vom Netz. " + strings.Repeat("Noch mehr Text ", 40)
	s, spans := Snippet(text, Terms([]string{"angriff"}), 80)
	if !strings.HasPrefix(s, "… ") || !strings.HasSuffix(s, " …") || len([]rune(s)) > 86 {
		t.Errorf("snippet %q is not a cut passage", s)
	}
	if len(spans) != 1 || string([]rune(s)[spans[0].Start:spans[0].End]) != "Angriff" {
		t.Fatalf("spans %v of %q do not mark Angriff", spans, s)
	}
	s, spans = Snippet("Kurz und\n\n gut", Terms([]string{"gut"}), 80)
	if s != "Kurz und gut" || len(spans) != 1 || spans[0] != (Span{9, 12}) {
		t.Errorf("short text: %q %v", s, spans)
	}
	if s, _ := Snippet("Zusammenfassung: zwei Rechner wurden nach einem Angriff verschlüsselt.", Terms([]string{"verschlusselt"}), 200); !strings.HasPrefix(s, "Zusammenfassung") {
		t.Errorf("a text that fits is quoted whole: %q", s)
	}
	if s, spans := Snippet("Ohne Treffer, nur Text.", Terms([]string{"angriff"}), 8); s != "Ohne …" || spans != nil {
		t.Errorf("no match: %q %v", s, spans)
	}
}

func BenchmarkStemsAndTails(b *testing.B) {
	doc := strings.Repeat("Nach einem Ransomware-Angriff trennen Sie die betroffenen Rechner vom Netz und prüfen die Datensicherungen. After an attack, isolate encrypted systems. ", 4)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		_ = Stems(doc)
		_ = Tails(doc)
	}
}

func TestVocabulary(t *testing.T) {
	for w, want := range map[string]bool{"angriff": true, "t1566": true, "leakmark0xpost": true, "log4j": true, "deadbeef": true,
		"bab4a63c": false, "0c7c8e1f": false, "2024": false, "198": false, "": false, strings.Repeat("a", 65): false} {
		if got := InVocabulary(w); got != want {
			t.Errorf("InVocabulary(%q) = %v, want %v", w, got, want)
		}
	}
	if got := Tokens("Straße Éclair T1566 4bf0d3a5c3e4 198.51.100.3"); strings.Join(got, " ") != "straße eclair t1566" {
		t.Errorf("Tokens: %v", got)
	}
}
