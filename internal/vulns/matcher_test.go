package vulns

import (
	"fmt"
	"slices"
	"testing"
)

func TestMatch(t *testing.T) {
	assets := []AssetRef{
		{ID: "gw241", Vendor: "Wolke", Product: "Wolke Gateway", Version: "2.4.1"},
		{ID: "gw242", Vendor: "wolke", Product: "wolke-gateway", Version: "v2.4.2"},
		{ID: "cpe", CPE: "cpe:2.3:a:wolke:gateway:2.4.1:*:*:*:*:*:*:*"},
		{ID: "purl", PURL: "pkg:npm/%40wolke/sdk@1.2.0"},
		{ID: "ibm", Vendor: "IBM", Product: "webMethods Integration", Version: "10.15"},
		{ID: "siem", Vendor: "Siemens", Product: "SIMATIC S7", Version: "V4.7 HF4"},
	}
	ix := NewIndex(assets)
	products := []ProductRef{
		{Advisory: "A", ID: "p1", Vendor: "Wolke", Product: "Wolke Gateway", Version: "2.4.1", CPE: "cpe:2.3:a:wolke:gateway:2.4.1:*:*:*:*:*:*:*"},
		{Advisory: "B", ID: "p2", PURL: "pkg:npm/%40wolke/sdk", VersionRange: "vers:npm/>=1.0.0|<1.3.0"},
		{Advisory: "C", ID: "p3", Vendor: "IBM", Product: "webMethods Integration", Version: "10.15"},
		{Advisory: "D", ID: "p4", Vendor: "Siemens", Product: "SIMATIC S7", VersionRange: "< V4.7 HF29"},
		{Advisory: "E", ID: "p5", Vendor: "Siemens", Product: "SIMATIC S7", VersionRange: "< V4.7 HF1"},
		{Advisory: "F", ID: "p6", Vendor: "Other", Product: "Wolke Gateway"},
	}
	var got []string
	for _, h := range ix.Match(products) {
		got = append(got, fmt.Sprintf("%s:%s:%s", h.Asset, h.Advisory, h.By))
	}
	slices.Sort(got)
	want := []string{"cpe:A:cpe", "gw241:A:name", "ibm:C:name", "purl:B:purl", "siem:D:name"}
	if !slices.Equal(got, want) {
		t.Errorf("hits %v, want %v", got, want)
	}
}

// BenchmarkMatch is the matching figure of docs/PERFORMANCE.md: 10,000
// assets (a third each by CPE, PURL and name) against 10,000 advisories
// of four products each (one in five versions a range), indexed and
// matched in memory, as an asset import or an advisory import does.
func BenchmarkMatch(b *testing.B) {
	assets := make([]AssetRef, 10000)
	for i := range assets {
		v := fmt.Sprintf("%d.%d.%d", i%7, i%11, i%13)
		switch i % 3 {
		case 0:
			assets[i] = AssetRef{ID: fmt.Sprint("a", i), CPE: fmt.Sprintf("cpe:2.3:a:vendor%d:product%d:%s:*:*:*:*:*:*:*", i%500, i%2000, v)}
		case 1:
			assets[i] = AssetRef{ID: fmt.Sprint("a", i), PURL: fmt.Sprintf("pkg:maven/org.vendor%d/lib%d@%s", i%500, i%2000, v)}
		default:
			assets[i] = AssetRef{ID: fmt.Sprint("a", i), Vendor: fmt.Sprint("Vendor ", i%500), Product: fmt.Sprint("Product ", i%2000), Version: v}
		}
	}
	var products []ProductRef
	for a := range 10000 {
		for p := range 4 {
			k := a*4 + p
			pr := ProductRef{Advisory: fmt.Sprint("adv", a), ID: fmt.Sprint("p", p), Vendor: fmt.Sprint("Vendor ", k%500), Product: fmt.Sprint("Product ", k%2000),
				CPE: fmt.Sprintf("cpe:2.3:a:vendor%d:product%d:*:*:*:*:*:*:*:*", k%500, k%2000), PURL: fmt.Sprintf("pkg:maven/org.vendor%d/lib%d", k%500, k%2000)}
			if k%5 == 0 {
				pr.VersionRange = fmt.Sprintf(">= 1.0 | < %d.5", k%7)
			} else {
				pr.Version = fmt.Sprintf("%d.%d.%d", k%7, k%11, k%13)
			}
			products = append(products, pr)
		}
	}
	b.ResetTimer()
	hits := 0
	for b.Loop() {
		hits = len(NewIndex(assets).Match(products))
	}
	b.ReportMetric(float64(hits), "hits")
}
