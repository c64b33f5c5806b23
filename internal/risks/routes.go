package risks

import (
	"context"
	"embed"
	"fmt"

	"verbund/internal/db"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// files are the capability's pages, its texts and its part of the API
// document.
//
//go:embed all:templates i18n openapi.json
var files embed.FS

// Handler serves the risk pages and API.
type Handler struct {
	svc *Service
	srv *web.Server
	tpl *web.Templates
}

// Register adds the risk routes.
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
	svc.SetResolver(srv.Resolve)
	svc.labels = func(lang, key string) string { return srv.Catalog.T(lang, key) }
	h := &Handler{svc: svc, srv: srv, tpl: tpl}
	srv.AddObjectType(web.ObjectType{Name: "risk", Label: "risks.risk", Resolve: svc.nameRisks})
	srv.AddObjectType(web.ObjectType{Name: "risk_workshop", Label: "risks.workshop", Resolve: svc.nameWorkshops})
	srv.AddNav(web.NavItem{Key: "risks", Path: "/risks", Label: "nav.risks", Go: "r"})
	r := srv.Router
	r.Handle("GET /risks", web.Read, h.registerPage)
	r.Handle("GET /risks/new", web.Read, h.newPage)
	r.Handle("POST /risks", web.Write, h.createForm)
	r.Handle("GET /risks/{id}", web.Read, h.riskPage)
	r.Handle("POST /risks/{id}", web.Write, h.editForm)
	r.Handle("POST /risks/{id}/part", web.Write, h.partForm)
	r.Handle("GET /risk-workshops/new", web.Read, h.newWorkshopPage)
	r.Handle("POST /risk-workshops", web.Write, h.createWorkshopForm)
	r.Handle("GET /risk-workshops/{id}", web.Read, h.workshopPage)
	r.Handle("POST /risk-workshops/{id}/votes", web.Write, h.voteForm)
	r.Handle("POST /risk-workshops/{id}/reveal", web.Write, h.revealForm)
	r.Handle("POST /risk-workshops/{id}/comments", web.Write, h.commentForm)
	r.Handle("POST /risk-workshops/{id}/agreements", web.Write, h.agreeForm)

	r.Handle("GET /api/v1/risks", web.Read, h.apiList)
	r.Handle("POST /api/v1/risks", web.Write, h.apiCreate)
	r.Handle("GET /api/v1/risks/heatmap", web.Read, h.apiHeatmap)
	// Long: a register of thousands is many pages, each judged afresh
	// (ExportCSV), which a request's remembered state would keep old.
	r.HandleLong("GET /api/v1/risks/export", web.Read, h.apiExport)
	r.Handle("GET /api/v1/risks/{id}", web.Read, h.apiGet)
	r.Handle("PATCH /api/v1/risks/{id}", web.Write, h.apiUpdate)
	r.Handle("GET /api/v1/risks/{id}/history", web.Read, h.apiHistory)
	r.Handle("GET /api/v1/risk-matrix", web.Read, h.apiMatrix)
	r.Handle("PUT /api/v1/risk-matrix", web.Write, h.apiSetMatrix)
	r.Handle("GET /api/v1/risk-workshops", web.Read, h.apiWorkshops)
	r.Handle("POST /api/v1/risk-workshops", web.Write, h.apiCreateWorkshop)
	r.Handle("GET /api/v1/risk-workshops/{id}", web.Read, h.apiWorkshop)
	r.Handle("POST /api/v1/risk-workshops/{id}/votes", web.Write, h.apiScore)
	r.Handle("POST /api/v1/risk-workshops/{id}/reveal", web.Write, h.apiReveal)
	r.Handle("POST /api/v1/risk-workshops/{id}/comments", web.Write, h.apiComment)
	r.Handle("POST /api/v1/risk-workshops/{id}/agreements", web.Write, h.apiAgree)
	return nil
}

func idArgs(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// names reads rows of (id, name) with q, each with its page.
func names(ctx context.Context, h db.Handle, q *db.Query, page string) (map[string]web.Ref, error) {
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("name objects: %w", err)
	}
	found, err := db.Collect(rows, "name objects", func(r db.Scanner) (v [2]string, err error) { err = r.Scan(&v[0], &v[1]); return v, err })
	if err != nil {
		return nil, err
	}
	out := make(map[string]web.Ref, len(found))
	for _, v := range found {
		out[v[0]] = web.Ref{Name: v[1], URL: page + v[0]}
	}
	return out, nil
}

// nameRisks names the risks among ids that a may see (audit trail,
// search, links).
func (s *Service) nameRisks(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, s.now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT r.id, r.title FROM `).Append(r.From(s.risks, "r")).Add(` WHERE r.id IN (`+db.Placeholders(len(ids))+`)`, idArgs(ids)...)
	return names(ctx, h, q, "/risks/")
}

// nameWorkshops names the workshops among ids that a may see.
func (s *Service) nameWorkshops(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, s.now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT w.id, w.title FROM `).Append(r.From(s.workshops, "w")).Add(` WHERE w.id IN (`+db.Placeholders(len(ids))+`)`, idArgs(ids)...)
	return names(ctx, h, q, "/risk-workshops/")
}
