package agreements

import (
	"embed"
	"net/http"
	"strings"

	"verbund/internal/fault"
	"verbund/internal/orgs"
	"verbund/internal/web"
)

// files are the capability's pages, its texts and its part of the API
// document.
//
//go:embed all:templates i18n openapi.json
var files embed.FS

// Handler serves agreement pages and API.
type Handler struct {
	svc  *Service
	orgs *orgs.Service
	srv  *web.Server
	tpl  *web.Templates
}

// Register adds the routes.
func Register(srv *web.Server, svc *Service, o *orgs.Service) error {
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
	h := &Handler{svc: svc, orgs: o, srv: srv, tpl: tpl}
	srv.AddObjectType(h.objectType())
	r := srv.Router
	r.Handle("GET /agreements", web.Read, h.listPage)
	r.Handle("POST /agreements", web.OrgAdmin, h.proposeForm)
	r.Handle("GET /agreements/{id}", web.Read, h.detailPage)
	r.Handle("POST /agreements/{id}/accept", web.OrgAdmin, h.acceptForm)
	r.Handle("POST /agreements/{id}/revoke", web.OrgAdmin, h.revokeForm)

	r.Handle("GET /api/v1/agreements", web.Read, h.apiList)
	r.Handle("POST /api/v1/agreements", web.OrgAdmin, h.apiPropose)
	r.Handle("GET /api/v1/agreements/{id}", web.Read, h.apiGet)
	r.Handle("POST /api/v1/agreements/{id}/accept", web.OrgAdmin, h.apiAccept)
	r.Handle("POST /api/v1/agreements/{id}/revoke", web.OrgAdmin, h.apiRevoke)
	r.Handle("GET /api/v1/flows", web.Read, h.apiFlows)
	return nil
}

type listData struct {
	Agreements  []Agreement
	Flows       []Flow
	Orgs        []orgs.Org
	Coordinated []orgs.Community
	Community   string
	Admins      string // who decides for the reader's org, when the reader does not
	Error       *fault.Error
	Form        Input
	// Duplicates are agreements the proposal in Form would repeat: the
	// form asks before proposing it again.
	Duplicates []Agreement
}

func (h *Handler) listPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderList(w, r, http.StatusOK, listData{Form: Input{RetentionDays: 365, MaxTLP: "AMBER", Categories: []string{"knowledge"}}})
}

func (h *Handler) renderList(w http.ResponseWriter, r *http.Request, status int, d listData) error {
	a := web.ActorFrom(r)
	ctx := r.Context()
	var err error
	d.Community = r.URL.Query().Get("community")
	if d.Agreements, err = h.svc.FindAgreements(ctx, a, d.Community); err != nil {
		return err
	}
	if d.Flows, err = h.svc.FindFlows(ctx, a); err != nil {
		return err
	}
	if d.Admins, err = h.admins(r); err != nil {
		return err
	}
	if a.CanAdmin() {
		all, err := h.orgs.FindOrgs(ctx)
		if err != nil {
			return err
		}
		for _, o := range all {
			if o.ID != a.OrgID {
				d.Orgs = append(d.Orgs, o)
			}
		}
		cs, err := h.orgs.FindCommunities(ctx, a)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if c.CoordinatorID == a.OrgID {
				d.Coordinated = append(d.Coordinated, c)
			}
		}
	}
	p := web.Page{Nav: "agreements", Data: d}
	p.Title = h.srv.Catalog.T(h.srv.Lang(r), "agreement.plural")
	return h.tpl.Render(w, r, status, "agreements", p)
}

