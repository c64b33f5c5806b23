package words

import (
	"strings"
	"unicode"
)

// Span is a highlighted part of a text: runes [Start, End).
type Span struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// word is one word of a text: its runes [start, end) and whether a term
// matched it.
type word struct {
	start, end int
	hit        bool
}

func scan(text []rune, terms []Term) []word {
	var out []word
	matched := map[string]bool{} // texts repeat their words
	for i := 0; i < len(text); {
		if notWord(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && !notWord(text[j]) {
			j++
		}
		w := word{start: i, end: j}
		s := string(text[i:j])
		hit, ok := matched[s]
		if !ok {
			for _, t := range terms {
				if t.Matches(s) {
					hit = true
					break
				}
			}
			matched[s] = hit
		}
		w.hit = hit
		out = append(out, w)
		i = j
	}
	return out
}

// Spans marks the words of text that terms match (titles: all of it).
func Spans(text string, terms []Term) []Span {
	var out []Span
	for _, w := range scan([]rune(text), terms) {
		if w.hit {
			out = append(out, Span{w.start, w.end})
		}
	}
	return out
}

// Snippet returns the passage of text, at most max runes (plus "…" where
// it is cut), with the most words the terms match, and the spans of those
// words in it. White space is collapsed first. Text without a match gives
// its beginning.
func Snippet(text string, terms []Term, max int) (string, []Span) {
	rs := []rune(strings.Join(strings.FieldsFunc(text, unicode.IsSpace), " "))
	if len(rs) == 0 {
		return "", nil
	}
	ws := scan(rs, terms)
	// The window starts a little before a matched word; of all such
	// windows the one with the most matches wins, the earliest on a tie.
	const lead = 30
	start, best := 0, -1
	for i, w := range ws {
		if !w.hit {
			continue
		}
		from := max0(w.start - lead)
		n := 0
		for _, v := range ws[i:] {
			if v.end > from+max {
				break
			}
			if v.hit {
				n++
			}
		}
		if n > best {
			start, best = from, n
		}
	}
	// A window past the end is moved back: as much text as fits.
	if start+max > len(rs) {
		start = max0(len(rs) - max)
	}
	end := min(len(rs), start+max)
	// Whole words only: move the start to the beginning of a word and
	// the end back to the end of one.
	if start > 0 {
		for start < end && !notWord(rs[start-1]) {
			start++
		}
	}
	if end < len(rs) {
		e := end
		for e > start && !notWord(rs[e]) {
			e--
		}
		if e > start {
			end = e
		}
	}
	var b strings.Builder
	offset := 0
	if start > 0 {
		b.WriteString("… ")
		offset = 2
	}
	part := strings.TrimSpace(string(rs[start:end]))
	lead0 := len([]rune(string(rs[start:end]))) - len([]rune(strings.TrimLeft(string(rs[start:end]), " ")))
	b.WriteString(part)
	if end < len(rs) {
		b.WriteString(" …")
	}
	var spans []Span
	for _, w := range ws {
		if w.hit && w.start >= start && w.end <= end {
			spans = append(spans, Span{w.start - start - lead0 + offset, w.end - start - lead0 + offset})
		}
	}
	return b.String(), spans
}

func max0(n int) int {
	if n < 0 {
		return 0
	}
	return n
}
