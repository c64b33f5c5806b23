package risks

import (
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"verbund/internal/fault"
	"verbund/internal/i18n"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// Level is one level of a matrix dimension as forms and tables name it.
type Level struct {
	N     int
	Label string
}

// levels names the n levels of dimension dim of matrix m in lang.
func (h *Handler) levels(m Matrix, lang, dim string, n int) []Level {
	out := make([]Level, n)
	for i := range out {
		out[i] = Level{N: i + 1, Label: h.svc.Label(m, lang, dim, i+1)}
	}
	return out
}

type registerData struct {
	Risks      []Risk
	Next       string
	Filter     ListFilter
	Circles    []policy.Option
	Heatmap    Heatmap
	SVG        template.HTML
	Likelihood []Level // the reader's matrix, highest first for the table
	Impact     []Level
	Workshops  []Workshop
	Query      string
	// ExportURL is the CSV download: the page's filters, and in German
	// the semicolon German spreadsheets expect. A whole URL, because
	// html/template escapes "=" and "&" of a query put after a "?".
	ExportURL string
	NextURL   string // the next page, the same filters (a whole URL, as ExportURL)
}

func (h *Handler) registerPage(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	ctx := r.Context()
	lang := h.srv.Lang(r)
	f := filterOf(r)
	f.Limit = 50
	rs, next, err := h.svc.FindRisks(ctx, a, f)
	if err != nil {
		return err
	}
	hf := f
	hf.After = ""
	hm, err := h.svc.FindHeatmap(ctx, a, hf, r.URL.Query().Get("score"))
	if err != nil {
		return err
	}
	m, err := h.svc.FindMatrix(ctx, h.svc.DB.R(), a.OrgID)
	if err != nil {
		return err
	}
	c, err := policy.FindCompose(ctx, h.svc.DB.R(), a, policy.Risk)
	if err != nil {
		return err
	}
	ws, err := h.svc.FindWorkshops(ctx, a, 20)
	if err != nil {
		return err
	}
	t := func(key string, args ...any) string { return h.srv.Catalog.T(lang, key, args...) }
	label := func(dim string, n int) string { return h.svc.Label(m, lang, dim, n) }
	lk := h.levels(m, lang, "likelihood", m.Likelihood)
	for i, j := 0, len(lk)-1; i < j; i, j = i+1, j-1 {
		lk[i], lk[j] = lk[j], lk[i]
	}
	q := r.URL.Query()
	q.Del("next")
	nq := url.Values{}
	for k, v := range q {
		nq[k] = v
	}
	nq.Set("next", next)
	d := registerData{Risks: rs, Next: next, NextURL: "/risks?" + nq.Encode(), Filter: f, Circles: c.Circles, Heatmap: hm, SVG: HeatmapSVG(hm, label, t),
		Likelihood: lk, Impact: h.levels(m, lang, "impact", m.Impact), Workshops: ws, Query: q.Encode(), ExportURL: exportURL(q, lang)}
	p := web.Page{Nav: "risks", Data: d, Title: t("risks.title"), Live: "/events?topic=risks"}
	return h.tpl.Render(w, r, http.StatusOK, "register", p)
}

// formData is the new-risk form.
type formData struct {
	Form       NewRisk
	Compose    policy.Compose
	Likelihood []Level
	Impact     []Level
	Treatments []string
	Error      *fault.Error
}

func (h *Handler) renderForm(w http.ResponseWriter, r *http.Request, status int, d formData) error {
	a := web.ActorFrom(r)
	lang := h.srv.Lang(r)
	m, err := h.svc.FindMatrix(r.Context(), h.svc.DB.R(), a.OrgID)
	if err != nil {
		return err
	}
	if d.Compose, err = policy.FindCompose(r.Context(), h.svc.DB.R(), a, policy.Risk); err != nil {
		return err
	}
	d.Likelihood, d.Impact, d.Treatments = h.levels(m, lang, "likelihood", m.Likelihood), h.levels(m, lang, "impact", m.Impact), Treatments
	p := web.Page{Nav: "risks", Data: d, Title: h.srv.Catalog.T(lang, "risks.new")}
	return h.tpl.Render(w, r, status, "form", p)
}

func (h *Handler) newPage(w http.ResponseWriter, r *http.Request) error {
	form := NewRisk{Likelihood: 3, Impact: 3, Treatment: "mitigate", ReviewDays: DefaultReviewDays, Sharing: policy.Sharing{TLP: "AMBER", Audience: "org"}}
	return h.renderForm(w, r, http.StatusOK, formData{Form: form})
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// formSharing reads the level and audience fields of a form.
func formSharing(r *http.Request) policy.Sharing {
	return policy.Sharing{TLP: r.PostFormValue("tlp"), Audience: r.PostFormValue("audience"), Community: r.PostFormValue("community_id"),
		Orgs: r.PostForm["orgs"], People: r.PostForm["people"]}
}

// invalid reports whether err is one a form shows beside its input.
func invalid(err error) (*fault.Error, bool) {
	e, ok := fault.As(err)
	return e, ok && (e.Kind == fault.Invalid || e.Kind == fault.Forbidden || e.Kind == fault.Conflict)
}

func (h *Handler) createForm(w http.ResponseWriter, r *http.Request) error {
	in := NewRisk{Title: r.PostFormValue("title"), Description: r.PostFormValue("description"), Likelihood: atoi(r.PostFormValue("likelihood")),
		Impact: atoi(r.PostFormValue("impact")), ResidualLikelihood: atoi(r.PostFormValue("residual_likelihood")), ResidualImpact: atoi(r.PostFormValue("residual_impact")),
		Treatment: r.PostFormValue("treatment"), Controls: r.PostFormValue("controls"), Due: r.PostFormValue("due"), ReviewDays: atoi(r.PostFormValue("review_days")),
		Appetite: atoi(r.PostFormValue("appetite")), CoOwners: r.PostForm["co_owners"], Sharing: formSharing(r)}
	rk, err := h.svc.CreateRisk(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		if e, ok := invalid(err); ok {
			return h.renderForm(w, r, web.Status(e.Kind), formData{Form: in, Error: e})
		}
		return err
	}
	return web.Redirect(w, r, "/risks/"+rk.ID, "risk_created")
}

type riskData struct {
	Risk       Risk
	History    []Change
	CVSS       []string // the links' CVSS scores, written for the page's language
	Likelihood []Level
	Impact     []Level
	Treatments []string
	IsOwner    bool
	CanEdit    bool
	Workshops  []Workshop
	Error      *fault.Error
	Matrix     Matrix
}

func (h *Handler) renderRisk(w http.ResponseWriter, r *http.Request, status int, id string, e *fault.Error) error {
	a := web.ActorFrom(r)
	ctx := r.Context()
	lang := h.srv.Lang(r)
	rk, err := h.svc.FindRiskByID(ctx, a, id)
	if err != nil {
		return err
	}
	hist, err := h.svc.FindHistory(ctx, a, id)
	if err != nil {
		return err
	}
	m, err := h.svc.FindMatrix(ctx, h.svc.DB.R(), rk.OrgID)
	if err != nil {
		return err
	}
	localiseHistory(hist, lang)
	cvss := make([]string, len(rk.Links))
	for i, l := range rk.Links {
		cvss[i] = i18n.FormatNumber(lang, l.CVSS, 1)
	}
	d := riskData{Risk: rk, History: hist, CVSS: cvss, Likelihood: h.levels(m, lang, "likelihood", rk.LikelihoodLevels), Impact: h.levels(m, lang, "impact", rk.ImpactLevels),
		Treatments: Treatments, IsOwner: rk.OrgID == a.OrgID, CanEdit: a.CanWrite(), Error: e, Matrix: m}
	p := web.Page{Nav: "risks", Data: d, Title: rk.Title, Live: "/events?topic=risk:" + rk.ID}
	return h.tpl.Render(w, r, status, "risk", p)
}

func (h *Handler) riskPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderRisk(w, r, http.StatusOK, r.PathValue("id"), nil)
}

func intPtr(r *http.Request, field string) *int {
	if _, ok := r.PostForm[field]; !ok {
		return nil
	}
	n := atoi(r.PostFormValue(field))
	return &n
}

func strPtr(r *http.Request, field string) *string {
	if _, ok := r.PostForm[field]; !ok {
		return nil
	}
	s := r.PostFormValue(field)
	return &s
}

// editForm changes the risk's own fields (its owner org's form).
func (h *Handler) editForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	u := RiskUpdate{Title: strPtr(r, "title"), Description: strPtr(r, "description"), Likelihood: intPtr(r, "likelihood"), Impact: intPtr(r, "impact"),
		ResidualLikelihood: intPtr(r, "residual_likelihood"), ResidualImpact: intPtr(r, "residual_impact"), Treatment: strPtr(r, "treatment"),
		ReviewDays: intPtr(r, "review_days"), Appetite: intPtr(r, "appetite"), Reviewed: r.PostFormValue("reviewed") == "1",
		ApplyWorkshop: strPtr(r, "apply_workshop")}
	if _, err := h.svc.UpdateRisk(r.Context(), web.ActorFrom(r), id, u); err != nil {
		if e, ok := invalid(err); ok {
			return h.renderRisk(w, r, web.Status(e.Kind), id, e)
		}
		return err
	}
	return web.Redirect(w, r, "/risks/"+id, "risk_saved")
}

