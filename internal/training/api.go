package training

import (
	"net/http"

	"verbund/internal/web"
)

func (h *handler) apiModules(w http.ResponseWriter, r *http.Request) error {
	limit, err := web.Limit(r, 50, 200)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	ms, next, err := h.svc.FindModules(r.Context(), web.ActorFrom(r), ModuleFilter{Library: q.Get("library"), Community: q.Get("community"),
		After: q.Get("next"), Limit: limit})
	if err != nil {
		return err
	}
	web.WriteList(w, ms, next)
	return nil
}

func (h *handler) apiCreateModule(w http.ResponseWriter, r *http.Request) error {
	var in NewModule
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	m, err := h.svc.CreateModule(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, m)
	return nil
}

func (h *handler) apiModule(w http.ResponseWriter, r *http.Request) error {
	m, err := h.svc.FindModuleByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, m)
	return nil
}

func (h *handler) apiAssign(w http.ResponseWriter, r *http.Request) error {
	var in NewAssignment
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	as, err := h.svc.CreateAssignment(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, as)
	return nil
}

func (h *handler) apiAnswers(w http.ResponseWriter, r *http.Request) error {
	var in Answers
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	res, err := h.svc.SubmitAnswers(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, res)
	return nil
}

func (h *handler) apiProgress(w http.ResponseWriter, r *http.Request) error {
	limit, err := web.Limit(r, 100, 200)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p, err := h.svc.FindProgress(r.Context(), web.ActorFrom(r), r.PathValue("id"), ProgressFilter{Assignment: q.Get("assignment"), After: q.Get("next"), Limit: limit})
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, p)
	return nil
}

func (h *handler) apiAssignments(w http.ResponseWriter, r *http.Request) error {
	limit, err := web.Limit(r, 50, 200)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	as, next, err := h.svc.FindAssignments(r.Context(), web.ActorFrom(r), q.Get("scope"), q.Get("module"), q.Get("next"), limit)
	if err != nil {
		return err
	}
	web.WriteList(w, as, next)
	return nil
}

func (h *handler) apiRemind(w http.ResponseWriter, r *http.Request) error {
	n, err := h.svc.Remind(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]int{"reminded": n})
	return nil
}

func (h *handler) apiRateShares(w http.ResponseWriter, r *http.Request) error {
	limit, err := web.Limit(r, 100, 200)
	if err != nil {
		return err
	}
	rs, next, err := h.svc.FindRateShares(r.Context(), web.ActorFrom(r), r.URL.Query().Get("next"), limit)
	if err != nil {
		return err
	}
	web.WriteList(w, rs, next)
	return nil
}

func (h *handler) apiShareRates(w http.ResponseWriter, r *http.Request) error {
	var in NewRateShare
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	rs, err := h.svc.ShareRates(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, rs)
	return nil
}

func (h *handler) apiWithdrawRates(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.WithdrawRates(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) apiRates(w http.ResponseWriter, r *http.Request) error {
	rs, err := h.svc.FindRates(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	web.WriteList(w, rs, "")
	return nil
}
