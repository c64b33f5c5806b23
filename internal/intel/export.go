package intel

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/stix"
	"verbund/internal/web"
)

// Exports are what firewalls, proxies and SIEMs fetch: a STIX bundle, a
// CSV of indicator values, and plain-text block lists per kind of value.
// Each holds only what the caller may see, at most the level asked for,
// the newest version of each object, and leaves out revoked objects (and
// the relationships to them) and expired indicators (a block list that grows forever blocks the
// innocent). Block lists also leave out values on the known-benign list:
// private and special-purpose ranges, public resolvers and the operator's
// own domains, so a careless indicator cannot cut an org off its own DNS.

// ExportFilter narrows an export.
type ExportFilter struct {
	MaxTLP         policy.TLP // most restrictive level included (Red: everything)
	Types          []string   // STIX types (bundle export)
	MinConfidence  int        // indicators below it are left out (0: all)
	IncludeExpired bool       // keep expired indicators (the bundle export only)
}

// BlockKinds are the kinds of block lists.
var BlockKinds = []string{"ipv4", "ipv6", "cidr", "domain", "url", "hash", "email"}

// Benign is the known-benign list: values no block list carries.
type Benign struct {
	prefixes []netip.Prefix
	addrs    map[netip.Addr]bool
	domains  []string // the domain and every name below it
}

// NewBenign is the default list plus the operator's own domains.
func NewBenign(ownDomains []string) *Benign {
	b := &Benign{addrs: map[netip.Addr]bool{}}
	for _, p := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16",
		"224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32", "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
	} {
		b.prefixes = append(b.prefixes, netip.MustParsePrefix(p))
	}
	// Public resolvers: blocking one takes name resolution away.
	for _, a := range []string{"1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4", "9.9.9.9", "149.112.112.112", "208.67.222.222", "208.67.220.220",
		"2606:4700:4700::1111", "2606:4700:4700::1001", "2001:4860:4860::8888", "2001:4860:4860::8844", "2620:fe::fe", "2620:fe::9"} {
		b.addrs[netip.MustParseAddr(a)] = true
	}
	// Resolvers by name: blocking one takes name resolution away too.
	b.domains = append(b.domains, "dns.google", "one.one.one.one", "cloudflare-dns.com", "dns.quad9.net", "resolver1.opendns.com", "resolver2.opendns.com")
	for _, d := range ownDomains {
		if d = strings.ToLower(strings.Trim(strings.TrimSpace(d), ".")); d != "" {
			b.domains = append(b.domains, d)
		}
	}
	return b
}

// Contains reports whether a value of kind (normalised) is known benign,
// or no value a block list may carry: one with a control character or a
// space (it would be two lines), a range wider than an IPv4 /8 or an IPv6
// /32 (it blocks a continent), a URL whose host cannot be read one way.
func (b *Benign) Contains(kind, v string) bool {
	if strings.IndexFunc(v, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
		return true
	}
	switch kind {
	case "ipv4", "ipv6":
		a, err := netip.ParseAddr(v)
		return err != nil || b.addr(a)
	case "cidr":
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return true
		}
		p = unmapPrefix(p)
		if p.Addr().Is4() && p.Bits() < 8 || p.Addr().Is6() && p.Bits() < 32 {
			return true
		}
		// A range is benign if it overlaps the private or special ranges
		// or holds a resolver: blocking it would block them too.
		for _, q := range b.prefixes {
			if q.Overlaps(p) {
				return true
			}
		}
		for a := range b.addrs {
			if p.Contains(a) {
				return true
			}
		}
	case "domain":
		return b.domain(v)
	case "url":
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || strings.ContainsRune(v, '\\') {
			return true
		}
		return b.host(u.Hostname())
	case "email":
		_, host, ok := strings.Cut(v, "@")
		return !ok || b.host(host)
	}
	return false
}

// host is benign if it is a benign address or a benign name.
func (b *Benign) host(h string) bool {
	h = strings.ToLower(strings.Trim(h, "[]"))
	if a, err := netip.ParseAddr(h); err == nil {
		return b.addr(a)
	}
	return b.domain(h)
}

