package i18n

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// FormatTime formats t in loc as a date and 24-hour time without seconds:
// "28.11.2026, 14:05" in German, "2026-11-28 14:05" otherwise. A nil loc means UTC.
func FormatTime(lang string, t time.Time, loc *time.Location) string {
	if Normalize(lang) == "de" {
		return t.In(orUTC(loc)).Format("02.01.2006, 15:04")
	}
	return t.In(orUTC(loc)).Format("2006-01-02 15:04")
}

// FormatDate formats the calendar date of t in loc: "28.11.2026" in German,
// "2026-11-28" otherwise. A nil loc means UTC.
func FormatDate(lang string, t time.Time, loc *time.Location) string {
	if Normalize(lang) == "de" {
		return t.In(orUTC(loc)).Format("02.01.2006")
	}
	return t.In(orUTC(loc)).Format("2006-01-02")
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// separators returns the decimal and thousands separators for lang.
func separators(lang string) (decimal, thousands string) {
	if Normalize(lang) == "de" {
		return ",", "."
	}
	return ".", ","
}

// FormatNumber formats f rounded to decimals fraction digits, with the
// language's decimal and thousands separators: 1234567.891 with 2 decimals is
// "1.234.567,89" in German and "1,234,567.89" in English. A negative decimals
// uses as many digits as needed to represent f exactly. A result that rounds
// to zero carries no minus sign. NaN and infinities yield "NaN", "∞" and "-∞".
func FormatNumber(lang string, f float64, decimals int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "∞"
	case math.IsInf(f, -1):
		return "-∞"
	}
	if decimals < 0 {
		decimals = -1
	}
	s := strconv.FormatFloat(f, 'f', decimals, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	dec, thou := separators(lang)
	out := group(intPart, thou)
	if hasFrac {
		out += dec + frac
	}
	if neg && strings.Trim(s, "0.") != "" {
		out = "-" + out
	}
	return out
}

// FormatInt formats n with the language's thousands separator:
// 1234567 is "1.234.567" in German and "1,234,567" in English.
func FormatInt(lang string, n int64) string {
	s := strconv.FormatInt(n, 10)
	_, thou := separators(lang)
	if strings.HasPrefix(s, "-") {
		return "-" + group(s[1:], thou)
	}
	return group(s, thou)
}

func formatUint(lang string, n uint64) string {
	_, thou := separators(lang)
	return group(strconv.FormatUint(n, 10), thou)
}

// group inserts sep between groups of three digits, counted from the right.
func group(digits, sep string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	b.Grow(len(digits) + len(digits)/3*len(sep))
	head := len(digits) % 3
	if head == 0 {
		head = 3
	}
	b.WriteString(digits[:head])
	for i := head; i < len(digits); i += 3 {
		b.WriteString(sep)
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}
