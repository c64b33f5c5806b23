package incidents

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

type listData struct {
	Incidents  []Incident
	Next       string
	Filter     ListFilter
	Query      string
	Statuses   []string
	Severities []string
	Categories []string
	IsCERT     bool
}

func (h *Handler) listPage(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	q := r.URL.Query()
	f := ListFilter{Status: q.Get("status"), Severity: q.Get("severity"), Category: q.Get("category"), After: q.Get("next"), Limit: 50}
	list, next, err := h.svc.FindIncidents(r.Context(), a, f)
	if err != nil {
		return err
	}
	keep := url.Values{}
	for _, k := range []string{"status", "severity", "category"} {
		if v := q.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	var kind string
	_ = h.svc.DB.R().QueryRow(r.Context(), `SELECT kind FROM orgs WHERE id = ?`, a.OrgID).Scan(&kind)
	d := listData{Incidents: list, Next: next, Filter: f, Query: keep.Encode(), Statuses: Statuses, Severities: Severities, Categories: Categories, IsCERT: kind == "cert"}
	p := web.Page{Nav: "incidents", Data: d, Title: h.srv.Catalog.T(h.srv.Lang(r), "incidents.title"), Live: "/events?topic=incidents"}
	return h.tpl.Render(w, r, http.StatusOK, "list", p)
}

type formData struct {
	Incident   Incident // ID "" for a new one
	Form       NewIncident
	Compose    Compose
	Categories []string
	Severities []string
	Error      *fault.Error
}

func (h *Handler) newPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderForm(w, r, http.StatusOK, formData{Form: NewIncident{Severity: "medium", Category: "malware", Sharing: policy.Sharing{TLP: "AMBER", Audience: "org"}}})
}

func (h *Handler) renderForm(w http.ResponseWriter, r *http.Request, status int, d formData) error {
	a := web.ActorFrom(r)
	d.Categories, d.Severities = Categories, Severities
	if a.CanWrite() {
		var err error
		if d.Compose, err = h.svc.FindCompose(r.Context(), a); err != nil {
			return err
		}
	}
	title := "incidents.new"
	if d.Incident.ID != "" {
		title = "incidents.edit"
	}
	p := web.Page{Nav: "incidents", Data: d, Title: h.srv.Catalog.T(h.srv.Lang(r), title)}
	return h.tpl.Render(w, r, status, "form", p)
}

// formSharing reads the level and audience fields of a form.
func formSharing(r *http.Request) policy.Sharing {
	return policy.Sharing{TLP: r.PostFormValue("tlp"), Audience: r.PostFormValue("audience"), Community: r.PostFormValue("community_id"),
		Orgs: r.PostForm["orgs"], People: r.PostForm["people"]}
}

// invalid reports whether err is one a form shows beside the input.
func invalid(err error) (*fault.Error, bool) {
	e, ok := fault.As(err)
	return e, ok && (e.Kind == fault.Invalid || e.Kind == fault.Forbidden || e.Kind == fault.Conflict || e.Kind == fault.TooLarge)
}

// formIncident reads the incident form.
func formIncident(r *http.Request) NewIncident {
	in := NewIncident{Title: r.PostFormValue("title"), Description: r.PostFormValue("description"), Category: r.PostFormValue("category"),
		Severity: r.PostFormValue("severity"), Exercise: r.PostFormValue("exercise") == "1", NIS2: r.PostFormValue("nis2") == "1",
		GDPR: r.PostFormValue("gdpr") == "1", DetectedAt: r.PostFormValue("detected_at"), Sharing: formSharing(r)}
	for _, id := range r.PostForm["link_intel"] {
		if id = strings.TrimSpace(id); id != "" {
			in.Links = append(in.Links, Link{Type: "intel", ID: id})
		}
	}
	return in
}

func (h *Handler) createForm(w http.ResponseWriter, r *http.Request) error {
	in := formIncident(r)
	inc, err := h.svc.CreateIncident(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		if e, ok := invalid(err); ok {
			return h.renderForm(w, r, web.Status(e.Kind), formData{Form: in, Error: e})
		}
		return err
	}
	return web.Redirect(w, r, "/incidents/"+inc.ID, "saved")
}

