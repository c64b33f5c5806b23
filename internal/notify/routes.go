package notify

import (
	"context"
	"embed"
	"net/http"
	"strconv"

	"verbund/internal/policy"
	"verbund/internal/web"
)

//go:embed i18n/*.json openapi.json templates/*.html
var files embed.FS

type handler struct{ svc *Service }

// Register adds the webhook API (an org's admins manage their org's
// webhooks and read their delivery logs) and the e-mail settings (each
// person their own).
func Register(srv *web.Server, svc *Service) error {
	if err := srv.Catalog.Add(files, "i18n"); err != nil {
		return err
	}
	if err := srv.AddOpenAPI(files, "openapi.json"); err != nil {
		return err
	}
	srv.AddObjectType(web.ObjectType{Name: "webhook", Label: "notify.webhook", Resolve: svc.resolve})
	if err := registerPages(srv, svc); err != nil {
		return err
	}
	h := &handler{svc}
	r := srv.Router
	r.Handle("POST /api/v1/webhooks", web.OrgAdmin, h.create)
	r.Handle("GET /api/v1/webhooks", web.OrgAdmin, h.list)
	r.Handle("DELETE /api/v1/webhooks/{id}", web.OrgAdmin, h.delete)
	r.Handle("GET /api/v1/webhooks/{id}/deliveries", web.OrgAdmin, h.deliveries)
	// E-mail: each person's own settings and log; the org's log for its
	// admins.
	r.Handle("GET /api/v1/me/mail", web.Read, h.mailPrefs)
	r.Handle("PATCH /api/v1/me/mail", web.Self, h.setMailPrefs)
	r.Handle("GET /api/v1/me/mail/deliveries", web.Read, h.myMails)
	r.Handle("GET /api/v1/mail/deliveries", web.OrgAdmin, h.orgMails)
	return nil
}

func (h *handler) mailPrefs(w http.ResponseWriter, r *http.Request) error {
	p, err := h.svc.MailPreferences(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, p)
	return nil
}

func (h *handler) setMailPrefs(w http.ResponseWriter, r *http.Request) error {
	var in MailPrefsInput
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	p, err := h.svc.SetMailPreferences(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, p)
	return nil
}

func (h *handler) myMails(w http.ResponseWriter, r *http.Request) error {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	ds, err := h.svc.MyMails(r.Context(), web.ActorFrom(r), limit)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, items[MailDelivery]{Items: append([]MailDelivery{}, ds...)})
	return nil
}

func (h *handler) orgMails(w http.ResponseWriter, r *http.Request) error {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	ds, err := h.svc.OrgMails(r.Context(), web.ActorFrom(r), limit)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, items[MailDelivery]{Items: append([]MailDelivery{}, ds...)})
	return nil
}

// resolve names the webhooks an audit record names: by their host (a
// receiver's path often holds a secret), for their own org's readers
// only.
func (s *Service) resolve(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	out := map[string]web.Ref{}
	for _, id := range ids {
		var url string
		if err := s.DB.R().QueryRow(ctx, `SELECT url FROM webhooks WHERE id = ? AND org_id = ?`, id, a.OrgID).Scan(&url); err == nil {
			out[id] = web.Ref{Name: hostOf(url)}
		}
	}
	return out, nil
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) error {
	var in WebhookInput
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	hook, err := h.svc.CreateWebhook(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, hook)
	return nil
}

type items[T any] struct {
	Items []T `json:"items"`
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) error {
	hooks, err := h.svc.Webhooks(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, items[Webhook]{Items: append([]Webhook{}, hooks...)})
	return nil
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteWebhook(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) deliveries(w http.ResponseWriter, r *http.Request) error {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	ds, err := h.svc.Deliveries(r.Context(), web.ActorFrom(r), r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, items[Delivery]{Items: append([]Delivery{}, ds...)})
	return nil
}
