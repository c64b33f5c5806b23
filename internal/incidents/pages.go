package incidents

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

type listData struct {
	Incidents  []listRow
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
	waiting, err := h.awaitingAck(r, a.OrgID)
	if err != nil {
		return err
	}
	rows := make([]listRow, len(list))
	for i, inc := range list {
		rows[i] = listRow{Incident: inc, Awaiting: waiting[inc.ID]}
	}
	d := listData{Incidents: rows, Next: next, Filter: f, Query: keep.Encode(), Statuses: Statuses, Severities: Severities, Categories: Categories, IsCERT: kind == "cert"}
	p := web.Page{Nav: "incidents", Data: d, Title: h.srv.Catalog.T(h.srv.Lang(r), "incidents.title"), Live: "/events?topic=incidents"}
	return h.tpl.Render(w, r, http.StatusOK, "list", p)
}

// listRow is an incident of the list; Awaiting marks one the reader's org
// was invited to and has not acknowledged yet (it has to act).
type listRow struct {
	Incident
	Awaiting bool
}

// awaitingAck is the set of incidents org was invited to and has not
// acknowledged. Only rows of the list (incidents the reader may see) are
// marked with it.
func (h *Handler) awaitingAck(r *http.Request, org string) (map[string]bool, error) {
	rows, err := h.svc.DB.R().Query(r.Context(), `SELECT incident_id FROM incident_participants WHERE org_id = ? AND acknowledged_at = 0 AND role <> 'reporter'`, org)
	if err != nil {
		return nil, fmt.Errorf("awaiting acknowledgement: %w", err)
	}
	ids, err := db.Collect(rows, "awaiting acknowledgement", func(sc db.Scanner) (id string, err error) { err = sc.Scan(&id); return id, err })
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

type formData struct {
	Incident   Incident // ID "" for a new one
	Form       NewIncident
	Compose    Compose
	Categories []string
	Severities []string
	Error      *fault.Error
	Detected   string      // the detected-at field as typed (datetime-local, display zone)
	Recipients *Recipients // whom the form's sharing reaches as it stands
}

func (h *Handler) newPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderForm(w, r, http.StatusOK, formData{Form: NewIncident{Severity: "medium", Category: "malware", Sharing: policy.Sharing{TLP: "AMBER", Audience: "org"}}})
}

// recipientsLine is the incident form's line "recipients: … – N people"
// for the level and audience in the query (app.js asks as the form
// changes).
func (h *Handler) recipientsLine(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	rc, err := h.svc.PreviewIncident(r.Context(), web.ActorFrom(r), policy.Sharing{TLP: q.Get("tlp"), Audience: q.Get("audience"),
		Community: q.Get("community_id"), Orgs: q["orgs"], People: q["people"]})
	if err != nil {
		return err
	}
	return h.tpl.Fragment(w, r, "recipients", web.Page{Data: rc})
}

func (h *Handler) renderForm(w http.ResponseWriter, r *http.Request, status int, d formData) error {
	a := web.ActorFrom(r)
	d.Categories, d.Severities = Categories, Severities
	if a.CanWrite() {
		var err error
		if d.Compose, err = h.svc.FindCompose(r.Context(), a); err != nil {
			return err
		}
		rc, err := h.svc.PreviewIncident(r.Context(), a, d.Form.Sharing)
		if err != nil {
			return err
		}
		d.Recipients = &rc
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
	typed := in.DetectedAt
	in.DetectedAt = localTime(typed)
	inc, err := h.svc.CreateIncident(r.Context(), web.ActorFrom(r), in)
	if err != nil {
		if e, ok := invalid(err); ok {
			return h.renderForm(w, r, web.Status(e.Kind), formData{Form: in, Error: e, Detected: typed})
		}
		return err
	}
	return web.Redirect(w, r, "/incidents/"+inc.ID, "incident_reported")
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
	return web.Redirect(w, r, "/incidents/"+id, "incident_saved")
}

// localTime reads a datetime-local field ("2006-01-02T15:04") in the
// display time zone, the one every page shows times in, and writes it as
// RFC 3339 for the service (which reads zone-less times as UTC, as the
// API documents). Anything else goes on as typed: the service names the
// problem.
func localTime(v string) string {
	v = strings.TrimSpace(v)
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, web.Zone()); err == nil {
			return t.Format(time.RFC3339)
		}
	}
	return v
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
	Next         []string // the statuses it may move to, the next forward step first
	NoForward    bool     // Next holds only moves back
	MyRole       string
	CanEdit      bool // the owner's analysts
	CanMove      bool
	CanInvite    bool // may invite (the form shows only with candidates)
	CanAssist    bool // may ask a CERT for assistance (CERTs lists the ones to ask)
	CERTs        []policy.Option
	CanAck       bool
	Participant  bool
	Closed       bool
	DoneTasks    int
	Roles        []string
	Error        *fault.Error
	ErrorAt      string // the id of the section whose form failed ("" at the top)
	Comment      string
	Status       string  // the status chosen in the form that failed
	Review       *Review // the review typed in it
	Task         NewTask // the task typed in it (Due as typed)
	Message      string  // the assistance request's message typed
	Runs         []Run
	RunChoices   []policy.Option // the playbooks the actor may start
}

