package incidents

import (
	"errors"
	"io"
	"net/http"
	"net/url"

	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// maxRequest bounds the JSON of a new or changed incident.
const maxRequest = 4*(MaxDescription+3*MaxReview) + 64<<10

func (h *Handler) apiList(w http.ResponseWriter, r *http.Request) error {
	limit, err := web.Limit(r, 50, 200)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	list, next, err := h.svc.FindIncidents(r.Context(), web.ActorFrom(r), ListFilter{Status: q.Get("status"), Severity: q.Get("severity"),
		Category: q.Get("category"), Open: q.Get("open") == "1", After: q.Get("next"), Limit: limit})
	if err != nil {
		return err
	}
	web.WriteList(w, list, next)
	return nil
}

func (h *Handler) apiCreate(w http.ResponseWriter, r *http.Request) error {
	var in NewIncident
	if err := web.DecodeJSONLimit(w, r, &in, maxRequest); err != nil {
		return err
	}
	inc, err := h.svc.CreateIncident(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, inc)
	return nil
}

func (h *Handler) apiGet(w http.ResponseWriter, r *http.Request) error {
	inc, err := h.svc.FindIncidentByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, inc)
	return nil
}

func (h *Handler) apiUpdate(w http.ResponseWriter, r *http.Request) error {
	var in Update
	if err := web.DecodeJSONLimit(w, r, &in, maxRequest); err != nil {
		return err
	}
	inc, err := h.svc.UpdateIncident(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, inc)
	return nil
}

func (h *Handler) apiDelete(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteIncident(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) apiTimeline(w http.ResponseWriter, r *http.Request) error {
	es, err := h.svc.FindTimeline(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteList(w, es, "")
	return nil
}

func (h *Handler) apiComment(w http.ResponseWriter, r *http.Request) error {
	var in NewComment
	if err := web.DecodeJSONLimit(w, r, &in, 4*MaxComment+16<<10); err != nil {
		return err
	}
	e, err := h.svc.CreateComment(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, e)
	return nil
}

func (h *Handler) apiParticipants(w http.ResponseWriter, r *http.Request) error {
	ps, err := h.svc.FindParticipants(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteList(w, ps, "")
	return nil
}

func (h *Handler) apiInvite(w http.ResponseWriter, r *http.Request) error {
	var in Invitation
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	p, err := h.svc.InviteParticipant(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, p)
	return nil
}

func (h *Handler) apiAcknowledge(w http.ResponseWriter, r *http.Request) error {
	p, err := h.svc.Acknowledge(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, p)
	return nil
}

func (h *Handler) apiTasks(w http.ResponseWriter, r *http.Request) error {
	ts, err := h.svc.FindTasks(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteList(w, ts, "")
	return nil
}

func (h *Handler) apiCreateTask(w http.ResponseWriter, r *http.Request) error {
	var in NewTask
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	t, err := h.svc.CreateTask(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, t)
	return nil
}

func (h *Handler) apiTaskDone(done bool) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, err := h.svc.SetTaskDone(r.Context(), web.ActorFrom(r), r.PathValue("id"), done)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, t)
		return nil
	}
}

func (h *Handler) apiEvidence(w http.ResponseWriter, r *http.Request) error {
	es, err := h.svc.FindEvidence(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteList(w, es, "")
	return nil
}

func tooLarge() error {
	return fault.New(fault.TooLarge, "evidence_too_large", "the file is larger than {max} MB").With("max", MaxEvidence>>20)
}

// readUpload reads the file of a multipart upload (part "file") into
// evidence of incident id. Its sharing comes from the query (tlp,
// audience, orgs, people) or from fields sent before the file; none
// inherits the incident's. A browser's form sends its CSRF token first
// (the guard has read it).
func (h *Handler) readUpload(w http.ResponseWriter, r *http.Request, id string) (Evidence, error) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxEvidence+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return Evidence{}, fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
	}
	q := r.URL.Query()
	fields := url.Values{}
	for _, k := range []string{"tlp", "audience", "community_id"} {
		if v := q.Get(k); v != "" {
			fields.Set(k, v)
		}
	}
	fields["orgs"], fields["people"] = q["orgs"], q["people"]
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return Evidence{}, fault.BadInput("file", "evidence_missing", "choose a file to add")
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return Evidence{}, tooLarge()
			}
			return Evidence{}, fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
		}
		switch name := part.FormName(); name {
		case "tlp", "audience", "community_id", "orgs", "people":
			b, err := io.ReadAll(io.LimitReader(part, 200))
			if err != nil || !web.ValidText(string(b)) {
				return Evidence{}, fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
			}
			if v := string(b); v != "" {
				fields.Add(name, v)
			}
			continue
		case "file":
		default:
			continue
		}
		if part.FileName() == "" {
			return Evidence{}, fault.BadInput("file", "evidence_missing", "choose a file to add")
		}
		name := part.FileName()
		if !web.ValidText(name) {
			return Evidence{}, fault.BadInput("file", "evidence_name", "the file needs a name")
		}
		sharing := policy.Sharing{TLP: fields.Get("tlp"), Audience: fields.Get("audience"), Community: fields.Get("community_id"), Orgs: fields["orgs"], People: fields["people"]}
		ev, err := h.svc.AddEvidence(r.Context(), web.ActorFrom(r), id, name, part.Header.Get("Content-Type"), sharing, part)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return ev, tooLarge()
		}
		return ev, err
	}
}

func (h *Handler) apiAddEvidence(w http.ResponseWriter, r *http.Request) error {
	ev, err := h.readUpload(w, r, r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, ev)
	return nil
}

// download serves an evidence file to a reader who may see it and its
// incident, only ever as a download: its bytes are never a page of the
// hub.
func (h *Handler) download(w http.ResponseWriter, r *http.Request) error {
	ev, content, err := h.svc.FindEvidenceFile(r.Context(), web.ActorFrom(r), r.PathValue("id"), r.PathValue("file"))
	if err != nil {
		return err
	}
	return web.ServeDownload(w, ev.Name, ev.SHA256, content)
}

func (h *Handler) apiClocks(w http.ResponseWriter, r *http.Request) error {
	cs, err := h.svc.FindClocks(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteList(w, cs, "")
	return nil
}

func (h *Handler) apiMarkReported(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.MarkReported(r.Context(), web.ActorFrom(r), r.PathValue("id"), r.PathValue("clock")); err != nil {
		return err
	}
	return h.apiClocks(w, r)
}

func (h *Handler) apiDraft(w http.ResponseWriter, r *http.Request) error {
	lang := r.URL.Query().Get("lang")
	if lang == "" {
		lang = h.srv.Lang(r)
	}
	d, err := h.svc.FindDraft(r.Context(), web.ActorFrom(r), r.PathValue("id"), lang, h.words)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, d)
	return nil
}

func (h *Handler) apiRequestAssistance(w http.ResponseWriter, r *http.Request) error {
	var in AssistanceRequest
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	as, err := h.svc.RequestAssistance(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, as)
	return nil
}

func (h *Handler) apiInbox(w http.ResponseWriter, r *http.Request) error {
	list, err := h.svc.FindCertInbox(r.Context(), web.ActorFrom(r), r.URL.Query().Get("status"))
	if err != nil {
		return err
	}
	web.WriteList(w, list, "")
	return nil
}

func (h *Handler) apiDecide(w http.ResponseWriter, r *http.Request) error {
	var in Decision
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	as, err := h.svc.DecideAssistance(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, as)
	return nil
}

func (h *Handler) apiFigures(w http.ResponseWriter, r *http.Request) error {
	f, err := h.svc.FindFigures(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, f)
	return nil
}