func (b *Benign) addr(a netip.Addr) bool {
	a = a.Unmap()
	if b.addrs[a] {
		return true
	}
	for _, p := range b.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (b *Benign) domain(d string) bool {
	d = strings.TrimSuffix(strings.ToLower(d), ".")
	for _, own := range b.domains {
		if d == own || strings.HasSuffix(d, "."+own) {
			return true
		}
	}
	return false
}

// exportQuery selects the newest visible versions the filter keeps.
// join, if not "", joins more tables after the objects (the values).
func (s *Service) exportQuery(r *policy.Reader, a policy.Actor, f ExportFilter, cols, join string, now int64) *db.Query {
	q := db.Q(`SELECT `+cols+` FROM `).Append(r.From(s.kind, "o")).Add(` JOIN orgs org ON org.id = o.org_id`+join+` WHERE o.revoked = 0 AND o_s.tlp <= ?`, int(f.MaxTLP))
	if !f.IncludeExpired {
		q.Add(` AND (o.valid_until = 0 OR o.valid_until > ?)`, now)
	}
	in(q, "o.stix_type", f.Types)
	// A relationship to an object left out for being revoked would dangle
	// (ATT&CK links each revoked technique to its successor with one):
	// it goes with it. Only revocations the reader sees count, so a
	// hidden object's revocation changes nothing in the export.
	q.Add(` AND NOT (o.stix_type = 'relationship' AND EXISTS (SELECT 1 FROM `).Append(r.From(s.kind, "t")).
		Add(` JOIN intel_refs x ON x.ref = t.stix_id WHERE x.object_id = o.id AND x.role IN ('source_ref', 'target_ref') AND t.revoked = 1))`)
	s.versionCondition(q, r, Filter{}, "", nil)
	s.firstHolder(q, r)
	return q
}

// exportPage is how many rows an export reads at once. It reads a page,
// gives the connection back, then writes the page: a client that reads
// slowly holds no database connection while it waits (the pool is a few
// connections a hub, and an export's route has no deadline).
const exportPage = 500

// pageReader returns the reader a page of an export is judged with, read
// for each page: an export of up to a minute is not one snapshot, so an
// agreement or membership that ends while it runs, or a credential
// (web.Recheck, before every page but the first), must end what it reads
// next, not only the next request (attack review).
func (s *Service) pageReader(ctx context.Context, a policy.Actor, first bool) (*policy.Reader, int64, error) {
	if !first {
		if err := web.Recheck(ctx); err != nil {
			return nil, 0, err
		}
	}
	now := db.Now()
	r, err := policy.NewReader(ctx, s.DB.R(), a, now)
	return r, now, err
}

// ExportBundle writes the objects as a STIX 2.1 bundle, streaming.
func (s *Service) ExportBundle(ctx context.Context, a policy.Actor, f ExportFilter, w io.Writer) error {
	h := s.DB.R()
	type row struct {
		raw, typ, id string
		level        policy.TLP
		added        int64
	}
	enc := stix.NewEncoder(w, "")
	var last *row
	for {
		r, now, err := s.pageReader(ctx, a, last == nil)
		if err != nil {
			return err
		}
		q := s.exportQuery(r, a, f, `o.object, o.stix_type, o_s.tlp, o.date_added, o.id`, "", now)
		if last != nil {
			q.Add(` AND (o.date_added > ? OR (o.date_added = ? AND o.id > ?))`, last.added, last.added, last.id)
		}
		rows, err := h.Select(ctx, q.Add(` ORDER BY o.date_added, o.id LIMIT ?`, exportPage))
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		page, err := db.Collect(rows, "export", func(sc db.Scanner) (x row, err error) {
			err = sc.Scan(&x.raw, &x.typ, &x.level, &x.added, &x.id)
			return x, err
		})
		if err != nil {
			return err
		}
		for _, x := range page {
			o, err := stix.ParseObject(marked([]byte(x.raw), x.typ, x.level))
			if err != nil {
				return fmt.Errorf("export: stored object: %w", err)
			}
			if c, ok := o.Confidence(); f.MinConfidence > 0 && x.typ == "indicator" && (!ok || int(c) < f.MinConfidence) {
				continue
			}
			if err := enc.Encode(o); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return enc.Close()
		}
		last = &page[len(page)-1]
	}
}

// valueRows streams (kind, value, confidence, object columns) of the
// indicator and observable values the filter keeps, for the CSV and the
// block lists, a page at a time (exportPage). kind "" is every kind.
func (s *Service) valueRows(ctx context.Context, a policy.Actor, f ExportFilter, kind string, fn func(kind, value string, o Object, confidence string) error) error {
	h := s.DB.R()
	type row struct {
		kind, value, raw string
		o                Object
	}
	var last *row
	for {
		r, now, err := s.pageReader(ctx, a, last == nil)
		if err != nil {
			return err
		}
		q := s.exportQuery(r, a, f, `v.kind, v.value, o.object, `+objectColumns, ` JOIN intel_values v ON v.object_id = o.id AND v.sufficient = 1`, now)
		if kind != "" {
			q.Add(` AND v.kind = ?`, kind)
		}
		// The values' key (kind, value, object) orders the pages.
		if last != nil {
			q.Add(` AND (v.kind > ? OR (v.kind = ? AND (v.value > ? OR (v.value = ? AND v.object_id > ?))))`,
				last.kind, last.kind, last.value, last.value, last.o.ID)
		}
		rows, err := h.Select(ctx, q.Add(` ORDER BY v.kind, v.value, v.object_id LIMIT ?`, exportPage))
		if err != nil {
			return fmt.Errorf("export values: %w", err)
		}
		page, err := db.Collect(rows, "export values", func(sc db.Scanner) (x row, err error) {
			var revoked int
			err = sc.Scan(&x.kind, &x.value, &x.raw, &x.o.ID, &x.o.STIXID, &x.o.Type, &x.o.Version, &x.o.SpecVersion, &x.o.DateAdded, &x.o.Name, &revoked, &x.o.ValidUntil, &x.o.OrgName)
			return x, err
		})
		if err != nil {
			return err
		}
		for _, x := range page {
			conf := ""
			if obj, err := stix.ParseObject([]byte(x.raw)); err == nil {
				if c, ok := obj.Confidence(); ok {
					if int(c) < f.MinConfidence {
						continue
					}
					conf = strconv.FormatInt(c, 10)
				} else if f.MinConfidence > 0 {
					continue
				}
			}
			if err := fn(x.kind, x.value, x.o, conf); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		last = &page[len(page)-1]
	}
}

// ExportCSV writes one line per indicator or observable value.
func (s *Service) ExportCSV(ctx context.Context, a policy.Actor, f ExportFilter, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"kind", "value", "stix_id", "type", "name", "confidence", "valid_until", "org"}); err != nil {
		return err
	}
	err := s.valueRows(ctx, a, f, "", func(kind, value string, o Object, conf string) error {
		until := ""
		if o.ValidUntil > 0 {
			until = time.UnixMicro(o.ValidUntil).UTC().Format(time.RFC3339)
		}
		return cw.Write([]string{kind, csvSafe(value), o.STIXID, o.Type, csvSafe(o.Name), conf, until, csvSafe(o.OrgName)})
	})
	if err != nil {
		return err // what is buffered stays: a cut export ends broken off (web's guard)
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a spreadsheet from reading a cell as a formula (a URL
// value may start with "=" as well as a name).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ExportBlockList writes the values of one kind, one per line, each once,
// without the known-benign ones.
func (s *Service) ExportBlockList(ctx context.Context, a policy.Actor, f ExportFilter, kind string, benign *Benign, w io.Writer) error {
	known := false
	for _, k := range BlockKinds {
		known = known || k == kind
	}
	if !known {
		return fault.New(fault.NotFound, "not_found", "no such block list: the kinds are {kinds}").With("kinds", strings.Join(BlockKinds, ", "))
	}
	bw := bufio.NewWriter(w)
	last := ""
	err := s.valueRows(ctx, a, f, kind, func(_, value string, _ Object, _ string) error {
		if value == last || benign.Contains(kind, value) {
			return nil
		}
		last = value
		_, err := bw.WriteString(value + "\n")
		return err
	})
	if err != nil {
		return err // what is buffered stays: a cut list ends broken off (web's guard)
	}
	return bw.Flush()
}