func (h *Handler) incidentPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderIncident(w, r, http.StatusOK, incidentData{})
}

// nextStatuses orders the moves from cur for the status form: forward
// steps first, the next one on top (the select's default: one click must
// not reopen a resolved incident), then the moves back. Only the
// reporting org is offered "closed", and "resolved" only to it and the
// coordinator (the server refuses others).
func nextStatuses(cur string, owner, coordinator bool) []string {
	at := slices.Index(Statuses, cur)
	var fwd, back []string
	for _, st := range transitions[cur] {
		if st == "closed" && !owner || st == "resolved" && !owner && !coordinator {
			continue
		}
		if slices.Index(Statuses, st) > at {
			fwd = append(fwd, st)
		} else {
			back = append(back, st)
		}
	}
	slices.SortFunc(fwd, func(a, b string) int { return slices.Index(Statuses, a) - slices.Index(Statuses, b) })
	return append(fwd, back...)
}

func (h *Handler) renderIncident(w http.ResponseWriter, r *http.Request, status int, d incidentData) error {
	a := web.ActorFrom(r)
	ctx := r.Context()
	inc, err := h.svc.FindIncidentByID(ctx, a, r.PathValue("id"))
	if err != nil {
		return err
	}
	d.Incident, d.Roles, d.Closed = inc, Roles, inc.Status == "closed"
	if d.Timeline, err = h.svc.FindTimeline(ctx, a, inc.ID); err != nil {
		return err
	}
	lang := h.srv.Lang(r)
	for i := range d.Timeline {
		d.Timeline[i].Kind, d.Timeline[i].Body = h.entryWords(lang, d.Timeline[i])
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
	if d.Runs, err = h.svc.FindRuns(ctx, a, inc.ID); err != nil {
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
	d.CanInvite = a.CanWrite() && !d.Closed && (owner || d.MyRole == "coordinator")
	if d.Participant && a.CanWrite() && !d.Closed && h.svc.Playbooks != nil {
		if d.RunChoices, err = h.svc.Playbooks.RunChoices(ctx, a); err != nil {
			return err
		}
	}
	if d.CanMove {
		d.Next = nextStatuses(inc.Status, owner, d.MyRole == "coordinator")
	}
	if d.CanInvite || d.CanEdit {
		if d.Compose, err = h.svc.FindCompose(ctx, a); err != nil {
			return err
		}
		// Offer only orgs that do not take part yet and that an agreement
		// lets the incident reach at its level (the server refuses the
		// others: no_agreement).
		d.Compose.Orgs = slices.DeleteFunc(d.Compose.Orgs, func(c Candidate) bool {
			return (inc.Share.TLP > policy.Clear && c.Max < inc.Share.TLP) ||
				slices.ContainsFunc(d.Participants, func(p Participant) bool { return p.OrgID == c.ID })
		})
	}
	if d.CanEdit && !d.Closed {
		// Only CERTs that neither take part nor have a request open: the
		// server refuses the others (assistance_open).
		asked, err := h.askedCERTs(r, inc.ID)
		if err != nil {
			return err
		}
		for _, c := range d.Compose.CERTs {
			if !asked[c.ID] && !slices.ContainsFunc(d.Participants, func(p Participant) bool { return p.OrgID == c.ID }) {
				d.CERTs = append(d.CERTs, c)
			}
		}
		d.CanAssist = true
	}
	// The default is the next forward step; where there is none (a
	// responder on a resolved incident may only reopen it) the select
	// starts on "choose", so that one click does not reopen it.
	d.NoForward = len(d.Next) > 0 && slices.Index(Statuses, d.Next[0]) < slices.Index(Statuses, inc.Status)
	if d.Status == "" && len(d.Next) > 0 && !d.NoForward {
		d.Status = d.Next[0]
	}
	p := web.Page{Nav: "incidents", Data: d, Title: inc.Title, Live: "/events?topic=incident:" + inc.ID}
	return h.tpl.Render(w, r, status, "incident", p)
}

// askedCERTs is the set of CERTs with a pending or accepted request for
// assistance with the incident.
func (h *Handler) askedCERTs(r *http.Request, incident string) (map[string]bool, error) {
	rows, err := h.svc.DB.R().Query(r.Context(), `SELECT cert_org FROM incident_assistance WHERE incident_id = ? AND status IN ('pending', 'accepted')`, incident)
	if err != nil {
		return nil, fmt.Errorf("asked CERTs: %w", err)
	}
	ids, err := db.Collect(rows, "asked CERTs", func(sc db.Scanner) (id string, err error) { err = sc.Scan(&id); return id, err })
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// formError shows err beside the form of section at on the incident page
// if it is one a form shows, else returns it. The values of machine words
// in it (statuses, deadlines) get their catalogue names.
func (h *Handler) formError(w http.ResponseWriter, r *http.Request, err error, at string, d incidentData) error {
	e, ok := invalid(err)
	if !ok {
		return err
	}
	d.Error, d.ErrorAt = nameWords(e), at
	return h.renderIncident(w, r, web.Status(e.Kind), d)
}

// nameWords gives a fault's status and clock values their catalogue keys,
// so that a German page says "von abgeschlossen zu in Analyse".
func nameWords(e *fault.Error) *fault.Error {
	c := *e
	c.Params = slices.Clone(e.Params)
	for i, p := range c.Params {
		v, ok := p.Value.(string)
		if !ok || p.Key != "" {
			continue
		}
		switch {
		case (p.Name == "from" || p.Name == "to" || p.Name == "status") && slices.Contains(Statuses, v):
			c.Params[i].Key = "incidents.status." + v
		case p.Name == "clock" && slices.Contains(ClockNames, v):
			c.Params[i].Key = "incidents.clock." + v
		}
	}
	return &c
}

func (h *Handler) statusForm(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	id := r.PathValue("id")
	cur, err := h.svc.FindIncidentByID(r.Context(), a, id)
	if err != nil {
		return err
	}
	st := r.PostFormValue("status")
	up := Update{Status: &st}
	var rv *Review
	if st == "closed" {
		rv = &Review{WhatHappened: r.PostFormValue("what_happened"), WhatHelped: r.PostFormValue("what_helped"), Lessons: r.PostFormValue("lessons_learned")}
		up.Review = rv
	}
	changed := false
	for _, f := range []struct {
		name string
		dst  **bool
		cur  bool
	}{{"nis2", &up.NIS2, cur.NIS2}, {"gdpr", &up.GDPR, cur.GDPR}, {"exercise", &up.Exercise, cur.Exercise}} {
		if v := r.PostFormValue(f.name); v != "" {
			b := v == "1"
			*f.dst = &b
			changed = changed || b != f.cur
		}
	}
	flash, at := "incident_flags_saved", "clocks"
	switch {
	case st == "":
		up.Status = nil
		if r.PostFormValue("nis2") == "" && r.PostFormValue("gdpr") == "" {
			at = "status-card" // the status form sent with "choose"
		}
	case st == cur.Status:
		// Someone else made the same move meanwhile: nothing to do, and
		// the page says so rather than "saved" or "cannot go from
		// resolved to resolved".
		up.Status = nil
		flash, at = "incident_status_unchanged", "status-card"
	default:
		changed, flash, at = true, "incident_status_changed", "status-card"
	}
	if !changed {
		if flash == "incident_flags_saved" {
			flash = "incident_unchanged"
		}
		return web.Redirect(w, r, "/incidents/"+id+"#"+at, flash)
	}
	if _, err := h.svc.UpdateIncident(r.Context(), a, id, up); err != nil {
		return h.formError(w, r, err, at, incidentData{Status: st, Review: rv})
	}
	return web.Redirect(w, r, "/incidents/"+id+"#"+at, flash)
}

func (h *Handler) commentForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	in := NewComment{Body: r.PostFormValue("body")}
	e, err := h.svc.CreateComment(r.Context(), web.ActorFrom(r), id, in)
	if err != nil {
		return h.formError(w, r, err, "timeline", incidentData{Comment: in.Body})
	}
	return web.Redirect(w, r, "/incidents/"+id+"#entry-"+e.ID, "incident_commented")
}

func (h *Handler) inviteForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ack, _ := strconv.Atoi(r.PostFormValue("ack_minutes"))
	upd, _ := strconv.Atoi(r.PostFormValue("update_hours"))
	in := Invitation{OrgID: r.PostFormValue("org_id"), Role: r.PostFormValue("role"), AckMinutes: ack, UpdateHours: upd, People: r.PostForm["people"]}
	if strings.TrimSpace(in.OrgID) == "" {
		// An empty choice would come back as "… has no agreement" naming
		// nobody.
		return h.formError(w, r, fault.BadInput("org_id", "invite_org_missing", "choose the organisation to invite"), "participants", incidentData{})
	}
	if _, err := h.svc.InviteParticipant(r.Context(), web.ActorFrom(r), id, in); err != nil {
		return h.formError(w, r, err, "participants", incidentData{})
	}
	return web.Redirect(w, r, "/incidents/"+id+"#participants", "incident_invited")
}

func (h *Handler) acknowledgeForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := h.svc.Acknowledge(r.Context(), web.ActorFrom(r), id); err != nil {
		return h.formError(w, r, err, "participants", incidentData{})
	}
	return web.Redirect(w, r, "/incidents/"+id+"#participants", "incident_acknowledged")
}