// partForm changes the reader's org's part.
func (h *Handler) partForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	u := RiskUpdate{Part: &PartUpdate{OrgID: r.PostFormValue("org_id"), Description: strPtr(r, "description"), Controls: strPtr(r, "controls"),
		Treatment: strPtr(r, "treatment"), Due: strPtr(r, "due")}}
	if _, err := h.svc.UpdateRisk(r.Context(), web.ActorFrom(r), id, u); err != nil {
		if e, ok := invalid(err); ok {
			return h.renderRisk(w, r, web.Status(e.Kind), id, e)
		}
		return err
	}
	return web.Redirect(w, r, "/risks/"+id+"#parts", "risk_saved")
}

type newWorkshopData struct {
	Risks   []Risk
	Circles []policy.Option
	Form    NewWorkshop
	Error   *fault.Error
}

func (h *Handler) renderNewWorkshop(w http.ResponseWriter, r *http.Request, status int, d newWorkshopData) error {
	a := web.ActorFrom(r)
	rs, _, err := h.svc.FindRisks(r.Context(), a, ListFilter{Org: a.OrgID, Limit: 200})
	if err != nil {
		return err
	}
	c, err := policy.FindCompose(r.Context(), h.svc.DB.R(), a, policy.Risk)
	if err != nil {
		return err
	}
	d.Risks, d.Circles = rs, c.Circles
	p := web.Page{Nav: "risks", Data: d, Title: h.srv.Catalog.T(h.srv.Lang(r), "risks.workshop.new")}
	return h.tpl.Render(w, r, status, "workshop_new", p)
}

