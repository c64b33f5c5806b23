package risks

import (
	"net/http"

	"verbund/internal/web"
)

// maxRequest bounds the JSON of a new or changed risk.
const maxRequest = 4*(MaxDescription+MaxControls) + 64<<10

// filterOf reads the register's filters from a query.
func filterOf(r *http.Request) ListFilter {
	q := r.URL.Query()
	return ListFilter{Community: q.Get("community_id"), Org: q.Get("org_id"), AboveAppetite: q.Get("above_appetite") == "1" || q.Get("above_appetite") == "true",
		ReviewOverdue: q.Get("review_overdue") == "1" || q.Get("review_overdue") == "true", After: q.Get("next")}
}

func (h *Handler) apiList(w http.ResponseWriter, r *http.Request) error {
	limit, err := web.Limit(r, 50, 200)
	if err != nil {
		return err
	}
	f := filterOf(r)
	f.Limit = limit
	rs, next, err := h.svc.FindRisks(r.Context(), web.ActorFrom(r), f)
	if err != nil {
		return err
	}
	web.WriteList(w, rs, next)
	return nil
}

func (h *Handler) apiCreate(w http.ResponseWriter, r *http.Request) error {
	var in NewRisk
	if err := web.DecodeJSONLimit(w, r, &in, maxRequest); err != nil {
		return err
	}
	rk, err := h.svc.CreateRisk(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, rk)
	return nil
}

func (h *Handler) apiGet(w http.ResponseWriter, r *http.Request) error {
	rk, err := h.svc.FindRiskByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, rk)
	return nil
}

func (h *Handler) apiUpdate(w http.ResponseWriter, r *http.Request) error {
	var in RiskUpdate
	if err := web.DecodeJSONLimit(w, r, &in, maxRequest); err != nil {
		return err
	}
	rk, err := h.svc.UpdateRisk(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, rk)
	return nil
}

func (h *Handler) apiHistory(w http.ResponseWriter, r *http.Request) error {
	cs, err := h.svc.FindHistory(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteList(w, cs, "")
	return nil
}

func (h *Handler) apiHeatmap(w http.ResponseWriter, r *http.Request) error {
	hm, err := h.svc.FindHeatmap(r.Context(), web.ActorFrom(r), filterOf(r), r.URL.Query().Get("score"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, hm)
	return nil
}

// apiExport sends the register as CSV (a download; cells that a
// spreadsheet would read as a formula are defused).
func (h *Handler) apiExport(w http.ResponseWriter, r *http.Request) error {
	f := filterOf(r)
	f.After = ""
	sep, err := CSVSeparator(r.URL.Query().Get("sep"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="risks.csv"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	return h.svc.ExportCSV(r.Context(), web.ActorFrom(r), f, sep, w)
}

func (h *Handler) apiMatrix(w http.ResponseWriter, r *http.Request) error {
	m, err := h.svc.FindMatrix(r.Context(), h.svc.DB.R(), web.ActorFrom(r).OrgID)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, m)
	return nil
}

func (h *Handler) apiSetMatrix(w http.ResponseWriter, r *http.Request) error {
	var in Matrix
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	m, err := h.svc.SetMatrix(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, m)
	return nil
}

func (h *Handler) apiWorkshops(w http.ResponseWriter, r *http.Request) error {
	limit, err := web.Limit(r, 50, 200)
	if err != nil {
		return err
	}
	ws, err := h.svc.FindWorkshops(r.Context(), web.ActorFrom(r), limit)
	if err != nil {
		return err
	}
	web.WriteList(w, ws, "")
	return nil
}

func (h *Handler) apiCreateWorkshop(w http.ResponseWriter, r *http.Request) error {
	var in NewWorkshop
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	ws, err := h.svc.CreateWorkshop(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, ws)
	return nil
}

func (h *Handler) apiWorkshop(w http.ResponseWriter, r *http.Request) error {
	ws, err := h.svc.FindWorkshopByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, ws)
	return nil
}

// ScoreInput is a vote or an agreed score on a risk of a workshop.
type ScoreInput struct {
	Risk       string `json:"risk_id"`
	Likelihood int    `json:"likelihood"`
	Impact     int    `json:"impact"`
}

func (h *Handler) apiScore(w http.ResponseWriter, r *http.Request) error {
	var in ScoreInput
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	a, id := web.ActorFrom(r), r.PathValue("id")
	if err := h.svc.Score(r.Context(), a, id, in.Risk, in.Likelihood, in.Impact); err != nil {
		return err
	}
	return h.apiWorkshop(w, r)
}

func (h *Handler) apiReveal(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.Reveal(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	return h.apiWorkshop(w, r)
}

func (h *Handler) apiComment(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Body string `json:"body"`
	}
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	c, err := h.svc.Comment(r.Context(), web.ActorFrom(r), r.PathValue("id"), in.Body)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, c)
	return nil
}

func (h *Handler) apiAgree(w http.ResponseWriter, r *http.Request) error {
	var in ScoreInput
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := h.svc.Agree(r.Context(), web.ActorFrom(r), r.PathValue("id"), in.Risk, in.Likelihood, in.Impact); err != nil {
		return err
	}
	return h.apiWorkshop(w, r)
}
