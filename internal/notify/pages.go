package notify

import (
	"net/http"
	"slices"

	"verbund/internal/fault"
	"verbund/internal/web"
)

// pages are the webhook settings of an org (its admins; others read why
// they see none).
type pages struct {
	svc *Service
	srv *web.Server
	tpl *web.Templates
}

func registerPages(srv *web.Server, svc *Service) error {
	tpl, err := srv.Templates(files, "templates/*.html")
	if err != nil {
		return err
	}
	p := &pages{svc: svc, srv: srv, tpl: tpl}
	srv.AddNav(web.NavItem{Key: "webhooks", Path: "/webhooks", Label: "nav.webhooks", Admins: true})
	r := srv.Router
	r.Handle("GET /webhooks", web.Read, p.listPage)
	r.Handle("POST /webhooks", web.OrgAdmin, p.createForm)
	r.Handle("GET /webhooks/{id}", web.OrgAdmin, p.logPage)
	r.Handle("POST /webhooks/{id}/delete", web.OrgAdmin, p.deleteForm)
	r.Handle("GET /profile/mail", web.Read, p.mailPage)
	r.Handle("POST /profile/mail", web.Self, p.mailForm)
	return nil
}

type eventType struct {
	Type, Label string
	Checked     bool
}

type listData struct {
	Hooks        []Webhook
	New          *Webhook // just made: its secret, shown once
	Types        []eventType
	Severities   []string
	Form         WebhookInput
	AllowPrivate bool // the operator allows internal targets (the hint says so)
	Error        *fault.Error
}

func (p *pages) listPage(w http.ResponseWriter, r *http.Request) error {
	return p.render(w, r, http.StatusOK, listData{})
}

func (p *pages) render(w http.ResponseWriter, r *http.Request, status int, d listData) error {
	a := web.ActorFrom(r)
	lang := p.srv.Lang(r)
	if a.CanAdmin() {
		hooks, err := p.svc.Webhooks(r.Context(), a)
		if err != nil {
			return err
		}
		d.Hooks = hooks
	}
	for _, t := range p.svc.EventTypes() {
		d.Types = append(d.Types, eventType{Type: t, Label: p.srv.Catalog.T(lang, "notify.event."+t), Checked: slices.Contains(d.Form.Events, t)})
	}
	d.Severities = severityNames[1:]
	d.AllowPrivate = p.svc.AllowPrivate
	pg := web.Page{Nav: "webhooks", Data: d, Title: p.srv.Catalog.T(lang, "notify.title")}
	return p.tpl.Render(w, r, status, "webhooks", pg)
}

func (p *pages) createForm(w http.ResponseWriter, r *http.Request) error {
	in := WebhookInput{URL: r.PostFormValue("url"), Events: r.PostForm["events"], MinSeverity: r.PostFormValue("min_severity")}
	hook, err := p.svc.CreateWebhook(r.Context(), web.ActorFrom(r), in)
	if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
		return p.render(w, r, web.Status(e.Kind), listData{Error: e, Form: in})
	}
	if err != nil {
		return err
	}
	return p.render(w, r, http.StatusCreated, listData{New: &hook})
}

func (p *pages) deleteForm(w http.ResponseWriter, r *http.Request) error {
	if err := p.svc.DeleteWebhook(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	return web.Redirect(w, r, "/webhooks", "webhook_deleted")
}

type stateCount struct {
	State        string
	Count, Width int
}

type logData struct {
	Hook       Webhook
	Deliveries []Delivery
	States     []stateCount
}

func (p *pages) logPage(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	ds, err := p.svc.Deliveries(r.Context(), a, r.PathValue("id"), 200)
	if err != nil {
		return err
	}
	hooks, err := p.svc.Webhooks(r.Context(), a)
	if err != nil {
		return err
	}
	d := logData{Deliveries: ds}
	for _, h := range hooks {
		if h.ID == r.PathValue("id") {
			d.Hook = h
		}
	}
	counts := map[string]int{}
	most := 0
	for _, x := range ds {
		counts[x.State]++
		most = max(most, counts[x.State])
	}
	for _, st := range []string{"delivered", "pending", "dead"} {
		d.States = append(d.States, stateCount{State: st, Count: counts[st], Width: web.BarWidth(counts[st], most)})
	}
	pg := web.Page{Nav: "webhooks", Data: d, Title: p.srv.Catalog.T(p.srv.Lang(r), "notify.log_title")}
	return p.tpl.Render(w, r, http.StatusOK, "deliveries", pg)
}