func (h *Handler) assistanceForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	in := AssistanceRequest{CertOrg: r.PostFormValue("cert_org"), Message: r.PostFormValue("message")}
	if _, err := h.svc.RequestAssistance(r.Context(), web.ActorFrom(r), id, in); err != nil {
		return h.formError(w, r, err, "participants", incidentData{Message: in.Message})
	}
	return web.Redirect(w, r, "/incidents/"+id+"#participants", "incident_assistance_requested")
}

func (h *Handler) taskForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	typed := NewTask{Title: r.PostFormValue("title"), Due: r.PostFormValue("due")}
	in := NewTask{Title: typed.Title, Due: localTime(typed.Due)}
	if v := r.PostFormValue("assignee"); len(v) > 2 {
		switch v[:2] {
		case "o:":
			in.AssigneeOrg = v[2:]
		case "u:":
			in.AssigneeUser = v[2:]
		}
	}
	typed.AssigneeOrg, typed.AssigneeUser = in.AssigneeOrg, in.AssigneeUser
	if _, err := h.svc.CreateTask(r.Context(), web.ActorFrom(r), id, in); err != nil {
		return h.formError(w, r, err, "tasks", incidentData{Task: typed})
	}
	return web.Redirect(w, r, "/incidents/"+id+"#tasks", "incident_task_added")
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
		return h.formError(w, r, err, "evidence", incidentData{})
	}
	return web.Redirect(w, r, "/incidents/"+id+"#evidence", "incident_evidence_added")
}