func (h *Handler) editPage(w http.ResponseWriter, r *http.Request) error {
	inc, err := h.svc.FindIncidentByID(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	form := NewIncident{Title: inc.Title, Description: inc.Description, Category: inc.Category, Severity: inc.Severity, Exercise: inc.Exercise,
		NIS2: inc.NIS2, GDPR: inc.GDPR, Links: inc.Links, Sharing: policy.SharingOf(inc.Share)}
	return h.renderForm(w, r, http.StatusOK, formData{Incident: inc, Form: form})
}

// editForm saves the owner's edit; the sharing is a new disclosure only
// when it changed.
func (h *Handler) editForm(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	id := r.PathValue("id")
	cur, err := h.svc.FindIncidentByID(r.Context(), a, id)
	if err != nil {
		return err
	}
	in := formIncident(r)
	up := Update{Title: &in.Title, Description: &in.Description, Category: &in.Category, Severity: &in.Severity, Exercise: &in.Exercise,
		NIS2: &in.NIS2, GDPR: &in.GDPR, Links: &in.Links}
	if in.Links == nil {
		up.Links = &[]Link{}
	}
	if in.Sharing.Audience == string(policy.AudPeople) && slices.Contains(cur.Share.Audience.People, a.UserID) && !slices.Contains(in.Sharing.People, a.UserID) {
		in.Sharing.People = append(in.Sharing.People, a.UserID)
	}
	if cs := policy.SharingOf(cur.Share); in.Sharing.TLP != cs.TLP || in.Sharing.Audience != cs.Audience || in.Sharing.Community != cs.Community ||
		!sameSet(in.Sharing.Orgs, cs.Orgs) || !sameSet(in.Sharing.People, cs.People) {
		up.Sharing = &in.Sharing
	}
	if _, err := h.svc.UpdateIncident(r.Context(), a, id, up); err != nil {
		if e, ok := invalid(err); ok {
			return h.renderForm(w, r, web.Status(e.Kind), formData{Incident: cur, Form: in, Error: e})
		}
		return err
	}
	return web.Redirect(w, r, "/incidents/"+id, "saved")
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func (h *Handler) deleteForm(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteIncident(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	return web.Redirect(w, r, "/incidents", "incident_deleted")
}

type incidentData struct {
	Incident     Incident
	Timeline     []Entry
	Participants []Participant
	Tasks        []Task
	Evidence     []Evidence
	Clocks       []Clock
	Compose      Compose
	Next         []string // the statuses it may move to
	MyRole       string
	CanEdit      bool // the owner's analysts
	CanMove      bool
	CanInvite    bool
	CanAck       bool
	Participant  bool
	DoneTasks    int
	Roles        []string
	Error        *fault.Error
	Comment      string
}

func (h *Handler) incidentPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderIncident(w, r, http.StatusOK, incidentData{})
}

func (h *Handler) renderIncident(w http.ResponseWriter, r *http.Request, status int, d incidentData) error {
	a := web.ActorFrom(r)
	ctx := r.Context()
	inc, err := h.svc.FindIncidentByID(ctx, a, r.PathValue("id"))
	if err != nil {
		return err
	}
	d.Incident, d.Roles = inc, Roles
	if d.Timeline, err = h.svc.FindTimeline(ctx, a, inc.ID); err != nil {
		return err
	}
	lang := h.srv.Lang(r)
	for i := range d.Timeline {
		d.Timeline[i].Body = h.entryWords(lang, d.Timeline[i])
	}
	if d.Participants, err = h.svc.participants(ctx, h.svc.DB.R(), inc.ID, inc.Status); err != nil {
		return err
	}
	if d.Tasks, err = h.svc.FindTasks(ctx, a, inc.ID); err != nil {
		return err
	}
	for _, t := range d.Tasks {
		if t.DoneAt != 0 {
			d.DoneTasks++
		}
	}
	if d.Evidence, err = h.svc.FindEvidence(ctx, a, inc.ID); err != nil {
		return err
	}
	if d.Clocks, err = h.svc.FindClocks(ctx, a, inc.ID); err != nil {
		return err
	}
	for _, p := range d.Participants {
		if p.OrgID == a.OrgID {
			d.MyRole, d.Participant = p.Role, true
			d.CanAck = p.AcknowledgedAt == 0 && a.CanWrite()
		}
	}
	owner := inc.Share.Owner == a.OrgID
	d.CanEdit = owner && a.CanWrite()
	d.CanMove = a.CanWrite() && (owner || d.MyRole == "coordinator" || d.MyRole == "responder")
	d.CanInvite = a.CanWrite() && inc.Status != "closed" && (owner || d.MyRole == "coordinator")
	if d.CanMove {
		d.Next = transitions[inc.Status]
	}
	if d.CanInvite {
		if d.Compose, err = h.svc.FindCompose(ctx, a); err != nil {
			return err
		}
		// Offer only orgs that do not take part yet.
		d.Compose.Orgs = slices.DeleteFunc(d.Compose.Orgs, func(c Candidate) bool {
			return slices.ContainsFunc(d.Participants, func(p Participant) bool { return p.OrgID == c.ID })
		})
	}
	p := web.Page{Nav: "incidents", Data: d, Title: inc.Title, Live: "/events?topic=incident:" + inc.ID}
	return h.tpl.Render(w, r, status, "incident", p)
}

// formError shows err on the incident page if it is one a form shows,
// else returns it.
func (h *Handler) formError(w http.ResponseWriter, r *http.Request, err error, d incidentData) error {
	if e, ok := invalid(err); ok {
		d.Error = e
		return h.renderIncident(w, r, web.Status(e.Kind), d)
	}
	return err
}

func (h *Handler) statusForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	st := r.PostFormValue("status")
	up := Update{Status: &st}
	if st == "closed" {
		up.Review = &Review{WhatHappened: r.PostFormValue("what_happened"), WhatHelped: r.PostFormValue("what_helped"), Lessons: r.PostFormValue("lessons_learned")}
	}
	for _, f := range []struct {
		name string
		dst  **bool
	}{{"nis2", &up.NIS2}, {"gdpr", &up.GDPR}, {"exercise", &up.Exercise}} {
		if v := r.PostFormValue(f.name); v != "" {
			b := v == "1"
			*f.dst = &b
		}
	}
	if st == "" {
		up.Status = nil
	}
	if _, err := h.svc.UpdateIncident(r.Context(), web.ActorFrom(r), id, up); err != nil {
		return h.formError(w, r, err, incidentData{})
	}
	return web.Redirect(w, r, "/incidents/"+id, "saved")
}

func (h *Handler) commentForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	in := NewComment{Body: r.PostFormValue("body")}
	e, err := h.svc.CreateComment(r.Context(), web.ActorFrom(r), id, in)
	if err != nil {
		return h.formError(w, r, err, incidentData{Comment: in.Body})
	}
	return web.Redirect(w, r, "/incidents/"+id+"#entry-"+e.ID, "saved")
}

