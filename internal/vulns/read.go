package vulns

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"verbund/internal/csaf"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Advisory is an advisory as a reader may see it (lists carry the
// summary fields only).
type Advisory struct {
	ID             string          `json:"id"`
	TrackingID     string          `json:"tracking_id"`
	Title          string          `json:"title"`
	Publisher      string          `json:"publisher"`
	Namespace      string          `json:"namespace"`
	Category       string          `json:"category"`
	Version        string          `json:"version"`
	Status         string          `json:"status"`
	InitialRelease int64           `json:"initial_release"`
	CurrentRelease int64           `json:"current_release"`
	Score          float64         `json:"score"`
	Severity       string          `json:"severity,omitempty"`
	CVEs           []string        `json:"cves"`
	KEV            bool            `json:"known_exploited"`
	Summary        string          `json:"summary,omitempty"`
	OrgName        string          `json:"org_name"`
	TLP            string          `json:"tlp"`
	Share          policy.Share    `json:"-"`
	Versions       []Version       `json:"versions,omitempty"`
	Products       []Product       `json:"products,omitempty"`
	Vulns          []Vulnerability `json:"vulnerabilities,omitempty"`
}

// listedCVEs is how many CVEs a row of the advisory list names; the
// rest are counted (CVEsMore), so that the title keeps its column.
const listedCVEs = 3

// CVEsShown are the CVEs the advisory list names.
func (a Advisory) CVEsShown() []string { return a.CVEs[:min(len(a.CVEs), listedCVEs)] }

// CVEsMore is how many CVEs the list does not name.
func (a Advisory) CVEsMore() int { return max(len(a.CVEs)-listedCVEs, 0) }

// StatementTLP is the marking a statement saved on the page gets: TLP:AMBER,
// or the advisory's if stricter (statementSharing without a choice).
func (a Advisory) StatementTLP() string { return max(policy.Amber, a.Share.TLP).String() }

// CategoryKnown reports whether the document's category is one of CSAF
// 2.0's profiles, which pages name in their language (vulns.doccat.<…>);
// another category is shown as written.
func (a Advisory) CategoryKnown() bool { return slices.Contains(DocCategories, a.Category) }

// Version is one tracking.version the hub holds of an advisory.
type Version struct {
	Version    string `json:"version"`
	SHA256     string `json:"sha256"`
	ReleasedAt int64  `json:"released_at"`
	ImportedAt int64  `json:"imported_at"`
}

// Product is one product of an advisory's product tree.
type Product struct {
	ID           string `json:"product_id"`
	Name         string `json:"name"`
	Vendor       string `json:"vendor,omitempty"`
	Product      string `json:"product,omitempty"`
	Version      string `json:"version,omitempty"`
	VersionRange string `json:"version_range,omitempty"`
	CPE          string `json:"cpe,omitempty"`
	PURL         string `json:"purl,omitempty"`
}

// Vulnerability is one vulnerability of an advisory.
type Vulnerability struct {
	CVE          string              `json:"cve,omitempty"`
	Title        string              `json:"title,omitempty"`
	CWE          string              `json:"cwe,omitempty"`
	CVSSv2       *CVSS               `json:"cvss_v2,omitempty"`
	CVSSv3       *CVSS               `json:"cvss_v3,omitempty"`
	CVSSv4       *CVSS               `json:"cvss_v4,omitempty"`
	Score        float64             `json:"score"`
	Severity     string              `json:"severity,omitempty"`
	KEV          *KEVEntry           `json:"known_exploited,omitempty"`
	Status       map[string][]string `json:"product_status"`
	Remediations []Remediation       `json:"remediations"`
}

// CVSS is a vector with its base score and base metrics.
type CVSS struct {
	Vector  string   `json:"vector"`
	Score   float64  `json:"score"`
	Metrics []Metric `json:"-"`
}

// Metric is one base metric of a vector with the catalogue keys of its
// name and value (vulns.cvss.m.av, vulns.cvss.v.av.n).
type Metric struct {
	csaf.Metric
	NameKey, ValueKey string
}

// SeverityKey is the catalogue key's last word for a severity.
func SeverityKey(severity string) string { return strings.ToLower(severity) }

// SeverityKey is the catalogue key's last word of the advisory's severity.
func (a Advisory) SeverityKey() string { return SeverityKey(a.Severity) }

// SeverityKey is the catalogue key's last word of the vulnerability's
// severity.
func (v Vulnerability) SeverityKey() string { return SeverityKey(v.Severity) }

// Remediation is one remediation of a vulnerability.
type Remediation struct {
	Category string   `json:"category"`
	Details  string   `json:"details"`
	URL      string   `json:"url,omitempty"`
	Products []string `json:"product_ids"`
}

// AdvisoryFilter selects advisories: Q searches title, tracking id and
// CVEs; After is the Next of the page before.
type AdvisoryFilter struct {
	Q     string
	After string
	Limit int
}

const advisoryColumns = `a.id, a.tracking_id, a.title, a.publisher, a.namespace, a.category, a.version, a.status, a.initial_release,
	a.current_release, a.score, a.severity, a.cves, a.summary, o.name`

func (s *Service) scanAdvisory(r db.Scanner) (Advisory, error) {
	var x Advisory
	var cves string
	dest := []any{&x.ID, &x.TrackingID, &x.Title, &x.Publisher, &x.Namespace, &x.Category, &x.Version, &x.Status, &x.InitialRelease,
		&x.CurrentRelease, &x.Score, &x.Severity, &cves, &x.Summary, &x.OrgName}
	err := r.Scan(s.advisories.Dest(&x.Share, dest)...)
	x.CVEs = strings.Fields(cves)
	x.TLP = x.Share.TLP.Name()
	return x, err
}

// FindAdvisories lists the advisories the actor may see, most recently
// released first.
func (s *Service) FindAdvisories(ctx context.Context, a policy.Actor, f AdvisoryFilter) ([]Advisory, string, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, "", err
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	// A query is the hub search's (the same index, stemming, every word
	// must match), so that the list finds what /search finds. A tracking
	// id or CVE is no words (the engines split it differently): it is
	// looked for as written.
	t := strings.ToLower(strings.TrimSpace(f.Q))
	from := r.From(s.advisories, "a")
	if t != "" && !isIdentifier(t) {
		terms, err := policy.Terms(f.Q)
		if err != nil {
			return nil, "", err
		}
		from = r.Search(h, s.advisories, "a", terms)
	}
	q := db.Q(`SELECT ` + advisoryColumns + `, ` + s.advisories.Columns("a") + ` FROM `).Append(from).
		Add(` JOIN orgs o ON o.id = a.org_id WHERE 1 = 1`)
	if isIdentifier(t) {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(t) + "%"
		q.Add(` AND (LOWER(a.tracking_id) LIKE ? ESCAPE '\' OR LOWER(a.cves) LIKE ? ESCAPE '\')`, like, like)
	}
	if f.After != "" {
		rel, id, ok := strings.Cut(f.After, "_")
		n, err := strconv.ParseInt(rel, 10, 64)
		if !ok || err != nil {
			return nil, "", fault.BadInput("next", "bad_cursor", "next is not a cursor this list gave")
		}
		q.Add(` AND (a.current_release < ? OR a.current_release = ? AND a.id < ?)`, n, n, id)
	}
	q.Add(` ORDER BY a.current_release DESC, a.id DESC LIMIT ?`, f.Limit+1)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("list advisories: %w", err)
	}
	out, err := db.Collect(rows, "list advisories", s.scanAdvisory)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := out[len(out)-1]
		next = fmt.Sprintf("%d_%s", last.CurrentRelease, last.ID)
	}
	if err := s.markKEV(ctx, h, out); err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// isIdentifier reports whether a query is one tracking id or CVE
