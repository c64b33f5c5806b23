package playbooks

import (
	"embed"

	"verbund/internal/web"
)

// files are the capability's pages, its texts and its part of the API
// document.
//
//go:embed all:templates i18n openapi.json
var files embed.FS

// handler serves the playbook pages and API.
type handler struct {
	svc *Service
	srv *web.Server
	tpl *web.Templates
}

// Register adds the playbook routes, texts, API document and navigation
// entry (g p).
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
	srv.AddObjectType(svc.objectType())
	srv.AddNav(web.NavItem{Key: "playbooks", Path: "/playbooks", Label: "nav.playbooks", Go: "p"})
	r := srv.Router
	r.Handle("GET /playbooks", web.Read, h.listPage)
	r.Handle("GET /playbooks/import", web.Write, h.importPage)
	r.HandleUpload("POST /playbooks/import", web.Write, h.importForm)
	r.Handle("GET /playbooks/new", web.Write, h.newPage)
	r.Handle("POST /playbooks/editor", web.Write, h.editorForm)
	r.Handle("GET /playbooks/{id}/edit", web.Write, h.editPage)
	r.Handle("POST /playbooks/{id}/propose", web.Write, h.proposePage)
	r.Handle("GET /playbooks/{id}", web.Read, h.playbookPage)
	r.Handle("POST /playbooks/{id}/delete", web.Write, h.deleteForm)

	r.Handle("GET /api/v1/playbooks", web.Read, h.apiList)
	r.HandleUpload("POST /api/v1/playbooks", web.Write, h.apiImport)
	r.Handle("GET /api/v1/playbooks/{id}", web.Read, h.apiGet)
	r.Handle("GET /api/v1/playbooks/{id}/cacao", web.Read, h.apiExport)
	r.Handle("DELETE /api/v1/playbooks/{id}", web.Write, h.apiDelete)
	r.Handle("PATCH /api/v1/playbooks/{id}", web.Write, h.apiReshare)
	return nil
}