func (h *Handler) newWorkshopPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderNewWorkshop(w, r, http.StatusOK, newWorkshopData{})
}

func (h *Handler) createWorkshopForm(w http.ResponseWriter, r *http.Request) error {
	in := NewWorkshop{Title: r.PostFormValue("title"), Risks: r.PostForm["risks"], Sharing: policy.Sharing{TLP: r.PostFormValue("tlp"), Community: r.PostFormValue("community_id")}}
	ws, err := h.svc.CreateWorkshop(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		if e, ok := invalid(err); ok {
			return h.renderNewWorkshop(w, r, web.Status(e.Kind), newWorkshopData{Form: in, Error: e})
		}
		return err
	}
	return web.Redirect(w, r, "/risk-workshops/"+ws.ID, "")
}

type workshopData struct {
	Workshop Workshop
	Matrix   Matrix
	Levels   map[string]levelPair // risk id → its levels
	// Agree is the score the agree form offers first for each risk: the
	// rounded medians of the revealed votes.
	Agree map[string][2]int
	// CanReveal: every risk has a vote (Reveal refuses before).
	CanReveal bool
	// Voted is the risk whose vote was just saved: its notice stands in
	// the risk's live form part, so the reveal's refresh takes it away.
	Voted string
	Error *fault.Error
}

type levelPair struct{ Likelihood, Impact []Level }

