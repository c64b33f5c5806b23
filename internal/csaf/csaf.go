// Package csaf reads CSAF 2.0 advisories for the hub: it checks a document
// (size, JSON, version, the official schema and the model's rules, both
// from github.com/gocsaf/csaf/v3, and every CVSS vector with
// github.com/pandatix/go-cvss) and flattens what the hub keeps of it: the
// product tree into products with their CPE and PURL, the
// vulnerabilities with their scores, product status and remediations.
// It is a pure library (no database, no verbund imports); gocsaf does the
// standard's validation, this package only what gocsaf does not serve.
package csaf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	gocsaf "github.com/gocsaf/csaf/v3/csaf"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// MaxDocument is the largest document read (CISA's largest is 170 KB; the
// bound is about abuse, not memory).
const MaxDocument = 16 << 20

// Problem is why a document was refused: a stable code and a message that
// says what is wrong and where.
type Problem struct {
	Code    string // too_large, bad_json, not_csaf, wrong_version, schema, invalid, bad_cvss
	Message string
	// Detail names the case of a Code whose values a page can say in its
	// own language (csaf_version_missing, csaf_version, too_large), with
	// those values in Got and Want; "" for the others.
	Detail, Got, Want string
	// Cause is the underlying error (a network error, with resolved
	// addresses and the resolver's): for the server's log only, never
	// shown to users.
	Cause error
}

func (p *Problem) Error() string { return p.Message }

