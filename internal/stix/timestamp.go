package stix

import (
	"errors"
	"time"
)

var errTimestampForm = errors.New("want YYYY-MM-DDTHH:MM:SS[.fraction]Z in UTC")

// ParseTimestamp reads a STIX timestamp: RFC 3339 in UTC with "Z",
// YYYY-MM-DDTHH:MM:SS[.fraction]Z (§2.16). It returns the number of
// fractional digits, because created and modified must have at least three.
func ParseTimestamp(s string) (t time.Time, frac int, err error) {
	return parseTimestamp(s)
}

// parseTimestamp is written out by hand because validation reads several
// timestamps per object: this neither allocates nor goes through layouts.
func parseTimestamp[S ~string | ~[]byte](s S) (time.Time, int, error) {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, 0, errTimestampForm
	}
	num := func(from, to int) int {
		n := 0
		for k := from; k < to; k++ {
			if !isDigit(s[k]) {
				return -1
			}
			n = n*10 + int(s[k]-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec := num(11, 13), num(14, 16), num(17, 19)
	if year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || sec < 0 {
		return time.Time{}, 0, errTimestampForm
	}
	frac, nanos := 0, 0
	if rest := s[19 : len(s)-1]; len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 {
			return time.Time{}, 0, errTimestampForm
		}
		for k := 1; k < len(rest); k++ {
			if !isDigit(rest[k]) {
				return time.Time{}, 0, errTimestampForm
			}
			if k <= 9 {
				nanos = nanos*10 + int(rest[k]-'0')
			}
		}
		frac = len(rest) - 1
		for k := frac; k < 9; k++ {
			nanos *= 10
		}
	}
	if month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, 0, errors.New("a field is out of range")
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, time.UTC)
	if t.Day() != day { // 30 February rolls over into March
		return time.Time{}, 0, errors.New("no such day")
	}
	return t, frac, nil
}

// FormatTimestamp writes t as STIX created/modified want it: UTC,
// millisecond precision.
func FormatTimestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
