package incidents

import (
	"net/http"

	"verbund/internal/web"
)

// The API and the forms of playbook runs (runs.go).

func (h *Handler) apiRuns(w http.ResponseWriter, r *http.Request) error {
	runs, err := h.svc.FindRuns(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteList(w, runs, "")
	return nil
}

func (h *Handler) apiStartRun(w http.ResponseWriter, r *http.Request) error {
	var in NewRun
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	run, err := h.svc.StartRun(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, run)
	return nil
}

func (h *Handler) apiAnswer(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Answer string `json:"answer"`
	}
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	run, err := h.svc.AnswerDecision(r.Context(), web.ActorFrom(r), r.PathValue("run"), r.PathValue("step"), in.Answer)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, run)
	return nil
}

func (h *Handler) apiSkip(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	run, err := h.svc.SkipStep(r.Context(), web.ActorFrom(r), r.PathValue("run"), r.PathValue("step"), in.Reason)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, run)
	return nil
}

func (h *Handler) startRunForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := h.svc.StartRun(r.Context(), web.ActorFrom(r), id, NewRun{PlaybookID: r.PostFormValue("playbook_id")}); err != nil {
		return h.formError(w, r, err, "playbook-runs", incidentData{})
	}
	return web.Redirect(w, r, "/incidents/"+id+"#playbook-runs", "incident_run_started")
}

func (h *Handler) answerForm(w http.ResponseWriter, r *http.Request) error {
	run, err := h.svc.AnswerDecision(r.Context(), web.ActorFrom(r), r.PathValue("run"), r.PathValue("step"), r.PostFormValue("answer"))
	if err != nil {
		return err
	}
	return web.Redirect(w, r, "/incidents/"+run.IncidentID+"#playbook-runs", "")
}

func (h *Handler) skipForm(w http.ResponseWriter, r *http.Request) error {
	run, err := h.svc.SkipStep(r.Context(), web.ActorFrom(r), r.PathValue("run"), r.PathValue("step"), r.PostFormValue("reason"))
	if err != nil {
		return err
	}
	return web.Redirect(w, r, "/incidents/"+run.IncidentID+"#playbook-runs", "")
}