func problem(code, format string, args ...any) *Problem {
	return &Problem{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Document is what the hub keeps of one CSAF document.
type Document struct {
	Raw            []byte // the document as it came
	SHA256         string // hex of Raw
	Category       string // csaf_security_advisory, csaf_vex, csaf_base …
	Title          string
	Publisher      string // publisher.name
	PublisherCat   string // publisher.category (vendor, coordinator …)
	Namespace      string // publisher.namespace
	TrackingID     string
	Version        string // tracking.version
	Status         string // draft, interim, final
	TLP            string // distribution.tlp.label (WHITE, GREEN, AMBER, RED) or ""
	InitialRelease time.Time
	CurrentRelease time.Time
	Summary        string // the first summary (else description) note
	Products       []Product
	Vulns          []Vulnerability
}

// Product is one product of the product tree with what the branches above
// it say: vendor, product name, version or version range.
type Product struct {
	ID           string
	Name         string
	Vendor       string
	Product      string
	Version      string
	VersionRange string
	CPE          string
	PURL         string
}

// Vulnerability is one entry of vulnerabilities.
type Vulnerability struct {
	CVE          string
	Title        string
	CWE          string
	Scores       []Score
	Status       map[string][]string // product_status list → product ids
	Remediations []Remediation
}

// Score is one CVSS vector of a vulnerability with the score computed from
// it and the products it applies to.
type Score struct {
	Version  string // 2.0, 3.0, 3.1, 4.0
	Vector   string
	Score    float64
	Severity string // NONE, LOW, MEDIUM, HIGH, CRITICAL
	Products []string
}

// Remediation is one remediation of a vulnerability.
type Remediation struct {
	Category string
	Details  string
	URL      string
	Products []string
}

// Best is the vulnerability's highest score, preferring the newest CVSS
// version that has one (a v3 score says more than a v2 score).
func (v Vulnerability) Best() (Score, bool) {
	var best Score
	found := false
	for _, s := range v.Scores {
		if !found || s.Version > best.Version || s.Version == best.Version && s.Score > best.Score {
			best, found = s, true
		}
	}
	return best, found
}

// Vector returns the highest-scoring vector of the given major version
// ("2", "3", "4") and its score.
func (v Vulnerability) Vector(major string) (string, float64) {
	var vec string
	var score float64 = -1
	for _, s := range v.Scores {
		if strings.HasPrefix(s.Version, major) && s.Score > score {
			vec, score = s.Vector, s.Score
		}
	}
	return vec, max(score, 0)
}

// Parse checks raw as a CSAF 2.0 document and reads it. A refusal is a
// *Problem.
func Parse(raw []byte) (*Document, error) {
	if len(raw) > MaxDocument {
		p := problem("too_large", "the document has %d bytes; the limit is %d", len(raw), MaxDocument)
		p.Detail, p.Got, p.Want = "too_large", strconv.Itoa(len(raw)), strconv.Itoa(MaxDocument)
		return nil, p
	}
	generic, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, problem("bad_json", "not valid JSON: %v", err)
	}
	top, ok := generic.(map[string]any)
	if !ok {
		return nil, problem("not_csaf", "not a CSAF document: the JSON is no object")
	}
	d, ok := top["document"].(map[string]any)
	if !ok {
		return nil, problem("not_csaf", "not a CSAF document: it has no \"document\" object")
	}
	if v, _ := d["csaf_version"].(string); v != "2.0" {
		if v == "" {
			p := problem("wrong_version", "document.csaf_version is missing; this hub reads CSAF 2.0")
			p.Detail = "csaf_version_missing"
			return nil, p
		}
		p := problem("wrong_version", "document.csaf_version is %q; this hub reads CSAF 2.0", v)
		p.Detail, p.Got = "csaf_version", v
		return nil, p
	}
	errs, err := gocsaf.ValidateCSAF(generic)
	if err != nil {
		return nil, fmt.Errorf("csaf schema: %w", err)
	}
	if len(errs) > 0 {
		msg := strings.Join(errs[:min(3, len(errs))], "; ")
		if len(errs) > 3 {
			msg += fmt.Sprintf(" (and %d more)", len(errs)-3)
		}
		return nil, problem("schema", "the document does not follow the CSAF 2.0 schema: %s", msg)
	}
	var adv gocsaf.Advisory
	if err := json.Unmarshal(raw, &adv); err != nil {
		return nil, problem("invalid", "the document cannot be read as CSAF 2.0: %v", err)
	}
	if err := adv.Validate(); err != nil {
		return nil, problem("invalid", "the document breaks a CSAF 2.0 rule: %v", err)
	}
	sum := sha256.Sum256(raw)
	doc := &Document{Raw: raw, SHA256: hex.EncodeToString(sum[:])}
	if err := doc.read(&adv); err != nil {
		return nil, err
	}
	return doc, nil
}

func str[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

func (doc *Document) read(adv *gocsaf.Advisory) error {
	d := adv.Document
	doc.Category, doc.Title = str(d.Category), strings.TrimSpace(str(d.Title))
	doc.Publisher, doc.Namespace = str(d.Publisher.Name), str(d.Publisher.Namespace)
	doc.PublisherCat = str(d.Publisher.Category)
	t := d.Tracking
	doc.TrackingID, doc.Version, doc.Status = str(t.ID), str(t.Version), str(t.Status)
	var err error
	if doc.InitialRelease, err = parseTime("tracking.initial_release_date", str(t.InitialReleaseDate)); err != nil {
		return err
	}
	if doc.CurrentRelease, err = parseTime("tracking.current_release_date", str(t.CurrentReleaseDate)); err != nil {
		return err
	}
	if d.Distribution != nil && d.Distribution.TLP != nil {
		doc.TLP = str(d.Distribution.TLP.DocumentTLPLabel)
	}
	for _, want := range []gocsaf.NoteCategory{"summary", gocsaf.CSAFNoteCategoryDescription} {
		for _, n := range d.Notes {
			if n != nil && n.NoteCategory != nil && *n.NoteCategory == want && doc.Summary == "" {
				doc.Summary = strings.TrimSpace(str(n.Text))
			}
		}
	}
	doc.Products = flatten(adv.ProductTree)
	for i, v := range adv.Vulnerabilities {
		if v == nil {
			continue
		}
		out, err := readVuln(i, v)
		if err != nil {
			return err
		}
		doc.Vulns = append(doc.Vulns, out)
	}
	return nil
}

func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, problem("invalid", "%s %q is no date and time (RFC 3339)", field, s)
	}
	return t, nil
}

func products(p *gocsaf.Products) []string {
	if p == nil {
		return nil
	}
	out := make([]string, 0, len(*p))
	for _, id := range *p {
		if id != nil {
			out = append(out, string(*id))
		}
	}
	return out
}