func (h *Handler) clockForm(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := h.svc.MarkReported(r.Context(), web.ActorFrom(r), id, r.PathValue("clock")); err != nil {
		return h.formError(w, r, err, "clocks", incidentData{})
	}
	return web.Redirect(w, r, "/incidents/"+id+"#clocks", "incident_clock_reported")
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
	d, err := h.svc.FindDraft(r.Context(), a, inc.ID, lang, h.words)
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
		return web.Redirect(w, r, "/incidents/"+as.IncidentID, "incident_request_accepted")
	}
	return web.Redirect(w, r, "/incidents/inbox", "incident_request_"+as.Status)
}

// bar is one row of the figures chart.
type bar struct {
	Label string
	Value string // in readable units, "—" when nothing is measured
	Width int
}

// figureRow is a row of a figures table in readable units.
type figureRow struct {
	ID, Title             string
	Ack, Contain, Resolve string
	Incidents             int
	AckBreach, UpdBreach  int
}

type figuresData struct {
	Figures Figures
	Bars    []bar
	Rows    []figureRow
	Parties []figureRow
}

// span says minutes m in units a reader takes in at a glance: minutes up
// to two hours, hours up to three days, then days ("—": not reached). The
// chart and the tables use it alike.
func (h *Handler) span(lang string, m *int64) string {
	if m == nil {
		return "—"
	}
	n := *m
	dec := func(x float64) string {
		s := strconv.FormatFloat(x, 'f', 1, 64)
		s = strings.TrimSuffix(s, ".0")
		if lang == "de" {
			s = strings.Replace(s, ".", ",", 1)
		}
		return s
	}
	switch {
	case n < 120:
		return h.srv.Catalog.T(lang, "incidents.span.minutes", "n", strconv.FormatInt(n, 10))
	case n < 72*60:
		return h.srv.Catalog.T(lang, "incidents.span.hours", "n", dec(float64(n)/60))
	default:
		return h.srv.Catalog.T(lang, "incidents.span.days", "n", dec(float64(n)/(24*60)))
	}
}

