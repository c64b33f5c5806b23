package i18n

import (
	"math"
	"strconv"
	"strings"
)

// maxLanguageRanges bounds the work done for a hostile Accept-Language header.
const maxLanguageRanges = 32

// Negotiate picks the supported language that best matches an HTTP
// Accept-Language header (RFC 9110, section 12.5.4): the range with the highest
// q-value whose primary subtag is supported wins, earlier ranges winning ties;
// "*" stands for any supported language not excluded with q=0. Malformed ranges
// are ignored. Without a match it returns DefaultLanguage:
//
//	Negotiate("de-DE,de;q=0.9,en;q=0.8") == "de"
//	Negotiate("fr") == "en"
//	Negotiate("") == "en"
func Negotiate(acceptLanguage string) string {
	type langRange struct {
		lang string // supported language, or "*"
		q    float64
	}
	var ranges []langRange
	excluded := map[string]bool{}
	rest := acceptLanguage
	for n := 0; rest != "" && n < maxLanguageRanges; n++ {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		tag, params, _ := strings.Cut(part, ";")
		tag = strings.TrimSpace(tag)
		q, ok := qValue(params)
		if !ok || !validRange(tag) {
			continue
		}
		lang := tag
		if tag != "*" {
			if lang = matchTag(tag); lang == "" {
				continue
			}
		}
		if q == 0 {
			// "de;q=0" rules German out; "de-CH;q=0" only rules out one variant.
			if lang != "*" && !strings.ContainsAny(tag, "-_") {
				excluded[lang] = true
			}
			continue
		}
		ranges = append(ranges, langRange{lang, q})
	}
	best, bestQ := "", 0.0
	for _, r := range ranges {
		lang := r.lang
		if lang == "*" {
			lang = ""
			for _, l := range Languages() {
				if !excluded[l] {
					lang = l
					break
				}
			}
		}
		if lang != "" && !excluded[lang] && r.q > bestQ {
			best, bestQ = lang, r.q
		}
	}
	if best == "" {
		return DefaultLanguage
	}
	return best
}

// qValue parses the parameters after a language range and returns its weight.
// A missing q means 1; a malformed or out-of-range q makes the range invalid.
func qValue(params string) (float64, bool) {
	q := 1.0
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
			return 0, false
		}
		q = f
	}
	return q, true
}

// validRange reports whether tag is "*" or alphanumeric subtags of 1–8
// characters separated by "-" (or "_", which some clients send).
func validRange(tag string) bool {
	if tag == "*" {
		return true
	}
	if tag == "" {
		return false
	}
	for _, sub := range strings.FieldsFunc(tag, func(r rune) bool { return r == '-' || r == '_' }) {
		if len(sub) > 8 {
			return false
		}
		for _, r := range sub {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
				return false
			}
		}
	}
	return !strings.HasPrefix(tag, "-") && !strings.HasSuffix(tag, "-") && !strings.Contains(tag, "--")
}
