package vulns

import (
	"context"
	"embed"
	"net/http"

	"verbund/internal/fault"
	"verbund/internal/web"
)

// providerAPI is the publishing part of the API document.
//
//go:embed openapi_provider.json
var providerAPI embed.FS

// registerPublishing adds the publish and unpublish actions (page and
// API), the org's provider summary and the provider itself
// (registerProvider).
func registerPublishing(srv *web.Server, h *handler) error {
	if err := srv.AddOpenAPI(providerAPI, "openapi_provider.json"); err != nil {
		return err
	}
	r := srv.Router
	r.Handle("POST /vulns/advisories/{id}/publish", web.Write, withBase(h.publishForm))
	r.Handle("POST /vulns/advisories/{id}/unpublish", web.Write, withBase(h.unpublishForm))
	r.Handle("PUT /api/v1/advisories/{id}/publication", web.Write, withBase(h.apiPublish))
	r.Handle("DELETE /api/v1/advisories/{id}/publication", web.Write, withBase(h.apiUnpublish))
	r.Handle("GET /api/v1/csaf-provider", web.Read, withBase(h.apiProvider))
	r.Handle("GET /vulns/compose", web.Write, h.composePage)
	r.Handle("POST /vulns/compose", web.Write, withBase(h.composeForm))
	r.Handle("POST /api/v1/advisories/compose", web.Write, withBase(h.apiCompose))
	registerProvider(srv, h)
	return nil
}

// publicationOf is the publication of advisory a for its page: shown to
// the advisory's own org only (others see the provider itself).
func (s *Service) publicationOf(ctx context.Context, a Advisory) (*Publication, error) {
	p, ok, err := s.published(ctx, a.ID)
	if err != nil || !ok {
		return nil, err
	}
	return &p, nil
}

func (h *handler) publishForm(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.svc.Publish(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
			return h.renderAdvisory(w, r, http.StatusBadRequest, advisoryData{PublishError: e})
		}
		return err
	}
	return web.Redirect(w, r, "/vulns/advisories/"+r.PathValue("id")+"#publication", "advisory_published")
}

func (h *handler) unpublishForm(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.Unpublish(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	return web.Redirect(w, r, "/vulns/advisories/"+r.PathValue("id")+"#publication", "advisory_unpublished")
}

func (h *handler) apiPublish(w http.ResponseWriter, r *http.Request) error {
	p, err := h.svc.Publish(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, p)
	return nil
}

func (h *handler) apiUnpublish(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.Unpublish(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) apiProvider(w http.ResponseWriter, r *http.Request) error {
	p, err := h.svc.FindProvider(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, p)
	return nil
}
