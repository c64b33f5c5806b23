package intel

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// MaxLookup is how many values one lookup takes.
const MaxLookup = 10000

// Match is an object a looked-up value is found in, as the reader may
// see it.
type Match struct {
	Object
	Via        string `json:"via"` // "value" (equal) or "cidr" (an address inside a range the object names)
	Sufficient bool   `json:"sufficient"`
	Confidence *int   `json:"confidence,omitempty"`
	ValidFrom  string `json:"valid_from,omitempty"`
	Expired    bool   `json:"expired,omitempty"`
	Sightings  int    `json:"sightings"`
}

// Result is one looked-up value with what it matched.
type Result struct {
	Value   string  `json:"value"`
	Kind    string  `json:"kind"`
	Matches []Match `json:"matches"`
}

// kindOf says what a looked-up value is, in the normalised form the store
// keeps values in: an address, a range, a URL, an e-mail address, a hash
// (hex of a known length) or a domain name. "" for none of them.
func kindOf(v string) (kind, norm string) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 2048 {
		return "", ""
	}
	if k, n := normalise("ipv4", v); n != "" {
		return k, n
	}
	// The parsers below are tried only where they can succeed (a URL with
	// a host has "://", an address has "@"): a batch of ten thousand
	// values spent most of its parsing in them.
	if strings.Contains(v, "://") {
		if u, err := url.Parse(v); err == nil && u.Scheme != "" && u.Host != "" {
			return "url", v
		}
	}
	if strings.Contains(v, "@") {
		if a, err := mail.ParseAddress(v); err == nil && a.Address == v {
			return normalise("email", v)
		}
	}
	switch len(v) {
	case 32, 40, 56, 64, 96, 128:
		if _, err := hex.DecodeString(v); err == nil {
			return normalise("hash", v)
		}
	}
	if strings.Contains(v, ".") && !strings.ContainsAny(v, " /:@\\") {
		return normalise("domain", v)
	}
	return "", ""
}

// prefixes lists the ranges of the stored lengths (IPv6 lengths count
// from 128) that contain address a, in the form ranges are stored
// (netip.Prefix.Masked): a range matches iff it is one of them.
func prefixes(a netip.Addr, lengths []int) []string {
	out := make([]string, 0, len(lengths))
	for _, bits := range lengths {
		if a.Is6() {
			if bits < 128 {
				continue
			}
			bits -= 128
		} else if bits >= 128 {
			continue
		}
		if bits >= a.BitLen() {
			continue // a whole address is stored as the address, not a range
		}
		if p, err := a.Prefix(bits); err == nil {
			out = append(out, p.String())
		}
	}
	return out
}

// cidrLengths reads the prefix lengths of the stored ranges.
func (s *Service) cidrLengths(ctx context.Context, h db.Handle) ([]int, error) {
	rows, err := h.Query(ctx, `SELECT bits FROM intel_cidr_lengths`)
	if err != nil {
		return nil, fmt.Errorf("range lengths: %w", err)
	}
	return db.Collect(rows, "range lengths", func(r db.Scanner) (n int, err error) { err = r.Scan(&n); return n, err })
}