func formInput(r *http.Request) (Input, error) {
	if err := r.ParseForm(); err != nil {
		// A body over the limit stays a *http.MaxBytesError in the chain
		// (413); anything else is a malformed form.
		return Input{}, fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
	}
	in := Input{Kind: r.PostFormValue("kind"), Partner: r.PostFormValue("partner_org_id"), Community: r.PostFormValue("community_id"),
		Title: r.PostFormValue("title"), Categories: r.PostForm["categories"], MaxTLP: r.PostFormValue("max_tlp"),
		Purpose: r.PostFormValue("purpose"), PersonalData: r.PostFormValue("personal_data") == "1",
		ValidFrom: r.PostFormValue("valid_from"), ValidUntil: r.PostFormValue("valid_until")}
	in.RetentionDays = atoi(r.PostFormValue("retention_days"))
	return in, nil
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' || n > 1e6 {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// admins names the admins of the reader's org for readers who are none
// ("" for admins): they are who accepts or ends an agreement.
func (h *Handler) admins(r *http.Request) (string, error) {
	a := web.ActorFrom(r)
	if a.CanAdmin() {
		return "", nil
	}
	names, err := h.orgs.FindAdminNames(r.Context(), a)
	return strings.Join(names, ", "), err
}

func (h *Handler) proposeForm(w http.ResponseWriter, r *http.Request) error {
	in, err := formInput(r)
	if err != nil {
		return err
	}
	a := web.ActorFrom(r)
	// A proposal that would be refused is not compared first: its error
	// comes before any warning.
	err = in.Validate()
	if err == nil && r.PostFormValue("duplicate_ok") != "1" {
		dups, err := h.svc.FindDuplicates(r.Context(), a, in)
		if err != nil {
			return err
		}
		if len(dups) > 0 {
			return h.renderList(w, r, http.StatusConflict, listData{Form: in, Duplicates: dups})
		}
	}
	var g Agreement
	if err == nil {
		g, err = h.svc.Propose(r.Context(), a, "", in)
	}
	if err != nil {
		if e, ok := fault.As(err); ok && (e.Kind == fault.Invalid || e.Kind == fault.Forbidden) {
			return h.renderList(w, r, web.Status(e.Kind), listData{Error: e, Form: in})
		}
		return err
	}
	return web.Redirect(w, r, "/agreements/"+g.ID, "proposed")
}

type detailData struct {
	Agreement
	Admins string // who decides for the reader's org, when the reader does not
}

func (h *Handler) detailPage(w http.ResponseWriter, r *http.Request) error {
	g, err := h.svc.FindAgreementByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	d := detailData{Agreement: g}
	if d.Admins, err = h.admins(r); err != nil {
		return err
	}
	title := g.Name()
	if title == "" {
		title = h.srv.Catalog.T(h.srv.Lang(r), "agreement.singular")
	}
	return h.tpl.Render(w, r, http.StatusOK, "agreement", web.Page{Nav: "agreements", Data: d, Title: title})
}

func (h *Handler) acceptForm(w http.ResponseWriter, r *http.Request) error {
	g, err := h.svc.Accept(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return web.Redirect(w, r, "/agreements/"+g.ID, "accepted")
}

func (h *Handler) revokeForm(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	before, err := h.svc.FindAgreementByID(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	g, err := h.svc.Revoke(r.Context(), a, before.ID)
	if err != nil {
		return err
	}
	// The notice says what happened: revoked, declined, withdrawn.
	flash := "revoked"
	if before.Ending != "revoke" {
		flash = "agreement_" + before.Ending
	}
	return web.Redirect(w, r, "/agreements/"+g.ID, flash)
}

func (h *Handler) apiList(w http.ResponseWriter, r *http.Request) error {
	gs, err := h.svc.FindAgreements(r.Context(), web.ActorFrom(r), r.URL.Query().Get("community"))
	if err != nil {
		return err
	}
	web.WriteList(w, gs, "")
	return nil
}

func (h *Handler) apiPropose(w http.ResponseWriter, r *http.Request) error {
	var in Input
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := in.Validate(); err != nil {
		return err
	}
	a := web.ActorFrom(r)
	dups, err := h.svc.FindDuplicates(r.Context(), a, in)
	if err != nil {
		return err
	}
	g, err := h.svc.Propose(r.Context(), a, "", in)
	if err != nil {
		return err
	}
	// A program is told of the agreements it may have repeated.
	for _, d := range dups {
		g.Duplicates = append(g.Duplicates, d.ID)
	}
	web.WriteJSON(w, http.StatusCreated, g)
	return nil
}

func (h *Handler) apiGet(w http.ResponseWriter, r *http.Request) error {
	g, err := h.svc.FindAgreementByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, g)
	return nil
}

func (h *Handler) apiAccept(w http.ResponseWriter, r *http.Request) error {
	g, err := h.svc.Accept(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, g)
	return nil
}

func (h *Handler) apiRevoke(w http.ResponseWriter, r *http.Request) error {
	g, err := h.svc.Revoke(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, g)
	return nil
}

func (h *Handler) apiFlows(w http.ResponseWriter, r *http.Request) error {
	fs, err := h.svc.FindFlows(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	web.WriteList(w, fs, "")
	return nil
}
