package bench

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"verbund/internal/db"
	"verbund/internal/vulns"
)

// VulnsOptions configure the vulns scenario.
type VulnsOptions struct {
	Documents int    // synthetic CSAF documents to import (when CSAF is "")
	CSAF      string // a folder of real CSAF documents to import instead (e.g. CISA's)
	Assets    int    // assets in the matching figure
	Advisory  int    // advisories (four products each) in the matching figure
	Log       io.Writer
}

// VulnsResult is what the vulns scenario measured.
type VulnsResult struct {
	Documents     int     `json:"documents"`
	Source        string  `json:"source"` // "synthetic" or the folder
	ImportSeconds float64 `json:"import_seconds"`
	ImportPerSec  float64 `json:"import_docs_per_sec"`
	Assets        int     `json:"assets"`
	Advisories    int     `json:"advisories"`
	Products      int     `json:"products"`
	Hits          int     `json:"hits"`
	MatchSeconds  float64 `json:"match_seconds"`
	// The same through the database: an org's inventory of Assets assets
	// imported (CSV) and matched against the stored advisories the org may
	// see (read every visible advisory's affected products, index, match,
	// write the matches, enqueue the webhooks).
	StoredAdvisories  int     `json:"stored_advisories"`
	StoredMatches     int     `json:"stored_matches"`
	StoredMatchSecond float64 `json:"stored_match_seconds"`
	Checks            []Check `json:"checks"`
}

func (o VulnsOptions) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format, args...)
	}
}

// Vulns measures the CSAF import (documents checked by gocsaf's schema and
// rules, CVSS vectors, SHA-512 digests, stored through the sharing kernel
// with an audit record each, matched against 1,000 assets of an org) into
// a fresh SQLite database in process, and the matcher: o.Assets assets
// against o.Advisory advisories of four products each, in memory.
func Vulns(ctx context.Context, o VulnsOptions) (*VulnsResult, error) {
	dir, err := os.MkdirTemp("", "verbund-bench-vulns-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	d, err := db.Open(ctx, "", dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		return nil, err
	}
	w, err := BuildWorld(ctx, d, 0)
	if err != nil {
		return nil, err
	}
	res := &VulnsResult{Source: "synthetic"}
	var inputs []vulns.Input
	if o.CSAF != "" {
		res.Source = o.CSAF
		if inputs, err = readCSAF(o.CSAF); err != nil {
			return nil, err
		}
	} else {
		for i := range o.Documents {
			doc := []byte(syntheticCSAF(i))
			sum := sha512.Sum512(doc)
			inputs = append(inputs, vulns.Input{Name: fmt.Sprintf("bench-%d.json", i), Data: doc, SHA512: hex.EncodeToString(sum[:])})
		}
	}
	res.Documents = len(inputs)
	sme := w.Users["sme.analyst"].Actor
	var assets []vulns.NewAsset
	for i := range 1000 {
		assets = append(assets, vulns.NewAsset{Vendor: fmt.Sprint("Vendor ", i%50), Product: fmt.Sprint("Product ", i%200), Version: fmt.Sprintf("%d.%d", i%5, i%7)})
	}
	if _, err := w.App.Vulns.ImportAssets(ctx, sme, strings.NewReader(assetsCSV(assets))); err != nil {
		return nil, err
	}
	o.logf("  importing %d CSAF documents (%s) as Wolke Cloud AG\n", len(inputs), res.Source)
	cloud := w.Users["cloud.analyst"].Actor
	start := time.Now()
	for i := 0; i < len(inputs); i += 256 {
		rep, err := w.App.Vulns.Import(ctx, cloud, inputs[i:min(i+256, len(inputs))], vulns.ImportOptions{Via: "bench"})
		if err != nil {
			return nil, err
		}
		if rep.Documents.Rejected > 0 {
			return nil, fmt.Errorf("import refused %d documents: %+v", rep.Documents.Rejected, rep.Errors[0])
		}
	}
	res.ImportSeconds = time.Since(start).Seconds()
	res.ImportPerSec = float64(len(inputs)) / res.ImportSeconds

	o.logf("  matching %d assets against %d advisories\n", o.Assets, o.Advisory)
	as, ps := MatchLoad(o.Assets, o.Advisory)
	runtime.GC()
	start = time.Now()
	res.Hits = len(vulns.NewIndex(as).Match(ps))
	res.MatchSeconds = time.Since(start).Seconds()
	res.Assets, res.Advisories, res.Products = len(as), o.Advisory, len(ps)
	if n := o.Advisory - len(inputs); n > 0 && o.CSAF == "" {
		o.logf("  storing %d more advisories for the matching through the database\n", n)
		for i := len(inputs); i < o.Advisory; i += 256 {
			var more []vulns.Input
			for j := i; j < min(i+256, o.Advisory); j++ {
				more = append(more, vulns.Input{Name: fmt.Sprint(j), Data: []byte(syntheticCSAF(j))})
			}
			if _, err := w.App.Vulns.Import(ctx, cloud, more, vulns.ImportOptions{Via: "bench"}); err != nil {
				return nil, err
			}
		}
	}
	if err := d.R().QueryRow(ctx, `SELECT COUNT(*) FROM vuln_advisories`).Scan(&res.StoredAdvisories); err != nil {
		return nil, err
	}
	var inventory []vulns.NewAsset
	for i := range o.Assets {
		inventory = append(inventory, vulns.NewAsset{Vendor: fmt.Sprint("Vendor ", i%50), Product: fmt.Sprint("Product ", i%200), Version: fmt.Sprintf("%d.%d", i%5, i%7)})
	}
	o.logf("  importing an inventory of %d assets against %d stored advisories\n", len(inventory), res.StoredAdvisories)
	start = time.Now()
	rep, err := w.App.Vulns.ImportAssets(ctx, w.Users["outsider.analyst"].Actor, strings.NewReader(assetsCSV(inventory)))
	if err != nil {
		return nil, err
	}
	res.StoredMatchSecond, res.StoredMatches = time.Since(start).Seconds(), rep.Matches
	res.Checks = []Check{
		atLeast("vulns: CSAF import with validation and hash checks", round2(res.ImportPerSec), 200, "docs/s"),
		atMost(fmt.Sprintf("vulns: matching %d assets against %d advisories", o.Assets, o.Advisory), round2(res.MatchSeconds), 1, "s"),
	}
	return res, nil
}

