package training

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// The pages of training: the library with the reader's own training, a
// module's page (guide, quiz, results; for admins the assignment form and
// their people's progress; the rates others share), the form for a new
// module, the certificate of completion and the completion rates page.
// Every page reads through the service, so through policy.Reader.

// option is a trust circle, an org or a person a form may offer.
type option struct {
	ID, Name string
	// Coordinator: a circle's coordinating org.
	Coordinator string
	Role        policy.Role
}

// circles lists the trust circles org is an active member of.
func circles(ctx context.Context, h db.Handle, org string) ([]option, error) {
	rows, err := h.Query(ctx, `SELECT c.id, c.name, c.coordinator_org_id FROM community_members m JOIN communities c ON c.id = m.community_id
		WHERE m.org_id = ? AND m.status = 'active' ORDER BY c.name_key`, org)
	if err != nil {
		return nil, fmt.Errorf("list circles: %w", err)
	}
	return db.Collect(rows, "list circles", func(r db.Scanner) (o option, err error) {
		err = r.Scan(&o.ID, &o.Name, &o.Coordinator)
		return o, err
	})
}

// staff lists the active people of org by name.
func staff(ctx context.Context, h db.Handle, org string) ([]option, error) {
	rows, err := h.Query(ctx, `SELECT id, name, role FROM users WHERE org_id = ? AND disabled = 0 ORDER BY name, id`, org)
	if err != nil {
		return nil, fmt.Errorf("list people: %w", err)
	}
	return db.Collect(rows, "list people", func(r db.Scanner) (o option, err error) {
		err = r.Scan(&o.ID, &o.Name, &o.Role)
		return o, err
	})
}

func (h *handler) t(r *http.Request, key string, args ...any) string {
	return h.srv.Catalog.T(h.srv.Lang(r), key, args...)
}

// formError is a fault a form shows again (its input was refused), or nil
// for faults that answer with an error page.
func formError(err error) *fault.Error {
	if e, ok := fault.As(err); ok && (e.Kind == fault.Invalid || e.Kind == fault.Forbidden || e.Kind == fault.Conflict || e.Kind == fault.RateLimited) {
		return e
	}
	return nil
}

type trainingData struct {
	Mine        []Assignment
	Modules     []Module
	Next        string
	Library     string // the library shown ("" every module)
	Community   string
	Circles     []option
	Assignments []Assignment // the organisation's (admins)
	IsAdmin     bool
}

func (h *handler) trainingPage(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	ctx := r.Context()
	q := r.URL.Query()
	d := trainingData{Library: q.Get("library"), Community: q.Get("community"), IsAdmin: a.Role == policy.Admin}
	var err error
	if d.Mine, _, err = h.svc.FindAssignments(ctx, a, ScopeMine, "", "", 100); err != nil {
		return err
	}
	if d.Modules, d.Next, err = h.svc.FindModules(ctx, a, ModuleFilter{Library: d.Library, Community: d.Community, After: q.Get("next"), Limit: 50, Audiences: true}); err != nil {
		return err
	}
	if d.Circles, err = circles(ctx, h.svc.DB.R(), a.OrgID); err != nil {
		return err
	}
	if d.IsAdmin {
		if d.Assignments, _, err = h.svc.FindAssignments(ctx, a, ScopeOrg, "", "", 50); err != nil {
			return err
		}
	}
	p := web.Page{Nav: "training", Data: d, Title: h.t(r, "training.title"), Live: "/events?topic=training"}
	return h.tpl.Render(w, r, http.StatusOK, "training", p)
}

