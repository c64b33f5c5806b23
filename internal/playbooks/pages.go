package playbooks

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// The pages of playbooks: the library with its search, a playbook's page
// (the flow as SVG beside the step list, versions, export) and the import
// form. Every page reads through the service, so through policy.Reader.

func (h *handler) t(r *http.Request, key string, args ...any) string {
	return h.srv.Catalog.T(h.srv.Lang(r), key, args...)
}

type option struct{ ID, Name string }

type listData struct {
	Playbooks []Playbook
	Filter    ListFilter
	Next      string
	Circles   []option // the libraries of the reader's trust circles
	Query     string   // the next page's query, without next
}

func (h *handler) listPage(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	q := r.URL.Query()
	f := ListFilter{Library: q.Get("library"), Q: q.Get("q"), After: q.Get("next"), Limit: 50}
	list, next, err := h.svc.FindPlaybooks(r.Context(), a, f)
	if err != nil {
		return err
	}
	cs, err := circles(r.Context(), h.svc.DB.R(), a.OrgID)
	if err != nil {
		return err
	}
	keep := url.Values{}
	for _, k := range []string{"library", "q"} {
		if v := q.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	d := listData{Playbooks: list, Filter: f, Next: next, Circles: cs, Query: keep.Encode()}
	return h.tpl.Render(w, r, http.StatusOK, "list", web.Page{Nav: "playbooks", Title: h.t(r, "playbooks.title"), Data: d, Live: "/events?topic=playbooks"})
}

func circles(ctx context.Context, h db.Handle, org string) ([]option, error) {
	rows, err := h.Query(ctx, `SELECT c.id, c.name FROM community_members m JOIN communities c ON c.id = m.community_id
		WHERE m.org_id = ? AND m.status = 'active' ORDER BY c.name_key`, org)
	if err != nil {
		return nil, fmt.Errorf("list circles: %w", err)
	}
	return db.Collect(rows, "list circles", func(r db.Scanner) (o option, err error) {
		err = r.Scan(&o.ID, &o.Name)
		return o, err
	})
}

type playbookData struct {
	P         Playbook
	Flow      template.HTML // "" when the playbook is too large to draw (MaxDrawn)
	MaxDrawn  int
	CanDelete bool
	CanEdit   bool     // the owner's writers, for a playbook the editor can show
	Audience  []string // names of a named audience
	Types     []string // the playbook_types in the page's language
}

func (h *handler) playbookPage(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	p, err := h.svc.FindPlaybookByID(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	lang := h.srv.Lang(r)
	t := func(key string, args ...any) string { return h.srv.Catalog.T(lang, key, args...) }
	flow := Flow{
		Title: t("playbooks.flow.title", "name", p.Name),
		Desc:  t("playbooks.flow.desc", "steps", len(p.Flow)),
		Type:  func(typ string) string { return t(TypeKey(typ)) },
		Edge: func(e Edge) string {
			if c := e.Case(); c != "" {
				return c
			}
			if k := e.Label(); k != "" {
				return t(k)
			}
			return ""
		},
		Responsible: func(agent string) string { return t("playbooks.responsible_for", "agent", agent) },
	}
	d := playbookData{P: p, MaxDrawn: MaxDrawn, CanDelete: a.CanWrite() && p.OrgID == a.OrgID}
	if Drawn(p.Flow) {
		d.Flow = flow.SVG(p.Flow)
	}
	d.CanEdit = d.CanDelete && editable(p.Doc)
	// playbook_types is an open vocabulary: a type outside CACAO's is
	// shown as written.
	for _, typ := range p.Types {
		if k := "playbooks.ptype." + typ; h.srv.Catalog.Has(k) {
			typ = t(k)
		}
		d.Types = append(d.Types, typ)
	}
	if d.Audience, err = policy.AudienceNames(r.Context(), h.svc.DB.R(), p.Share.Audience); err != nil {
		return err
	}
	return h.tpl.Render(w, r, http.StatusOK, "playbook", web.Page{Nav: "playbooks", Title: p.Name, Data: d})
}

type importData struct {
	TLP, Community string
	Circles        []option
	Report         *Report
	Error          *fault.Error
}

func (h *handler) importPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderImport(w, r, http.StatusOK, importData{Community: r.URL.Query().Get("community_id")})
}

func (h *handler) renderImport(w http.ResponseWriter, r *http.Request, status int, d importData) error {
	var err error
	if d.Circles, err = circles(r.Context(), h.svc.DB.R(), web.ActorFrom(r).OrgID); err != nil {
		return err
	}
	return h.tpl.Render(w, r, status, "import", web.Page{Nav: "playbooks", Title: h.t(r, "playbooks.import.title"), Data: d})
}

// importForm imports the uploaded playbooks and shows the report.
func (h *handler) importForm(w http.ResponseWriter, r *http.Request) error {
	up, err := readUpload(w, r)
	if err != nil {
		if e, ok := fault.As(err); ok && e.Kind != fault.Internal {
			return h.renderImport(w, r, web.Status(e.Kind), importData{Error: e})
		}
		return err
	}
	d := importData{TLP: up.fields["tlp"], Community: up.fields["community_id"]}
	opts := ImportOptions{TLP: d.TLP}
	if d.Community != "" {
		opts.Sharing = policy.Sharing{Audience: "community", Community: d.Community}
	}
	if len(up.inputs) == 0 {
		d.Error = fault.BadInput("files", "playbooks_missing", "send at least one CACAO playbook (JSON)")
		return h.renderImport(w, r, http.StatusBadRequest, d)
	}
	rep, err := h.svc.Import(r.Context(), web.ActorFrom(r), up.inputs, opts)
	if err != nil {
		if e, ok := fault.As(err); ok && e.Kind != fault.Internal {
			d.Error = e
			return h.renderImport(w, r, web.Status(e.Kind), d)
		}
		return err
	}
	d.Report = &rep
	return h.renderImport(w, r, http.StatusOK, d)
}

func (h *handler) deleteForm(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeletePlaybook(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	return web.Redirect(w, r, "/playbooks", "playbook_deleted")
}

// objectType names playbooks in the audit trail and the hub's search for
// readers who may see them.
func (s *Service) objectType() web.ObjectType {
	return web.ObjectType{Name: "playbook", Label: "playbooks.playbook", Resolve: func(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
		h := s.DB.R()
		r, err := policy.NewReader(ctx, h, a, db.Now())
		if err != nil {
			return nil, err
		}
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		q := db.Q(`SELECT p.id, p.name FROM `).Append(r.From(s.playbooks, "p")).Add(` WHERE p.id IN (`+db.Placeholders(len(ids))+`)`, args...)
		rows, err := h.Select(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("name playbooks: %w", err)
		}
		found, err := db.Collect(rows, "name playbooks", func(r db.Scanner) (v [2]string, err error) {
			err = r.Scan(&v[0], &v[1])
			return v, err
		})
		out := make(map[string]web.Ref, len(found))
		for _, v := range found {
			out[v[0]] = web.Ref{Name: v[1], URL: "/playbooks/" + v[0]}
		}
		return out, err
	}}
}
