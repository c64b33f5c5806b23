package vulns

import (
	"strings"
	"unicode"
)

// The matcher: which of an org's assets are products an advisory names.
// It is pure (no database) so that its cost is measured alone
// (BenchmarkMatch: 10,000 assets against 10,000 advisories) and its rules
// tested directly. An asset matches a product
//   - by CPE: the same part, vendor and product in both CPE names, and the
//     product's CPE version (or, when that is a wildcard, its version or
//     version range) fits the asset's version;
//   - by PURL: the same type, namespace and name, and the version fits
//     the same way;
//   - by name: the same vendor and product (compared without case,
//     spaces or punctuation), and the version fits.
// A product without any version information matches every version. The
// asset's version is its own field, else its CPE's or PURL's.

// AssetRef is what the matcher needs of an asset.
type AssetRef struct {
	ID, Vendor, Product, Version, CPE, PURL string
}

// ProductRef is what the matcher needs of an advisory's product.
type ProductRef struct {
	Advisory, ID                                      string
	Vendor, Product, Version, VersionRange, CPE, PURL string
}

// Hit is one asset that is one product of one advisory.
type Hit struct {
	Asset, Advisory, Product string
	By                       string // cpe, purl or name
}

// Index holds an org's assets for matching.
type Index struct {
	assets []AssetRef
	cpe    map[string][]int // "part:vendor:product" → assets
	purl   map[string][]int // "type/namespace/name" → assets
	name   map[string][]int // vendor + "\x00" + product, normalised → assets
	ver    [][]string       // each asset's version, normalised and split
}

// NewIndex indexes assets.
func NewIndex(assets []AssetRef) *Index {
	ix := &Index{assets: assets, cpe: map[string][]int{}, purl: map[string][]int{}, name: map[string][]int{}, ver: make([][]string, len(assets))}
	for i, a := range assets {
		v := a.Version
		if k, cv, ok := cpeKey(a.CPE); ok {
			ix.cpe[k] = append(ix.cpe[k], i)
			if v == "" && cv != "" {
				v = cv
			}
		}
		if k, pv, ok := purlKey(a.PURL); ok {
			ix.purl[k] = append(ix.purl[k], i)
			if v == "" {
				v = pv
			}
		}
		if k, ok := nameKey(a.Vendor, a.Product); ok {
			ix.name[k] = append(ix.name[k], i)
		}
		ix.ver[i] = tokens(normVersion(v))
	}
	return ix
}

// Match returns the hits of products among the indexed assets, each
// (asset, advisory, product) once, by the first rule that matched.
func (ix *Index) Match(products []ProductRef) []Hit {
	var out []Hit
	seen := map[[3]string]bool{}
	add := func(i int, p *ProductRef, by string) {
		k := [3]string{ix.assets[i].ID, p.Advisory, p.ID}
		if !seen[k] {
			seen[k] = true
			out = append(out, Hit{Asset: ix.assets[i].ID, Advisory: p.Advisory, Product: p.ID, By: by})
		}
	}
	for pi := range products {
		p := &products[pi]
		// The product's versions are split once, not once per candidate.
		var version []string
		if p.Version != "" {
			version = tokens(normVersion(p.Version))
		}
		var rng *versionRange
		// fits: an identifier's own version (split, nil for none) decides;
		// else the product's version; else its range; a product without
		// any version fits every asset.
		fits := func(i int, idVersion []string) bool {
			asset := ix.ver[i]
			switch {
			case idVersion != nil:
				return len(asset) > 0 && compareTokens(asset, idVersion) == 0
			case p.Version != "":
				return len(asset) > 0 && compareTokens(asset, version) == 0
			case p.VersionRange != "":
				if rng == nil {
					r := newRange(p.VersionRange)
					rng = &r
				}
				return rng.holds(asset)
			}
			return true
		}
		if k, cv, ok := cpeKey(p.CPE); ok {
			id := splitVersion(cv)
			for _, i := range ix.cpe[k] {
				if fits(i, id) {
					add(i, p, "cpe")
				}
			}
		}
		if k, pv, ok := purlKey(p.PURL); ok {
			id := splitVersion(pv)
			for _, i := range ix.purl[k] {
				if fits(i, id) {
					add(i, p, "purl")
				}
			}
		}
		if k, ok := nameKey(p.Vendor, p.Product); ok {
			for _, i := range ix.name[k] {
				if fits(i, nil) {
					add(i, p, "name")
				}
			}
		}
	}
	return out
}

// splitVersion splits an identifier's version; nil for none.
func splitVersion(v string) []string {
	if v == "" {
		return nil
	}
	return tokens(normVersion(v))
}

// cpeKey reads a CPE 2.3 formatted string or a CPE 2.2 URI: the key of
// part, vendor and product, and the version ("" for a wildcard).
func cpeKey(cpe string) (key, version string, ok bool) {
	cpe = strings.ToLower(strings.TrimSpace(cpe))
	var f []string
	switch {
	case strings.HasPrefix(cpe, "cpe:2.3:"):
		f = splitCPE(cpe[len("cpe:2.3:"):])
	case strings.HasPrefix(cpe, "cpe:/"):
		f = strings.Split(cpe[len("cpe:/"):], ":")
	default:
		return "", "", false
	}
	if len(f) < 3 || f[1] == "" || f[1] == "*" || f[2] == "" || f[2] == "*" {
		return "", "", false
	}
	if len(f) > 3 && f[3] != "*" && f[3] != "-" {
		version = strings.ReplaceAll(f[3], `\`, "")
	}
	return f[0] + ":" + f[1] + ":" + f[2], version, true
}

// splitCPE splits on colons that are not escaped.
func splitCPE(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ':':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// purlKey reads a package URL: the key of type, namespace and name, and
// its version.
func purlKey(purl string) (key, version string, ok bool) {
	purl = strings.TrimSpace(purl)
	if len(purl) < 4 || !strings.EqualFold(purl[:4], "pkg:") {
		return "", "", false
	}
	p := purl[4:]
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if i := strings.LastIndex(p, "@"); i >= 0 {
		p, version = p[:i], p[i+1:]
	}
	p = strings.Trim(p, "/")
	if !strings.Contains(p, "/") {
		return "", "", false
	}
	return strings.ToLower(p), version, true
}

// nameKey is vendor and product without case, spaces or punctuation.
func nameKey(vendor, product string) (string, bool) {
	v, p := fold(vendor), fold(product)
	if v == "" || p == "" {
		return "", false
	}
	return v + "\x00" + p, true
}

func fold(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}
