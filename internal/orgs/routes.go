package orgs

import (
	"embed"
	"net/http"
	"strings"

	"verbund/internal/fault"
	"verbund/internal/web"
)

// files are the capability's pages, its texts and its part of the API
// document.
//
//go:embed all:templates i18n openapi.json
var files embed.FS

// Handler serves the orgs and communities pages and API.
type Handler struct {
	svc      *Service
	srv      *web.Server
	tpl      *web.Templates
	charters Charters
}

// Register adds the routes; charters tells a circle's page who accepted
// its charter.
func Register(srv *web.Server, svc *Service, charters Charters) error {
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
	h := &Handler{svc: svc, srv: srv, tpl: tpl, charters: charters}
	for _, t := range h.objectTypes() {
		srv.AddObjectType(t)
	}
	r := srv.Router
	r.Handle("GET /orgs", web.Read, h.orgsPage)
	r.Handle("POST /orgs/{id}", web.OrgAdmin, h.updateOrgForm)
	r.Handle("GET /communities", web.Read, h.communitiesPage)
	r.Handle("POST /communities", web.OrgAdmin, h.createCommunityForm)
	r.Handle("GET /communities/{id}", web.Read, h.communityPage)
	r.Handle("POST /communities/{id}/join", web.OrgAdmin, h.joinForm)
	r.Handle("POST /communities/{id}/members/{org}/approve", web.OrgAdmin, h.decideForm(true))
	r.Handle("POST /communities/{id}/members/{org}/reject", web.OrgAdmin, h.decideForm(false))
	r.Handle("POST /communities/{id}/members/{org}/remove", web.OrgAdmin, h.leaveForm)

	r.Handle("GET /api/v1/orgs", web.Read, h.apiListOrgs)
	r.Handle("GET /api/v1/orgs/{id}", web.Read, h.apiGetOrg)
	r.Handle("PATCH /api/v1/orgs/{id}", web.OrgAdmin, h.apiUpdateOrg)
	r.Handle("GET /api/v1/communities", web.Read, h.apiListCommunities)
	r.Handle("POST /api/v1/communities", web.OrgAdmin, h.apiCreateCommunity)
	r.Handle("GET /api/v1/communities/{id}", web.Read, h.apiGetCommunity)
	r.Handle("GET /api/v1/communities/{id}/members", web.Read, h.apiMembers)
	r.Handle("POST /api/v1/communities/{id}/join", web.OrgAdmin, h.apiJoin)
	r.Handle("POST /api/v1/communities/{id}/members/{org}/approve", web.OrgAdmin, h.apiDecide(true))
	r.Handle("POST /api/v1/communities/{id}/members/{org}/reject", web.OrgAdmin, h.apiDecide(false))
	r.Handle("DELETE /api/v1/communities/{id}/members/{org}", web.OrgAdmin, h.apiLeave)
	return nil
}

type orgsData struct {
	Orgs  []Org
	Error *fault.Error
}

func (h *Handler) orgsPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderOrgs(w, r, http.StatusOK, nil)
}

func (h *Handler) renderOrgs(w http.ResponseWriter, r *http.Request, status int, e *fault.Error) error {
	os, err := h.svc.FindOrgs(r.Context())
	if err != nil {
		return err
	}
	p := web.Page{Nav: "orgs", Data: orgsData{Orgs: os, Error: e}}
	p.Title = h.srv.Catalog.T(h.srv.Lang(r), "org.plural")
	return h.tpl.Render(w, r, status, "orgs", p)
}

func (h *Handler) updateOrgForm(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.svc.UpdateOrg(r.Context(), web.ActorFrom(r), r.PathValue("id"), r.PostFormValue("security_contact")); err != nil {
		if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
			return h.renderOrgs(w, r, http.StatusBadRequest, e)
		}
		return err
	}
	return web.Redirect(w, r, "/orgs", "saved")
}

type communitiesData struct {
	Communities []Community
	Admins      string // who may ask to join, for readers who may not
	Error       *fault.Error
}

func (h *Handler) communitiesPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderCommunities(w, r, http.StatusOK, nil)
}

func (h *Handler) renderCommunities(w http.ResponseWriter, r *http.Request, status int, e *fault.Error) error {
	cs, err := h.svc.FindCommunities(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	admins, err := h.admins(r)
	if err != nil {
		return err
	}
	p := web.Page{Nav: "communities", Data: communitiesData{Communities: cs, Admins: admins, Error: e}}
	p.Title = h.srv.Catalog.T(h.srv.Lang(r), "community.plural")
	return h.tpl.Render(w, r, status, "communities", p)
}

func (h *Handler) createCommunityForm(w http.ResponseWriter, r *http.Request) error {
	c, err := h.svc.CreateCommunity(r.Context(), web.ActorFrom(r), r.PostFormValue("name"), r.PostFormValue("description"), "")
	if err != nil {
		if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
			return h.renderCommunities(w, r, http.StatusBadRequest, e)
		}
		return err
	}
	return web.Redirect(w, r, "/communities/"+c.ID, "saved")
}

