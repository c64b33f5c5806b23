package audit

import (
	"net/http"
	"net/url"

	"verbund/internal/fault"
	"verbund/internal/web"
)

// row is one record as the page shows it: names instead of ids (as far as
// the reader may know them), the object's page, the action's name.
type row struct {
	Record
	Action      string  // readable name ("" when the catalogue has none: the page shows the code)
	Actor, Org  web.Ref // who acted, for whom
	Object      web.Ref // what it changed (no name: unknown to the reader, or gone)
	ObjectLabel string  // catalogue key of the object's type ("" unknown)
	// Gap counts the records between this one and the one above it that
	// concern other orgs only (the chain numbers every record of the hub).
	Gap int64
}

type pageData struct {
	Rows        []row
	Next        string // the next page's address
	Action      string
	From, Until string
	Filtered    bool
	Verified    bool // the chain was checked on this request
	Chain       Result
	Error       *fault.Error // a filter the list cannot use (a date that is none, a period that ends before it starts)
}

func (h *handler) page(w http.ResponseWriter, r *http.Request) error {
	recs, next, q, err := h.list(r)
	if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
		// The page with its filters as given and the error on the field,
		// not an error page instead of it.
		d := pageData{Action: q.Action, From: q.From, Until: q.Until, Filtered: true, Error: e}
		p := web.Page{Nav: "audit", Data: d, Title: h.srv.Catalog.T(h.srv.Lang(r), "audit.title")}
		return h.tpl.Render(w, r, http.StatusBadRequest, "audit", p)
	}
	if err != nil {
		return err
	}
	d := pageData{Action: q.Action, From: q.From, Until: q.Until, Filtered: q.filtered()}
	if d.Rows, err = h.rows(r, recs, !d.Filtered && r.URL.Query().Get("next") == ""); err != nil {
		return err
	}
	if next != "" {
		v := url.Values{"next": {next}}
		for k, s := range map[string]string{"action": q.Action, "from": q.From, "until": q.Until} {
			if s != "" {
				v.Set(k, s)
			}
		}
		d.Next = "/audit?" + v.Encode()
	}
	if r.URL.Query().Get("verify") == "1" {
		// The whole chain, every org's records: the reader learns only
		// whether it is intact and where it is not.
		if d.Chain, err = Verify(r.Context(), h.db); err != nil {
			return err
		}
		d.Verified = true
	}
	p := web.Page{Nav: "audit", Data: d}
	p.Title = h.srv.Catalog.T(h.srv.Lang(r), "audit.title")
	return h.tpl.Render(w, r, http.StatusOK, "audit", p)
}

// rows names what the records refer to, each kind of object by the
// capability that owns it (web.Server.Resolve), as the reader may know it.
// gaps: count the other orgs' records between the rows (the list is the
// whole trail of the org from its newest record, unfiltered).
func (h *handler) rows(r *http.Request, recs []Record, gaps bool) ([]row, error) {
	a := web.ActorFrom(r)
	lang := h.srv.Lang(r)
	ids := map[string][]string{}
	for _, rec := range recs {
		ids["user"] = append(ids["user"], rec.ActorUserID)
		ids["org"] = append(ids["org"], rec.ActorOrgID)
		if rec.ObjectID != "" {
			ids[rec.ObjectType] = append(ids[rec.ObjectType], rec.ObjectID)
		}
	}
	refs := map[string]map[string]web.Ref{}
	for typ, list := range ids {
		m, err := h.srv.Resolve(r.Context(), a, typ, uniqueSorted(list))
		if err != nil {
			return nil, err
		}
		refs[typ] = m
	}
	out := make([]row, len(recs))
	for i, rec := range recs {
		out[i] = row{Record: rec, Actor: refs["user"][rec.ActorUserID], Org: refs["org"][rec.ActorOrgID],
			Object: refs[rec.ObjectType][rec.ObjectID], ObjectLabel: h.srv.ObjectLabel(rec.ObjectType)}
		if k := actionKey + rec.Action; h.srv.Catalog.Has(k) {
			out[i].Action = h.srv.Catalog.T(lang, k)
		}
		if gaps && i > 0 {
			out[i].Gap = recs[i-1].Seq - rec.Seq - 1
		}
	}
	return out, nil
}
