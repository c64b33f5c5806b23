package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
)

// phishingModule is a bilingual module with two questions: the first
// single choice (answer 1 right), the second multiple choice (answers 0
// and 2 right).
func phishingModule(extra map[string]any) map[string]any {
	m := map[string]any{
		"title": map[string]string{"de": "Phishing erkennen", "en": "Spotting phishing"},
		"guide": map[string]string{"de": "# Phishing\nPrüfen Sie den **Absender**.", "en": "# Phishing\nCheck the **sender**."},
		"questions": []map[string]any{
			{"kind": "single", "text": map[string]string{"de": "Was tun bei einem verdächtigen Link?", "en": "What to do with a suspicious link?"},
				"options": []map[string]string{{"de": "Klicken", "en": "Click"}, {"de": "Melden", "en": "Report"}}, "correct": []int{1}},
			{"kind": "multiple", "text": map[string]string{"de": "Welche Zeichen deuten auf Phishing?", "en": "Which signs point to phishing?"},
				"options": []map[string]string{{"de": "Zeitdruck", "en": "Urgency"}, {"de": "Bekannte Signatur", "en": "A known signature"}, {"de": "Fremde Domain", "en": "A foreign domain"}},
				"correct": []int{0, 2}},
		},
		"pass_mark": 100, "tlp": "GREEN", "audience": "community",
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

var phishingRight = [][]int{{1}, {2, 0}}

func countRows(t *testing.T, h *apptest.Hub, table string) int {
	t.Helper()
	var n int
	if err := h.App.DB.R().QueryRow(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func createModule(t *testing.T, h *apptest.Hub, user string, body map[string]any) string {
	t.Helper()
	r := h.API(t, h.Users[user].WriteToken, http.MethodPost, "/api/v1/training/modules", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create module as %s: %d %s", user, r.Status, r.Body)
	}
	var m struct{ ID string }
	r.JSON(t, &m)
	return m.ID
}

// A provider's module in the circle's library: an SME's admin assigns it
// to everyone there; a person passes the quiz; the person and their admins
// see it, the coordinator sees the SME's rate once the SME shares it, and
// nobody else sees anyone's results. The correct answers never reach a
// learner.
func TestTrainingAssignPassAndProgress(t *testing.T) {
	eachEngine(t, testTrainingAssignPassAndProgress)
}

func testTrainingAssignPassAndProgress(t *testing.T, e db.Dialect) {
	h := apptest.World(t, e)
	mod := createModule(t, h, "cloud.analyst", phishingModule(map[string]any{"community_id": h.Circle}))
	path := "/api/v1/training/modules/" + mod

	// Learners never get the correct answers; authors do.
	for _, who := range []string{"sme.viewer", "sme.admin", "cert.admin", "cloud.viewer"} {
		r := h.API(t, h.Users[who].ReadToken, http.MethodGet, path, nil)
		if r.Status != http.StatusOK || strings.Contains(string(r.Body), `"correct"`) || !strings.Contains(string(r.Body), `"with_answers":false`) {
			t.Errorf("GET module as %s: %d, correct answers sent: %s", who, r.Status, r.Body)
		}
		page := h.API(t, h.Users[who].ReadToken, http.MethodGet, "/training/modules/"+mod, nil)
		if strings.Contains(string(page.Body), `badge-success">correct`) || strings.Contains(string(page.Body), `badge-success">richtig`) {
			t.Errorf("the module page shows %s the correct answers", who)
		}
	}
	for _, who := range []string{"cloud.analyst", "cloud.admin"} {
		if r := h.API(t, h.Users[who].ReadToken, http.MethodGet, path, nil); !strings.Contains(string(r.Body), `"correct":[0,2]`) {
			t.Errorf("the author %s does not get the correct answers: %s", who, r.Body)
		}
	}

	// Not assigned: refused, nothing written.
	r := h.API(t, h.Users["sme.viewer"].WriteToken, http.MethodPost, path+"/answers", map[string]any{"answers": phishingRight})
	if r.Status != http.StatusForbidden || r.ErrorCode() != "quiz_not_assigned" || countRows(t, h, "training_attempts") != 0 {
		t.Fatalf("answers to a module not assigned: %d %s", r.Status, r.Body)
	}

	due := time.Now().AddDate(0, 0, 7).Format("2006-01-02")
	r = h.API(t, h.Users["sme.admin"].WriteToken, http.MethodPost, path+"/assignments", map[string]any{"target": "org", "due_date": due})
	var as struct {
		ID       string
		Assigned int
		DueDate  string `json:"due_date"`
	}
	r.JSON(t, &as)
	if r.Status != http.StatusCreated || as.Assigned != 5 || as.DueDate != due {
		t.Fatalf("assign to sme: %d %s", r.Status, r.Body)
	}

	var res struct {
		Score       int
		Passed      bool
		Right       []bool
		Certificate string
		ID          string
	}
	r = h.API(t, h.Users["sme.viewer"].WriteToken, http.MethodPost, path+"/answers", map[string]any{"answers": [][]int{{1}, {0}}})
	r.JSON(t, &res)
	if r.Status != http.StatusCreated || res.Passed || res.Score != 50 || !res.Right[0] || res.Right[1] || res.Certificate != "" {
		t.Fatalf("half right: %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), `"correct"`) {
		t.Errorf("the result names the correct answers: %s", r.Body)
	}
	r = h.API(t, h.Users["sme.viewer"].WriteToken, http.MethodPost, path+"/answers", map[string]any{"answers": phishingRight})
	r.JSON(t, &res)
	if r.Status != http.StatusCreated || !res.Passed || res.Score != 100 || res.Certificate == "" {
		t.Fatalf("all right: %d %s", r.Status, r.Body)
	}
	cert := res.Certificate

	type progress struct {
		Mine []struct {
			Mine struct {
				Status   string
				Attempts int
			}
		}
		Assignments []struct{ Assigned, Completed int }
		People      []struct {
			Name   string
			Status string
		}
		Orgs []struct {
			OrgID     string `json:"org_id"`
			Assigned  int
			Completed *int
			Rate      *int
		}
	}
	read := func(who string) progress {
		t.Helper()
		var p progress
		r := h.API(t, h.Users[who].ReadToken, http.MethodGet, path+"/progress", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("progress as %s: %d %s", who, r.Status, r.Body)
		}
		r.JSON(t, &p)
		return p
	}
	p := read("sme.viewer")
	if len(p.Mine) != 1 || p.Mine[0].Mine.Status != "passed" || p.Mine[0].Mine.Attempts != 2 || p.People != nil || len(p.Orgs) != 0 {
		t.Errorf("the learner's progress: %+v", p)
	}
	p = read("sme.admin")
	if len(p.Assignments) != 1 || p.Assignments[0].Assigned != 5 || p.Assignments[0].Completed != 1 || len(p.People) != 5 {
		t.Errorf("the admin's progress: %+v", p)
	}
	for _, pp := range p.People {
		if want := map[bool]string{true: "passed", false: "not_started"}[pp.Name == "sme.viewer"]; pp.Status != want {
			t.Errorf("the admin sees %s as %s, want %s", pp.Name, pp.Status, want)
		}
	}
	// Other orgs: no people, no rate before sme shares it.
	for _, who := range []string{"cert.admin", "cloud.admin", "cloud.analyst"} {
		if p := read(who); p.People != nil || len(p.Orgs) != 0 || len(p.Assignments) != 0 {
			t.Errorf("%s sees sme's progress before it is shared: %+v", who, p)
		}
	}
	if r := h.API(t, h.Users["sme.admin"].WriteToken, http.MethodPost, "/api/v1/training/rate-shares", map[string]any{"coordinator_of": h.Circle}); r.Status != http.StatusCreated {
		t.Fatalf("share rates: %d %s", r.Status, r.Body)
	}
	for _, who := range []string{"cert.admin", "cert.viewer"} {
		p := read(who)
		if len(p.Orgs) != 1 || p.Orgs[0].OrgID != h.Orgs["sme"] || p.Orgs[0].Assigned != 5 || p.Orgs[0].Completed == nil || *p.Orgs[0].Completed != 1 || *p.Orgs[0].Rate != 20 || p.People != nil {
			t.Errorf("the coordinator's %s sees %+v, want sme's rate 1 of 5", who, p)
		}
	}
	if p := read("cloud.admin"); len(p.Orgs) != 0 || p.People != nil {
		t.Errorf("cloud, the rates not shared with it, sees %+v", p)
	}

	// The certificate: the person and their admins only.
	for who, want := range map[string]int{"sme.viewer": 200, "sme.admin": 200, "sme.analyst": 404, "cert.admin": 404, "cloud.analyst": 404} {
		if r := h.API(t, h.Users[who].ReadToken, http.MethodGet, cert, nil); r.Status != want {
			t.Errorf("%s opens the certificate: %d, want %d", who, r.Status, want)
		} else if want == 200 && (!strings.Contains(string(r.Body), "sme.viewer") || !strings.Contains(string(r.Body), "Spotting phishing")) {
			t.Errorf("the certificate does not name the person and the module: %s", r.Body)
		}
	}

	// After the due date: refused, nothing written.
	if err := h.App.DB.Tx(dbtest.Unaudited(context.Background()), func(tx *db.Tx) error {
		_, err := tx.Exec(context.Background(), `UPDATE training_assignments SET due_at = ? WHERE id = ?`, db.Now()-1, as.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	before := countRows(t, h, "training_attempts")
	r = h.API(t, h.Users["sme.analyst2"].WriteToken, http.MethodPost, path+"/answers", map[string]any{"answers": phishingRight})
	if r.Status != http.StatusConflict || r.ErrorCode() != "quiz_overdue" || countRows(t, h, "training_attempts") != before {
		t.Errorf("answers after the due date: %d %s", r.Status, r.Body)
	}
	var p2 progress
	h.API(t, h.Users["sme.analyst2"].ReadToken, http.MethodGet, path+"/progress", nil).JSON(t, &p2)
	if len(p2.Mine) != 1 || p2.Mine[0].Mine.Status != "overdue" {
		t.Errorf("after the due date sme.analyst2's progress is %+v, want overdue", p2)
	}
}

// Quizzes without a correct answer and every other bad module, answer or
// assignment are refused with a clear error, and nothing is written.
func TestTrainingBadInput(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	with := func(change func(m map[string]any)) map[string]any {
		m := phishingModule(map[string]any{"community_id": h.Circle})
		change(m)
		return m
	}
	question := func(m map[string]any, i int) map[string]any { return m["questions"].([]map[string]any)[i] }
	before := [2]int{countRows(t, h, "shares"), countRows(t, h, "training_modules")}
	mods := "/api/v1/training/modules"
	cases := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"no correct answer", with(func(m map[string]any) { question(m, 0)["correct"] = []int{} }), 400, "quiz_no_correct_answer"},
		{"correct answer missing", with(func(m map[string]any) { delete(question(m, 1), "correct") }), 400, "quiz_no_correct_answer"},
		{"two correct in single choice", with(func(m map[string]any) { question(m, 0)["correct"] = []int{0, 1} }), 400, "quiz_single_one_correct"},
		{"correct answer out of range", with(func(m map[string]any) { question(m, 1)["correct"] = []int{0, 3} }), 400, "quiz_bad_correct"},
		{"one answer to choose", with(func(m map[string]any) {
			question(m, 0)["options"] = []map[string]string{{"de": "Ja", "en": "Yes"}}
			question(m, 0)["correct"] = []int{0}
		}), 400, "quiz_options_count"},
		{"question without German", with(func(m map[string]any) { question(m, 1)["text"] = map[string]string{"en": "Which?"} }), 400, "quiz_text_missing"},
		{"answer without English", with(func(m map[string]any) {
			question(m, 0)["options"] = []map[string]string{{"de": "Ja"}, {"de": "Nein", "en": "No"}}
		}), 400, "quiz_option_missing"},
		{"bad kind", with(func(m map[string]any) { question(m, 0)["kind"] = "essay" }), 400, "quiz_bad_kind"},
		{"no questions", with(func(m map[string]any) { m["questions"] = []any{} }), 400, "quiz_questions_missing"},
		{"no title", with(func(m map[string]any) { m["title"] = map[string]string{"de": " "} }), 400, "module_title_missing"},
		{"guide missing in English", with(func(m map[string]any) { m["guide"] = map[string]string{"de": "Nur Deutsch"} }), 400, "module_guide_missing"},
		{"guide in a third language", with(func(m map[string]any) { m["guide"] = map[string]string{"de": "a", "en": "b", "fr": "c"} }), 400, "module_bad_language"},
		{"guide too long", with(func(m map[string]any) {
			m["guide"] = map[string]string{"de": strings.Repeat("x", 50001), "en": "b"}
		}), 400, "too_long"},
		{"pass mark over 100", with(func(m map[string]any) { m["pass_mark"] = 101 }), 400, "module_bad_pass_mark"},
		{"bad TLP", with(func(m map[string]any) { m["tlp"] = "PINK" }), 400, "bad_tlp"},
		{"RED to the circle", with(func(m map[string]any) { m["tlp"] = "RED" }), 400, "tlp_audience_mismatch"},
		{"unknown field", with(func(m map[string]any) { m["colour"] = "red" }), 400, "unknown_field"},
		{"a viewer writes", nil, 403, "role_insufficient"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := h.Users["sme.analyst"].WriteToken
			if c.body == nil {
				tok, c.body = h.Users["sme.viewer"].WriteToken, phishingModule(nil)
			}
			r := h.API(t, tok, http.MethodPost, mods, c.body)
			if r.Status != c.status || r.ErrorCode() != c.code {
				t.Errorf("status %d code %q, want %d %q: %s", r.Status, r.ErrorCode(), c.status, c.code, r.Body)
			}
		})
	}
	if after := [2]int{countRows(t, h, "shares"), countRows(t, h, "training_modules")}; after != before {
		t.Fatalf("refused modules wrote something: %v → %v", before, after)
	}

	// A plain string is a text in the request's language.
	plain := map[string]any{"language": "de", "title": "Passwörter", "guide": "Nutzen Sie einen Passwortmanager.", "tlp": "AMBER",
		"questions": []map[string]any{{"text": "Passwörter wiederverwenden?", "options": []string{"Ja", "Nein"}, "correct": []int{1}}}}
	mod := createModule(t, h, "sme.analyst", plain)
	var m struct {
		Languages []string
		PassMark  int `json:"pass_mark"`
	}
	h.API(t, h.Users["sme.analyst"].ReadToken, http.MethodGet, mods+"/"+mod, nil).JSON(t, &m)
	if len(m.Languages) != 1 || m.Languages[0] != "de" || m.PassMark != 80 {
		t.Errorf("a German module of plain strings: %+v", m)
	}

	// Assignments.
	assign := mods + "/" + mod + "/assignments"
	before = [2]int{countRows(t, h, "training_assignments"), countRows(t, h, "training_assignees")}
	yesterday := time.Now().AddDate(0, 0, -1).Format("2006-01-02")
	for _, c := range []struct {
		name, user string
		body       any
		status     int
		code       string
	}{
		{"bad target", "sme.admin", map[string]any{"target": "everyone"}, 400, "assignment_bad_target"},
		{"no people", "sme.admin", map[string]any{"target": "people"}, 400, "assignment_people_missing"},
		{"another org's person", "sme.admin", map[string]any{"target": "people", "people": []string{h.Users["cloud.viewer"].ID}}, 400, "assignment_unknown_person"},
		{"bad role", "sme.admin", map[string]any{"target": "role", "role": "boss"}, 400, "bad_role"},
		{"due date passed", "sme.admin", map[string]any{"target": "org", "due_date": yesterday}, 400, "assignment_due_past"},
		{"bad date", "sme.admin", map[string]any{"target": "org", "due_date": "31.12.2026"}, 400, "bad_date"},
		{"an analyst assigns", "sme.analyst", map[string]any{"target": "org"}, 403, "admin_required"},
		{"another org's hidden module", "cloud.admin", map[string]any{"target": "org"}, 404, "not_found"},
	} {
		r := h.API(t, h.Users[c.user].WriteToken, http.MethodPost, assign, c.body)
		if r.Status != c.status || r.ErrorCode() != c.code {
			t.Errorf("%s: status %d code %q, want %d %q: %s", c.name, r.Status, r.ErrorCode(), c.status, c.code, r.Body)
		}
	}
	if after := [2]int{countRows(t, h, "training_assignments"), countRows(t, h, "training_assignees")}; after != before {
		t.Fatalf("refused assignments wrote something: %v → %v", before, after)
	}
	// Named people: an analyst of sme, who then answers.
	r := h.API(t, h.Users["sme.admin"].WriteToken, http.MethodPost, assign, map[string]any{"target": "people", "people": []string{h.Users["sme.analyst2"].ID}})
	if r.Status != http.StatusCreated {
		t.Fatalf("assign to a person: %d %s", r.Status, r.Body)
	}
	answers := mods + "/" + mod + "/answers"
	before = [2]int{countRows(t, h, "training_attempts"), 0}
	for _, c := range []struct {
		name, user string
		body       any
		status     int
		code       string
	}{
		{"not assigned to this person", "sme.analyst", map[string]any{"answers": [][]int{{1}}}, 403, "quiz_not_assigned"},
		{"too few answers", "sme.analyst2", map[string]any{"answers": [][]int{}}, 400, "quiz_answers_count"},
		{"no answer", "sme.analyst2", map[string]any{"answers": [][]int{{}}}, 400, "quiz_answer_missing"},
		{"an answer the question lacks", "sme.analyst2", map[string]any{"answers": [][]int{{2}}}, 400, "quiz_bad_answer"},
		{"two answers to single choice", "sme.analyst2", map[string]any{"answers": [][]int{{0, 1}}}, 400, "quiz_one_answer"},
		{"answers to a hidden module", "cloud.analyst", map[string]any{"answers": [][]int{{1}}}, 404, "not_found"},
		{"a read token", "sme.analyst2", nil, 403, "token_read_only"},
	} {
		tok := h.Users[c.user].WriteToken
		if c.body == nil {
			tok, c.body = h.Users[c.user].ReadToken, map[string]any{"answers": [][]int{{1}}}
		}
		r := h.API(t, tok, http.MethodPost, answers, c.body)
		if r.Status != c.status || r.ErrorCode() != c.code {
			t.Errorf("%s: status %d code %q, want %d %q: %s", c.name, r.Status, r.ErrorCode(), c.status, c.code, r.Body)
		}
	}
	if after := countRows(t, h, "training_attempts"); after != before[0] {
		t.Fatalf("refused answers wrote something: %d → %d", before[0], after)
	}
}

// The form for a new module works without script: "Add a question" keeps
// what was typed and adds an empty question; a quiz without a correct
// answer comes back with the error, in German, and the texts typed.
func TestTrainingModuleForm(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	germanUI(t, h, "sme.analyst")
	b := h.Login(t, h.Users["sme.analyst"])
	form := url.Values{"questions": {"1"}, "title_de": {"Sichere Passwörter"}, "guide_de": {"Nutzen Sie <script>alert(1)</script> einen [Manager](javascript:alert(1))."},
		"q1_kind": {"single"}, "q1_text_de": {"Passwörter wiederverwenden?"}, "q1_o1_de": {"Ja"}, "q1_o2_de": {"Nein"},
		"pass_mark": {"80"}, "tlp": {"AMBER"}, "audience": {"org"}}
	more := url.Values{}
	for k, v := range form {
		more[k] = v
	}
	more.Set("add", "question")
	r := b.PostForm(t, "/training/modules", more)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `name="q2_text_de"`) || !strings.Contains(string(r.Body), "Passwörter wiederverwenden?") {
		t.Fatalf("add a question: %d", r.Status)
	}
	r = b.PostForm(t, "/training/modules", form)
	code, text := shownError(t, r.Body)
	if r.Status != http.StatusBadRequest || code != "quiz_no_correct_answer" || !strings.Contains(text, "Markieren Sie mindestens eine Antwort als richtig") {
		t.Fatalf("a quiz without a correct answer: %d %s %q", r.Status, code, text)
	}
	if !strings.Contains(string(r.Body), "Sichere Passwörter") {
		t.Error("the refused form lost its title")
	}
	form.Set("q1_correct", "2")
	r = b.PostForm(t, "/training/modules", form)
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/training/modules/") {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	page := b.Get(t, loc)
	if page.Status != http.StatusOK || !strings.Contains(string(page.Body), "Das Modul wurde erstellt.") {
		t.Fatalf("the new module's page: %d", page.Status)
	}
	body := string(page.Body)
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "javascript:") {
		t.Error("the guide's script or javascript: link reached the page")
	}
	// The author sees the correct answer marked; English readers are told
	// the module is German only.
	if !strings.Contains(body, `badge-success">richtig`) {
		t.Error("the author does not see the correct answer marked")
	}
	en := h.API(t, h.Users["sme.admin"].ReadToken, http.MethodGet, loc, nil)
	if !strings.Contains(string(en.Body), "This module is written in Deutsch only.") || !strings.Contains(string(en.Body), "Sichere Passwörter") {
		t.Error("an English reader of a German module is not told it is German only")
	}
}

// Reminders reach only the people who have not completed the module: the
// admin's, and the hub's own before the due date, once.
func TestTrainingReminders(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	mod := createModule(t, h, "sme.analyst", phishingModule(map[string]any{"tlp": "AMBER", "audience": "org"}))
	tomorrow := time.Now().AddDate(0, 0, 1).Format("2006-01-02")
	r := h.API(t, h.Users["sme.admin"].WriteToken, http.MethodPost, "/api/v1/training/modules/"+mod+"/assignments",
		map[string]any{"target": "people", "people": []string{h.Users["sme.viewer"].ID, h.Users["sme.analyst2"].ID}, "due_date": tomorrow})
	var as struct{ ID string }
	r.JSON(t, &as)
	if r.Status != http.StatusCreated {
		t.Fatalf("assign: %d %s", r.Status, r.Body)
	}
	if r := h.API(t, h.Users["sme.analyst2"].WriteToken, http.MethodPost, "/api/v1/training/modules/"+mod+"/answers", map[string]any{"answers": phishingRight}); r.Status != http.StatusCreated {
		t.Fatalf("answer: %d %s", r.Status, r.Body)
	}
	viewer := openStream(t, h.URL, h.Users["sme.viewer"].ReadToken, "?topic=training")
	done := openStream(t, h.URL, h.Users["sme.analyst2"].ReadToken, "?topic=training")
	other := openStream(t, h.URL, h.Users["sme.auditor"].ReadToken, "")
	r = h.API(t, h.Users["sme.admin"].WriteToken, http.MethodPost, "/api/v1/training/assignments/"+as.ID+"/reminders", nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"reminded":1`) {
		t.Fatalf("remind: %d %s", r.Status, r.Body)
	}
	if e := viewer.waitFor(t, as.ID, 5*time.Second); e["type"] != "training.reminder" {
		t.Errorf("the reminder arrived as %v", e)
	}
	done.never(t, as.ID, 300*time.Millisecond)
	other.never(t, as.ID, 10*time.Millisecond)
	// The hub's own reminder: once, for the due date within two days.
	for i, want := range []int{1, 0} {
		n, err := h.App.Training.RemindDue(context.Background())
		if err != nil || n != want {
			t.Fatalf("round %d: %d reminded, %v; want %d", i, n, err, want)
		}
	}
	if e := viewer.waitFor(t, as.ID, 5*time.Second); e["type"] != "training.reminder" {
		t.Errorf("the hub's reminder arrived as %v", e)
	}
	done.never(t, as.ID, 300*time.Millisecond)
}
