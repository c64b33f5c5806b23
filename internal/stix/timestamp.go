package stix

import (
	"errors"
	"time"
)

// ParseTimestamp reads a STIX timestamp: RFC 3339 in UTC with "Z",
// YYYY-MM-DDTHH:MM:SS[.fraction]Z (§2.16). It returns the number of
// fractional digits, because created and modified must have at least three.
func ParseTimestamp(s string) (t time.Time, frac int, err error) {
	bad := errors.New("want YYYY-MM-DDTHH:MM:SS[.fraction]Z in UTC")
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, 0, bad
	}
	for _, k := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if !isDigit(s[k]) {
			return time.Time{}, 0, bad
		}
	}
	if rest := s[19 : len(s)-1]; rest != "" {
		if rest[0] != '.' || len(rest) < 2 {
			return time.Time{}, 0, bad
		}
		for k := 1; k < len(rest); k++ {
			if !isDigit(rest[k]) {
				return time.Time{}, 0, bad
			}
		}
		frac = len(rest) - 1
	}
	t, err = time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, 0, err
	}
	return t, frac, nil
}

// FormatTimestamp writes t as STIX created/modified want it: UTC,
// millisecond precision.
func FormatTimestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
