package app_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/incidents"
	"verbund/internal/playbooks/playbookstest"
	"verbund/internal/policy"
)

// TestBrowserPlaybookRun: the SME starts a playbook from its incident's
// page and answers its decision; the provider's open page of the
// incident shows the run, its progress and the skipped branch live.
func TestBrowserPlaybookRun(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	ctx := context.Background()
	germanUI(t, h, "sme.analyst")
	circle := policy.Sharing{TLP: "AMBER", Audience: "community", Community: h.Circle}
	inc, err := h.App.Incidents.CreateIncident(ctx, h.Users["sme.analyst"].Actor, incidents.NewIncident{Title: "Verschlüsselte Server", Category: "malware", Severity: "high", Sharing: circle})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.App.Incidents.InviteParticipant(ctx, h.Users["sme.analyst"].Actor, inc.ID, incidents.Invitation{OrgID: h.Orgs["cloud"], Role: "responder"}); err != nil {
		t.Fatal(err)
	}
	status, rep := playbookstest.Import(t, h, h.Users["sme.analyst"], playbookstest.Document(playbookstest.ID("playbook"), "Erstmaßnahmen", "isolieren", "2026-01-06T09:00:00.000Z", ""), circle)
	if status != http.StatusOK || rep.Accepted != 1 {
		t.Fatalf("import: %d %+v", status, rep)
	}
	browser := startBrowser(t, "de-DE")
	sme := newBrowserUser(t, browser, "sme.analyst")
	sme.login(t, h, h.Users["sme.analyst"], nil)
	cloud := newBrowserUser(t, browser, "cloud.analyst")
	cloud.login(t, h, h.Users["cloud.analyst"], nil)
	cloud.open(t, h, "/incidents/"+inc.ID, true)

	sme.open(t, h, "/incidents/"+inc.ID, false)
	sme.do(t, "choose the playbook", chromedp.SetValue(chromedp.ID("run-playbook"), rep.Items[0].ID))
	sme.submit(t, "start the playbook", "start-run")
	waitText(t, sme, "the run", "#playbook-runs", "Isolate the servers")
	runs, err := h.App.Incidents.FindRuns(ctx, h.Users["sme.analyst"].Actor, inc.ID)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %+v %v", runs, err)
	}
	run := runs[0]
	waitText(t, cloud, "the run, live", "#playbook-runs", "Isolate the servers")
	waitText(t, cloud, "the progress, live", "#run-progress-"+run.ID, "0")
	i := slices.IndexFunc(run.Steps, func(s incidents.RunStep) bool { return s.Kind == "decision" })
	sme.submit(t, "answer yes", chromedp.ID("decide-"+run.Steps[i].StepID+"-yes"))
	waitText(t, sme, "the answer", "#playbook-runs", "Antwort: Ja")
	waitText(t, cloud, "the progress after the answer, live", "#run-progress-"+run.ID, "1")
	rebuild := slices.IndexFunc(run.Steps, func(s incidents.RunStep) bool { return s.Name == "Rebuild" })
	waitText(t, cloud, "the skipped branch, live", "#run-step-"+run.Steps[rebuild].StepID+`[data-state="skipped"]`, "Rebuild")
	sme.noProblems(t)
	cloud.noProblems(t)
}
