package audit

import (
	"bufio"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

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

func (h *handler) list(r *http.Request) ([]Record, string, error) {
	limit, err := web.Limit(r, 50, 500)
	if err != nil {
		return nil, "", err
	}
	var before int64
	if c := r.URL.Query().Get("next"); c != "" {
		if before, err = strconv.ParseInt(c, 10, 64); err != nil || before < 1 {
			return nil, "", fault.BadInput("next", "bad_cursor", "the page cursor is not valid: start from the first page")
		}
	}
	recs, err := List(r.Context(), h.db.R(), Filter{OrgID: web.ActorFrom(r).OrgID, Before: before, Limit: limit + 1, Action: r.URL.Query().Get("action")})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(recs) > limit {
		recs = recs[:limit]
		next = strconv.FormatInt(recs[len(recs)-1].Seq, 10)
	}
	return recs, next, nil
}

type pageData struct {
	Records []Record
	Next    string
	Action  string
	Names   map[string]string
}

func (h *handler) page(w http.ResponseWriter, r *http.Request) error {
	recs, next, err := h.list(r)
	if err != nil {
		return err
	}
	rows, err := h.db.R().Query(r.Context(), `SELECT id, name FROM users WHERE org_id = ? UNION ALL SELECT id, name FROM orgs`, web.ActorFrom(r).OrgID)
	if err != nil {
		return fmt.Errorf("audit page: names: %w", err)
	}
	type named struct{ id, name string }
	list, err := db.Collect(rows, "audit page: names", func(s db.Scanner) (n named, err error) {
		err = s.Scan(&n.id, &n.name)
		return n, err
	})
	if err != nil {
		return err
	}
	names := make(map[string]string, len(list))
	for _, n := range list {
		names[n.id] = n.name
	}
	p := web.Page{Nav: "audit", Data: pageData{Records: recs, Next: next, Action: r.URL.Query().Get("action"), Names: names}}
	p.Title = h.srv.Catalog.T(h.srv.Lang(r), "audit.title")
	return h.tpl.Render(w, r, http.StatusOK, "audit", p)
}

func (h *handler) apiList(w http.ResponseWriter, r *http.Request) error {
	recs, next, err := h.list(r)
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
