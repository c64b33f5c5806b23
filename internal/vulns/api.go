package vulns

import (
	"io"
	"mime"
	"net/http"
	"strings"

	"verbund/internal/csaf"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// apiImport takes CSAF documents: one as an application/json body, or
// many (and their .sha256/.sha512 files) as multipart/form-data. ?tlp=,
// ?audience=, ?community_id= (or the same form fields) say how they are
// shared.
func (h *handler) apiImport(w http.ResponseWriter, r *http.Request) error {
	typ, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	q := r.URL.Query()
	opts := ImportOptions{TLP: q.Get("tlp"), Sharing: policy.Sharing{Audience: q.Get("audience"), Community: q.Get("community_id"),
		Orgs: q["orgs"], People: q["people"]}, Via: "api"}
	var inputs []Input
	switch typ {
	case "application/json", "application/csaf+json", "":
		data, err := io.ReadAll(io.LimitReader(r.Body, csaf.MaxDocument+1))
		if err != nil {
			return fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
		}
		inputs = []Input{{Name: "document", Data: data, SHA256: r.Header.Get("X-Content-SHA256")}}
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
		return fault.BadInput("file", "documents_missing", "send at least one CSAF document (JSON)")
	}
	rep, err := h.svc.Import(r.Context(), web.ActorFrom(r), inputs, opts)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if rep.Documents.Imported == 0 {
		status = http.StatusUnprocessableEntity
	}
	web.WriteJSON(w, status, rep)
	return nil
}

func (h *handler) apiAdvisories(w http.ResponseWriter, r *http.Request) error {
	limit, err := web.Limit(r, 50, 200)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	list, next, err := h.svc.FindAdvisories(r.Context(), web.ActorFrom(r), AdvisoryFilter{Q: q.Get("q"), After: q.Get("next"), Limit: limit})
	if err != nil {
		return err
	}
	web.WriteList(w, list, next)
	return nil
}

func (h *handler) apiAdvisory(w http.ResponseWriter, r *http.Request) error {
	a, err := h.svc.FindAdvisoryByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, a)
	return nil
}

// apiDocument returns the stored CSAF document of a version (?version=,
// default the current one) as it was imported.
func (h *handler) apiDocument(w http.ResponseWriter, r *http.Request) error {
	doc, a, err := h.svc.FindAdvisoryDocument(r.Context(), web.ActorFrom(r), r.PathValue("id"), r.URL.Query().Get("version"))
	if err != nil {
		return err
	}
	return web.ServeJSONDocument(w, FileName(a.TrackingID), doc)
}

// FileName is the CSAF file name of a tracking id (CSAF 2.0 §5.1): lower
// case, every run of characters outside [+\-a-z0-9] replaced by "_", and
// ".json".
func FileName(trackingID string) string {
	var b strings.Builder
	under := false
	for _, c := range strings.ToLower(trackingID) {
		if c == '+' || c == '-' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			under = false
		} else if !under {
			b.WriteByte('_')
			under = true
		}
	}
	return b.String() + ".json"
}

func (h *handler) apiKEV(w http.ResponseWriter, r *http.Request) error {
	e, err := h.svc.FindKEV(r.Context(), r.PathValue("cve"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, e)
	return nil
}

func (h *handler) apiAssets(w http.ResponseWriter, r *http.Request) error {
	list, err := h.svc.FindAssets(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	web.WriteList(w, list, "")
	return nil
}

func (h *handler) apiCreateAsset(w http.ResponseWriter, r *http.Request) error {
	var in NewAsset
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	a, err := h.svc.CreateAsset(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, a)
	return nil
}

// apiImportAssets takes an inventory as the body: CSV (text/csv) or a
// CycloneDX SBOM (application/vnd.cyclonedx+json or application/json).
func (h *handler) apiImportAssets(w http.ResponseWriter, r *http.Request) error {
	typ, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch typ {
	case "text/csv", "application/vnd.cyclonedx+json", "application/json":
	default:
		return fault.New(fault.Unsupported, "unsupported_media_type", "send the body as application/json")
	}
	rep, err := h.svc.ImportAssets(r.Context(), web.ActorFrom(r), http.MaxBytesReader(w, r.Body, 64<<20))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, rep)
	return nil
}

func (h *handler) apiDeleteAsset(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteAsset(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) apiAffected(w http.ResponseWriter, r *http.Request) error {
	list, err := h.svc.FindAffected(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	web.WriteList(w, list, "")
	return nil
}

func (h *handler) apiStatements(w http.ResponseWriter, r *http.Request) error {
	list, err := h.svc.FindStatements(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteList(w, list, "")
	return nil
}

func (h *handler) apiSetStatement(w http.ResponseWriter, r *http.Request) error {
	var in StatementInput
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	st, err := h.svc.SetStatement(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, st)
	return nil
}

func (h *handler) apiOpenVEX(w http.ResponseWriter, r *http.Request) error {
	doc, err := h.svc.ExportOpenVEX(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", `attachment; filename="openvex.json"`)
	web.WriteJSON(w, http.StatusOK, doc)
	return nil
}

func (h *handler) apiPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := h.svc.FindPolicy(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, p)
	return nil
}

func (h *handler) apiSetPolicy(w http.ResponseWriter, r *http.Request) error {
	var p PatchPolicy
	if err := web.DecodeJSON(w, r, &p); err != nil {
		return err
	}
	p, err := h.svc.SetPolicy(r.Context(), web.ActorFrom(r), p)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, p)
	return nil
}

func (h *handler) apiDeleteAdvisory(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteAdvisory(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) apiReshareAdvisory(w http.ResponseWriter, r *http.Request) error {
	var in policy.Sharing
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	a, err := h.svc.ReshareAdvisory(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, a)
	return nil
}
