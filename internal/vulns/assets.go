package vulns

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// An org's asset inventory: what it runs (vendor, product, version, CPE,
// PURL). Assets are the org's own and never shared: no envelope, every
// query filters on the actor's org, another org's asset is not found.

// Asset is one entry of an org's inventory.
type Asset struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Vendor    string `json:"vendor,omitempty"`
	Product   string `json:"product,omitempty"`
	Version   string `json:"version,omitempty"`
	CPE       string `json:"cpe,omitempty"`
	PURL      string `json:"purl,omitempty"`
	Source    string `json:"source"`
	CreatedAt int64  `json:"created_at"`
}

// NewAsset is an asset as entered or imported.
type NewAsset struct {
	Name    string `json:"name"`
	Vendor  string `json:"vendor"`
	Product string `json:"product"`
	Version string `json:"version"`
	CPE     string `json:"cpe"`
	PURL    string `json:"purl"`
}

// AssetReport is what an inventory import did.
type AssetReport struct {
	Imported int          `json:"imported"`
	Rejected int          `json:"rejected"`
	Errors   []AssetError `json:"errors"`
	// Matches is how many new matches with advisories the import made.
	Matches int `json:"matches"`
}

// AssetError is why one line (CSV) or component (SBOM) was refused.
type AssetError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// maxAssets bounds one org's inventory and one import.
const maxAssets = 50000

// check cleans an asset and refuses one the matcher could never use.
func (in NewAsset) check() (NewAsset, error) {
	for _, p := range []*string{&in.Name, &in.Vendor, &in.Product, &in.Version, &in.CPE, &in.PURL} {
		*p = strings.TrimSpace(*p)
		if len(*p) > 500 || !web.ValidText(*p) {
			return in, fault.BadInput("asset", "bad_asset", "an asset's fields are text of at most 500 characters")
		}
	}
	if in.CPE != "" {
		if _, _, ok := cpeKey(in.CPE); !ok {
			return in, fault.BadInput("cpe", "bad_cpe", "{cpe} is no CPE name with vendor and product (cpe:2.3:a:vendor:product:version:…)").With("cpe", in.CPE)
		}
	}
	if in.PURL != "" {
		if _, _, ok := purlKey(in.PURL); !ok {
			return in, fault.BadInput("purl", "bad_purl", "{purl} is no package URL (pkg:type/namespace/name@version)").With("purl", in.PURL)
		}
	}
	if in.CPE == "" && in.PURL == "" && (in.Vendor == "" || in.Product == "") {
		return in, fault.BadInput("product", "asset_unnamed", "name the asset's vendor and product, or give its CPE or PURL")
	}
	if in.Name == "" {
		in.Name = strings.TrimSpace(strings.Join(slices.DeleteFunc([]string{in.Vendor, in.Product, in.Version}, func(s string) bool { return s == "" }), " "))
		if in.Name == "" {
			in.Name = cmpOr(in.CPE, in.PURL)
		}
	}
	return in, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// CreateAsset adds an asset to the actor's org's inventory and matches it
// against the advisories the org may see.
func (s *Service) CreateAsset(ctx context.Context, a policy.Actor, in NewAsset) (Asset, error) {
	rep, ids, err := s.addAssets(ctx, a, []NewAsset{in}, nil, "manual")
	if err != nil {
		return Asset{}, err
	}
	if rep.Rejected > 0 {
		return Asset{}, rep.firstError
	}
	return s.FindAssetByID(ctx, a, ids[0])
}

// ImportAssets adds the assets of a CSV file (a header line naming
// columns among name, vendor, product, version, cpe, purl) or of a
// CycloneDX SBOM (JSON: its components, nested ones too) to the actor's
// org's inventory. Lines or components that cannot be used are listed and
// skipped; the others are added and matched.
func (s *Service) ImportAssets(ctx context.Context, a policy.Actor, r io.Reader) (AssetReport, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return AssetReport{}, fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
	}
	var list []NewAsset
	var lines []int
	source := "csv"
	if t := strings.TrimSpace(string(data)); strings.HasPrefix(t, "{") {
		source = "cyclonedx"
		if list, err = cycloneDX(data); err != nil {
			return AssetReport{}, err
		}
		for i := range list {
			lines = append(lines, i+1)
		}
	} else if list, lines, err = assetCSV(data); err != nil {
		return AssetReport{}, err
	}
	if len(list) > maxAssets {
		return AssetReport{}, fault.BadInput("file", "too_many_assets", "an inventory holds at most {max} assets").With("max", maxAssets)
	}
	rep, _, err := s.addAssets(ctx, a, list, lines, source)
	return rep.AssetReport, err
}