func readCSAF(dir string) ([]vulns.Input, error) {
	var out []vulns.Input
	err := filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() || !strings.HasSuffix(p, ".json") || strings.Contains(filepath.Base(p), "feed") || filepath.Base(p) == "provider-metadata.json" {
			return err
		}
		b, err := os.ReadFile(p) // #nosec G304 G122 -- the operator names the folder it benchmarks
		if err != nil {
			return err
		}
		in := vulns.Input{Name: p, Data: b}
		if s, err := os.ReadFile(p + ".sha512"); err == nil { // #nosec G304 G122 -- beside the document
			if f := strings.Fields(string(s)); len(f) > 0 {
				in.SHA512 = f[0]
			}
		}
		out = append(out, in)
		return nil
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("%s holds no CSAF documents", dir)
	}
	return out, err
}

func assetsCSV(as []vulns.NewAsset) string {
	var b strings.Builder
	b.WriteString("vendor,product,version\n")
	for _, a := range as {
		fmt.Fprintf(&b, "%s,%s,%s\n", a.Vendor, a.Product, a.Version)
	}
	return b.String()
}

// syntheticCSAF is a CSAF 2.0 security advisory of realistic shape: a
// vendor with four product versions, three vulnerabilities with CVSS 3.1
// vectors, product status and remediations, about 6 KB.
func syntheticCSAF(i int) string {
	vendor, product := fmt.Sprint("Vendor ", i%50), fmt.Sprint("Product ", i%200)
	var prods, vulnsJSON []string
	for v := range 4 {
		prods = append(prods, fmt.Sprintf(`{"category":"product_version","name":"%d.%d","product":{"name":"%s %s %d.%d","product_id":"P%d",
			"product_identification_helper":{"cpe":"cpe:2.3:a:vendor%d:product%d:%d.%d:*:*:*:*:*:*:*"}}}`, v, i%7, vendor, product, v, i%7, v, i%50, i%200, v, i%7))
	}
	vectors := []string{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:C/C:L/I:L/A:N", "CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"}
	for k, vec := range vectors {
		vulnsJSON = append(vulnsJSON, fmt.Sprintf(`{"cve":"CVE-2026-%d","title":"Flaw %d of %s","cwe":{"id":"CWE-787","name":"Out-of-bounds Write"},
			"notes":[{"category":"description","text":"An attacker can send crafted requests to the management interface of %s and gain control of it."}],
			"product_status":{"known_affected":["P0","P1"],"fixed":["P2","P3"]},
			"remediations":[{"category":"vendor_fix","details":"Update to the fixed versions.","product_ids":["P0","P1"],"url":"https://vendor.example/advisories/%d"}],
			"scores":[{"products":["P0","P1"],"cvss_v3":{"version":"%s","vectorString":"%s","baseScore":5.0,"baseSeverity":"MEDIUM"}}]}`,
			10000+i*3+k, k, product, product, i, vec[5:8], vec))
	}
	return fmt.Sprintf(`{"document":{"category":"csaf_security_advisory","csaf_version":"2.0","distribution":{"tlp":{"label":"WHITE"}},
		"notes":[{"category":"summary","title":"Summary","text":"Several vulnerabilities in %s."}],
		"publisher":{"category":"vendor","name":"Wolke Cloud AG","namespace":"https://wolke.example"},
		"references":[{"category":"self","summary":"this advisory","url":"https://wolke.example/csaf/bench-%d.json"}],
		"title":"%s: several vulnerabilities (%d)","tracking":{"current_release_date":"2026-11-02T10:00:00.000Z","id":"BENCH-%d",
		"initial_release_date":"2026-11-01T10:00:00.000Z","revision_history":[{"date":"2026-11-01T10:00:00.000Z","number":"1","summary":"first"}],
		"status":"final","version":"1"}},
		"product_tree":{"branches":[{"category":"vendor","name":"%s","branches":[{"category":"product_name","name":"%s","branches":[%s]}]}]},
		"vulnerabilities":[%s]}`, product, i, product, i, i, vendor, product, strings.Join(prods, ","), strings.Join(vulnsJSON, ","))
}

// MatchLoad is the matching figure's data: n assets (a third each named by
// CPE, PURL and vendor+product) and advisories of four products each (one
// product in five with a version range), over 500 vendors and 2,000
// products.
func MatchLoad(n, advisories int) ([]vulns.AssetRef, []vulns.ProductRef) {
	assets := make([]vulns.AssetRef, n)
	for i := range assets {
		v := fmt.Sprintf("%d.%d.%d", i%7, i%11, i%13)
		switch i % 3 {
		case 0:
			assets[i] = vulns.AssetRef{ID: fmt.Sprint("a", i), CPE: fmt.Sprintf("cpe:2.3:a:vendor%d:product%d:%s:*:*:*:*:*:*:*", i%500, i%2000, v)}
		case 1:
			assets[i] = vulns.AssetRef{ID: fmt.Sprint("a", i), PURL: fmt.Sprintf("pkg:maven/org.vendor%d/lib%d@%s", i%500, i%2000, v)}
		default:
			assets[i] = vulns.AssetRef{ID: fmt.Sprint("a", i), Vendor: fmt.Sprint("Vendor ", i%500), Product: fmt.Sprint("Product ", i%2000), Version: v}
		}
	}
	products := make([]vulns.ProductRef, 0, advisories*4)
	for a := range advisories {
		for p := range 4 {
			k := a*4 + p
			pr := vulns.ProductRef{Advisory: fmt.Sprint("adv", a), ID: fmt.Sprint("p", p), Vendor: fmt.Sprint("Vendor ", k%500), Product: fmt.Sprint("Product ", k%2000),
				CPE: fmt.Sprintf("cpe:2.3:a:vendor%d:product%d:*:*:*:*:*:*:*:*", k%500, k%2000), PURL: fmt.Sprintf("pkg:maven/org.vendor%d/lib%d", k%500, k%2000)}
			if k%5 == 0 {
				pr.VersionRange = fmt.Sprintf(">= 1.0 | < %d.5", k%7)
			} else {
				pr.Version = fmt.Sprintf("%d.%d.%d", k%7, k%11, k%13)
			}
			products = append(products, pr)
		}
	}
	return assets, products
}
