package playbooks

import (
	"io"
	"mime"
	"net/http"
	"strings"

	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// apiImport takes CACAO playbooks: one as an application/json body, or
// many as multipart/form-data (files). ?tlp=, ?audience=, ?community_id=
// (or the same form fields) say how new playbooks are shared. The answer
// is the import report; 422 when every document was refused.
func (h *handler) apiImport(w http.ResponseWriter, r *http.Request) error {
	typ, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	q := r.URL.Query()
	opts := ImportOptions{TLP: q.Get("tlp"), Sharing: policy.Sharing{Audience: q.Get("audience"), Community: q.Get("community_id"),
		Orgs: q["orgs"], People: q["people"]}}
	var inputs []Input
	switch typ {
	case "application/json", "":
		data, err := io.ReadAll(io.LimitReader(r.Body, MaxDocument+1))
		if err != nil {
			return fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
		}
		inputs = []Input{{Name: "document", Data: data}}
	case "multipart/form-data":
		up, err := readUpload(w, r)
		if err != nil {
			return err
		}
		inputs = up.inputs
		for k, v := range map[string]*string{"tlp": &opts.TLP, "audience": &opts.Sharing.Audience, "community_id": &opts.Sharing.Community} {
			if f := up.fields[k]; f != "" {
				*v = f
			}
		}
	default:
		return fault.New(fault.Unsupported, "unsupported_media_type", "send the body as application/json")
	}
	if len(inputs) == 0 {
		return fault.BadInput("files", "playbooks_missing", "send at least one CACAO playbook (JSON)")
	}
	rep, err := h.svc.Import(r.Context(), web.ActorFrom(r), inputs, opts)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if rep.Accepted == 0 {
		status = http.StatusUnprocessableEntity
	}
	web.WriteJSON(w, status, rep)
	return nil
}

func (h *handler) apiList(w http.ResponseWriter, r *http.Request) error {
	limit, err := web.Limit(r, 50, 200)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	list, next, err := h.svc.FindPlaybooks(r.Context(), web.ActorFrom(r), ListFilter{Library: q.Get("library"), Q: q.Get("q"), After: q.Get("next"), Limit: limit})
	if err != nil {
		return err
	}
	web.WriteList(w, list, next)
	return nil
}

func (h *handler) apiGet(w http.ResponseWriter, r *http.Request) error {
	p, err := h.svc.FindPlaybookByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, p)
	return nil
}

// apiExport returns the stored CACAO document of a version (?modified=,
// the current one by default) byte for byte as it was imported.
func (h *handler) apiExport(w http.ResponseWriter, r *http.Request) error {
	doc, p, err := h.svc.FindDocument(r.Context(), web.ActorFrom(r), r.PathValue("id"), r.URL.Query().Get("modified"))
	if err != nil {
		return err
	}
	return web.ServeJSONDocument(w, FileName(p.CACAOID), doc)
}

// FileName is the download's file name: the CACAO id (only letters,
// digits and dashes) and ".json".
func FileName(cacaoID string) string {
	clean := strings.Map(func(c rune) rune {
		if c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			return c
		}
		return '_'
	}, cacaoID)
	if clean == "" {
		clean = "playbook"
	}
	return clean + ".json"
}

func (h *handler) apiDelete(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeletePlaybook(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) apiReshare(w http.ResponseWriter, r *http.Request) error {
	var in policy.Sharing
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	p, err := h.svc.ResharePlaybook(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, p)
	return nil
}
