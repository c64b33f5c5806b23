// Package words is how the hub's one full-text index reads words, the same
// way when a document is indexed and when a search is typed: lower case,
// accents and umlauts folded (ä → a, ß → ss), German and English stems
// (Snowball, github.com/blevesearch/snowballstem) so that "Angriffe"
// finds "Angriff" and "policies" finds "policy", and the German stem
// reversed (a "tail") so that a search for a word also finds the compounds
// that end in it ("Angriff" finds "Ransomwareangriffe", "Vorfall" finds
// "Sicherheitsvorfälle") as a prefix search over reversed stems. A tail
// is only a tail: "Griff" finds "Türgriff" but also "Ransomwareangriff",
// which ends in it too; without a dictionary of German words that is the
// price of finding compounds at all.
//
// The package knows no SQL: internal/db gives SQLite its index-side
// functions (Stems, Tails) for the triggers of the search index, and
// internal/policy builds the queries from Term. Snippets and highlights
// (Snippet, Spans) mark the words a search matched, by the same rules.
package words

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	snowball "github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/english"
	"github.com/blevesearch/snowballstem/german"
	"golang.org/x/text/unicode/norm"
)

// MinTail is the shortest German stem that also finds the compounds ending
// in it: a shorter one ("satz", "mail") would find too many words that
// merely end in the same letters.
const MinTail = 5

// MinHead is the shortest first part of a compound that a word's tail
// finds: "Griff" does not find "Angriff" (a prefix, not a compound), but
// "Türgriff", "Ransomwareangriff" and the like. The word itself and its
// inflections are found by its stems.
const MinHead = 3

// maxWord bounds the words the stemmers see (hashes and run-on strings
// are not words).
const maxWord = 64

// Split returns the words of text in lower case: runs of letters and
// digits, everything else separates.
func Split(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), notWord)
}

