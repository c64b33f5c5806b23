package intel

import (
	"context"
	"embed"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/taxii"
	"verbund/internal/web"
)

// files are the capability's pages, its texts and its part of the API
// document.
//
//go:embed all:templates i18n openapi.json
var files embed.FS

// maxBundle bounds a bundle sent to the API (the CLI reads files of any
// size): an import streams, so the bound is about abuse, not memory.
const maxBundle = 1 << 30

type handler struct {
	svc *Service
	srv *web.Server
}

// Register adds the intel routes: the JSON API and the TAXII 2.1 server
// under /taxii2/ (HTTP Basic with e-mail and API token, or Bearer; errors
// as TAXII error objects).
func Register(srv *web.Server, svc *Service) error {
	if err := srv.Catalog.Add(files, "i18n"); err != nil {
		return err
	}
	if err := srv.AddOpenAPI(files, "openapi.json"); err != nil {
		return err
	}
	if err := registerPages(srv, svc); err != nil {
		return err
	}
	h := &handler{svc: svc, srv: srv}
	for _, t := range svc.objectTypes() {
		srv.AddObjectType(t)
	}
	r := srv.Router
	r.HandleLong("POST /api/v1/intel/bundles", web.Write, h.importBundle)
	r.Handle("GET /api/v1/intel/objects", web.Read, h.listObjects)
	r.Handle("GET /api/v1/intel/objects/{id}", web.Read, h.getObject)
	r.Handle("DELETE /api/v1/intel/objects/{id}", web.Write, h.deleteObject)
	r.Handle("POST /api/v1/intel/objects/{id}/sightings", web.Write, h.sight)
	r.Handle("GET /api/v1/intel/objects/{id}/correlations", web.Read, h.correlations)
	r.HandleLong("GET /api/v1/intel/export/bundle", web.Read, h.exportBundle)
	r.HandleLong("GET /api/v1/intel/export/values.csv", web.Read, h.exportCSV)
	r.HandleLong("GET /api/v1/intel/export/blocklist/{kind}", web.Read, h.exportBlockList)
	// Firewalls and proxies fetch block lists at a fixed URL with HTTP
	// Basic (e-mail and a read token): many cannot send a Bearer header.
	srv.AddProtocol(web.Protocol{Prefix: "/api/v1/intel/export/", Basic: true})
	r.Handle("GET /api/v1/intel/lookup", web.Read, h.lookupOne)
	r.Handle("POST /api/v1/intel/lookup", web.Query, h.lookupMany)

	srv.AddProtocol(web.Protocol{Prefix: "/taxii2/", Basic: true, SlashOptional: true, WriteError: func(w http.ResponseWriter, _ *http.Request, status int, e *fault.Error) {
		taxii.WriteError(w, &taxii.Error{Status: status, ErrorCode: e.Code, Description: e.Message})
	}})
	ts := svc.taxiiServer(srv)
	for _, rt := range ts.Routes() {
		serve := rt.Handler
		fn := func(w http.ResponseWriter, r *http.Request) error {
			serve(w, r.WithContext(withLang(withActor(r.Context(), web.ActorFrom(r)), r)))
			return nil
		}
		if rt.Write {
			// A POST of objects is an import: it may take longer than a
			// page.
			r.HandleLong(rt.Pattern, web.Write, fn)
		} else {
			r.Handle(rt.Pattern, web.Read, fn)
		}
	}
	return nil
}

// importBundle takes a STIX 2.1 bundle as the body: ?tlp= is the level of
// objects without a TLP marking (default AMBER), ?community= shares them
// with a trust circle of the caller's org.
func (h *handler) importBundle(w http.ResponseWriter, r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		typ, _, err := mime.ParseMediaType(ct)
		if err != nil || typ != "application/json" && typ != "application/stix+json" && typ != "application/taxii+json" {
			return fault.New(fault.Unsupported, "unsupported_media_type", "send the bundle as application/stix+json or application/json")
		}
	}
	q := r.URL.Query()
	rep, err := h.svc.Import(r.Context(), web.ActorFrom(r), http.MaxBytesReader(w, r.Body, maxBundle),
		ImportOptions{TLP: q.Get("tlp"), Community: q.Get("community"), Via: "api"})
	if err != nil && rep.Accepted+rep.Rejected == 0 {
		return err
	}
	if err != nil {
		rep.StoppedEarly = firstLine(err)
		if e, ok := fault.As(err); ok {
			rep.StoppedEarly = e.Message
		}
	}
	if rep.Errors == nil {
		rep.Errors = []ItemError{}
	}
	web.WriteJSON(w, http.StatusOK, rep)
	return nil
}

type objectList struct {
	Items []Object `json:"items"`
	Next  string   `json:"next,omitempty"`
}