func (h *Handler) inviteForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ack, _ := strconv.Atoi(r.PostFormValue("ack_minutes"))
	upd, _ := strconv.Atoi(r.PostFormValue("update_hours"))
	in := Invitation{OrgID: r.PostFormValue("org_id"), Role: r.PostFormValue("role"), AckMinutes: ack, UpdateHours: upd, People: r.PostForm["people"]}
	if _, err := h.svc.InviteParticipant(r.Context(), web.ActorFrom(r), id, in); err != nil {
		return h.formError(w, r, err, incidentData{})
	}
	return web.Redirect(w, r, "/incidents/"+id+"#participants", "saved")
}

func (h *Handler) acknowledgeForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := h.svc.Acknowledge(r.Context(), web.ActorFrom(r), id); err != nil {
		return h.formError(w, r, err, incidentData{})
	}
	return web.Redirect(w, r, "/incidents/"+id+"#participants", "saved")
}

func (h *Handler) assistanceForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	in := AssistanceRequest{CertOrg: r.PostFormValue("cert_org"), Message: r.PostFormValue("message")}
	if _, err := h.svc.RequestAssistance(r.Context(), web.ActorFrom(r), id, in); err != nil {
		return h.formError(w, r, err, incidentData{})
	}
	return web.Redirect(w, r, "/incidents/"+id+"#participants", "saved")
}

func (h *Handler) taskForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	in := NewTask{Title: r.PostFormValue("title"), Due: r.PostFormValue("due")}
	if v := r.PostFormValue("assignee"); len(v) > 2 {
		switch v[:2] {
		case "o:":
			in.AssigneeOrg = v[2:]
		case "u:":
			in.AssigneeUser = v[2:]
		}
	}
	if _, err := h.svc.CreateTask(r.Context(), web.ActorFrom(r), id, in); err != nil {
		return h.formError(w, r, err, incidentData{})
	}
	return web.Redirect(w, r, "/incidents/"+id+"#tasks", "saved")
}

func (h *Handler) taskDoneForm(w http.ResponseWriter, r *http.Request) error {
	t, err := h.svc.SetTaskDone(r.Context(), web.ActorFrom(r), r.PathValue("id"), r.PostFormValue("done") != "0")
	if err != nil {
		return err
	}
	return web.Redirect(w, r, "/incidents/"+t.IncidentID+"#tasks", "")
}

func (h *Handler) evidenceForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := h.readUpload(w, r, id); err != nil {
		return h.formError(w, r, err, incidentData{})
	}
	return web.Redirect(w, r, "/incidents/"+id+"#evidence", "saved")
}

