package audit

import (
	"bufio"
	"embed"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/web"
)

// files are the capability's pages, its texts and its part of the API
// document.
//
//go:embed all:templates i18n openapi.json
var files embed.FS

type handler struct {
	db  *db.DB
	srv *web.Server
	tpl *web.Templates
}

// Register adds the audit trail's pages and API: admins and auditors see
// and export the records that concern their org.
func Register(srv *web.Server, d *db.DB) error {
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
	h := &handler{db: d, srv: srv, tpl: tpl}
	srv.Router.Handle("GET /audit", web.Audit, h.page)
	srv.Router.HandleLong("GET /audit/export", web.Audit, h.export)
	srv.Router.Handle("GET /api/v1/audit", web.Audit, h.apiList)
	srv.Router.HandleLong("GET /api/v1/audit/export", web.Audit, h.export)
	return nil
}

// query is what a list of the trail was asked for.
type query struct {
	Action, From, Until string // as given (the form shows them again)
	filter              Filter
}

// filtered reports whether the list leaves out records of the reader's
// org, so that gaps in the numbering are not only other orgs' records.
func (q query) filtered() bool { return q.Action != "" || q.From != "" || q.Until != "" }

// parse reads the list's parameters: cursor, page size, action, period.
func (h *handler) parse(r *http.Request) (query, int, error) {
	v := r.URL.Query()
	q := query{Action: strings.TrimSpace(v.Get("action")), From: v.Get("from"), Until: v.Get("until")}
	limit, err := web.Limit(r, 50, MaxList-1)
	if err != nil {
		return q, 0, err
	}
	f := Filter{OrgID: web.ActorFrom(r).OrgID, Limit: limit + 1, Action: q.Action}
	if c := v.Get("next"); c != "" {
		if f.Before, err = strconv.ParseInt(c, 10, 64); err != nil || f.Before < 1 {
			return q, 0, fault.BadInput("next", "bad_cursor", "the page cursor is not valid: start from the first page")
		}
	}
	if f.From, _, err = web.Day("from", "from", "audit.from", q.From); err != nil {
		return q, 0, err
	}
	if _, f.Until, err = web.Day("until", "until", "audit.until", q.Until); err != nil {
		return q, 0, err
	}
	if f.From != 0 && f.Until != 0 && f.From >= f.Until {
		// Else nothing would match, and the list would say only that.
		return q, 0, fault.BadInput("until", "period_inverted", `"until" must not be before "from"`)
	}
	if q.Action != "" {
		// The action's readable name matches too, in the reader's language.
		f.Actions = h.actionsNamed(h.srv.Lang(r), q.Action)
	}
	q.filter = f
	return q, limit, nil
}

// actionsNamed lists the actions whose readable name contains s.
func (h *handler) actionsNamed(lang, s string) []string {
	var out []string
	s = strings.ToLower(s)
	for _, k := range h.srv.Catalog.Keys() {
		if a, ok := strings.CutPrefix(k, actionKey); ok && strings.Contains(strings.ToLower(h.srv.Catalog.T(lang, k)), s) {
			out = append(out, a)
		}
	}
	return out
}

// actionKey prefixes the catalogue key of an action's readable name; each
// capability names its own actions ("audit.action.forum.post.create").
const actionKey = "audit.action."

func (h *handler) list(r *http.Request) ([]Record, string, query, error) {
	q, limit, err := h.parse(r)
	if err != nil {
		return nil, "", q, err
	}
	recs, err := List(r.Context(), h.db.R(), q.filter)
	if err != nil {
		return nil, "", q, err
	}
	next := ""
	if len(recs) > limit {
		recs = recs[:limit]
		next = strconv.FormatInt(recs[len(recs)-1].Seq, 10)
	}
	return recs, next, q, nil
}

func (h *handler) apiList(w http.ResponseWriter, r *http.Request) error {
	recs, next, _, err := h.list(r)
	if err != nil {
		return err
	}
	web.WriteList(w, recs, next)
	return nil
}

// export streams the org's records as JSON Lines. The export itself is
// audited first: who took the trail out is part of the trail.
func (h *handler) export(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	if err := h.db.Tx(r.Context(), func(tx *db.Tx) error {
		return Write(r.Context(), tx, a, Entry{Action: "audit.export", ObjectType: "org", ObjectID: a.OrgID, Touches: Nothing()})
	}); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="verbund-audit.jsonl"`)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	err := Each(r.Context(), h.db.R(), a.OrgID, func(rec Record) error { return enc.Encode(rec) })
	if err != nil {
		return err
	}
	return bw.Flush()
}