// (WOLKE-2026-10, CVE-2025-48384): a single word with a digit and a
// hyphen.
func isIdentifier(q string) bool {
	return q != "" && !strings.ContainsAny(q, " \t") && strings.Contains(q, "-") && strings.ContainsAny(q, "0123456789")
}

// FindAdvisoryByID reads one advisory with its versions, products and
// vulnerabilities (and each CVE's entry in the KEV catalogue), if the
// actor may see it; else not found.
func (s *Service) FindAdvisoryByID(ctx context.Context, a policy.Actor, id string) (Advisory, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return Advisory{}, err
	}
	q := db.Q(`SELECT `+advisoryColumns+`, `+s.advisories.Columns("a")+` FROM `).Append(r.From(s.advisories, "a")).
		Add(` JOIN orgs o ON o.id = a.org_id WHERE a.id = ?`, id)
	x, err := s.scanAdvisory(h.SelectRow(ctx, q))
	if err != nil {
		return x, db.NotFound(err, "load advisory")
	}
	if err := r.Audiences(ctx, h, []*policy.Share{&x.Share}); err != nil {
		return x, err
	}
	if x.Versions, err = s.versions(ctx, h, id); err != nil {
		return x, err
	}
	rows, err := h.Query(ctx, `SELECT product_id, name, vendor, product, version, version_range, cpe, purl FROM vuln_products WHERE advisory_id = ? ORDER BY vendor, product, name, product_id`, id)
	if err != nil {
		return x, fmt.Errorf("read products: %w", err)
	}
	if x.Products, err = db.Collect(rows, "read products", func(r db.Scanner) (p Product, err error) {
		err = r.Scan(&p.ID, &p.Name, &p.Vendor, &p.Product, &p.Version, &p.VersionRange, &p.CPE, &p.PURL)
		return p, err
	}); err != nil {
		return x, err
	}
	if x.Vulns, err = s.vulnerabilities(ctx, h, id); err != nil {
		return x, err
	}
	return x, s.markKEV(ctx, h, []Advisory{x})
}