func (h *handler) moduleRow(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	m, err := h.svc.FindModuleByID(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	m.Questions, m.Guide = nil, nil
	return h.tpl.Fragment(w, r, "modulerow", web.Page{Data: m})
}

func (h *handler) myRow(w http.ResponseWriter, r *http.Request) error {
	as, err := h.svc.FindMyAssignment(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.tpl.Fragment(w, r, "myrow", web.Page{Data: as})
}

func (h *handler) personRow(w http.ResponseWriter, r *http.Request) error {
	pp, err := h.svc.FindPersonProgress(r.Context(), web.ActorFrom(r), r.PathValue("id"), r.PathValue("user"))
	if err != nil {
		return err
	}
	return h.tpl.Fragment(w, r, "personrow", web.Page{Data: pp})
}

// The form for a new module: questions and answers are numbered fields
// (q1_text_de, q1_o2_en, q1_correct=2); blank ones are left out. "Add a
// question" sends the form back with one more empty question, nothing
// saved, so the form works without script.

// blankQuestions and blankOptions are how many a new form offers.
const (
	blankQuestions = 3
	blankOptions   = 5
)

type optionForm struct {
	N       int
	Text    map[string]string
	Correct bool
}

type questionForm struct {
	N       int
	Kind    string
	Text    map[string]string
	Options []optionForm
}

type moduleForm struct {
	Title     map[string]string
	Guide     map[string]string
	PassMark  string
	Questions []questionForm
	Sharing   policy.Sharing
}

type newData struct {
	Form      moduleForm
	Languages []string
	Compose   compose
	Error     *fault.Error
}

func emptyForm(n int) moduleForm {
	f := moduleForm{Title: map[string]string{}, Guide: map[string]string{}, PassMark: strconv.Itoa(DefaultPassMark)}
	for range n {
		f.Questions = append(f.Questions, emptyQuestion())
	}
	return f
}

func emptyQuestion() questionForm {
	q := questionForm{Kind: Single, Text: map[string]string{}}
	for range blankOptions {
		q.Options = append(q.Options, optionForm{Text: map[string]string{}})
	}
	return q
}

func (h *handler) newPage(w http.ResponseWriter, r *http.Request) error {
	f := emptyForm(blankQuestions)
	f.Sharing = policy.Sharing{TLP: "AMBER", Audience: string(policy.AudOrg)}
	if c := r.URL.Query().Get("community"); c != "" {
		f.Sharing = policy.Sharing{TLP: "GREEN", Audience: string(policy.AudCommunity), Community: c}
	}
	return h.renderNew(w, r, http.StatusOK, newData{Form: f})
}

func (h *handler) renderNew(w http.ResponseWriter, r *http.Request, status int, d newData) error {
	var err error
	d.Languages = languages()
	d.Form.numbered()
	if d.Compose, err = h.svc.compose(r.Context(), web.ActorFrom(r)); err != nil {
		return err
	}
	p := web.Page{Nav: "training", Data: d, Title: h.t(r, "training.new")}
	return h.tpl.Render(w, r, status, "new", p)
}

// readForm reads the new module form as sent.
func readForm(r *http.Request) (moduleForm, error) {
	if err := r.ParseForm(); err != nil {
		return moduleForm{}, fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
	}
	v := r.PostForm
	f := moduleForm{Title: map[string]string{}, Guide: map[string]string{}, PassMark: v.Get("pass_mark"),
		Sharing: policy.Sharing{TLP: v.Get("tlp"), Audience: v.Get("audience"), Community: v.Get("community_id"), Orgs: v["orgs"], People: v["people"]}}
	for _, l := range languages() {
		f.Title[l], f.Guide[l] = v.Get("title_"+l), v.Get("guide_"+l)
	}
	n, _ := strconv.Atoi(v.Get("questions"))
	n = min(max(n, 1), MaxQuestions+1)
	for i := 1; i <= n; i++ {
		q := questionForm{Kind: v.Get(fmt.Sprintf("q%d_kind", i)), Text: map[string]string{}}
		for _, l := range languages() {
			q.Text[l] = v.Get(fmt.Sprintf("q%d_text_%s", i, l))
		}
		correct := v[fmt.Sprintf("q%d_correct", i)]
		for j := 1; j <= MaxOptions; j++ {
			o := optionForm{Text: map[string]string{}, Correct: slices.Contains(correct, strconv.Itoa(j))}
			given := false
			for _, l := range languages() {
				if _, ok := v[fmt.Sprintf("q%d_o%d_%s", i, j, l)]; ok {
					given = true
				}
				o.Text[l] = v.Get(fmt.Sprintf("q%d_o%d_%s", i, j, l))
			}
			if !given && j > blankOptions {
				break
			}
			q.Options = append(q.Options, o)
		}
		f.Questions = append(f.Questions, q)
	}
	return f, nil
}

// blank reports whether every text of t is empty.
func blank(t map[string]string) bool {
	for _, s := range t {
		if strings.TrimSpace(s) != "" {
			return false
		}
	}
	return true
}

// input turns the form into the service's input: blank questions and
// answers are left out, correct marks follow their answers.
func (f moduleForm) input() NewModule {
	in := NewModule{Title: Text(f.Title), Guide: Text(f.Guide), Sharing: f.Sharing}
	in.PassMark, _ = strconv.Atoi(strings.TrimSpace(f.PassMark))
	if strings.TrimSpace(f.PassMark) != "" && in.PassMark == 0 {
		in.PassMark = -1 // not a number: refused as a bad pass mark
	}
	for _, q := range f.Questions {
		nq := NewQuestion{Kind: q.Kind, Text: Text(q.Text), Options: []Text{}, Correct: []int{}}
		empty := blank(q.Text)
		for _, o := range q.Options {
			if blank(o.Text) {
				continue
			}
			empty = false
			if o.Correct {
				nq.Correct = append(nq.Correct, len(nq.Options))
			}
			nq.Options = append(nq.Options, Text(o.Text))
		}
		if !empty {
			in.Questions = append(in.Questions, nq)
		}
	}
	return in
}

func (h *handler) createForm(w http.ResponseWriter, r *http.Request) error {
	f, err := readForm(r)
	if err != nil {
		return err
	}
	if r.PostFormValue("add") == "question" {
		if len(f.Questions) < MaxQuestions {
			f.Questions = append(f.Questions, emptyQuestion())
		}
		return h.renderNew(w, r, http.StatusOK, newData{Form: f})
	}
	m, err := h.svc.CreateModule(r.Context(), web.ActorFrom(r), f.input())
	if e := formError(err); e != nil {
		return h.renderNew(w, r, web.Status(e.Kind), newData{Form: f, Error: e})
	}
	if err != nil {
		return err
	}
	flash := "module_created"
	if len(m.NotDeliveredTo) > 0 {
		flash = "module_partial_delivery"
	}
	return web.Redirect(w, r, "/training/modules/"+m.ID, flash)
}

type moduleData struct {
	Module    Module
	Lang      string        // the language the module is shown in
	Missing   bool          // the module is not written in the page's language
	Other     []string      // the module's other languages
	Guide     template.HTML // rendered and sanitised
	Mine      []Assignment  // the reader's assignments of it
	Open      *Assignment   // the one that takes answers now
	Results   []Result      // the reader's attempts
	Last      *Result       // the attempt just sent (?attempt=)
	Progress  Progress      // admins: their people; everyone: rates shared with them
	People    []option      // admins: their people, for the assignment form
	Roles     []policy.Role // admins: roles, for the assignment form
	IsAdmin   bool
	Error     *fault.Error // a refused form (answers, assignment)
	ErrorAt   string       // which form: answers, assign
	Assign    NewAssignment
	Selected  *Assignment // admins: the assignment whose people are shown
	Answers   map[string]bool
	Questions []shownQuestion
}

// shownQuestion is a question as the page shows it in one language.
type shownQuestion struct {
	N       int
	Kind    string
	Text    string
	Options []shownOption
}

type shownOption struct {
	N       int // from 0
	Text    string
	Correct bool // authors only
	Chosen  bool // the answer sent again after a refusal
}

func (h *handler) modulePage(w http.ResponseWriter, r *http.Request) error {
	return h.renderModule(w, r, http.StatusOK, moduleData{})
}

func (h *handler) renderModule(w http.ResponseWriter, r *http.Request, status int, d moduleData) error {
	a := web.ActorFrom(r)
	ctx := r.Context()
	q := r.URL.Query()
	m, err := h.svc.FindModuleByID(ctx, a, r.PathValue("id"))
	if err != nil {
		return err
	}
	d.Module, d.IsAdmin = m, a.Role == policy.Admin
	lang := h.srv.Lang(r)
	d.Lang = lang
	if !m.HasLanguage(lang) {
		d.Lang, d.Missing = m.Languages[0], true
	}
	for _, l := range m.Languages {
		if l != d.Lang {
			d.Other = append(d.Other, l)
		}
	}
	if d.Guide, err = h.svc.md.HTML(m.Guide.In(d.Lang, m.Languages)); err != nil {
		return err
	}
	for i, qu := range m.Questions {
		sq := shownQuestion{N: i + 1, Kind: qu.Kind, Text: qu.Text.In(d.Lang, m.Languages)}
		for j, o := range qu.Options {
			sq.Options = append(sq.Options, shownOption{N: j, Text: o.In(d.Lang, m.Languages), Correct: slices.Contains(qu.Correct, j),
				Chosen: d.Answers[fmt.Sprintf("%d-%d", i, j)]})
		}
		d.Questions = append(d.Questions, sq)
	}
	now := db.Now()
	if d.Progress, err = h.svc.FindProgress(ctx, a, m.ID, ProgressFilter{Assignment: q.Get("assignment"), After: q.Get("next"), Limit: 100}); err != nil {
		return err
	}
	d.Mine = d.Progress.Mine
	for i := range d.Mine {
		if !d.Mine[i].Overdue(now) && (d.Open == nil || d.Mine[i].CreatedAt > d.Open.CreatedAt) {
			d.Open = &d.Mine[i]
		}
	}
	if d.Results, err = h.svc.FindResults(ctx, a, m.ID); err != nil {
		return err
	}
	if id := q.Get("attempt"); id != "" {
		if res, err := h.svc.FindResult(ctx, a, id); err == nil && res.ModuleID == m.ID {
			d.Last = &res
		} else if err != nil && !fault.Is(err, fault.NotFound) {
			return err
		}
	}
	if d.IsAdmin {
		for i := range d.Progress.Assignments {
			if d.Progress.Assignments[i].ID == d.Progress.Assignment {
				d.Selected = &d.Progress.Assignments[i]
			}
		}
		if d.People, err = staff(ctx, h.svc.DB.R(), a.OrgID); err != nil {
			return err
		}
		d.Roles = policy.Roles()
		if d.Assign.Target == "" {
			d.Assign.Target = TargetOrg
		}
	}
	p := web.Page{Nav: "training", Data: d, Title: m.TitleIn(d.Lang), Live: "/events?topic=training:" + m.ID}
	return h.tpl.Render(w, r, status, "module", p)
}

func (h *handler) answersForm(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	if err := r.ParseForm(); err != nil {
		return fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
	}
	n, _ := strconv.Atoi(r.PostFormValue("questions"))
	n = min(max(n, 0), MaxQuestions)
	in := Answers{Answers: make([][]int, n)}
	chosen := map[string]bool{}
	for i := range n {
		in.Answers[i] = []int{}
		for _, v := range r.PostForm[fmt.Sprintf("q%d", i+1)] {
			o, err := strconv.Atoi(v)
			if err != nil {
				o = -1 // refused as an answer the question does not have
			}
			in.Answers[i] = append(in.Answers[i], o)
			chosen[fmt.Sprintf("%d-%d", i, o)] = true
		}
	}
	res, err := h.svc.SubmitAnswers(r.Context(), a, r.PathValue("id"), in)
	if e := formError(err); e != nil {
		return h.renderModule(w, r, web.Status(e.Kind), moduleData{Error: e, ErrorAt: "answers", Answers: chosen})
	}
	if err != nil {
		return err
	}
	flash := "quiz_failed"
	if res.Passed {
		flash = "quiz_passed"
	}
	return web.Redirect(w, r, "/training/modules/"+res.ModuleID+"?attempt="+res.ID+"#result", flash)
}

func (h *handler) assignForm(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return fault.Wrap(fault.Invalid, "bad_form", "the form could not be read", err)
	}
	in := NewAssignment{Target: r.PostFormValue("target"), Role: r.PostFormValue("role"), People: r.PostForm["people"], DueDate: r.PostFormValue("due_date")}
	as, err := h.svc.CreateAssignment(r.Context(), web.ActorFrom(r), r.PathValue("id"), in)
	if e := formError(err); e != nil {
		return h.renderModule(w, r, web.Status(e.Kind), moduleData{Error: e, ErrorAt: "assign", Assign: in})
	}
	if err != nil {
		return err
	}
	return web.Redirect(w, r, "/training/modules/"+as.ModuleID+"?assignment="+as.ID+"#progress", "assigned")
}

func (h *handler) remindForm(w http.ResponseWriter, r *http.Request) error {
	a := web.ActorFrom(r)
	if _, err := h.svc.Remind(r.Context(), a, r.PathValue("id")); err != nil {
		return err
	}
	as, _, err := h.svc.orgAssignment(r.Context(), h.svc.DB.R(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	return web.Redirect(w, r, "/training/modules/"+as.ModuleID+"?assignment="+as.ID+"#progress", "reminded")
}

type certificateData struct {
	Certificate Certificate
	Title       string
}

func (h *handler) certificatePage(w http.ResponseWriter, r *http.Request) error {
	c, err := h.svc.FindCertificate(r.Context(), web.ActorFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	title := c.Module.TitleIn(h.srv.Lang(r))
	p := web.Page{Nav: "training", Data: certificateData{Certificate: c, Title: title}, Title: h.t(r, "training.certificate") + " · " + title}
	return h.tpl.Render(w, r, http.StatusOK, "certificate", p)
}

type ratesData struct {
	Shares  []RateShare // the rate shares the reader sees: their own organisation's and others'
	Rates   []OrgRates  // rates others share with the reader
	Circles []option    // admins: circles whose coordinator they may share with
	IsAdmin bool
	Error   *fault.Error
	Note    string
}

func (h *handler) ratesPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderRates(w, r, http.StatusOK, ratesData{})
}

func (h *handler) renderRates(w http.ResponseWriter, r *http.Request, status int, d ratesData) error {
	a := web.ActorFrom(r)
	ctx := r.Context()
	var err error
	d.IsAdmin = a.Role == policy.Admin
	if d.Shares, _, err = h.svc.FindRateShares(ctx, a, "", 200); err != nil {
		return err
	}
	if d.Rates, err = h.svc.FindRates(ctx, a); err != nil {
		return err
	}
	if d.IsAdmin {
		cs, err := circles(ctx, h.svc.DB.R(), a.OrgID)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if c.Coordinator != a.OrgID {
				d.Circles = append(d.Circles, c)
			}
		}
	}
	p := web.Page{Nav: "training", Data: d, Title: h.t(r, "training.rates_title")}
	return h.tpl.Render(w, r, status, "rates", p)
}

func (h *handler) shareRatesForm(w http.ResponseWriter, r *http.Request) error {
	in := NewRateShare{Note: r.PostFormValue("note"), CoordinatorOf: r.PostFormValue("coordinator_of"), Sharing: policy.Sharing{TLP: r.PostFormValue("tlp")}}
	rs, err := h.svc.ShareRates(r.Context(), web.ActorFrom(r), in)
	if e := formError(err); e != nil {
		return h.renderRates(w, r, web.Status(e.Kind), ratesData{Error: e, Note: in.Note})
	}
	if err != nil {
		return err
	}
	return web.Redirect(w, r, "/training/rates#rates-"+rs.ID, "rates_shared")
}

func (h *handler) withdrawRatesForm(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.WithdrawRates(r.Context(), web.ActorFrom(r), r.PathValue("id")); err != nil {
		return err
	}
	return web.Redirect(w, r, "/training/rates", "rates_withdrawn")
}

// LangName names a module language in itself (the layout's links use the
// same names).
func (d moduleData) LangName(l string) string {
	switch l {
	case "de":
		return "Deutsch"
	case "en":
		return "English"
	}
	return l
}

// LangLink is the module's page in language l.
func (d moduleData) LangLink(l string) string {
	return "/training/modules/" + d.Module.ID + "?" + url.Values{"lang": {l}}.Encode()
}

// LangName names a module language in itself.
func (d newData) LangName(l string) string { return moduleData{}.LangName(l) }

// Min is the fewest people a shared rate counts.
func (d ratesData) Min() int { return MinGroup }

// numbered gives a form's questions and answers their numbers (from 1).
func (f *moduleForm) numbered() {
	for i := range f.Questions {
		f.Questions[i].N = i + 1
		for j := range f.Questions[i].Options {
			f.Questions[i].Options[j].N = j + 1
		}
	}
}
