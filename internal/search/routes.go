package search

import (
	"embed"
	"net/http"
	"strings"

	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// files are the search page, its texts and its part of the API document.
//
//go:embed all:templates i18n openapi.json
var files embed.FS

type handler struct {
	svc *Service
	srv *web.Server
	tpl *web.Templates
}

// Register adds the search routes. The search box itself is the layout's
// (internal/web), on every page.
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
	svc.Resolve = srv.Resolve
	h := &handler{svc: svc, srv: srv, tpl: tpl}
	srv.Router.Handle("GET /search", web.Read, h.page)
	srv.Router.Handle("GET /api/v1/search", web.Read, h.api)
	return nil
}

// query reads a search from the request's query string; type and tlp may
// repeat or list values separated by commas.
func query(r *http.Request) Query {
	v := r.URL.Query()
	list := func(k string) []string {
		var out []string
		for _, x := range v[k] {
			for _, p := range strings.Split(x, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
		return out
	}
	return Query{Q: v.Get("q"), Types: list("type"), Levels: list("tlp"), Org: v.Get("org"), From: v.Get("from"), To: v.Get("to"), Next: v.Get("next")}
}

func (h *handler) api(w http.ResponseWriter, r *http.Request) error {
	limit, err := web.Limit(r, 20, 100)
	if err != nil {
		return err
	}
	q := query(r)
	q.Limit = limit
	items, next, err := h.svc.Search(r.Context(), web.ActorFrom(r), q)
	if err != nil {
		return err
	}
	web.WriteList(w, items, next)
	return nil
}

// TypeOption is a kind the search page offers as a filter.
type TypeOption struct{ Name, Label string }

type pageData struct {
	Query    Query
	Items    []Item
	Next     string // the next page's address
	Searched bool
	Types    []TypeOption
	Levels   []policy.TLP
	Orgs     []policy.Option
	Labels   map[string]string // kind → catalogue key of its name
	Error    *fault.Error
}

func (h *handler) page(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	q := query(r)
	q.Limit = 20
	d := pageData{Query: q, Levels: policy.Levels(), Labels: map[string]string{}}
	for _, t := range h.svc.Types() {
		d.Types = append(d.Types, TypeOption{Name: t, Label: h.srv.ObjectLabel(t)})
		d.Labels[t] = h.srv.ObjectLabel(t)
	}
	var err error
	if d.Orgs, err = h.svc.Orgs(r.Context(), a); err != nil {
		return err
	}
	status := http.StatusOK
	if strings.TrimSpace(q.Q) != "" || q.Next != "" {
		items, next, err := h.svc.Search(r.Context(), a, q)
		if err != nil {
			e, ok := fault.As(err)
			if !ok || e.Kind != fault.Invalid && e.Kind != fault.RateLimited {
				return err
			}
			d.Error, status = e, web.Status(e.Kind)
		}
		d.Items, d.Searched = items, err == nil
		if next != "" {
			v := r.URL.Query()
			v.Set("next", next)
			d.Next = "/search?" + v.Encode()
		}
	}
	title := h.srv.Catalog.T(h.srv.Lang(r), "search.title")
	if q.Q != "" {
		title = h.srv.Catalog.T(h.srv.Lang(r), "search.results_for", "query", q.Q)
	}
	return h.tpl.Render(w, r, status, "search", web.Page{Nav: "search", Data: d, Title: title})
}