func notWord(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

// Fold lower-cases w and takes accents off its letters: "Ä" → "a",
// "é" → "e", "ß" → "ss", "æ" → "ae", "ø" → "o".
func Fold(w string) string {
	ascii := true
	for i := 0; i < len(w); i++ {
		if c := w[i]; c >= utf8.RuneSelf || c >= 'A' && c <= 'Z' {
			ascii = false
			break
		}
	}
	if ascii {
		return w
	}
	var b strings.Builder
	b.Grow(len(w))
	for _, r := range w {
		r = unicode.ToLower(r)
		if r < utf8.RuneSelf {
			b.WriteRune(r)
			continue
		}
		if s, ok := special[r]; ok {
			b.WriteString(s)
			continue
		}
		for _, d := range norm.NFD.String(string(r)) {
			if !unicode.Is(unicode.Mn, d) {
				b.WriteRune(d)
			}
		}
	}
	return b.String()
}

// special are letters that NFD does not split into a base and a mark.
var special = map[rune]string{'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'đ': "d", 'ł': "l", 'þ': "th", 'ð': "d", 'ı': "i"}

// foldGerman is Fold with the umlauts that are written out in German text
// folded too ("Verschluesselung" reads as "Verschlusselung"), as the
// German stemmer's input. "ue" after "q" (Quelle) stays.
func foldGerman(w string) string {
	w = Fold(w)
	if !strings.Contains(w, "e") {
		return w
	}
	var b strings.Builder
	b.Grow(len(w))
	for i := 0; i < len(w); i++ {
		c := w[i]
		if i+1 < len(w) && w[i+1] == 'e' && (c == 'a' || c == 'o' || c == 'u' && (i == 0 || w[i-1] != 'q')) {
			b.WriteByte(c)
			i++
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// German is the German Snowball stem of word w (folded first).
func German(w string) string { return stems(w)[0] }

// English is the English Snowball stem of word w (folded first).
func English(w string) string { return stems(w)[1] }

// cache keeps the stems of words seen lately: texts repeat their words,
// and stemming is most of the cost of indexing a document.
var cache = struct {
	sync.RWMutex
	m map[string][2]string
}{m: map[string][2]string{}}

// cacheSize bounds the cache; it starts over when full.
const cacheSize = 100_000

func stems(w string) [2]string {
	cache.RLock()
	s, ok := cache.m[w]
	cache.RUnlock()
	if ok {
		return s
	}
	g := snowball.NewEnv(foldGerman(w))
	german.Stem(g)
	e := snowball.NewEnv(Fold(w))
	english.Stem(e)
	s = [2]string{g.Current(), e.Current()}
	cache.Lock()
	if len(cache.m) >= cacheSize {
		cache.m = make(map[string][2]string, cacheSize)
	}
	cache.m[w] = s
	cache.Unlock()
	return s
}

// stemmable reports whether w is a word the stemmers should see: letters
// only (numbers, addresses, hashes and ids are found by their prefix), and
// not absurdly long.
func stemmable(w string) bool {
	if len(w) > maxWord {
		return false
	}
	for _, r := range w {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

// Reverse reverses s by runes.
func Reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// Stems is the index's text of the stems of text: the distinct German and
// English stems of its words, separated by spaces.
func Stems(text string) string {
	seen := map[string]bool{}
	var b strings.Builder
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(s)
		}
	}
	done := map[string]bool{}
	for _, w := range Split(text) {
		if done[w] || !stemmable(w) {
			continue
		}
		done[w] = true
		add(German(w))
		add(English(w))
	}
	return b.String()
}

// Tails is the index's text of the compound tails of text: for each
// longer word, its German stem without the first MinHead letters,
// reversed; distinct. A search for a stem of MinTail letters or more looks
// for it reversed as a prefix there, which finds every word whose stem
// ends in it after a first part of at least MinHead letters (a compound).
func Tails(text string) string {
	seen := map[string]bool{}
	var b strings.Builder
	for _, w := range Split(text) {
		if seen[w] || len(w) < MinHead+MinTail || !stemmable(w) {
			continue
		}
		seen[w] = true
		g := []rune(German(w))
		if len(g) < MinHead+MinTail {
			continue
		}
		t := Reverse(string(g[MinHead:]))
		if seen["\x00"+t] {
			continue
		}
		seen["\x00"+t] = true
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t)
	}
	return b.String()
}

// Term is one word of a search with the forms the index is searched for:
// the word itself as a prefix, its stems, and its reversed German stem as
// a prefix of the tails when it is long enough.
type Term struct {
	Word    string // as typed, lower case (letters and digits)
	Folded  string // Fold(Word)
	German  string // "" for a word with digits
	English string
	Tail    string // Reverse(German) when German has MinTail letters or more, else ""
}

// NewTerm reads one search word (lower case letters and digits).
func NewTerm(w string) Term {
	t := Term{Word: w, Folded: Fold(w)}
	if stemmable(w) {
		t.German, t.English = German(w), English(w)
		if utf8.RuneCountInString(t.German) >= MinTail {
			t.Tail = Reverse(t.German)
		}
	}
	return t
}

// Terms reads the words of a search.
func Terms(ws []string) []Term {
	out := make([]Term, len(ws))
	for i, w := range ws {
		out[i] = NewTerm(w)
	}
	return out
}

// Matches reports whether a word of a text (any case) is found by the
// term, by the rules of the index: the word starts with the term, shares
// its German or English stem, or its German stem ends in the term's (a
// compound).
func (t Term) Matches(word string) bool {
	w := strings.ToLower(word)
	if strings.HasPrefix(Fold(w), t.Folded) {
		return true
	}
	if t.German == "" || !stemmable(w) {
		return false
	}
	g := German(w)
	if g == t.German || t.Tail != "" && strings.HasSuffix(g, t.German) && utf8.RuneCountInString(g)-utf8.RuneCountInString(t.German) >= MinHead {
		return true
	}
	return English(w) == t.English
}

// Tokens are the distinct words of text as the SQLite index's tokenizer
// (FTS5 unicode61, remove_diacritics 2) reads them — runs of letters,
// numbers and private-use characters, lower case, Latin letters without
// their accents ("ß" and "ø", which have none to take off, stay) — that
// belong in the index's vocabulary (InVocabulary). The index keeps them in
// a vocabulary of its own, so that a search word is looked up as the few
// words it is a prefix of instead of FTS5 merging the documents of every
// such word (internal/policy).
func Tokens(text string) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range strings.FieldsFunc(text, notToken) {
		w = Token(w)
		if seen[w] || !InVocabulary(w) {
			continue
		}
		seen[w] = true
		out = append(out, w)
	}
	return out
}

// InVocabulary reports whether the index's vocabulary holds the token w
// (Token's form): a word with a letter, not longer than maxWord, that is
// not a hexadecimal number (a hash, a part of a UUID: only 0-9 and a-f,
// with a digit). Numbers, addresses and hex strings are many and rarely
// repeat (an import of threat intelligence would fill the vocabulary with
// them); a search for one stays a prefix for FTS5 (policy), and so does
// any search word InVocabulary refuses.
func InVocabulary(w string) bool {
	if w == "" || len(w) > maxWord {
		return false
	}
	letter, digit, hex := false, false, true
	for _, r := range w {
		switch {
		case r >= '0' && r <= '9':
			digit = true
		case r >= 'a' && r <= 'f':
			letter = true
		case unicode.IsLetter(r):
			letter, hex = true, false
		default:
			hex = false
		}
	}
	return letter && !(hex && digit)
}

func notToken(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.Is(unicode.Co, r)
}

// Token is one word as the index's tokenizer reads it (see Tokens).
func Token(w string) string {
	ascii := true
	for i := 0; i < len(w); i++ {
		if w[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(w)
	}
	var b strings.Builder
	b.Grow(len(w))
	for _, r := range w {
		r = unicode.ToLower(r)
		if r < utf8.RuneSelf || !unicode.Is(unicode.Latin, r) {
			b.WriteRune(r)
			continue
		}
		d := []rune(norm.NFD.String(string(r)))
		b.WriteRune(d[0])
		for _, m := range d[1:] {
			if !unicode.Is(unicode.Mn, m) {
				b.WriteRune(m)
			}
		}
	}
	return b.String()
}

// TailList is Tails as a list.
func TailList(text string) []string { return strings.Fields(Tails(text)) }
