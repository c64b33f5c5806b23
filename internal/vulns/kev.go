package vulns

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// KEVEntry is a CVE in CISA's catalogue of known exploited
// vulnerabilities.
type KEVEntry struct {
	CVE            string `json:"cve"`
	Vendor         string `json:"vendor"`
	Product        string `json:"product"`
	Name           string `json:"name"`
	Description    string `json:"description,omitempty"`
	RequiredAction string `json:"required_action"`
	DateAdded      string `json:"date_added"`
	DueDate        string `json:"due_date"`
	Ransomware     string `json:"known_ransomware_campaign_use,omitempty"`
	Notes          string `json:"notes,omitempty"`
}

// DueAt is the due date's first moment (Unix µs, display zone), 0 when
// it is no date: pages format it like every other date.
func (e KEVEntry) DueAt() int64 {
	start, _, err := web.Day("", "", "", e.DueDate)
	if err != nil {
		return 0
	}
	return start
}

// KEVReport is what a catalogue import did.
type KEVReport struct {
	CatalogVersion string `json:"catalog_version"`
	Entries        int    `json:"entries"`
	New            int    `json:"new"`
}

// maxKEV bounds the catalogue read (1.3 MB in 2025).
const maxKEV = 64 << 20

var cvePattern = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)

// kevFile is the catalogue's JSON (data/kev/known_exploited_vulnerabilities_schema.json).
type kevFile struct {
	Title           string `json:"title"`
	CatalogVersion  string `json:"catalogVersion"`
	DateReleased    string `json:"dateReleased"`
	Count           *int   `json:"count"`
	Vulnerabilities []struct {
		CVE              string `json:"cveID"`
		Vendor           string `json:"vendorProject"`
		Product          string `json:"product"`
		Name             string `json:"vulnerabilityName"`
		DateAdded        string `json:"dateAdded"`
		ShortDescription string `json:"shortDescription"`
		RequiredAction   string `json:"requiredAction"`
		DueDate          string `json:"dueDate"`
		KnownRansomware  string `json:"knownRansomwareCampaignUse"`
		Notes            string `json:"notes"`
	} `json:"vulnerabilities"`
}

// clean trims the odd whitespace the catalogue carries (non-breaking
// spaces, line breaks inside names).
func clean(s string) string { return strings.Join(strings.Fields(s), " ") }

