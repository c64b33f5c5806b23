package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/demo"
	"verbund/internal/incidents"
	"verbund/internal/playbooks/playbookstest"
	"verbund/internal/policy"
)

// runAttackWorld is the demo with its running ransomware incident (owned
// by Müller, AMBER to Wolke and CERT Süd) and people of the three orgs.
type runAttackWorld struct {
	h               *apptest.Hub
	incident        string
	jonas, tom, max demoPerson
	greta           demoPerson
	playbook        string // the demo's playbook (CERT Süd's)
}

func runAttackSetup(t *testing.T, e db.Dialect) runAttackWorld {
	t.Helper()
	h := apptest.Start(t, e)
	ctx := context.Background()
	a := h.App
	if _, err := demo.Seed(ctx, demo.Services{DB: a.DB, Accounts: a.Accounts, Orgs: a.Orgs, Agreements: a.Agreements, Forum: a.Forum, Intel: a.Intel,
		Training: a.Training, Knowledge: a.Knowledge, Incidents: a.Incidents, Vulns: a.Vulns, Playbooks: a.Playbooks, Risks: a.Risks}, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	p := demoPeople(t, h, "jonas.weber@mueller-maschinenbau.example", "tom.richter@wolke-cloud.example", "max.bauer@cert-sued.example", "greta.lange@hansa-logistik.example")
	w := runAttackWorld{h: h, jonas: p["jonas"], tom: p["tom"], max: p["max"], greta: p["greta"]}
	if err := a.DB.R().QueryRow(ctx, `SELECT id FROM incidents WHERE title = ?`, "Ransomware auf dem Dateiserver der Konstruktion").Scan(&w.incident); err != nil {
		t.Fatal(err)
	}
	if err := a.DB.R().QueryRow(ctx, `SELECT id FROM playbooks WHERE cacao_id = ?`, demo.RansomwarePlaybookID).Scan(&w.playbook); err != nil {
		t.Fatal(err)
	}
	return w
}

// importFor imports the kit's playbook (steps "Isolate the servers",
// "Restore", "Rebuild") as u's org with sharing s.
func (w runAttackWorld) importFor(t *testing.T, u demoPerson, name string, s policy.Sharing) string {
	t.Helper()
	status, rep := playbookstest.Import(t, w.h, &apptest.User{WriteToken: u.write}, playbookstest.Document(playbookstest.ID("playbook"), name, "attack", "2026-01-06T09:00:00.000Z", ""), s)
	if status != http.StatusOK || rep.Accepted != 1 {
		t.Fatalf("import: %d %+v", status, rep)
	}
	return rep.Items[0].ID
}

// TestPlaybookRunAudience: a run copies the playbook's steps to every
// reader of the incident, so a playbook the incident's audience was not
// given cannot be started in it (409 run_playbook_audience), and nothing
// of it reaches the incident's other participants.
func TestPlaybookRunAudience(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			w := runAttackSetup(t, e)
			start := "/api/v1/incidents/" + w.incident + "/playbook-runs"
			// CERT Süd gives a playbook to Müller only; Wolke cannot see it.
			narrow := w.importFor(t, w.max, "Nur für Müller", policy.Sharing{TLP: "AMBER", Audience: "orgs", Orgs: []string{w.jonas.actor.OrgID}})
			if r := w.h.API(t, w.tom.read, http.MethodGet, "/api/v1/playbooks/"+narrow, nil); r.Status != http.StatusNotFound {
				t.Fatalf("Wolke reads the narrow playbook: %d", r.Status)
			}
			r := w.h.API(t, w.jonas.write, http.MethodPost, start, map[string]any{"playbook_id": narrow})
			if r.Status != http.StatusConflict || r.ErrorCode() != "run_playbook_audience" {
				t.Errorf("a playbook the incident's audience was not given: %d %s", r.Status, r.Body)
			}
			// Müller's own playbook for its org alone: the incident reaches
			// Wolke and CERT Süd, so not either.
			own := w.importFor(t, w.jonas, "Nur intern", policy.Sharing{TLP: "AMBER", Audience: "org"})
			if r := w.h.API(t, w.jonas.write, http.MethodPost, start, map[string]any{"playbook_id": own}); r.Status != http.StatusConflict || r.ErrorCode() != "run_playbook_audience" {
				t.Errorf("an org-only playbook in a shared incident: %d %s", r.Status, r.Body)
			}
			for _, path := range []string{start, "/api/v1/incidents/" + w.incident + "/tasks"} {
				if r := w.h.API(t, w.tom.read, http.MethodGet, path, nil); strings.Contains(string(r.Body), "Isolate the servers") {
					t.Errorf("Wolke reads the narrow playbook's steps at %s", path)
				}
			}
			// Shared with the incident's participants: it runs.
			wide := w.importFor(t, w.max, "Für alle Beteiligten", policy.Sharing{TLP: "AMBER", Audience: "orgs", Orgs: []string{w.jonas.actor.OrgID, w.tom.actor.OrgID}})
			if r := w.h.API(t, w.jonas.write, http.MethodPost, start, map[string]any{"playbook_id": wide}); r.Status != http.StatusCreated {
				t.Errorf("a playbook the incident's audience was given: %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestPlaybookRunAuditNoText: the audit trail is read by the owner's
// admins and auditors, who need not be in the incident's audience: a
// skipped step's reason and a decision's answer stay out of it.
func TestPlaybookRunAuditNoText(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			w := runAttackSetup(t, e)
			wide := w.importFor(t, w.max, "Für alle Beteiligten", policy.Sharing{TLP: "AMBER", Audience: "orgs", Orgs: []string{w.jonas.actor.OrgID, w.tom.actor.OrgID}})
			r := w.h.API(t, w.jonas.write, http.MethodPost, "/api/v1/incidents/"+w.incident+"/playbook-runs", map[string]any{"playbook_id": wide})
			if r.Status != http.StatusCreated {
				t.Fatalf("start: %d %s", r.Status, r.Body)
			}
			var run incidents.Run
			r.JSON(t, &run)
			const reason = "Geheimer Grund XYZZY"
			if r := w.h.API(t, w.jonas.write, http.MethodPost, "/api/v1/playbook-runs/"+run.ID+"/steps/"+run.Steps[0].StepID+"/skip", map[string]any{"reason": reason}); r.Status != http.StatusOK {
				t.Fatalf("skip: %d %s", r.Status, r.Body)
			}
			if r := w.h.API(t, w.jonas.write, http.MethodPost, "/api/v1/playbook-runs/"+run.ID+"/steps/"+run.Steps[1].StepID+"/decision", map[string]any{"answer": "no"}); r.Status != http.StatusOK {
				t.Fatalf("decide: %d %s", r.Status, r.Body)
			}
			rows, err := w.h.App.DB.R().Query(context.Background(), `SELECT action, detail FROM audit_log WHERE action LIKE 'incident.playbook_run.%'`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				var action, detail string
				if err := rows.Scan(&action, &detail); err != nil {
					t.Fatal(err)
				}
				n++
				if strings.Contains(detail, "XYZZY") || strings.Contains(detail, `"answer"`) || strings.Contains(detail, `"reason"`) {
					t.Errorf("%s records free text: %s", action, detail)
				}
			}
			if n < 3 {
				t.Errorf("audit records of the run: %d", n)
			}
		})
	}
}

// TestPlaybookRunDeletes: runs hold up neither the playbook's deletion
// (the run keeps its copy and stays readable; the playbook's owner learns
// nothing of where it ran) nor the incident's (its runs go with it).
func TestPlaybookRunDeletes(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			w := runAttackSetup(t, e)
			ctx := context.Background()
			if r := w.h.API(t, w.max.write, http.MethodDelete, "/api/v1/playbooks/"+w.playbook, nil); r.Status != http.StatusNoContent {
				t.Fatalf("delete a playbook that ran: %d %s", r.Status, r.Body)
			}
			var runs struct{ Items []incidents.Run }
			r := w.h.API(t, w.tom.read, http.MethodGet, "/api/v1/incidents/"+w.incident+"/playbook-runs", nil)
			if r.Status != http.StatusOK {
				t.Fatalf("runs after the playbook's deletion: %d %s", r.Status, r.Body)
			}
			r.JSON(t, &runs)
			if len(runs.Items) != 1 || runs.Items[0].Name == "" || len(runs.Items[0].Steps) == 0 {
				t.Errorf("the run after the playbook's deletion: %+v", runs.Items)
			}
			if r := w.h.API(t, w.jonas.read, http.MethodGet, "/incidents/"+w.incident, nil); r.Status != http.StatusOK {
				t.Errorf("the incident page after the playbook's deletion: %d", r.Status)
			}
			if r := w.h.API(t, w.jonas.write, http.MethodDelete, "/api/v1/incidents/"+w.incident, nil); r.Status != http.StatusNoContent {
				t.Fatalf("delete an incident with a run: %d %s", r.Status, r.Body)
			}
			for _, q := range []string{
				`SELECT COUNT(*) FROM playbook_runs`,
				`SELECT COUNT(*) FROM playbook_run_steps`,
				`SELECT COUNT(*) FROM playbook_run_deviations`,
			} {
				var n int
				if err := w.h.App.DB.R().QueryRow(ctx, q).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("%s: %d left", q, n)
				}
			}
		})
	}
}

