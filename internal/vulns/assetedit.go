package vulns

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// AssetPatch is a change of an asset: the fields sent replace the
// asset's, those left out stay.
type AssetPatch struct {
	Name    *string `json:"name"`
	Vendor  *string `json:"vendor"`
	Product *string `json:"product"`
	Version *string `json:"version"`
	CPE     *string `json:"cpe"`
	PURL    *string `json:"purl"`
}

// UpdateAsset changes one of the actor's org's assets (another org's is
// not found) and matches the inventory again: matches the asset no longer
// has go, new ones are announced like those of a new asset.
func (s *Service) UpdateAsset(ctx context.Context, a policy.Actor, id string, p AssetPatch) (Asset, error) {
	if !a.CanWrite() {
		return Asset{}, fault.New(fault.Forbidden, "forbidden", "only analysts and admins of an organisation keep its inventory")
	}
	old, err := s.FindAssetByID(ctx, a, id)
	if err != nil {
		return Asset{}, err
	}
	in := NewAsset{Name: old.Name, Vendor: old.Vendor, Product: old.Product, Version: old.Version, CPE: old.CPE, PURL: old.PURL}
	for _, f := range []struct {
		from *string
		to   *string
	}{{p.Name, &in.Name}, {p.Vendor, &in.Vendor}, {p.Product, &in.Product}, {p.Version, &in.Version}, {p.CPE, &in.CPE}, {p.PURL, &in.PURL}} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
	if in.Name == defaultName(old) {
		in.Name = "" // named after what it was: named anew after what it is
	}
	c, err := in.check()
	if err != nil {
		return Asset{}, err
	}
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE vuln_assets SET name = ?, vendor = ?, product = ?, version = ?, cpe = ?, purl = ? WHERE id = ? AND org_id = ?`,
			c.Name, c.Vendor, c.Product, c.Version, c.CPE, c.PURL, id, a.OrgID)
		if err != nil {
			return fmt.Errorf("update asset: %w", err)
		}
		if n, err := db.Affected(res); err != nil {
			return err
		} else if n == 0 {
			return fault.ErrNotFound
		}
		changed := map[string]any{}
		for k, v := range map[string][2]string{"name": {old.Name, c.Name}, "vendor": {old.Vendor, c.Vendor}, "product": {old.Product, c.Product},
			"version": {old.Version, c.Version}, "cpe": {old.CPE, c.CPE}, "purl": {old.PURL, c.PURL}} {
			if v[0] != v[1] {
				changed[k] = map[string]string{"from": v[0], "to": v[1]}
			}
		}
		if err := audit.Write(ctx, tx, a, audit.Entry{Action: "vulns.asset.update", ObjectType: "vuln_asset", ObjectID: id,
			Detail: changed, Touches: []string{"vuln_assets:" + a.OrgID}}); err != nil {
			return err
		}
		_, err = s.matchOrg(ctx, tx, a)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Asset{}, fault.ErrNotFound
	}
	if err != nil {
		return Asset{}, err
	}
	return s.FindAssetByID(ctx, a, id)
}

// defaultName is the name check gives an asset entered without one.
func defaultName(x Asset) string {
	n, _ := NewAsset{Vendor: x.Vendor, Product: x.Product, Version: x.Version, CPE: x.CPE, PURL: x.PURL}.check()
	return n.Name
}

func (h *handler) apiUpdateAsset(w http.ResponseWriter, r *http.Request) error {
	var p AssetPatch
	if err := web.DecodeJSON(w, r, &p); err != nil {
		return err
	}
	x, err := h.svc.UpdateAsset(r.Context(), web.ActorFrom(r), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, x)
	return nil
}

// updateAssetForm saves the edit form of an asset's row.
func (h *handler) updateAssetForm(w http.ResponseWriter, r *http.Request) error {
	f := func(k string) *string { v := r.PostFormValue(k); return &v }
	p := AssetPatch{Name: f("name"), Vendor: f("vendor"), Product: f("product"), Version: f("version"), CPE: f("cpe"), PURL: f("purl")}
	id := r.PathValue("id")
	if _, err := h.svc.UpdateAsset(r.Context(), web.ActorFrom(r), id, p); err != nil {
		if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
			return h.renderAssets(w, r, http.StatusBadRequest, assetsData{Error: e, Editing: id,
				Edit: NewAsset{Name: *p.Name, Vendor: *p.Vendor, Product: *p.Product, Version: *p.Version, CPE: *p.CPE, PURL: *p.PURL}})
		}
		return err
	}
	return web.Redirect(w, r, "/vulns/assets#asset-"+id, "asset_updated")
}