type communityData struct {
	Community Community
	Members   []Member
	ChannelID string // the circle's forum channel (members only)
	Charter   Charter
	// HasCharter: a charter is in force; MyAccepted: the reader's org
	// accepted it (else it receives only TLP:CLEAR from the members).
	HasCharter, MyAccepted bool
	Admins                 string // who decides for the reader's org, for readers who do not
	Error                  *fault.Error
}

// admins names the admins of the reader's org for readers who are none
// ("" for admins): they ask to join circles and accept charters.
func (h *Handler) admins(r *http.Request) (string, error) {
	a := web.ActorFrom(r)
	if a.CanAdmin() {
		return "", nil
	}
	names, err := h.svc.FindAdminNames(r.Context(), a)
	return strings.Join(names, ", "), err
}

func (h *Handler) communityPage(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	ctx := r.Context()
	c, err := h.svc.FindCommunityByID(ctx, a, r.PathValue("id"))
	if err != nil {
		return err
	}
	d := communityData{Community: c}
	if d.Admins, err = h.admins(r); err != nil {
		return err
	}
	if c.MyStatus == "active" {
		if d.Members, err = h.svc.FindMembers(ctx, a, c.ID); err != nil {
			return err
		}
		if d.ChannelID, err = h.svc.FindChannelID(ctx, a, c.ID); err != nil {
			return err
		}
		if d.Charter, d.HasCharter, err = h.charters.FindCharter(ctx, a, c.ID); err != nil {
			return err
		}
		d.MyAccepted = d.Charter.Accepted[a.OrgID]
	}
	p := web.Page{Nav: "communities", Data: d, Title: c.Name}
	return h.tpl.Render(w, r, http.StatusOK, "community", p)
}

func (h *Handler) joinForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := h.svc.RequestJoin(r.Context(), web.ActorFrom(r), id, r.PostFormValue("message")); err != nil {
		return err
	}
	return web.Redirect(w, r, "/communities/"+id, "request_sent")
}

func (h *Handler) decideForm(approve bool) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if err := h.svc.Decide(r.Context(), web.ActorFrom(r), id, r.PathValue("org"), approve); err != nil {
			return err
		}
		return web.Redirect(w, r, "/communities/"+id, "saved")
	}
}

func (h *Handler) leaveForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := h.svc.Leave(r.Context(), web.ActorFrom(r), id, r.PathValue("org")); err != nil {
		return err
	}
	return web.Redirect(w, r, "/communities", "saved")
}

func (h *Handler) apiListOrgs(w http.ResponseWriter, r *http.Request) error {
	os, err := h.svc.FindOrgs(r.Context())
	if err != nil {
		return err
	}
	web.WriteList(w, os, "")
	return nil
}

func (h *Handler) apiGetOrg(w http.ResponseWriter, r *http.Request) error {
	o, err := h.svc.FindOrgByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, o)
	return nil
}

func (h *Handler) apiUpdateOrg(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		SecurityContact *string `json:"security_contact"`
	}
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	a := web.ActorFrom(r)
	if in.SecurityContact == nil { // PATCH: an omitted field stays as it is
		if r.PathValue("id") != a.OrgID {
			return fault.ErrNotFound
		}
		o, err := h.svc.FindOrgByID(r.Context(), a.OrgID)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, o)
		return nil
	}
	o, err := h.svc.UpdateOrg(r.Context(), a, r.PathValue("id"), *in.SecurityContact)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, o)
	return nil
}

func (h *Handler) apiListCommunities(w http.ResponseWriter, r *http.Request) error {
	cs, err := h.svc.FindCommunities(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	web.WriteList(w, cs, "")
	return nil
}

func (h *Handler) apiCreateCommunity(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	c, err := h.svc.CreateCommunity(r.Context(), web.ActorFrom(r), in.Name, in.Description, "")
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, c)
	return nil
}

func (h *Handler) apiGetCommunity(w http.ResponseWriter, r *http.Request) error {
	c, err := h.svc.FindCommunityByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, c)
	return nil
}

func (h *Handler) apiMembers(w http.ResponseWriter, r *http.Request) error {
	ms, err := h.svc.FindMembers(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteList(w, ms, "")
	return nil
}

func (h *Handler) apiJoin(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Message string `json:"message"`
	}
	if r.ContentLength != 0 {
		if err := web.DecodeJSON(w, r, &in); err != nil {
			return err
		}
	}
	if err := h.svc.RequestJoin(r.Context(), web.ActorFrom(r), r.PathValue("id"), in.Message); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusAccepted, map[string]string{"status": "pending"})
	return nil
}

func (h *Handler) apiDecide(approve bool) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := h.svc.Decide(r.Context(), web.ActorFrom(r), r.PathValue("id"), r.PathValue("org"), approve); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func (h *Handler) apiLeave(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.Leave(r.Context(), web.ActorFrom(r), r.PathValue("id"), r.PathValue("org")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