// TestPlaybookRunProposal: a proposal carries the incident's deviations
// and lessons no further than the incident. The owner's new version of a
// playbook shared wider than the incident leaves them out; another
// participant's new playbook is preselected at the incident's level
// (AMBER, the playbook GREEN) with a note.
func TestPlaybookRunProposal(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			w := runAttackSetup(t, e)
			ctx := context.Background()
			var runs struct{ Items []incidents.Run }
			w.h.API(t, w.tom.read, http.MethodGet, "/api/v1/incidents/"+w.incident+"/playbook-runs", nil).JSON(t, &runs)
			if len(runs.Items) != 1 {
				t.Fatalf("the demo's run: %+v", runs.Items)
			}
			run := runs.Items[0]
			const reason, lessons = "Grund QUUX im Vorfall", "Lehre FROBOZZ aus dem Vorfall"
			var open incidents.RunStep
			for _, st := range run.Steps {
				if st.State == "open" && st.Kind == "action" {
					open = st
				}
			}
			if r := w.h.API(t, w.max.write, http.MethodPost, "/api/v1/playbook-runs/"+run.ID+"/steps/"+open.StepID+"/skip", map[string]any{"reason": reason}); r.Status != http.StatusOK {
				t.Fatalf("skip: %d %s", r.Status, r.Body)
			}
			for _, st := range []string{"resolved", "closed"} {
				u := incidents.Update{Status: &st}
				if st == "closed" {
					u.Review = &incidents.Review{WhatHappened: "x", WhatHelped: "y", Lessons: lessons}
				}
				if _, err := w.h.App.Incidents.UpdateIncident(ctx, w.jonas.actor, w.incident, u); err != nil {
					t.Fatal(err)
				}
			}
			propose := "/playbooks/" + w.playbook + "/propose"
			owner := string(postForm(t, w.h, w.max.write, propose, apptest.Form("run", run.ID)).Body)
			if strings.Contains(owner, "QUUX") || strings.Contains(owner, "FROBOZZ") || !strings.Contains(owner, `id="propose-notice"`) {
				t.Errorf("the owner's new version of a circle-wide playbook carries the AMBER incident's text")
			}
			other := postForm(t, w.h, w.jonas.write, propose, apptest.Form("run", run.ID))
			body := string(other.Body)
			if other.Status != http.StatusOK || !strings.Contains(body, "QUUX") || !strings.Contains(body, "FROBOZZ") {
				t.Fatalf("a participant's proposal: %d", other.Status)
			}
			if !strings.Contains(body, `<option value="AMBER" selected>`) || strings.Contains(body, `<option value="GREEN" selected>`) {
				t.Errorf("the proposal is not preselected at the incident's level (AMBER)")
			}
		})
	}
}