func (s *Service) versions(ctx context.Context, h db.Handle, id string) ([]Version, error) {
	rows, err := h.Query(ctx, `SELECT version, sha256, released_at, imported_at FROM vuln_advisory_versions WHERE advisory_id = ? ORDER BY released_at DESC, imported_at DESC`, id)
	if err != nil {
		return nil, fmt.Errorf("read versions: %w", err)
	}
	return db.Collect(rows, "read versions", func(r db.Scanner) (v Version, err error) {
		err = r.Scan(&v.Version, &v.SHA256, &v.ReleasedAt, &v.ImportedAt)
		return v, err
	})
}

func cvss(vector string, score float64) *CVSS {
	if vector == "" {
		return nil
	}
	ms, _ := csaf.Explain(vector)
	out := &CVSS{Vector: vector, Score: score}
	for _, m := range ms {
		k, v := strings.ToLower(m.Key), strings.ToLower(m.Value)
		out.Metrics = append(out.Metrics, Metric{Metric: m, NameKey: "vulns.cvss.m." + k, ValueKey: "vulns.cvss.v." + k + "." + v})
	}
	return out
}

func (s *Service) vulnerabilities(ctx context.Context, h db.Handle, id string) ([]Vulnerability, error) {
	rows, err := h.Query(ctx, `SELECT v.cve, v.title, v.cwe, v.cvss_v2, v.cvss_v2_score, v.cvss_v3, v.cvss_v3_score, v.cvss_v4, v.cvss_v4_score, v.score, v.severity,
		COALESCE(k.vendor, ''), COALESCE(k.product, ''), COALESCE(k.name, ''), COALESCE(k.required_action, ''), COALESCE(k.date_added, ''), COALESCE(k.due_date, ''), COALESCE(k.ransomware, '')
		FROM vuln_vulnerabilities v LEFT JOIN vuln_kev k ON k.cve = v.cve AND v.cve <> '' WHERE v.advisory_id = ? ORDER BY v.ord`, id)
	if err != nil {
		return nil, fmt.Errorf("read vulnerabilities: %w", err)
	}
	out, err := db.Collect(rows, "read vulnerabilities", func(r db.Scanner) (v Vulnerability, err error) {
		var v2, v3, v4 string
		var s2, s3, s4 float64
		var k KEVEntry
		err = r.Scan(&v.CVE, &v.Title, &v.CWE, &v2, &s2, &v3, &s3, &v4, &s4, &v.Score, &v.Severity,
			&k.Vendor, &k.Product, &k.Name, &k.RequiredAction, &k.DateAdded, &k.DueDate, &k.Ransomware)
		v.CVSSv2, v.CVSSv3, v.CVSSv4 = cvss(v2, s2), cvss(v3, s3), cvss(v4, s4)
		if k.DueDate != "" {
			k.CVE = v.CVE
			v.KEV = &k
		}
		v.Status, v.Remediations = map[string][]string{}, []Remediation{}
		return v, err
	})
	if err != nil {
		return nil, err
	}
	rows, err = h.Query(ctx, `SELECT ord, product_id, status FROM vuln_product_status WHERE advisory_id = ? ORDER BY ord, status, product_id`, id)
	if err != nil {
		return nil, fmt.Errorf("read product status: %w", err)
	}
	type st struct {
		ord               int
		product, category string
	}
	sts, err := db.Collect(rows, "read product status", func(r db.Scanner) (x st, err error) {
		err = r.Scan(&x.ord, &x.product, &x.category)
		return x, err
	})
	if err != nil {
		return nil, err
	}
	for _, x := range sts {
		if x.ord < len(out) {
			out[x.ord].Status[x.category] = append(out[x.ord].Status[x.category], x.product)
		}
	}
	rows, err = h.Query(ctx, `SELECT ord, category, details, url, product_ids FROM vuln_remediations WHERE advisory_id = ? ORDER BY ord, seq`, id)
	if err != nil {
		return nil, fmt.Errorf("read remediations: %w", err)
	}
	type rem struct {
		ord int
		r   Remediation
	}
	rems, err := db.Collect(rows, "read remediations", func(r db.Scanner) (x rem, err error) {
		var ids string
		err = r.Scan(&x.ord, &x.r.Category, &x.r.Details, &x.r.URL, &ids)
		x.r.Products = strings.Fields(ids)
		return x, err
	})
	if err != nil {
		return nil, err
	}
	for _, x := range rems {
		if x.ord < len(out) {
			out[x.ord].Remediations = append(out[x.ord].Remediations, x.r)
		}
	}
	return out, nil
}

// FindAdvisoryDocument returns the stored CSAF document of an advisory's
// version ("" the current one), if the actor may see the advisory.
func (s *Service) FindAdvisoryDocument(ctx context.Context, a policy.Actor, id, version string) ([]byte, Advisory, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, Advisory{}, err
	}
	q := db.Q(`SELECT `+advisoryColumns+`, `+s.advisories.Columns("a")+` FROM `).Append(r.From(s.advisories, "a")).
		Add(` JOIN orgs o ON o.id = a.org_id WHERE a.id = ?`, id)
	x, err := s.scanAdvisory(h.SelectRow(ctx, q))
	if err != nil {
		return nil, x, db.NotFound(err, "load advisory")
	}
	if version == "" {
		version = x.Version
	}
	var doc string
	err = h.QueryRow(ctx, `SELECT document FROM vuln_advisory_versions WHERE advisory_id = ? AND version = ?`, id, version).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, x, fault.New(fault.NotFound, "version_not_found", "the advisory has no version {version}").With("version", version)
	}
	if err != nil {
		return nil, x, fmt.Errorf("read document: %w", db.Map(err))
	}
	return []byte(doc), x, nil
}