func (h *Handler) renderWorkshop(w http.ResponseWriter, r *http.Request, status int, id string, e *fault.Error) error {
	a := web.ActorFrom(r)
	lang := h.srv.Lang(r)
	ws, err := h.svc.FindWorkshopByID(r.Context(), a, id)
	if err != nil {
		return err
	}
	m, err := h.svc.FindMatrix(r.Context(), h.svc.DB.R(), ws.OrgID)
	if err != nil {
		return err
	}
	lv := map[string]levelPair{}
	agree := map[string][2]int{}
	canReveal := true
	for _, it := range ws.Items {
		lv[it.RiskID] = levelPair{h.levels(m, lang, "likelihood", it.LikelihoodLevels), h.levels(m, lang, "impact", it.ImpactLevels)}
		if it.Spread != nil {
			agree[it.RiskID] = [2]int{int(math.Round(it.Spread.MedianLikelihood)), int(math.Round(it.Spread.MedianImpact))}
		}
		canReveal = canReveal && len(it.Voters) > 0
	}
	d := workshopData{Workshop: ws, Matrix: m, Levels: lv, Agree: agree, CanReveal: canReveal, Voted: r.URL.Query().Get("voted"), Error: e}
	p := web.Page{Nav: "risks", Data: d, Title: ws.Title, Live: "/events?topic=risk-workshop:" + ws.ID}
	return h.tpl.Render(w, r, status, "workshop", p)
}

func (h *Handler) workshopPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderWorkshop(w, r, http.StatusOK, r.PathValue("id"), nil)
}

// afterWorkshop answers a workshop form: back to the page, or the page
// with the error beside the forms.
func (h *Handler) afterWorkshop(w http.ResponseWriter, r *http.Request, err error, anchor, flash string) error {
	id := r.PathValue("id")
	if err != nil {
		if e, ok := invalid(err); ok {
			return h.renderWorkshop(w, r, web.Status(e.Kind), id, e)
		}
		return err
	}
	return web.Redirect(w, r, "/risk-workshops/"+id+anchor, flash)
}

func (h *Handler) voteForm(w http.ResponseWriter, r *http.Request) error {
	risk := r.PostFormValue("risk_id")
	err := h.svc.Score(r.Context(), web.ActorFrom(r), r.PathValue("id"), risk, atoi(r.PostFormValue("likelihood")), atoi(r.PostFormValue("impact")))
	return h.afterWorkshop(w, r, err, "?voted="+url.QueryEscape(risk)+"#item-"+risk, "")
}

func (h *Handler) revealForm(w http.ResponseWriter, r *http.Request) error {
	return h.afterWorkshop(w, r, h.svc.Reveal(r.Context(), web.ActorFrom(r), r.PathValue("id")), "", "")
}

func (h *Handler) commentForm(w http.ResponseWriter, r *http.Request) error {
	_, err := h.svc.Comment(r.Context(), web.ActorFrom(r), r.PathValue("id"), r.PostFormValue("body"))
	return h.afterWorkshop(w, r, err, "#discussion", "")
}

func (h *Handler) agreeForm(w http.ResponseWriter, r *http.Request) error {
	risk := r.PostFormValue("risk_id")
	err := h.svc.Agree(r.Context(), web.ActorFrom(r), r.PathValue("id"), risk, atoi(r.PostFormValue("likelihood")), atoi(r.PostFormValue("impact")))
	return h.afterWorkshop(w, r, err, "#item-"+risk, "")
}

// localiseHistory writes the dates of the history (stored, and served by
// the API, as YYYY-MM-DD) the way the rest of the hub's pages write dates.
func localiseHistory(hist []Change, lang string) {
	for i := range hist {
		switch hist[i].Field {
		case "part.due", "reviewed":
			hist[i].Old, hist[i].New = localDay(lang, hist[i].Old), localDay(lang, hist[i].New)
		}
	}
}

func localDay(lang, s string) string {
	t, err := time.ParseInLocation("2006-01-02", s, web.Zone())
	if err != nil {
		return s
	}
	return i18n.FormatDate(lang, t, web.Zone())
}

// exportURL is the register's CSV download with the page's filters. German
// Excel reads a comma file as one column (its list separator is the
// semicolon), so the German page asks for semicolons.
func exportURL(q url.Values, lang string) string {
	e := url.Values{}
	for _, k := range []string{"community_id", "org_id", "above_appetite", "review_overdue"} {
		if v := q.Get(k); v != "" {
			e.Set(k, v)
		}
	}
	if lang == "de" {
		e.Set("sep", "semicolon")
	}
	if len(e) == 0 {
		return "/api/v1/risks/export"
	}
	return "/api/v1/risks/export?" + e.Encode()
}