// TestPlaybookRunIndividualAgent: an individual agent resolves only to a
// person who may see the incident. In a RED incident for named people
// (Tom of Wolke), an agent naming Lena of Wolke (a participant org, not
// named) stays with the owner, flagged unassigned, her name nowhere.
func TestPlaybookRunIndividualAgent(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			w := runAttackSetup(t, e)
			ctx := context.Background()
			a := w.h.App
			inc, err := a.Incidents.CreateIncident(ctx, w.jonas.actor, incidents.NewIncident{Title: "Vertraulicher Vorfall", Category: "malware", Severity: "high",
				DetectedAt: "2026-11-30T08:00:00Z", Sharing: policy.Sharing{TLP: "RED", Audience: "people", People: []string{w.tom.actor.UserID}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Incidents.InviteParticipant(ctx, w.jonas.actor, inc.ID, incidents.Invitation{OrgID: w.tom.actor.OrgID, Role: "responder", People: []string{w.tom.actor.UserID}}); err != nil {
				t.Fatal(err)
			}
			doc := playbookstest.Document(playbookstest.ID("playbook"), "Rot", "red", "2026-01-06T09:00:00.000Z", "")
			doc = strings.Replace(doc, `{"type": "organization", "name": "The affected business"}`, `{"type": "individual", "name": "tom.richter@wolke-cloud.example"}`, 1)
			doc = strings.Replace(doc, `{"type": "organization", "name": "The cloud provider"}`, `{"type": "individual", "name": "lena.koch@wolke-cloud.example"}`, 1)
			doc = strings.ReplaceAll(doc, `"organization--`, `"individual--`)
			status, rep := playbookstest.Import(t, w.h, &apptest.User{WriteToken: w.jonas.write}, doc, policy.Sharing{TLP: "RED", Audience: "people", People: []string{w.tom.actor.UserID}})
			if status != http.StatusOK || rep.Accepted != 1 {
				t.Fatalf("import: %d %+v", status, rep)
			}
			r := w.h.API(t, w.jonas.write, http.MethodPost, "/api/v1/incidents/"+inc.ID+"/playbook-runs", map[string]any{"playbook_id": rep.Items[0].ID})
			if r.Status != http.StatusCreated {
				t.Fatalf("start: %d %s", r.Status, r.Body)
			}
			var run incidents.Run
			r.JSON(t, &run)
			for _, st := range run.Steps {
				switch st.Name {
				case "Isolate the servers":
					if st.AssigneeName != "Tom Richter" || st.Unassigned {
						t.Errorf("a named person's step: %+v", st)
					}
				case "Restore":
					if st.AssigneeOrg != w.jonas.actor.OrgID || !st.Unassigned || st.AssigneeName == "Lena Koch" {
						t.Errorf("a step for a person who may not see the incident: %+v", st)
					}
				}
			}
			if strings.Contains(string(r.Body), "Lena Koch") {
				t.Errorf("the run names a person who may not see the incident")
			}
		})
	}
}
