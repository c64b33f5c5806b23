package taxii

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Query is a request's filters and paging (§3.4, §3.5), checked.
type Query struct {
	// AddedAfter: only versions added to the collection after it (zero:
	// from the oldest).
	AddedAfter time.Time
	// Limit is how many records the page may hold: the client's, capped
	// by the server's (never 0).
	Limit int
	// Next continues an earlier query (an opaque token the backend made;
	// it must check it and the caller's rights again, Appendix B).
	Next string
	// IDs and Types: match[id], match[type] (nil: any).
	IDs, Types []string
	// Versions: match[version].
	Versions VersionFilter
	// SpecVersions: match[spec_version] (nil: the latest spec version of
	// each object).
	SpecVersions []string
	// Object is the object of the by-id, versions and delete endpoints.
	Object string
	// Want says what the endpoint returns: a backend may skip reading
	// objects' JSON for manifests and version lists.
	Want Want
}

// Want is what an endpoint returns from the records of a query.
type Want int

const (
	WantObjects Want = iota
	WantManifest
	WantVersions
)

// VersionFilter is match[version]: the first, the last, all versions, or
// versions with these exact modified timestamps, in any combination (all
// covers the rest). The zero value is the default, the last version.
type VersionFilter struct {
	All, First, Last bool
	At               []time.Time
}

// Default reports whether no version was asked for (only the last).
func (v VersionFilter) Default() bool { return !v.All && !v.First && !v.Last && len(v.At) == 0 }

// Only the characters STIX allows in a type name and an identifier; a
// value outside them is malformed (400), not merely unmatched.
var (
	typeRE        = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,249}$`)
	idRE          = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,249}--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	specVersionRE = regexp.MustCompile(`^[0-9]{1,3}\.[0-9]{1,3}$`)
)

// parseQuery reads the filters of endpoint want from q: each parameter at
// most once, every value well-formed (else a 400 naming it). Filters an
// endpoint does not take are ignored, as are unknown parameters (§3.4.1
// lets servers ignore unknown match fields).
func parseQuery(q url.Values, want Want, byID bool, maxLimit int) (Query, error) {
	out := Query{Limit: maxLimit, Want: want}
	for name, vals := range q {
		if len(vals) > 1 && (name == "added_after" || name == "limit" || name == "next" || strings.HasPrefix(name, "match[")) {
			return out, badParam(name, "may be given only once")
		}
	}
	if v, ok := one(q, "added_after"); ok {
		t, err := parseTimestamp(v)
		if err != nil {
			return out, badParam("added_after", "is not an RFC 3339 timestamp, e.g. 2026-01-02T03:04:05.000000Z")
		}
		out.AddedAfter = t
	}
	if v, ok := one(q, "limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return out, badParam("limit", "must be a positive integer")
		}
		out.Limit = min(n, maxLimit)
	}
	if v, ok := one(q, "next"); ok {
		if v == "" || len(v) > 1024 {
			return out, badParam("next", "is not a token this server gave out")
		}
		out.Next = v
	}
	var err error
	if want == WantVersions {
		// Get Object Versions takes only spec_version among the matches.
		out.SpecVersions, err = list(q, "match[spec_version]", specVersionRE)
		return out, err
	}
	if !byID {
		if out.IDs, err = list(q, "match[id]", idRE); err != nil {
			return out, err
		}
		if out.Types, err = list(q, "match[type]", typeRE); err != nil {
			return out, err
		}
	}
	if out.SpecVersions, err = list(q, "match[spec_version]", specVersionRE); err != nil {
		return out, err
	}
	if v, ok := one(q, "match[version]"); ok {
		out.Versions, err = parseVersions(v)
	}
	return out, err
}

func one(q url.Values, name string) (string, bool) {
	vals, ok := q[name]
	if !ok || len(vals) == 0 {
		return "", false
	}
	return vals[0], true
}

// list reads a comma-separated filter (values ORed, §3.4.1): no empty or
// repeated value, each of the form re.
func list(q url.Values, name string, re *regexp.Regexp) ([]string, error) {
	v, ok := one(q, name)
	if !ok {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	for i, p := range parts {
		if !re.MatchString(p) {
			return nil, badParam(name, "has a malformed value "+strconv.Quote(truncate(p, 80)))
		}
		if slices.Contains(parts[:i], p) {
			return nil, badParam(name, "names "+strconv.Quote(truncate(p, 80))+" twice")
		}
	}
	return parts, nil
}

func parseVersions(v string) (VersionFilter, error) {
	var out VersionFilter
	seen := map[string]bool{}
	for _, p := range strings.Split(v, ",") {
		if seen[p] {
			return out, badParam("match[version]", "names "+strconv.Quote(truncate(p, 80))+" twice")
		}
		seen[p] = true
		switch p {
		case "all":
			out.All = true
		case "first":
			out.First = true
		case "last":
			out.Last = true
		default:
			t, err := parseTimestamp(p)
			if err != nil {
				return out, badParam("match[version]", "takes first, last, all or STIX timestamps, not "+strconv.Quote(truncate(p, 80)))
			}
			out.At = append(out.At, t)
		}
	}
	return out, nil
}

// parseTimestamp reads an RFC 3339 timestamp with any number of fractional
// digits. TAXII writes UTC with "Z"; an explicit offset is converted.
func parseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

func badParam(name, problem string) *Error {
	e := Errorf(http.StatusBadRequest, "bad_parameter", "the query parameter "+name+" "+problem)
	e.Details = map[string]string{"parameter": name}
	return e
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
