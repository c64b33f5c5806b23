package jsonenc

import (
	"bytes"
	"encoding/json"
	"testing"
)

// encoded is what encoding/json writes for v with HTML escaping on, as
// the hub's answers are encoded, without the encoder's newline.
func encoded(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

var samples = []string{
	"", "plain", `quote " and \ backslash`, "<script>alert(1)</script> & co",
	"tab\tnew\nline\rcr\bbs\fff", "\x00\x01\x1f\x7f", "Grüße aus Köln – „Zitat“",
	"line\u2028sep\u2029para", "bad \xff byte", "cut \xe2\x82", "surrogate \xed\xa0\x80",
	"emoji 🛡️", "\u0000", "trailing \\",
}

func TestStringIsEncodingJSONs(t *testing.T) {
	for _, s := range samples {
		if got, want := String(nil, s), encoded(t, s); !bytes.Equal(got, want) {
			t.Errorf("String(%q) = %s, encoding/json writes %s", s, got, want)
		}
	}
}

func TestStringsIsEncodingJSONs(t *testing.T) {
	for _, list := range [][]string{nil, {}, {"a"}, samples} {
		if got, want := Strings(nil, list), encoded(t, list); !bytes.Equal(got, want) {
			t.Errorf("Strings(%q) = %s, encoding/json writes %s", list, got, want)
		}
	}
}

func TestFieldAndInt(t *testing.T) {
	b := Int(Field([]byte{'{'}, "a", true), -12)
	b = Int(Field(b, "b", false), 1<<62)
	if got := string(append(b, '}')); got != `{"a":-12,"b":4611686018427387904}` {
		t.Errorf("got %s", got)
	}
}

func FuzzString(f *testing.F) {
	for _, s := range samples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := String(nil, s), encoded(t, s); !bytes.Equal(got, want) {
			t.Errorf("String(%q) = %s, encoding/json writes %s", s, got, want)
		}
	})
}

// BenchmarkString is a post's body of 400 characters, German text with
// some umlauts and one line break.
func BenchmarkString(b *testing.B) {
	s := "Seit heute Morgen sehen wir gehäufte Anmeldeversuche auf die VPN-Zugänge unserer Kunden aus dem Mittelstand.\nDie Quelladressen wechseln alle paar Minuten, die Nutzernamen stammen offenbar aus einem älteren Datenabfluss. Wir haben die Sperrschwelle gesenkt und empfehlen allen Partnern, die Protokolle der letzten sieben Tage auf dieselben Muster zu prüfen und Auffälligkeiten hier zu melden, damit wir ein gemeinsames Lagebild haben."
	b.SetBytes(int64(len(s)))
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf = String(buf[:0], s)
	}
}
