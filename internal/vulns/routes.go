package vulns

import (
	"embed"

	"verbund/internal/web"
)

// files are the capability's pages, its texts and its part of the API
// document.
//
//go:embed all:templates i18n openapi.json
var files embed.FS

// handler serves the vulns pages and API.
type handler struct {
	svc *Service
	srv *web.Server
	tpl *web.Templates
}

// Register adds the vulns routes, texts, API document and navigation
// entry.
func Register(srv *web.Server, svc *Service) error {
	tpl, err := srv.Templates(files, "templates/*.html")
	if err != nil {
		return err
	}
	if err := srv.Catalog.Add(files, "i18n"); err != nil {
		return err
	}
	if err := srv.AddOpenAPI(files, "openapi.json"); err != nil {
		return err
	}
	h := &handler{svc: svc, srv: srv, tpl: tpl}
	srv.AddObjectType(svc.advisoryType())
	srv.AddObjectType(kevType())
	srv.AddObjectType(svc.assetType())
	srv.AddObjectType(svc.statementType())
	srv.AddNav(web.NavItem{Key: "vulns", Path: "/vulns", Label: "nav.vulns", Go: "s"})
	r := srv.Router
	r.Handle("GET /vulns", web.Read, h.listPage)
	r.Handle("GET /vulns/advisories/{id}", web.Read, h.advisoryPage)
	r.Handle("GET /vulns/import", web.Write, h.importPage)
	r.HandleUpload("POST /vulns/import", web.Write, h.importForm)
	r.Handle("GET /vulns/assets", web.Read, h.assetsPage)
	r.Handle("POST /vulns/assets", web.Write, h.createAssetForm)
	r.HandleUpload("POST /vulns/assets/import", web.Write, h.importAssetsForm)
	r.Handle("POST /vulns/assets/{id}/delete", web.Write, h.deleteAssetForm)
	r.Handle("GET /vulns/board", web.Read, h.boardPage)
	r.Handle("POST /vulns/advisories/{id}/statements", web.Write, h.statementForm)
	r.Handle("POST /vulns/advisories/{id}/delete", web.Write, h.deleteAdvisoryForm)
	r.Handle("POST /vulns/policy", web.OrgAdmin, h.policyForm)

	r.HandleUpload("POST /api/v1/advisories", web.Write, h.apiImport)
	r.Handle("GET /api/v1/advisories", web.Read, h.apiAdvisories)
	r.Handle("GET /api/v1/advisories/{id}", web.Read, h.apiAdvisory)
	r.Handle("DELETE /api/v1/advisories/{id}", web.Write, h.apiDeleteAdvisory)
	r.Handle("PATCH /api/v1/advisories/{id}", web.Write, h.apiReshareAdvisory)
	r.Handle("GET /api/v1/advisories/{id}/csaf", web.Read, h.apiDocument)
	r.Handle("GET /api/v1/kev/{cve}", web.Read, h.apiKEV)
	r.Handle("GET /api/v1/assets", web.Read, h.apiAssets)
	r.Handle("POST /api/v1/assets", web.Write, h.apiCreateAsset)
	r.HandleUpload("POST /api/v1/assets/import", web.Write, h.apiImportAssets)
	r.Handle("DELETE /api/v1/assets/{id}", web.Write, h.apiDeleteAsset)
	r.Handle("GET /api/v1/affected-assets", web.Read, h.apiAffected)
	r.Handle("GET /api/v1/advisories/{id}/statements", web.Read, h.apiStatements)
	r.Handle("POST /api/v1/advisories/{id}/statements", web.Write, h.apiSetStatement)
	r.Handle("GET /api/v1/vex/openvex", web.Read, h.apiOpenVEX)
	r.Handle("GET /api/v1/patch-policy", web.Read, h.apiPolicy)
	r.Handle("PUT /api/v1/patch-policy", web.OrgAdmin, h.apiSetPolicy)
	return registerPublishing(srv, h)
}
