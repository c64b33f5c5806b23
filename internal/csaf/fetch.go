package csaf

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	gocsaf "github.com/gocsaf/csaf/v3/csaf"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"verbund/internal/netguard"
)

// Fetching a trusted provider's documents as a consumer (CSAF 2.0 §7.1,
// §7.3): its provider-metadata.json, then its ROLIE feeds (preferred) or
// its directory distribution (changes.csv, else index.txt), each
// document with the .sha256/.sha512 and .asc files beside it, and the
// OpenPGP keys the metadata names. The caller gives the HTTP client (it
// decides which addresses may be reached) and checks every URL a
// provider names before it is fetched (Fetcher.Check).

// Limits of what one answer may hold.
const (
	maxMetadata = 1 << 20
	maxListing  = 32 << 20 // a ROLIE feed, index.txt, changes.csv
	maxDigest   = 4 << 10
	maxSigOrKey = 256 << 10
	// MaxEntries bounds how many documents one provider lists.
	MaxEntries = 100000
)

// Fetcher reads a provider over Client. Check, if set, refuses a URL
// before it is fetched (a provider names URLs on other hosts); its error
// is reported as the problem bad_url.
type Fetcher struct {
	Client *http.Client
	Check  func(u *url.URL) error
}

// Provider is what the hub reads of a provider-metadata.json.
type Provider struct {
	URL       string `json:"url"`
	Publisher string `json:"publisher"`
	Namespace string `json:"namespace"`
	// Feeds are the ROLIE feeds (one per TLP label); Directories the
	// directory distributions.
	Feeds       []FeedLink `json:"feeds,omitempty"`
	Directories []string   `json:"directories,omitempty"`
	Keys        []KeyRef   `json:"keys,omitempty"`
}

// FeedLink is one ROLIE feed of a provider.
type FeedLink struct {
	URL string `json:"url"`
	TLP string `json:"tlp"`
}

// KeyRef is one public_openpgp_keys entry.
type KeyRef struct {
	URL         string `json:"url"`
	Fingerprint string `json:"fingerprint"`
}

// Listed is one document a provider lists, with when it last changed
// (ROLIE updated, changes.csv time; zero when only index.txt names it)
// and, from a ROLIE feed, the URLs of its digest and signature.
type Listed struct {
	URL       string
	Updated   time.Time
	Hash      []string // .sha256/.sha512 URLs ("" none named: tried beside URL)
	Signature string
	// Listed: the feed named its hash and signature links, so absent ones
	// are not looked for beside the document.
	Listed bool
}

// Fetched is one downloaded document with the files beside it.
type Fetched struct {
	Data      []byte
	SHA256    string
	SHA512    string
	Signature []byte
}