func (h *Handler) figuresPage(w http.ResponseWriter, r *http.Request) error {
	f, err := h.svc.FindFigures(r.Context(), web.ActorFrom(r))
	if err != nil {
		return err
	}
	lang := h.srv.Lang(r)
	d := figuresData{Figures: f}
	var top int64
	for _, m := range []*int64{f.MedianAck, f.MedianContain, f.MedianResolve} {
		if m != nil {
			top = max(top, *m)
		}
	}
	for _, b := range []struct {
		key string
		v   *int64
	}{{"incidents.figure.ack", f.MedianAck}, {"incidents.figure.contain", f.MedianContain}, {"incidents.figure.resolve", f.MedianResolve}} {
		w := 0
		if top > 0 && b.v != nil {
			w = int(*b.v*20/top) * 5
		}
		d.Bars = append(d.Bars, bar{Label: h.srv.Catalog.T(lang, b.key), Value: h.span(lang, b.v), Width: w})
	}
	for _, x := range f.Incidents {
		d.Rows = append(d.Rows, figureRow{ID: x.ID, Title: x.Title, Ack: h.span(lang, x.AckMin), Contain: h.span(lang, x.ContainMin), Resolve: h.span(lang, x.ResolveMin)})
	}
	for _, x := range f.Parties {
		d.Parties = append(d.Parties, figureRow{ID: x.OrgID, Title: x.OrgName, Incidents: x.Incidents, Ack: h.span(lang, x.MedianAck), AckBreach: x.AckBreach, UpdBreach: x.UpdBreach})
	}
	p := web.Page{Nav: "incidents", Data: d, Title: h.srv.Catalog.T(lang, "incidents.figures")}
	return h.tpl.Render(w, r, http.StatusOK, "figures", p)
}

// entryWords puts the machine words of an entry ("reported →
// acknowledged", "severity, title", a deadline's name) into the reader's
// language and names the kind it is shown as; the API hands them out as
// stored. A CERT that joins by accepting a request is the author of its
// own participant entry: it reads "CERT Süd accepted the request", not
// "invited".
func (h *Handler) entryWords(lang string, e Entry) (kind, body string) {
	var sep, prefix string
	switch e.Kind {
	case "status":
		sep, prefix = " → ", "incidents.status."
	case "edited":
		sep, prefix = ", ", "incidents.field."
	case "reported_to_authority":
		if slices.Contains(ClockNames, e.Body) {
			return e.Kind, h.srv.Catalog.T(lang, "incidents.clock."+e.Body)
		}
		return e.Kind, e.Body
	case "participant":
		if e.Body != "" && e.Body == e.OrgName {
			return "joined", e.Body
		}
		return e.Kind, e.Body
	default:
		return e.Kind, e.Body
	}
	words := strings.Split(e.Body, sep)
	for i, w := range words {
		words[i] = h.srv.Catalog.T(lang, prefix+w)
	}
	return e.Kind, strings.Join(words, sep)
}

// words names a catalogue key in lang (a Words for the report draft).
func (h *Handler) words(lang, key string) string { return h.srv.Catalog.T(lang, key) }