// Lookup finds the objects the reader may see that stand for each of
// values (an indicator whose pattern names it, an observable that is it,
// a range that contains an address). Values that are none of the known
// kinds are answered with kind "" and no matches; a value matching
// nothing visible is answered like one matching nothing at all.
func (s *Service) Lookup(ctx context.Context, a policy.Actor, values []string) ([]Result, error) {
	if len(values) > MaxLookup {
		return nil, fault.BadInput("values", "too_many_values", "look up at most {max} values at a time").With("max", MaxLookup)
	}
	out := make([]Result, len(values))
	h := s.DB.R()
	f, err := s.values.refresh(ctx, h)
	if err != nil {
		return nil, err
	}
	var lengths []int
	if f != nil {
		lengths = f.lengths
	} else if lengths, err = s.cidrLengths(ctx, h); err != nil {
		return nil, err
	}
	type key struct{ kind, value string }
	want := map[key][]int{} // stored (kind, value) → results it answers, with how
	via := map[key]string{}
	add := func(k key, i int, how string) {
		if f != nil && !f.mayHold(k.kind, k.value) {
			return // stored by no org: no matches, for every reader
		}
		want[k] = append(want[k], i)
		via[k] = how
	}
	for i, v := range values {
		k, n := kindOf(v)
		out[i] = Result{Value: v, Kind: k, Matches: []Match{}}
		if k == "" {
			continue
		}
		add(key{k, n}, i, "value")
		if k == "ipv4" || k == "ipv6" {
			ip, _ := netip.ParseAddr(n)
			for _, p := range prefixes(ip, lengths) {
				add(key{"cidr", p}, i, "cidr")
			}
		}
	}
	if f != nil {
		f.mu.RUnlock()
	}
	if len(want) == 0 {
		return out, nil
	}
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	keys := make([]key, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	now := db.Now()
	// One statement per chunk joins the wanted (kind, value) pairs, passed
	// as one parameter (a JSON array on SQLite, two arrays on PostgreSQL),
	// with the values' index: each pair is one probe, and only rows that
	// match are judged by the visibility predicate. (A statement of ORs,
	// one per pair, cost a parse and a plan of hundreds of branches per
	// chunk.)
	const chunk = 2000
	for start := 0; start < len(keys); start += chunk {
		part := keys[start:min(start+chunk, len(keys))]
		var q *db.Query
		cols := `SELECT v.kind, v.value, v.sufficient, o.object, ` + objectColumns + `, ` + s.kind.Columns("o")
		if h.Dialect() == db.Postgres {
			kinds, vals := make([]string, len(part)), make([]string, len(part))
			for i, k := range part {
				kinds[i], vals[i] = k.kind, k.value
			}
			q = db.Q(cols+` FROM unnest(?::text[], ?::text[]) AS w(kind, value) JOIN intel_values v ON v.kind = w.kind AND v.value = w.value`, kinds, vals)
		} else {
			pairs := make([][2]string, len(part))
			for i, k := range part {
				pairs[i] = [2]string{k.kind, k.value}
			}
			arg, err := json.Marshal(pairs)
			if err != nil {
				return nil, fmt.Errorf("look up values: %w", err)
			}
			// CROSS JOIN: SQLite keeps the wanted pairs outside and probes
			// the index for each.
			q = db.Q(cols+` FROM json_each(?) w CROSS JOIN intel_values v ON v.kind = w.value ->> 0 AND v.value = w.value ->> 1`, string(arg))
		}
		q.Append(r.Join(s.kind, "o", "v.object_id")).Add(` JOIN orgs org ON org.id = o.org_id`)
		rows, err := h.Select(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("look up values: %w", err)
		}
		type hit struct {
			k key
			m Match
		}
		hits, err := db.Collect(rows, "look up values", func(sc db.Scanner) (hit, error) {
			var x hit
			var suff, revoked int
			var raw string
			o := &x.m.Object
			dest := []any{&x.k.kind, &x.k.value, &suff, &raw, &o.ID, &o.STIXID, &o.Type, &o.Version, &o.SpecVersion, &o.DateAdded, &o.Name, &revoked, &o.ValidUntil, &o.OrgName}
			err := sc.Scan(s.kind.Dest(&o.Share, dest)...)
			o.Revoked, x.m.Sufficient = revoked != 0, suff != 0
			o.TLP, o.Audience = o.Share.TLP.String(), string(o.Share.Audience.Kind)
			x.m.Expired = o.ValidUntil != 0 && o.ValidUntil <= now
			var extra struct {
				Confidence *int   `json:"confidence"`
				ValidFrom  string `json:"valid_from"`
			}
			_ = json.Unmarshal([]byte(raw), &extra)
			x.m.Confidence, x.m.ValidFrom = extra.Confidence, extra.ValidFrom
			return x, err
		})
		if err != nil {
			return nil, err
		}
		stixIDs := make([]string, 0, len(hits))
		for _, x := range hits {
			stixIDs = append(stixIDs, x.m.STIXID)
		}
		counts, err := s.sightingCounts(ctx, h, r, stixIDs)
		if err != nil {
			return nil, err
		}
		for _, x := range hits {
			x.m.Sightings = counts[x.m.STIXID]
			x.m.Via = via[x.k]
			for _, i := range want[x.k] {
				out[i].Matches = append(out[i].Matches, x.m)
			}
		}
	}
	return out, nil
}

// sightingCounts counts the sightings the reader may see of each of
// stixIDs, in one query per 500 ids.
func (s *Service) sightingCounts(ctx context.Context, h db.Handle, r *policy.Reader, stixIDs []string) (map[string]int, error) {
	out := map[string]int{}
	for start := 0; start < len(stixIDs); start += 500 {
		part := stixIDs[start:min(start+500, len(stixIDs))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		// Sightings, not their versions: a sighting edited twice counts once.
		q := db.Q(`SELECT x.ref, COUNT(DISTINCT o.stix_id) FROM intel_refs x`).Append(r.Join(s.kind, "o", "x.object_id")).
			Add(` WHERE x.role = 'sighting_of_ref' AND x.ref IN (`+db.Placeholders(len(part))+`) GROUP BY x.ref`, args...)
		rows, err := h.Select(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("count sightings: %w", err)
		}
		type count struct {
			ref string
			n   int
		}
		cs, err := db.Collect(rows, "count sightings", func(sc db.Scanner) (c count, err error) { err = sc.Scan(&c.ref, &c.n); return c, err })
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			out[c.ref] = c.n
		}
	}
	return out, nil
}