// get fetches u, at most limit bytes. A refusal is a *Problem: bad_url,
// unreachable, redirect, http_status (with the status), too_large.
func (f *Fetcher) get(ctx context.Context, raw string, limit int64) ([]byte, int, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, 0, problem("bad_url", "%q is no URL", raw)
	}
	if f.Check != nil {
		if err := f.Check(u); err != nil {
			return nil, 0, problem("bad_url", "%s: %v", raw, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, problem("bad_url", "%s: %v", raw, err)
	}
	req.Header.Set("User-Agent", "verbund-csaf-consumer")
	resp, err := f.Client.Do(req)
	if err != nil {
		return nil, 0, netProblem(raw, err)
	}
	defer func() { _ = resp.Body.Close() }() // read only
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return nil, resp.StatusCode, problem("redirect", "%s answered with a redirect (%d to %q); a CSAF provider must not redirect (CSAF 2.0 §7.1.6)",
			raw, resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, problem("http_status", "%s answered %d", raw, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		p := netProblem(raw, err)
		if p.Code == "unreachable" {
			p.Message = raw + ": the answer broke off"
		}
		return nil, resp.StatusCode, p
	}
	if int64(len(b)) > limit {
		return nil, resp.StatusCode, problem("too_large", "%s is larger than %d bytes", raw, limit)
	}
	return b, resp.StatusCode, nil
}

// withCause keeps the cause of err (a Problem's, for the log) in p.
func withCause(p *Problem, err error) *Problem {
	var inner *Problem
	if errors.As(err, &inner) && inner.Cause != nil {
		p.Cause = inner.Cause
	} else {
		p.Cause = err
	}
	return p
}

// NetworkCodes are the codes of a Problem for a server that could not
// be reached, by cause.
var NetworkCodes = []string{"unreachable", "dns", "tls", "timeout", "refused_private"}

// netProblem is the Problem of a request to raw that failed with err: a
// code by its cause and a fixed text. The error's own text names
// resolved addresses and the hub's resolver (internal network facts), so
// it is only the Problem's Cause, for the server's log.
func netProblem(raw string, err error) *Problem {
	var dns *net.DNSError
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	var ne net.Error
	code, why := "unreachable", "the server refused or dropped the connection"
	switch {
	case errors.Is(err, netguard.ErrPrivate):
		code, why = "refused_private", "its address is a private, loopback or otherwise internal one, which the hub does not call"
	case errors.As(err, &dns):
		code, why = "dns", "its name could not be resolved"
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid), errors.As(err, &record),
		strings.Contains(err.Error(), "tls: "):
		code, why = "tls", "no trusted TLS connection could be made (certificate or handshake)"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		code, why = "timeout", "it did not answer in time"
	}
	return &Problem{Code: code, Message: raw + " could not be reached: " + why, Cause: err}
}

// Metadata reads and validates (the provider schema and gocsaf's rules)
// a provider-metadata.json.
func (f *Fetcher) Metadata(ctx context.Context, raw string) (*Provider, error) {
	b, _, err := f.get(ctx, raw, maxMetadata)
	if err != nil {
		return nil, err
	}
	generic, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, problem("bad_metadata", "%s is not valid JSON: %v", raw, err)
	}
	errs, err := gocsaf.ValidateProviderMetadata(generic)
	if err != nil {
		return nil, fmt.Errorf("provider metadata schema: %w", err)
	}
	if len(errs) > 0 {
		return nil, problem("bad_metadata", "%s does not follow the provider metadata schema: %s", raw, strings.Join(errs[:min(3, len(errs))], "; "))
	}
	pmd, err := gocsaf.LoadProviderMetadata(bytes.NewReader(b))
	if err != nil {
		return nil, problem("bad_metadata", "%s breaks a provider metadata rule: %v", raw, err)
	}
	p := &Provider{URL: raw}
	if pmd.Publisher != nil {
		p.Publisher, p.Namespace = deref(pmd.Publisher.Name), deref(pmd.Publisher.Namespace)
	}
	base, _ := url.Parse(raw)
	for _, d := range pmd.Distributions {
		if d.Rolie != nil {
			for _, fd := range d.Rolie.Feeds {
				if fd.URL == nil {
					continue
				}
				tlp := ""
				if fd.TLPLabel != nil {
					tlp = string(*fd.TLPLabel)
				}
				p.Feeds = append(p.Feeds, FeedLink{URL: resolve(base, string(*fd.URL)), TLP: tlp})
			}
		}
		if d.DirectoryURL != "" {
			p.Directories = append(p.Directories, resolve(base, d.DirectoryURL))
		}
	}
	for _, k := range pmd.PGPKeys {
		if k.URL != nil {
			p.Keys = append(p.Keys, KeyRef{URL: resolve(base, *k.URL), Fingerprint: strings.ToUpper(string(k.Fingerprint))})
		}
	}
	if len(p.Feeds) == 0 && len(p.Directories) == 0 {
		return nil, problem("no_distribution", "%s names neither a ROLIE feed nor a directory distribution", raw)
	}
	return p, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func resolve(base *url.URL, ref string) string {
	r, err := url.Parse(strings.TrimSpace(ref))
	if err != nil || base == nil {
		return ref
	}
	return base.ResolveReference(r).String()
}

// Keys fetches the provider's public keys: each must be an armored
// OpenPGP key whose primary fingerprint is the one the metadata names.
// A refusal is a *Problem: key_unavailable, bad_key, key_fingerprint.
func (f *Fetcher) Keys(ctx context.Context, p *Provider) (Keys, error) {
	var out Keys
	for _, k := range p.Keys {
		b, _, err := f.get(ctx, k.URL, maxSigOrKey)
		if err != nil {
			return nil, withCause(problem("key_unavailable", "the provider's OpenPGP key could not be fetched: %v", err), err)
		}
		l, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
		if err != nil || len(l) == 0 {
			return nil, problem("bad_key", "%s is no armored OpenPGP public key: %v", k.URL, err)
		}
		for _, e := range l {
			got := strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
			if k.Fingerprint != "" && got != k.Fingerprint {
				return nil, problem("key_fingerprint", "the key at %s has the fingerprint %s; the provider metadata says %s", k.URL, got, k.Fingerprint)
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// Entries lists the provider's documents: those of its ROLIE feeds if it
// has any (CSAF 2.0 §7.3: consumers prefer ROLIE), else those of its
// directory distributions (changes.csv with its times, else index.txt).
// A URL listed twice is kept once, with its latest time. A feed or
// directory that cannot be read (a TLP:AMBER feed behind access control)
// is named in skipped, and the others are read; when none can be, the
// first one's problem is the error.
func (f *Fetcher) Entries(ctx context.Context, p *Provider) (entries []Listed, skipped []Skipped, err error) {
	var out []Listed
	read := func(u string, fn func(context.Context, string, []Listed) ([]Listed, error)) error {
		got, err := fn(ctx, u, out)
		var pr *Problem
		if errors.As(err, &pr) {
			skipped = append(skipped, Skipped{URL: u, Problem: pr})
			return nil
		}
		if err == nil {
			out = got
		}
		return err
	}
	sources := len(p.Feeds)
	if sources > 0 {
		for _, fd := range p.Feeds {
			if err := read(fd.URL, f.feed); err != nil {
				return nil, nil, err
			}
		}
	} else {
		sources = len(p.Directories)
		for _, d := range p.Directories {
			if err := read(d, f.directory); err != nil {
				return nil, nil, err
			}
		}
	}
	if len(skipped) == sources {
		return nil, nil, skipped[0].Problem
	}
	seen := map[string]int{}
	var uniq []Listed
	for _, e := range out {
		if i, ok := seen[e.URL]; ok {
			if e.Updated.After(uniq[i].Updated) {
				uniq[i] = e
			}
			continue
		}
		seen[e.URL] = len(uniq)
		uniq = append(uniq, e)
	}
	if len(uniq) > MaxEntries {
		return nil, nil, problem("too_large", "the provider lists %d documents; the limit is %d", len(uniq), MaxEntries)
	}
	return uniq, skipped, nil
}

// Skipped is a feed or directory of a provider that could not be read.
type Skipped struct {
	URL     string
	Problem *Problem
}

// rolieFeed is what the hub reads of a ROLIE feed. A link's relation is
// read from "rel", or from "ref" as CISA's feed spells it.
type rolieFeed struct {
	Feed struct {
		Entries []struct {
			Content struct {
				Src string `json:"src"`
			} `json:"content"`
			Link []struct {
				Rel  string `json:"rel"`
				Ref  string `json:"ref"`
				Href string `json:"href"`
			} `json:"link"`
			Updated string `json:"updated"`
		} `json:"entry"`
	} `json:"feed"`
}

func (f *Fetcher) feed(ctx context.Context, raw string, out []Listed) ([]Listed, error) {
	b, _, err := f.get(ctx, raw, maxListing)
	if err != nil {
		return nil, err
	}
	var rf rolieFeed
	if err := json.Unmarshal(b, &rf); err != nil {
		return nil, problem("bad_feed", "the ROLIE feed %s cannot be read: %v", raw, err)
	}
	base, _ := url.Parse(raw)
	for i, en := range rf.Feed.Entries {
		e := Listed{Listed: true}
		for _, l := range en.Link {
			rel := l.Rel
			if rel == "" {
				rel = l.Ref
			}
			switch rel {
			case "self":
				e.URL = resolve(base, l.Href)
			case "hash":
				e.Hash = append(e.Hash, resolve(base, l.Href))
			case "signature":
				e.Signature = resolve(base, l.Href)
			}
		}
		if e.URL == "" && en.Content.Src != "" {
			e.URL = resolve(base, en.Content.Src)
		}
		if e.URL == "" {
			return nil, problem("bad_feed", "entry %d of the ROLIE feed %s names no document", i, raw)
		}
		t, err := time.Parse(time.RFC3339Nano, en.Updated)
		if err != nil {
			return nil, problem("bad_feed", "entry %d of the ROLIE feed %s: updated %q is no time", i, raw, en.Updated)
		}
		e.Updated = t
		out = append(out, e)
	}
	return out, nil
}

// directory reads a directory distribution: changes.csv (path, time) if
// the provider has one, else index.txt (paths). Paths are relative to
// the directory URL.
func (f *Fetcher) directory(ctx context.Context, dir string, out []Listed) ([]Listed, error) {
	if !strings.HasSuffix(dir, "/") {
		dir += "/"
	}
	base, err := url.Parse(dir)
	if err != nil {
		return nil, problem("bad_metadata", "the directory_url %q is no URL", dir)
	}
	b, status, err := f.get(ctx, dir+"changes.csv", maxListing)
	if err == nil {
		r := csv.NewReader(bytes.NewReader(b))
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		if err != nil {
			return nil, problem("bad_index", "%schanges.csv cannot be read: %v", dir, err)
		}
		for i, rec := range recs {
			if len(rec) < 2 {
				return nil, problem("bad_index", "line %d of %schanges.csv has no time", i+1, dir)
			}
			t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(rec[1]))
			if err != nil {
				return nil, problem("bad_index", "line %d of %schanges.csv: %q is no time", i+1, dir, rec[1])
			}
			out = append(out, Listed{URL: resolve(base, rec[0]), Updated: t})
		}
		return out, nil
	}
	if status != http.StatusNotFound {
		return nil, err
	}
	b, _, err = f.get(ctx, dir+"index.txt", maxListing)
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, Listed{URL: resolve(base, line)})
		}
	}
	return out, nil
}

// Document downloads one listed document with its digest (.sha512, else
// .sha256) and its signature (.asc), where the provider has them. A
// digest or signature the feed names must be there; beside a document of
// a directory distribution, a missing one (404) is no error.
func (f *Fetcher) Document(ctx context.Context, e Listed) (Fetched, error) {
	var out Fetched
	data, _, err := f.get(ctx, e.URL, MaxDocument)
	if err != nil {
		return out, err
	}
	out.Data = data
	hashes := e.Hash
	if !e.Listed {
		hashes = []string{e.URL + ".sha512", e.URL + ".sha256"}
	}
	for _, h := range hashes {
		b, status, err := f.get(ctx, h, maxDigest)
		if err != nil {
			if !e.Listed && status == http.StatusNotFound {
				continue
			}
			return out, withCause(problem("hash_unavailable", "the digest of %s could not be fetched: %v", e.URL, err), err)
		}
		sum := strings.ToLower(firstField(string(b)))
		switch {
		case strings.HasSuffix(h, ".sha512"):
			out.SHA512 = sum
		case strings.HasSuffix(h, ".sha256"):
			out.SHA256 = sum
		default:
			return out, problem("hash_unavailable", "%s is neither a .sha256 nor a .sha512 file", h)
		}
		if !e.Listed {
			break // the strongest digest found is enough
		}
	}
	sig := e.Signature
	if !e.Listed {
		sig = e.URL + ".asc"
	}
	if sig != "" {
		b, status, err := f.get(ctx, sig, maxSigOrKey)
		switch {
		case err == nil:
			out.Signature = b
		case !e.Listed && status == http.StatusNotFound:
		default:
			return out, withCause(problem("signature_unavailable", "the signature of %s could not be fetched: %v", e.URL, err), err)
		}
	}
	return out, nil
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return "-"
}

// ProblemCode is the code of a *Problem in err's chain, or "".
func ProblemCode(err error) string {
	var p *Problem
	if errors.As(err, &p) {
		return p.Code
	}
	return ""
}

// SortEntries orders entries oldest change first, so that a provider's
// older versions are imported before newer ones.
func SortEntries(es []Listed) {
	slices.SortStableFunc(es, func(a, b Listed) int { return a.Updated.Compare(b.Updated) })
}
