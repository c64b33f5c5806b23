package app_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db/dbtest"
	"verbund/internal/demo"
	"verbund/internal/incidents"
	"verbund/internal/playbooks/playbookstest"
	"verbund/internal/policy"
)

// demoPerson is a person of the demo with a write and a read token.
type demoPerson struct {
	actor       policy.Actor
	write, read string
}

func demoPeople(t *testing.T, h *apptest.Hub, emails ...string) map[string]demoPerson {
	t.Helper()
	ctx := context.Background()
	out := map[string]demoPerson{}
	for _, e := range emails {
		u, err := h.App.Accounts.FindUserByEmail(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		_, w, err := h.App.Accounts.CreateToken(ctx, policy.System("test"), u.ID, accounts.NewToken{Scope: "write"})
		if err != nil {
			t.Fatal(err)
		}
		_, r, err := h.App.Accounts.CreateToken(ctx, policy.System("test"), u.ID, accounts.NewToken{Scope: "read"})
		if err != nil {
			t.Fatal(err)
		}
		out[strings.SplitN(e, ".", 2)[0]] = demoPerson{actor: policy.Actor{UserID: u.ID, OrgID: u.OrgID, Role: u.Role, Scope: policy.ScopeSession, Name: u.Name}, write: w, read: r}
	}
	return out
}

// postForm posts a page's form with a bearer token (no CSRF token needed).
func postForm(t *testing.T, h *apptest.Hub, token, path string, form url.Values) apptest.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := h.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// TestPlaybookRunDemo runs the demo playbook "Ransomware – Erstmaßnahmen"
// inside the demo's running incident, over HTTP: each of Müller, Wolke and
// CERT Süd has its tasks, a decision skips the branch not taken, progress
// per org reaches the other participants live, deviations are recorded,
// and Hansa Logistik (outside the incident) sees nothing of the run.
func TestPlaybookRunDemo(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.Start(t, e)
			ctx := context.Background()
			a := h.App
			if _, err := demo.Seed(ctx, demo.Services{DB: a.DB, Accounts: a.Accounts, Orgs: a.Orgs, Agreements: a.Agreements, Forum: a.Forum, Intel: a.Intel,
				Training: a.Training, Knowledge: a.Knowledge, Incidents: a.Incidents, Vulns: a.Vulns, Playbooks: a.Playbooks, Risks: a.Risks}, t.TempDir()); err != nil {
				t.Fatal(err)
			}
			p := demoPeople(t, h, "jonas.weber@mueller-maschinenbau.example", "tom.richter@wolke-cloud.example", "max.bauer@cert-sued.example", "greta.lange@hansa-logistik.example")
			jonas, tom, max, greta := p["jonas"], p["tom"], p["max"], p["greta"]
			var incident, closed, playbook string
			for title, dst := range map[string]*string{"Ransomware auf dem Dateiserver der Konstruktion": &incident, "Phishing-Welle mit falschen Rechnungen": &closed} {
				if err := a.DB.R().QueryRow(ctx, `SELECT id FROM incidents WHERE title = ?`, title).Scan(dst); err != nil {
					t.Fatalf("%s: %v", title, err)
				}
			}
			if err := a.DB.R().QueryRow(ctx, `SELECT id FROM playbooks WHERE cacao_id = ?`, demo.RansomwarePlaybookID).Scan(&playbook); err != nil {
				t.Fatal(err)
			}

			// The demo's run: started by CERT Süd, the version kept, tasks
			// for each of the three orgs, a deviation already recorded.
			var runs struct{ Items []incidents.Run }
			r := h.API(t, tom.read, http.MethodGet, "/api/v1/incidents/"+incident+"/playbook-runs", nil)
			if r.Status != http.StatusOK {
				t.Fatalf("runs: %d %s", r.Status, r.Body)
			}
			r.JSON(t, &runs)
			if len(runs.Items) != 1 || runs.Items[0].PlaybookID != playbook || runs.Items[0].Modified != "2026-10-02T15:30:00.000Z" {
				t.Fatalf("the demo's run: %+v", runs.Items)
			}
			run := runs.Items[0]
			orgs := map[string]int{}
			for _, pr := range run.Progress {
				orgs[pr.OrgName] = pr.Total
			}
			for _, org := range []string{"Müller Maschinenbau GmbH", "Wolke Cloud AG", "CERT Süd"} {
				if orgs[org] == 0 {
					t.Errorf("no tasks for %s: %+v", org, run.Progress)
				}
			}
			var tasks struct{ Items []incidents.Task }
			h.API(t, tom.read, http.MethodGet, "/api/v1/incidents/"+incident+"/tasks", nil).JSON(t, &tasks)
			for _, st := range run.Steps {
				if !slices.ContainsFunc(tasks.Items, func(tk incidents.Task) bool { return tk.ID == st.TaskID && tk.Title == st.Name }) {
					t.Errorf("step %q has no task in the incident's list", st.Name)
				}
			}
			step := func(run incidents.Run, name string) incidents.RunStep {
				t.Helper()
				i := slices.IndexFunc(run.Steps, func(s incidents.RunStep) bool { return s.Name == name })
				if i < 0 {
					t.Fatalf("no step %q in %+v", name, run.Steps)
				}
				return run.Steps[i]
			}
			if g := step(run, "Nachbereitung und Lessons Learned"); g.State != "open" || g.AssigneeName != "CERT Süd" || len(g.WaitingFor) == 0 {
				t.Errorf("the review step: %+v", g)
			}
			if g := step(run, "Neuaufbau aus Offline-Medien"); g.AssigneeName != "Müller Maschinenbau GmbH" || g.AgentType != "group" || g.AgentName != "IT-Betrieb Müller" {
				t.Errorf("a group's step goes to the incident's owner, its group named: %+v", g)
			}
			if len(run.Deviations) != 1 || run.Deviations[0].Kind != "out_of_order" || run.Deviations[0].StepName != "Meldepflichten prüfen" {
				t.Errorf("the demo's deviation: %+v", run.Deviations)
			}
			progress := func(run incidents.Run, org string) incidents.RunProgress {
				for _, pr := range run.Progress {
					if pr.OrgName == org {
						return pr
					}
				}
				t.Fatalf("no progress of %s", org)
				return incidents.RunProgress{}
			}
			before := progress(run, "CERT Süd")

			// Live: Wolke sees CERT Süd tick off its analysis; Hansa sees
			// nothing of it.
			live := openStream(t, h.URL, tom.read, "")
			outsider := openStream(t, h.URL, greta.read, "")
			analysis := step(run, "Erstanalyse der Schadsoftware")
			if r := h.API(t, max.write, http.MethodPut, "/api/v1/incident-tasks/"+analysis.TaskID+"/done", nil); r.Status != http.StatusOK {
				t.Fatalf("tick: %d %s", r.Status, r.Body)
			}
			if ev := live.waitFor(t, analysis.TaskID, 5*time.Second); ev["incident"] != incident {
				t.Errorf("the live event: %v", ev)
			}
			h.API(t, tom.read, http.MethodGet, "/api/v1/incidents/"+incident+"/playbook-runs", nil).JSON(t, &runs)
			if after := progress(runs.Items[0], "CERT Süd"); after.Done != before.Done+1 || after.Total != before.Total {
				t.Errorf("CERT Süd's progress: %+v, then %+v", before, after)
			}

			// The decision: yes (restore) skips the rebuild, kept in the run.
			decision := step(run, "Sind die Backups bei Wolke unversehrt?")
			if decision.Kind != "decision" || !slices.Equal(decision.Answers, []string{"yes", "no"}) {
				t.Fatalf("the decision: %+v", decision)
			}
			path := "/api/v1/playbook-runs/" + run.ID + "/steps/" + decision.StepID + "/decision"
			r = h.API(t, max.write, http.MethodPost, path, map[string]any{"answer": "yes"})
			if r.Status != http.StatusOK {
				t.Fatalf("answer: %d %s", r.Status, r.Body)
			}
			live.waitFor(t, incident, 5*time.Second)
			var answered incidents.Run
			r.JSON(t, &answered)
			if g := step(answered, "Neuaufbau aus Offline-Medien"); g.State != "skipped" {
				t.Errorf("the untaken branch: %+v", g)
			}
			if g := step(answered, "Wiederherstellung aus dem letzten sauberen Snapshot"); g.State != "open" || !g.Ready {
				t.Errorf("the branch taken: %+v", g)
			}
			if r := h.API(t, jonas.write, http.MethodPost, path, map[string]any{"answer": "no"}); r.Status != http.StatusConflict || r.ErrorCode() != "decision_answered" {
				t.Errorf("a second answer: %d %s", r.Status, r.Body)
			}

			// A step skipped with a reason is a deviation.
			review := step(run, "Nachbereitung und Lessons Learned")
			r = h.API(t, max.write, http.MethodPost, "/api/v1/playbook-runs/"+run.ID+"/steps/"+review.StepID+"/skip", map[string]any{"reason": "Nachbereitung im Kreistreffen"})
			if r.Status != http.StatusOK {
				t.Fatalf("skip: %d %s", r.Status, r.Body)
			}
			r.JSON(t, &answered)
			if n := len(answered.Deviations); n != 2 || answered.Deviations[1].Kind != "skipped" || answered.Deviations[1].Reason != "Nachbereitung im Kreistreffen" || answered.Deviations[1].ByOrg != "CERT Süd" {
				t.Errorf("deviations: %+v", answered.Deviations)
			}
			page := h.API(t, jonas.read, http.MethodGet, "/incidents/"+incident, nil)
			for _, want := range []string{`id="playbook-runs"`, "Nachbereitung im Kreistreffen", `id="run-progress-` + run.ID} {
				if !strings.Contains(string(page.Body), want) {
					t.Errorf("the incident page lacks %q (%d)", want, page.Status)
				}
			}

			// Hansa: nothing, neither by the API nor live.
			if r := h.API(t, greta.read, http.MethodGet, "/api/v1/incidents/"+incident+"/playbook-runs", nil); r.Status != http.StatusNotFound {
				t.Errorf("an outsider reads the runs: %d", r.Status)
			}
			if r := h.API(t, greta.write, http.MethodPost, "/api/v1/playbook-runs/"+run.ID+"/steps/"+review.StepID+"/skip", map[string]any{}); r.Status != http.StatusNotFound {
				t.Errorf("an outsider changes the run: %d", r.Status)
			}
			if r := h.API(t, greta.read, http.MethodGet, "/incidents/"+incident, nil); r.Status != http.StatusNotFound || strings.Contains(string(r.Body), "Erstmaßnahmen") {
				t.Errorf("an outsider reads the incident page: %d", r.Status)
			}
			outsider.never(t, incident, 300*time.Millisecond)
			outsider.never(t, analysis.TaskID, 10*time.Millisecond)

			// Bad input.
			start := "/api/v1/incidents/" + incident + "/playbook-runs"
			if r := h.API(t, jonas.write, http.MethodPost, start, map[string]any{"playbook_id": "nope"}); r.Status != http.StatusNotFound {
				t.Errorf("an unknown playbook: %d %s", r.Status, r.Body)
			}
			status, rep := playbookstest.Import(t, h, &apptest.User{WriteToken: greta.write}, playbookstest.Document(playbookstest.ID("playbook"), "Hansa only", "hansa", "2026-01-06T09:00:00.000Z", ""), policy.Sharing{TLP: "AMBER", Audience: "org"})
			if status != http.StatusOK || rep.Accepted != 1 {
				t.Fatalf("import: %d %+v", status, rep)
			}
			if r := h.API(t, jonas.write, http.MethodPost, start, map[string]any{"playbook_id": rep.Items[0].ID}); r.Status != http.StatusNotFound {
				t.Errorf("a playbook the starter may not see: %d %s", r.Status, r.Body)
			}
			if r := h.API(t, jonas.write, http.MethodPost, "/api/v1/incidents/"+closed+"/playbook-runs", map[string]any{"playbook_id": playbook}); r.Status != http.StatusConflict || r.ErrorCode() != "incident_closed" {
				t.Errorf("a closed incident: %d %s", r.Status, r.Body)
			}
			if r := h.API(t, jonas.write, http.MethodPost, start, map[string]any{"playbook_id": playbook, "modified": "2020-01-01T00:00:00Z"}); r.Status != http.StatusNotFound {
				t.Errorf("an unknown version: %d %s", r.Status, r.Body)
			}
			if r := h.API(t, greta.write, http.MethodPost, start, map[string]any{"playbook_id": playbook}); r.Status != http.StatusNotFound {
				t.Errorf("an outsider starts a run: %d %s", r.Status, r.Body)
			}
			if r := h.API(t, max.write, http.MethodDelete, "/api/v1/incident-tasks/"+decision.TaskID+"/done", nil); r.Status != http.StatusBadRequest || r.ErrorCode() != "run_decision_task" {
				t.Errorf("ticking an answered decision back on: %d %s", r.Status, r.Body)
			}
			h.API(t, tom.read, http.MethodGet, "/api/v1/incidents/"+incident+"/playbook-runs", nil).JSON(t, &runs)
			if len(runs.Items) != 1 {
				t.Errorf("refused starts left runs: %d", len(runs.Items))
			}

			// After the incident: the review proposes a new version. Before
			// it is closed, nothing to propose.
			propose := "/playbooks/" + playbook + "/propose"
			if r := postForm(t, h, max.write, propose, apptest.Form("run", run.ID)); r.Status != http.StatusConflict {
				t.Errorf("a proposal before the review: %d", r.Status)
			}
			for _, st := range []string{"resolved", "closed"} {
				u := incidents.Update{Status: &st}
				if st == "closed" {
					u.Review = &incidents.Review{WhatHappened: "Kryptonit auf dem Dateiserver", WhatHelped: "Snapshots bei Wolke", Lessons: "Offline-Sicherungen monatlich prüfen"}
				}
				if _, err := a.Incidents.UpdateIncident(ctx, jonas.actor, incident, u); err != nil {
					t.Fatal(err)
				}
			}
			if r := h.API(t, max.write, http.MethodPost, "/api/v1/playbook-runs/"+run.ID+"/steps/"+step(run, "Wiederherstellung aus dem letzten sauberen Snapshot").StepID+"/skip", map[string]any{}); r.Status != http.StatusConflict || r.ErrorCode() != "incident_closed" {
				t.Errorf("a closed incident's run: %d %s", r.Status, r.Body)
			}
			for who, token := range map[string]string{"the owner": max.write, "another participant": jonas.write} {
				r := postForm(t, h, token, propose, apptest.Form("run", run.ID))
				body := string(r.Body)
				// The owner's new version keeps the playbook's circle-wide
				// audience, wider than the incident's: the incident's text
				// stays out (TestPlaybookRunProposal).
				withText := strings.Contains(body, "Nachbereitung im Kreistreffen") && strings.Contains(body, "Offline-Sicherungen monatlich prüfen")
				if r.Status != http.StatusOK || withText == (who == "the owner") || !strings.Contains(body, `id="propose-notice"`) {
					t.Errorf("%s's proposal: %d, with the incident's text %v", who, r.Status, withText)
				}
				if hasID := strings.Contains(body, `name="id" value="`+playbook+`"`); hasID != (who == "the owner") {
					t.Errorf("%s's proposal edits the playbook itself: %v", who, hasID)
				}
			}
			if r := postForm(t, h, greta.write, propose, apptest.Form("run", run.ID)); r.Status != http.StatusNotFound {
				t.Errorf("an outsider's proposal: %d", r.Status)
			}
		})
	}
}
