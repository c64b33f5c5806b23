package vulns

import (
	"context"
	"embed"
	"net/http"
	"slices"

	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// extraFiles is the API document of subscriptions, the CSAF VEX export
// and asset editing (a fragment of its own beside openapi.json).
//
//go:embed openapi_extra.json
var extraFiles embed.FS

// registerSubscriptions adds the subscription pages and API.
func registerSubscriptions(srv *web.Server, h *handler) error {
	if err := srv.AddOpenAPI(extraFiles, "openapi_extra.json"); err != nil {
		return err
	}
	srv.AddObjectType(h.svc.subscriptionType())
	r := srv.Router
	r.Handle("GET /vulns/subscriptions", web.Read, h.subscriptionsPage)
	r.Handle("POST /vulns/subscriptions", web.Write, h.createSubscriptionForm)
	r.Handle("POST /vulns/subscriptions/{id}/run", web.Write, h.runSubscriptionForm)
	r.Handle("POST /vulns/subscriptions/{id}/delete", web.Write, h.deleteSubscriptionForm)
	r.Handle("GET /api/v1/subscriptions", web.Read, h.apiSubscriptions)
	r.Handle("POST /api/v1/subscriptions", web.Write, h.apiCreateSubscription)
	r.Handle("GET /api/v1/subscriptions/{id}", web.Read, h.apiSubscription)
	r.Handle("POST /api/v1/subscriptions/{id}/run", web.Write, h.apiRunSubscription)
	r.Handle("DELETE /api/v1/subscriptions/{id}", web.Write, h.apiDeleteSubscription)
	return nil
}

// subscriptionType names subscriptions in the org's audit trail.
func (s *Service) subscriptionType() web.ObjectType {
	return web.ObjectType{Name: "vuln_subscription", Label: "vulns.sub.object", Resolve: func(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
		list, err := s.FindSubscriptions(ctx, a)
		out := map[string]web.Ref{}
		for _, x := range list {
			if slices.Contains(ids, x.ID) {
				out[x.ID] = web.Ref{Name: cmpOr(x.Publisher, x.URL), URL: "/vulns/subscriptions#sub-" + x.ID}
			}
		}
		return out, err
	}}
}

func (h *handler) apiSubscriptions(w http.ResponseWriter, r *http.Request) error {
	list, err := h.svc.FindSubscriptions(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	web.WriteList(w, list, "")
	return nil
}

func (h *handler) apiCreateSubscription(w http.ResponseWriter, r *http.Request) error {
	var in SubscriptionInput
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	sub, err := h.svc.CreateSubscription(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, sub)
	return nil
}

func (h *handler) apiSubscription(w http.ResponseWriter, r *http.Request) error {
	sub, err := h.svc.FindSubscription(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, sub)
	return nil
}

func (h *handler) apiRunSubscription(w http.ResponseWriter, r *http.Request) error {
	rep, err := h.svc.RunSubscription(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, rep)
	return nil
}

func (h *handler) apiDeleteSubscription(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteSubscription(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type subscriptionsData struct {
	Subs    []subRow
	Circles []option
	Form    SubscriptionInput
	Error   *fault.Error
	// Ran is the subscription a run was just asked for.
	Ran string
}

// subRow is a subscription as the page shows it: its refused documents
// with the catalogue key of each code.
type subRow struct {
	Subscription
	CommunityName string
	Rows          []errRow
}

type errRow struct {
	ItemError
	Key string
}

// errKey is the catalogue key of a refused document's code.
func errKey(code string) string {
	if slices.Contains(RejectCodes, code) {
		return "vulns.reject." + code
	}
	if slices.Contains(SubscriptionErrors, code) {
		return "vulns.sub.error." + code
	}
	return "vulns.sub.error.other"
}

func (h *handler) subscriptionsPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderSubscriptions(w, r, http.StatusOK, subscriptionsData{Ran: r.URL.Query().Get("ran")})
}

func (h *handler) renderSubscriptions(w http.ResponseWriter, r *http.Request, status int, d subscriptionsData) error {
	a := web.ActorFrom(r)
	list, err := h.svc.FindSubscriptions(r.Context(), a)
	if err != nil {
		return err
	}
	if d.Circles, err = circles(r.Context(), h.svc.DB.R(), a.OrgID); err != nil {
		return err
	}
	for _, x := range list {
		full, err := h.svc.FindSubscription(r.Context(), a, x.ID)
		if err != nil {
			return err
		}
		row := subRow{Subscription: full}
		for _, c := range d.Circles {
			if c.ID == full.Community {
				row.CommunityName = c.Name
			}
		}
		for _, e := range full.Errors {
			row.Rows = append(row.Rows, errRow{ItemError: e, Key: errKey(e.Code)})
		}
		d.Subs = append(d.Subs, row)
	}
	return h.tpl.Render(w, r, status, "subscriptions", web.Page{Nav: "vulns", Title: h.t(r, "vulns.sub.title"), Data: d})
}

func (h *handler) createSubscriptionForm(w http.ResponseWriter, r *http.Request) error {
	in := SubscriptionInput{URL: r.PostFormValue("url"), TLP: r.PostFormValue("tlp"), Community: r.PostFormValue("community_id")}
	if _, err := h.svc.CreateSubscription(r.Context(), web.ActorFrom(r), in); err != nil {
		if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
			return h.renderSubscriptions(w, r, http.StatusBadRequest, subscriptionsData{Form: in, Error: e})
		}
		return err
	}
	return web.Redirect(w, r, "/vulns/subscriptions", "subscription_added")
}

// runSubscriptionForm runs a subscription now and shows its outcome in
// the list.
func (h *handler) runSubscriptionForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := h.svc.RunSubscription(r.Context(), web.ActorFrom(r), id); err != nil {
		if e, ok := fault.As(err); ok && e.Kind == fault.Conflict {
			return h.renderSubscriptions(w, r, http.StatusConflict, subscriptionsData{Error: e})
		}
		return err
	}
	return web.Redirect(w, r, "/vulns/subscriptions?ran="+id+"#sub-"+id, "subscription_ran")
}

func (h *handler) deleteSubscriptionForm(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteSubscription(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	return web.Redirect(w, r, "/vulns/subscriptions", "subscription_deleted")
}