func (h *handler) listObjects(w http.ResponseWriter, r *http.Request) error {
	limit, err := web.Limit(r, 100, 1000)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if text := q.Get("q"); text != "" {
		// Full-text search: the best page, newest first, no cursor.
		var types []string
		if t := q.Get("type"); t != "" {
			types = strings.Split(t, ",")
		}
		items, err := h.svc.Search(r.Context(), web.ActorFrom(r), text, types, limit)
		if err != nil {
			return err
		}
		if items == nil {
			items = []Object{}
		}
		web.WriteJSON(w, http.StatusOK, objectList{Items: items})
		return nil
	}
	f := Filter{Limit: limit, After: q.Get("next"), All: q.Get("versions") == "all"}
	if t := q.Get("type"); t != "" {
		f.Types = strings.Split(t, ",")
	}
	if id := q.Get("stix_id"); id != "" {
		f.IDs = []string{id}
	}
	items, next, err := h.svc.List(r.Context(), web.ActorFrom(r), f)
	if err != nil {
		return err
	}
	if items == nil {
		items = []Object{}
	}
	web.WriteJSON(w, http.StatusOK, objectList{Items: items, Next: next})
	return nil
}

type objectDetail struct {
	Object
	STIX json.RawMessage `json:"stix"`
}

func (h *handler) getObject(w http.ResponseWriter, r *http.Request) error {
	o, err := h.svc.FindByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, objectDetail{Object: o, STIX: o.JSON})
	return nil
}

func (h *handler) deleteObject(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.Delete(r.Context(), web.ActorFrom(r), []string{r.PathValue("id")}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type lookupAnswer struct {
	Results []Result `json:"results"`
	Matched int      `json:"matched"` // how many values matched something
}

func answer(rs []Result, all bool) lookupAnswer {
	out := lookupAnswer{Results: []Result{}}
	for _, r := range rs {
		if len(r.Matches) > 0 {
			out.Matched++
		}
		if all || len(r.Matches) > 0 {
			out.Results = append(out.Results, r)
		}
	}
	return out
}

// lookupOne answers GET ?value=V: what the reader may see that stands for V.
func (h *handler) lookupOne(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query().Get("value")
	if strings.TrimSpace(v) == "" {
		return fault.BadInput("value", "value_missing", "name the value to look up: ?value=198.51.100.3")
	}
	rs, err := h.svc.Lookup(r.Context(), web.ActorFrom(r), []string{v})
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, answer(rs, true))
	return nil
}

// lookupMany answers a batch: {"values":[…]} (up to MaxLookup), listing
// only the values that matched.
func (h *handler) lookupMany(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Values []string `json:"values"`
	}
	if err := web.DecodeJSONLimit(w, r, &in, 4<<20); err != nil {
		return err
	}
	rs, err := h.svc.Lookup(r.Context(), web.ActorFrom(r), in.Values)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, answer(rs, false))
	return nil
}

// sight reports that the caller's org saw an object.
func (h *handler) sight(w http.ResponseWriter, r *http.Request) error {
	var in SightingInput
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	o, err := h.svc.Sight(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, objectDetail{Object: o, STIX: o.JSON})
	return nil
}

// exportFilter reads an export's filters: max_tlp (default RED: all the
// caller may see), type (comma separated), min_confidence,
// include_expired.
func exportFilter(r *http.Request) (ExportFilter, error) {
	q := r.URL.Query()
	f := ExportFilter{MaxTLP: policy.Red, IncludeExpired: q.Get("include_expired") == "1" || q.Get("include_expired") == "true"}
	if v := q.Get("max_tlp"); v != "" {
		l, err := policy.ParseTLP(v)
		if err != nil {
			return f, err
		}
		f.MaxTLP = l
	}
	if v := q.Get("type"); v != "" {
		f.Types = strings.Split(v, ",")
	}
	if v := q.Get("min_confidence"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 {
			return f, fault.BadInput("min_confidence", "bad_confidence", "min_confidence is a number from 0 to 100")
		}
		f.MinConfidence = n
	}
	return f, nil
}

func (h *handler) exportBundle(w http.ResponseWriter, r *http.Request) error {
	return h.export(w, r, "application/stix+json;version=2.1", "verbund-intel.json", h.svc.ExportBundle)
}

func (h *handler) exportCSV(w http.ResponseWriter, r *http.Request) error {
	return h.export(w, r, "text/csv; charset=utf-8", "verbund-intel.csv", h.svc.ExportCSV)
}

// export answers a download: the filters read, the headers set, the
// service writes.
func (h *handler) export(w http.ResponseWriter, r *http.Request, contentType, filename string,
	write func(context.Context, policy.Actor, ExportFilter, io.Writer) error) error {
	f, err := exportFilter(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	w.Header().Set("Cache-Control", "no-store")
	return write(r.Context(), web.ActorFrom(r), f, w)
}

func (h *handler) exportBlockList(w http.ResponseWriter, r *http.Request) error {
	f, err := exportFilter(r)
	if err != nil {
		return err
	}
	kind := strings.TrimSuffix(r.PathValue("kind"), ".txt")
	if !slices.Contains(BlockKinds, kind) {
		return fault.New(fault.NotFound, "not_found", "no such block list: the kinds are {kinds}").With("kinds", strings.Join(BlockKinds, ", "))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	return h.svc.ExportBlockList(r.Context(), web.ActorFrom(r), f, kind, h.svc.Benign, w)
}

// correlations lists the visible objects that share a value with one.
func (h *handler) correlations(w http.ResponseWriter, r *http.Request) error {
	limit, err := web.Limit(r, 100, 1000)
	if err != nil {
		return err
	}
	items, err := h.svc.Correlated(r.Context(), web.ActorFrom(r), r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	if items == nil {
		items = []Object{}
	}
	web.WriteJSON(w, http.StatusOK, objectList{Items: items})
	return nil
}