func (h *Handler) clockForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := h.svc.MarkReported(r.Context(), web.ActorFrom(r), id, r.PathValue("clock")); err != nil {
		return h.formError(w, r, err, incidentData{})
	}
	return web.Redirect(w, r, "/incidents/"+id+"#clocks", "saved")
}

type draftData struct {
	Incident Incident
	Draft    Draft
}

func (h *Handler) draftPage(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	lang := r.URL.Query().Get("report")
	if lang == "" {
		lang = h.srv.Lang(r)
	}
	inc, err := h.svc.FindIncidentByID(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	d, err := h.svc.FindDraft(r.Context(), a, inc.ID, lang)
	if err != nil {
		return err
	}
	p := web.Page{Nav: "incidents", Data: draftData{Incident: inc, Draft: d}, Title: h.srv.Catalog.T(h.srv.Lang(r), "incidents.draft_title", "title", inc.Title)}
	return h.tpl.Render(w, r, http.StatusOK, "draft", p)
}

type inboxData struct {
	Items   []Assistance
	Status  string
	CERTs   []policy.Option
	Error   *fault.Error
	Pending bool
}

func (h *Handler) inboxPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderInbox(w, r, http.StatusOK, nil)
}

func (h *Handler) renderInbox(w http.ResponseWriter, r *http.Request, status int, e *fault.Error) error {
	a := web.ActorFrom(r)
	st := r.URL.Query().Get("status")
	items, err := h.svc.FindCertInbox(r.Context(), a, st)
	if err != nil {
		return err
	}
	certs, err := h.svc.FindCERTs(r.Context(), a)
	if err != nil {
		return err
	}
	d := inboxData{Items: items, Status: st, CERTs: certs, Error: e, Pending: st == "" || st == "pending"}
	p := web.Page{Nav: "incidents", Data: d, Title: h.srv.Catalog.T(h.srv.Lang(r), "incidents.inbox"), Live: "/events?topic=incidents"}
	return h.tpl.Render(w, r, status, "inbox", p)
}

func (h *Handler) decideForm(w http.ResponseWriter, r *http.Request) error {
	d := Decision{Action: r.PostFormValue("action"), Reason: r.PostFormValue("reason"), To: r.PostFormValue("to")}
	as, err := h.svc.DecideAssistance(r.Context(), web.ActorFrom(r), r.PathValue("id"), d)
	if err != nil {
		if e, ok := invalid(err); ok {
			return h.renderInbox(w, r, web.Status(e.Kind), e)
		}
		return err
	}
	if as.Status == "accepted" {
		return web.Redirect(w, r, "/incidents/"+as.IncidentID, "saved")
	}
	return web.Redirect(w, r, "/incidents/inbox", "saved")
}

// bar is one row of the figures chart.
type bar struct {
	Label string
	Value int64
	Width int
}

type figuresData struct {
	Figures Figures
	Bars    []bar
}

func (h *Handler) figuresPage(w http.ResponseWriter, r *http.Request) error {
	f, err := h.svc.FindFigures(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	lang := h.srv.Lang(r)
	d := figuresData{Figures: f}
	top := max(f.MedianAck, f.MedianContain, f.MedianResolve)
	for _, b := range []struct {
		key string
		v   int64
	}{{"incidents.figure.ack", f.MedianAck}, {"incidents.figure.contain", f.MedianContain}, {"incidents.figure.resolve", f.MedianResolve}} {
		w := 0
		if top > 0 {
			w = int(b.v*20/top) * 5
		}
		d.Bars = append(d.Bars, bar{Label: h.srv.Catalog.T(lang, b.key), Value: b.v, Width: w})
	}
	p := web.Page{Nav: "incidents", Data: d, Title: h.srv.Catalog.T(lang, "incidents.figures")}
	return h.tpl.Render(w, r, http.StatusOK, "figures", p)
}

// entryWords puts the machine words of a status or edit entry ("reported
// → acknowledged", "severity, title") into the reader's language; the
// API hands them out as stored.
func (h *Handler) entryWords(lang string, e Entry) string {
	var sep, prefix string
	switch e.Kind {
	case "status":
		sep, prefix = " → ", "incidents.status."
	case "edited":
		sep, prefix = ", ", "incidents.field."
	default:
		return e.Body
	}
	words := strings.Split(e.Body, sep)
	for i, w := range words {
		words[i] = h.srv.Catalog.T(lang, prefix+w)
	}
	return strings.Join(words, sep)
}