func readVuln(i int, v *gocsaf.Vulnerability) (Vulnerability, error) {
	out := Vulnerability{CVE: str(v.CVE), Title: strings.TrimSpace(str(v.Title)), Status: map[string][]string{}}
	if v.CWE != nil {
		out.CWE = str(v.CWE.ID)
	}
	for j, s := range v.Scores {
		if s == nil {
			continue
		}
		ps := products(s.Products)
		if s.CVSS2 != nil {
			sc, err := ScoreVector(str(s.CVSS2.VectorString))
			if err != nil {
				return out, problem("bad_cvss", "vulnerabilities[%d].scores[%d].cvss_v2: %v", i, j, err)
			}
			sc.Products = ps
			out.Scores = append(out.Scores, sc)
		}
		if s.CVSS3 != nil {
			sc, err := ScoreVector(str(s.CVSS3.VectorString))
			if err != nil {
				return out, problem("bad_cvss", "vulnerabilities[%d].scores[%d].cvss_v3: %v", i, j, err)
			}
			sc.Products = ps
			out.Scores = append(out.Scores, sc)
		}
	}
	if ps := v.ProductStatus; ps != nil {
		for name, list := range map[string]*gocsaf.Products{"first_affected": ps.FirstAffected, "first_fixed": ps.FirstFixed,
			"fixed": ps.Fixed, "known_affected": ps.KnownAffected, "known_not_affected": ps.KnownNotAffected,
			"last_affected": ps.LastAffected, "recommended": ps.Recommended, "under_investigation": ps.UnderInvestigation} {
			if ids := products(list); len(ids) > 0 {
				out.Status[name] = ids
			}
		}
	}
	for _, r := range v.Remediations {
		if r == nil {
			continue
		}
		out.Remediations = append(out.Remediations, Remediation{Category: str(r.Category), Details: strings.TrimSpace(str(r.Details)),
			URL: str(r.URL), Products: products(r.ProductIds)})
	}
	return out, nil
}

// flatten walks the product tree: each product of a branch gets what the
// branches above it name (vendor, product name or family, version or
// range); full product names stand alone; a relationship's product (a
// component installed on a platform) takes vendor, product and version of
// the product it refers to. A product id defined twice keeps its first
// definition.
func flatten(pt *gocsaf.ProductTree) []Product {
	if pt == nil {
		return nil
	}
	var out []Product
	seen := map[string]bool{}
	add := func(p Product) {
		if p.ID == "" || seen[p.ID] {
			return
		}
		seen[p.ID] = true
		out = append(out, p)
	}
	var walk func(bs gocsaf.Branches, ctx Product)
	walk = func(bs gocsaf.Branches, ctx Product) {
		for _, b := range bs {
			if b == nil {
				continue
			}
			c := ctx
			name := strings.TrimSpace(str(b.Name))
			switch str(b.Category) {
			case "vendor":
				c.Vendor = name
			case "product_name":
				c.Product = name
			case "product_family":
				if c.Product == "" {
					c.Product = name
				}
			case "product_version":
				c.Version = name
			case "product_version_range":
				c.VersionRange = name
			}
			if b.Product != nil {
				add(withName(c, b.Product))
			}
			walk(b.Branches, c)
		}
	}
	walk(pt.Branches, Product{})
	if pt.FullProductNames != nil {
		for _, f := range *pt.FullProductNames {
			if f != nil {
				add(withName(Product{}, f))
			}
		}
	}
	if pt.RelationShips != nil {
		byID := map[string]Product{}
		for _, p := range out {
			byID[p.ID] = p
		}
		for _, r := range *pt.RelationShips {
			if r == nil || r.FullProductName == nil {
				continue
			}
			ref := byID[str(r.ProductReference)]
			base := Product{Vendor: ref.Vendor, Product: ref.Product, Version: ref.Version, VersionRange: ref.VersionRange, CPE: ref.CPE, PURL: ref.PURL}
			p := withName(base, r.FullProductName)
			add(p)
		}
	}
	return out
}

func withName(ctx Product, f *gocsaf.FullProductName) Product {
	p := ctx
	p.ID, p.Name = str(f.ProductID), strings.TrimSpace(str(f.Name))
	if h := f.ProductIdentificationHelper; h != nil {
		if h.CPE != nil {
			p.CPE = string(*h.CPE)
		}
		if h.PURL != nil {
			p.PURL = string(*h.PURL)
		}
	}
	return p
}

// ErrNoVector is returned by ScoreVector for an empty vector.
var ErrNoVector = errors.New("no CVSS vector")