type addReport struct {
	AssetReport
	firstError error
}

func (s *Service) addAssets(ctx context.Context, a policy.Actor, list []NewAsset, lines []int, source string) (addReport, []string, error) {
	rep := addReport{AssetReport: AssetReport{Errors: []AssetError{}}}
	if !a.CanWrite() || a.OrgID == "" {
		return rep, nil, fault.New(fault.Forbidden, "forbidden", "only analysts and admins of an organisation keep its inventory")
	}
	now := db.Now()
	var rows []any
	var ids []string
	for i, in := range list {
		c, err := in.check()
		if err != nil {
			rep.Rejected++
			if rep.firstError == nil {
				rep.firstError = err
			}
			line := i + 1
			if lines != nil {
				line = lines[i]
			}
			msg := err.Error()
			if e, ok := fault.As(err); ok {
				msg = e.Message
			}
			rep.Errors = append(rep.Errors, AssetError{Line: line, Message: msg})
			continue
		}
		id := db.NewID()
		ids = append(ids, id)
		rows = append(rows, id, a.OrgID, c.Name, c.Vendor, c.Product, c.Version, c.CPE, c.PURL, source, a.UserID, now)
	}
	if len(ids) == 0 {
		return rep, nil, nil
	}
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		var held int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM vuln_assets WHERE org_id = ?`, a.OrgID).Scan(&held); err != nil {
			return fmt.Errorf("count assets: %w", db.Map(err))
		}
		if held+len(ids) > maxAssets {
			return fault.BadInput("file", "too_many_assets", "an inventory holds at most {max} assets").With("max", maxAssets)
		}
		if err := tx.InsertMany(ctx, `vuln_assets (id, org_id, name, vendor, product, version, cpe, purl, source, created_by, created_at)`, 11, rows); err != nil {
			return err
		}
		action, object := "vulns.assets.import", ids[0]
		if source == "manual" {
			action = "vulns.asset.create"
		}
		if err := audit.Write(ctx, tx, a, audit.Entry{Action: action, ObjectType: "vuln_asset", ObjectID: object,
			Detail: map[string]any{"assets": len(ids), "source": source}, Touches: []string{"vuln_assets:" + a.OrgID}}); err != nil {
			return err
		}
		n, err := s.matchOrg(ctx, tx, a)
		rep.Matches = n
		return err
	})
	if err != nil {
		return rep, nil, err
	}
	rep.Imported = len(ids)
	return rep, ids, nil
}

// assetCSV reads an inventory CSV: a header line, then one asset a line.
func assetCSV(data []byte) ([]NewAsset, []int, error) {
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(data), "\ufeff")))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	head, err := r.Read()
	if err != nil {
		return nil, nil, fault.BadInput("file", "bad_inventory", "the file is neither a CSV inventory with a header line nor a CycloneDX SBOM (JSON)")
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	if _, ok := col["product"]; !ok {
		if _, ok := col["cpe"]; !ok {
			if _, ok := col["purl"]; !ok {
				return nil, nil, fault.BadInput("file", "bad_inventory", "the file is neither a CSV inventory with a header line nor a CycloneDX SBOM (JSON)")
			}
		}
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	var out []NewAsset
	var lines []int
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			return nil, nil, fault.BadInput("file", "bad_inventory_line", "line {line} of the CSV cannot be read").With("line", line)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		out = append(out, NewAsset{Name: get(rec, "name"), Vendor: get(rec, "vendor"), Product: get(rec, "product"), Version: get(rec, "version"),
			CPE: get(rec, "cpe"), PURL: get(rec, "purl")})
		lines = append(lines, line)
	}
	return out, lines, nil
}

// cdxComponent is what the hub reads of a CycloneDX component.
type cdxComponent struct {
	Type       string                 `json:"type"`
	Name       string                 `json:"name"`
	Group      string                 `json:"group"`
	Version    string                 `json:"version"`
	CPE        string                 `json:"cpe"`
	PURL       string                 `json:"purl"`
	Publisher  string                 `json:"publisher"`
	Supplier   *struct{ Name string } `json:"supplier"`
	Components []cdxComponent         `json:"components"`
}

// cycloneDX reads the components of a CycloneDX SBOM (JSON, any 1.x
// version): vendor is the supplier, else the publisher, else the group.
func cycloneDX(data []byte) ([]NewAsset, error) {
	var bom struct {
		BOMFormat  string                             `json:"bomFormat"`
		Metadata   *struct{ Component *cdxComponent } `json:"metadata"`
		Components []cdxComponent                     `json:"components"`
	}
	if err := json.Unmarshal(data, &bom); err != nil || bom.BOMFormat != "CycloneDX" {
		return nil, fault.BadInput("file", "bad_inventory", "the file is neither a CSV inventory with a header line nor a CycloneDX SBOM (JSON)")
	}
	var out []NewAsset
	var walk func(cs []cdxComponent)
	walk = func(cs []cdxComponent) {
		for _, c := range cs {
			vendor := c.Publisher
			if c.Supplier != nil && c.Supplier.Name != "" {
				vendor = c.Supplier.Name
			}
			if vendor == "" {
				vendor = c.Group
			}
			out = append(out, NewAsset{Name: strings.TrimSpace(strings.Join([]string{c.Group, c.Name, c.Version}, " ")), Vendor: vendor, Product: c.Name,
				Version: c.Version, CPE: c.CPE, PURL: c.PURL})
			walk(c.Components)
		}
	}
	walk(bom.Components)
	return out, nil
}

// FindAssets lists the actor's org's inventory by name.
func (s *Service) FindAssets(ctx context.Context, a policy.Actor) ([]Asset, error) {
	rows, err := s.DB.R().Query(ctx, `SELECT id, name, vendor, product, version, cpe, purl, source, created_at FROM vuln_assets WHERE org_id = ? ORDER BY name, id LIMIT ?`, a.OrgID, maxAssets)
	if err != nil {
		return nil, fmt.Errorf("list assets: %w", err)
	}
	return db.Collect(rows, "list assets", scanAsset)
}

func scanAsset(r db.Scanner) (x Asset, err error) {
	err = r.Scan(&x.ID, &x.Name, &x.Vendor, &x.Product, &x.Version, &x.CPE, &x.PURL, &x.Source, &x.CreatedAt)
	return x, err
}

// FindAssetByID reads one of the actor's org's assets; another org's is
// not found.
func (s *Service) FindAssetByID(ctx context.Context, a policy.Actor, id string) (Asset, error) {
	x, err := scanAsset(s.DB.R().QueryRow(ctx, `SELECT id, name, vendor, product, version, cpe, purl, source, created_at FROM vuln_assets WHERE id = ? AND org_id = ?`, id, a.OrgID))
	return x, db.NotFound(err, "load asset")
}

// DeleteAsset removes one of the actor's org's assets and its matches.
func (s *Service) DeleteAsset(ctx context.Context, a policy.Actor, id string) error {
	if !a.CanWrite() {
		return fault.New(fault.Forbidden, "forbidden", "only analysts and admins of an organisation keep its inventory")
	}
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		var name string
		if err := tx.QueryRow(ctx, `SELECT name FROM vuln_assets WHERE id = ? AND org_id = ?`, id, a.OrgID).Scan(&name); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fault.ErrNotFound
			}
			return fmt.Errorf("load asset: %w", db.Map(err))
		}
		if _, err := tx.Exec(ctx, `DELETE FROM vuln_matches WHERE asset_id = ? AND org_id = ?`, id, a.OrgID); err != nil {
			return fmt.Errorf("delete matches: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM vuln_assets WHERE id = ? AND org_id = ?`, id, a.OrgID); err != nil {
			return fmt.Errorf("delete asset: %w", err)
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "vulns.asset.delete", ObjectType: "vuln_asset", ObjectID: id,
			Detail: map[string]any{"name": name}, Touches: []string{"vuln_assets:" + a.OrgID}})
	})
}