// ImportKEV replaces the hub's copy of CISA's catalogue with the one read
// from r (the operator's command; the catalogue is public). A catalogue
// with an entry that lacks a required field or has a bad CVE id or date
// is refused whole, naming the entry.
func (s *Service) ImportKEV(ctx context.Context, a policy.Actor, r io.Reader) (KEVReport, error) {
	var f kevFile
	dec := json.NewDecoder(io.LimitReader(r, maxKEV))
	if err := dec.Decode(&f); err != nil {
		return KEVReport{}, fault.BadInput("file", "bad_kev", "the file is not a CISA KEV catalogue: {reason}").With("reason", "not valid JSON ("+err.Error()+")")
	}
	if f.CatalogVersion == "" || f.Vulnerabilities == nil {
		return KEVReport{}, fault.BadInput("file", "bad_kev", "the file is not a CISA KEV catalogue: {reason}").With("reason", "catalogVersion or vulnerabilities missing")
	}
	rep := KEVReport{CatalogVersion: clean(f.CatalogVersion)}
	now := db.Now()
	var rows []any
	seen := map[string]bool{}
	for i, v := range f.Vulnerabilities {
		e := KEVEntry{CVE: clean(v.CVE), Vendor: clean(v.Vendor), Product: clean(v.Product), Name: clean(v.Name), Description: clean(v.ShortDescription),
			RequiredAction: clean(v.RequiredAction), DateAdded: clean(v.DateAdded), DueDate: clean(v.DueDate), Ransomware: clean(v.KnownRansomware), Notes: clean(v.Notes)}
		bad := ""
		switch {
		case !cvePattern.MatchString(e.CVE):
			bad = fmt.Sprintf("cveID %q is no CVE id", e.CVE)
		case e.Vendor == "" || e.Product == "" || e.Name == "" || e.Description == "" || e.RequiredAction == "":
			bad = "vendorProject, product, vulnerabilityName, shortDescription and requiredAction are required"
		case !isDate(e.DateAdded) || !isDate(e.DueDate):
			bad = fmt.Sprintf("dateAdded %q and dueDate %q must be dates (YYYY-MM-DD)", e.DateAdded, e.DueDate)
		case seen[e.CVE]:
			bad = fmt.Sprintf("%s is listed twice", e.CVE)
		}
		if bad != "" {
			return KEVReport{}, fault.BadInput("file", "bad_kev_entry", "KEV entry {n}: {reason}").With("n", i+1).With("reason", bad)
		}
		seen[e.CVE] = true
		rows = append(rows, e.CVE, e.Vendor, e.Product, e.Name, e.Description, e.RequiredAction, e.DateAdded, e.DueDate, e.Ransomware, e.Notes, rep.CatalogVersion, now)
	}
	rep.Entries = len(seen)
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		var before int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM vuln_kev`).Scan(&before); err != nil {
			return fmt.Errorf("count KEV: %w", db.Map(err))
		}
		// The catalogue only grows; a newer one replaces the copy whole,
		// so an entry CISA withdrew is gone here too.
		if _, err := tx.Exec(ctx, `DELETE FROM vuln_kev`); err != nil {
			return fmt.Errorf("replace KEV: %w", err)
		}
		if err := tx.InsertMany(ctx, `vuln_kev (cve, vendor, product, name, description, required_action, date_added, due_date, ransomware, notes, catalog_version, imported_at)`, 12, rows); err != nil {
			return err
		}
		rep.New = max(0, rep.Entries-before)
		return audit.Write(ctx, tx, a, audit.Entry{Action: "vulns.kev.import", ObjectType: "vuln_kev", ObjectID: rep.CatalogVersion,
			Detail: map[string]any{"catalog_version": rep.CatalogVersion, "entries": rep.Entries}, Touches: []string{"vulns"}})
	})
	return rep, err
}

func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// markKEV sets KEV on the advisories with a CVE in the catalogue.
func (s *Service) markKEV(ctx context.Context, h db.Handle, advs []Advisory) error {
	var cves []any
	for _, a := range advs {
		for _, c := range a.CVEs {
			cves = append(cves, c)
		}
	}
	if len(cves) == 0 {
		return nil
	}
	known := map[string]bool{}
	for start := 0; start < len(cves); start += 500 {
		part := cves[start:min(start+500, len(cves))]
		rows, err := h.Query(ctx, `SELECT cve FROM vuln_kev WHERE cve IN (`+db.Placeholders(len(part))+`)`, part...)
		if err != nil {
			return fmt.Errorf("look up KEV: %w", err)
		}
		list, err := db.Collect(rows, "look up KEV", func(r db.Scanner) (c string, err error) { return c, r.Scan(&c) })
		if err != nil {
			return err
		}
		for _, c := range list {
			known[c] = true
		}
	}
	for i := range advs {
		for _, c := range advs[i].CVEs {
			if known[c] {
				advs[i].KEV = true // #nosec G602 -- i ranges over advs
			}
		}
	}
	return nil
}

// FindKEV returns the catalogue's entry of a CVE (public data: every
// signed-in reader).
func (s *Service) FindKEV(ctx context.Context, cve string) (KEVEntry, error) {
	var e KEVEntry
	err := s.DB.R().QueryRow(ctx, `SELECT cve, vendor, product, name, description, required_action, date_added, due_date, ransomware, notes FROM vuln_kev WHERE cve = ?`,
		strings.ToUpper(strings.TrimSpace(cve))).Scan(&e.CVE, &e.Vendor, &e.Product, &e.Name, &e.Description, &e.RequiredAction, &e.DateAdded, &e.DueDate, &e.Ransomware, &e.Notes)
	return e, db.NotFound(err, "look up KEV")
}
