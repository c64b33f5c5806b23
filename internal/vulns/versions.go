package vulns

import (
	"strconv"
	"strings"
	"unicode"
)

// Version ranges as CSAF documents write them in product_version_range
// branches: "vers:" strings (vers:generic/>=1.0|<2.0, vers:all/*) and the
// plain forms of real advisories ("<= 4.00.02", ">= 8.0.0 | <= 8.5.1",
// "< 1.99 | 2.20 | 2.40", "All versions < V14 SP1", "All versions").
// Constraints are read in order: a lower bound followed by an upper
// bound is one interval, every other constraint stands alone, and a
// version is in the range when it is in one of them (the vers
// specification's reading of sorted constraints). A range this cannot
// read ("< august 28") matches nothing: the hub does not guess.

type constraint struct {
	op, version string
}

// parseRange reads a range; ok is false for one it cannot read.
func parseRange(s string) (cs []constraint, all bool, ok bool) {
	s = strings.TrimSpace(s)
	low := strings.ToLower(s)
	if strings.HasPrefix(low, "vers:") {
		_, rest, found := strings.Cut(s[len("vers:"):], "/")
		if !found {
			return nil, false, false
		}
		s = rest
		if strings.TrimSpace(s) == "*" {
			return nil, true, true
		}
	} else if strings.HasPrefix(low, "all versions") {
		s = strings.TrimSpace(s[len("all versions"):])
		if s == "" {
			return nil, true, true
		}
	}
	for _, part := range strings.Split(s, "|") {
		part = strings.TrimSpace(part)
		op := "="
		for _, o := range []string{">=", "<=", "!=", ">", "<", "="} {
			if strings.HasPrefix(part, o) {
				op, part = o, strings.TrimSpace(part[len(o):])
				break
			}
		}
		if part == "" || !readable(part) {
			return nil, false, false
		}
		cs = append(cs, constraint{op: op, version: part})
	}
	return cs, false, len(cs) > 0
}

// readable: a version starts with a digit (after an optional v) and has
// no more than a few words ("V4.8 HF4", "3.6 Build 170215").
func readable(v string) bool {
	v = strings.TrimPrefix(strings.TrimPrefix(v, "V"), "v")
	return v != "" && unicode.IsDigit(rune(v[0])) && len(strings.Fields(v)) <= 3
}

// inRange reports whether version v is in range r.
func inRange(v, r string) bool {
	if v == "" {
		return false
	}
	return newRange(r).holds(tokens(normVersion(v)))
}

// versionRange is a range read once and checked against many versions.
type versionRange struct {
	cs  []constraint
	ts  [][]string // each constraint's version, split
	all bool
	ok  bool
}

func newRange(r string) versionRange {
	cs, all, ok := parseRange(r)
	vr := versionRange{cs: cs, all: all, ok: ok}
	for _, c := range cs {
		vr.ts = append(vr.ts, tokens(normVersion(c.version)))
	}
	return vr
}

// holds reports whether the version split into v is in the range.
func (vr versionRange) holds(v []string) bool {
	if !vr.ok || len(v) == 0 {
		return false
	}
	if vr.all {
		return true
	}
	cs := vr.cs
	check := func(i int) bool { return holdsOp(compareTokens(v, vr.ts[i]), cs[i].op) }
	for i := 0; i < len(cs); i++ {
		c := cs[i]
		if (c.op == ">" || c.op == ">=") && i+1 < len(cs) && (cs[i+1].op == "<" || cs[i+1].op == "<=") {
			if check(i) && check(i+1) {
				return true
			}
			i++
			continue
		}
		if c.op != "!=" && check(i) {
			return true
		}
	}
	return false
}

// holdsOp reports whether a comparison's result d satisfies op.
func holdsOp(d int, op string) bool {
	switch op {
	case "<":
		return d < 0
	case "<=":
		return d <= 0
	case ">":
		return d > 0
	case ">=":
		return d >= 0
	case "!=":
		return d != 0
	}
	return d == 0
}

// normVersion is a version as compared: lower case, without a leading v.
func normVersion(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if len(v) > 1 && v[0] == 'v' && unicode.IsDigit(rune(v[1])) {
		v = v[1:]
	}
	return v
}

// compareVersions compares two versions by their runs of digits (as
// numbers) and of other characters (as text): 2.10 > 2.9, 4.7 HF29 >
// 4.7 HF4, 1.0 < 1.0.1.
func compareVersions(a, b string) int {
	return compareTokens(tokens(normVersion(a)), tokens(normVersion(b)))
}

// compareTokens compares versions already split by tokens (the matcher
// splits each asset's and product's version once).
func compareTokens(ta, tb []string) int {
	for i := 0; i < len(ta) || i < len(tb); i++ {
		if i >= len(ta) {
			return -1
		}
		if i >= len(tb) {
			return 1
		}
		x, y := ta[i], tb[i]
		nx, ex := strconv.ParseUint(x, 10, 64)
		ny, ey := strconv.ParseUint(y, 10, 64)
		switch {
		case ex == nil && ey == nil:
			if nx != ny {
				if nx < ny {
					return -1
				}
				return 1
			}
		case ex == nil:
			return 1 // a number after the common part is newer than a label (1.0.1 > 1.0-beta)
		case ey == nil:
			return -1
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	return 0
}

// tokens splits a version into runs of digits and of letters; dots,
// dashes, spaces and brackets only separate. The tokens are substrings of
// v (no copies).
func tokens(v string) []string {
	var out []string
	start, kind := 0, 0 // kind of the run being read: 1 digits, 2 letters, 0 none
	for i, r := range v {
		k := 0
		switch {
		case unicode.IsDigit(r):
			k = 1
		case unicode.IsLetter(r):
			k = 2
		}
		if k == kind {
			continue
		}
		if kind != 0 {
			out = append(out, v[start:i])
		}
		start, kind = i, k
	}
	if kind != 0 {
		out = append(out, v[start:])
	}
	return out
}
