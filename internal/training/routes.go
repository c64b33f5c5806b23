package training

import (
	"embed"

	"verbund/internal/web"
)

// files are the capability's pages, its texts and its part of the API
// document.
//
//go:embed all:templates i18n openapi.json
var files embed.FS

// handler serves the training pages and API.
type handler struct {
	svc *Service
	srv *web.Server
	tpl *web.Templates
}

// Register adds the training routes, texts, API document and navigation
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
	for _, t := range svc.objectTypes() {
		srv.AddObjectType(t)
	}
	srv.AddNav(web.NavItem{Key: "training", Path: "/training", Label: "nav.training", Go: "t"})
	r := srv.Router
	r.Handle("GET /training", web.Read, h.trainingPage)
	r.Handle("GET /training/new", web.Write, h.newPage)
	r.Handle("POST /training/modules", web.Write, h.createForm)
	r.Handle("GET /training/modules/{id}", web.Read, h.modulePage)
	// A module's line in the library, for live inserts.
	r.Handle("GET /training/modules/{id}/row", web.Read, h.moduleRow)
	// Answers: every role learns; a read-only token sends nothing.
	r.Handle("POST /training/modules/{id}/answers", web.Self, h.answersForm)
	r.Handle("POST /training/modules/{id}/assignments", web.OrgAdmin, h.assignForm)
	r.Handle("POST /training/assignments/{id}/remind", web.OrgAdmin, h.remindForm)
	// The reader's line of their training list; a person's line of an
	// admin's progress table (live replacements).
	r.Handle("GET /training/assignments/{id}/fragment", web.Read, h.myRow)
	r.Handle("GET /training/assignments/{id}/people/{user}/fragment", web.Read, h.personRow)
	r.Handle("GET /training/attempts/{id}/certificate", web.Read, h.certificatePage)
	r.Handle("GET /training/rates", web.Read, h.ratesPage)
	r.Handle("POST /training/rates", web.OrgAdmin, h.shareRatesForm)
	r.Handle("POST /training/rates/{id}/delete", web.OrgAdmin, h.withdrawRatesForm)

	r.Handle("GET /api/v1/training/modules", web.Read, h.apiModules)
	r.Handle("POST /api/v1/training/modules", web.Write, h.apiCreateModule)
	r.Handle("GET /api/v1/training/modules/{id}", web.Read, h.apiModule)
	r.Handle("POST /api/v1/training/modules/{id}/assignments", web.OrgAdmin, h.apiAssign)
	r.Handle("POST /api/v1/training/modules/{id}/answers", web.Self, h.apiAnswers)
	r.Handle("GET /api/v1/training/modules/{id}/progress", web.Read, h.apiProgress)
	r.Handle("GET /api/v1/training/assignments", web.Read, h.apiAssignments)
	r.Handle("POST /api/v1/training/assignments/{id}/reminders", web.OrgAdmin, h.apiRemind)
	r.Handle("GET /api/v1/training/rates", web.Read, h.apiRates)
	r.Handle("GET /api/v1/training/rate-shares", web.Read, h.apiRateShares)
	r.Handle("POST /api/v1/training/rate-shares", web.OrgAdmin, h.apiShareRates)
	r.Handle("DELETE /api/v1/training/rate-shares/{id}", web.OrgAdmin, h.apiWithdrawRates)
	return nil
}
