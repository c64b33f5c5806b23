package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/db/dbtest"
	"verbund/internal/demo"
	"verbund/internal/risks"
)

// TestOneDatabaseConnection runs the demo's seed and the writes that name
// other capabilities' objects (an incident's, an article's and a risk's
// links; a playbook run) on a hub with a single PostgreSQL connection. A
// write that holds the pool's connection in its transaction while it asks
// the pool for another waits for itself until the database timeout
// (503 database_timeout after 10 s): with a pool of a few connections,
// that many such writes at once blocked every request of the hub.
func TestOneDatabaseConnection(t *testing.T) {
	d := dbtest.OpenPostgresPool(t, 1)
	h := apptest.StartOn(t, d)
	// A write waiting for itself would wait for ever without a deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a := h.App
	if _, err := demo.Seed(ctx, demo.Services{DB: a.DB, Accounts: a.Accounts, Orgs: a.Orgs, Agreements: a.Agreements, Forum: a.Forum, Intel: a.Intel,
		Training: a.Training, Knowledge: a.Knowledge, Incidents: a.Incidents, Vulns: a.Vulns, Playbooks: a.Playbooks, Risks: a.Risks}, t.TempDir()); err != nil {
		t.Fatalf("the demo's seed with one connection: %v", err)
	}
	jonas := demoPeople(t, h, "jonas.weber@mueller-maschinenbau.example")["jonas"]
	one := func(q string, args ...any) string {
		t.Helper()
		var id string
		if err := a.DB.R().QueryRow(ctx, q, args...).Scan(&id); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return id
	}
	patch := func(what, path string, body map[string]any) {
		t.Helper()
		if r := h.API(t, jonas.write, http.MethodPatch, path, body); r.Status != http.StatusOK {
			t.Errorf("%s with one connection: %d %s", what, r.Status, r.Body)
		}
	}

	// The article's links to intelligence, saved again as they are.
	article := one(`SELECT id FROM articles WHERE title LIKE ?`, "Nachbereitung:%")
	var art struct{ Links []map[string]string }
	h.API(t, jonas.read, http.MethodGet, "/api/v1/articles/"+article, nil).JSON(t, &art)
	if len(art.Links) == 0 {
		t.Fatal("the demo's review article has no links to save again")
	}
	patch("an article's links", "/api/v1/articles/"+article, map[string]any{"links": art.Links})

	// The incident, linked to the same intelligence (twice: the second
	// edit has links to keep).
	incident := one(`SELECT id FROM incidents WHERE title = ?`, "Ransomware auf dem Dateiserver der Konstruktion")
	links := []map[string]string{{"type": "intel", "id": art.Links[0]["id"]}}
	patch("an incident's links", "/api/v1/incidents/"+incident, map[string]any{"links": links})
	patch("an incident's links again", "/api/v1/incidents/"+incident, map[string]any{"links": links})

	// A risk of Müller's, linked to the incident.
	list, _, err := a.Risks.FindRisks(ctx, jonas.actor, risks.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	risk := ""
	for _, r := range list {
		if r.OrgID == jonas.actor.OrgID {
			risk = r.ID
		}
	}
	if risk == "" {
		t.Fatal("the demo has no risk of Müller's")
	}
	riskLinks := map[string]any{"links": []map[string]string{{"type": "incident", "id": incident}}}
	patch("a risk's links", "/api/v1/risks/"+risk, riskLinks)
	patch("a risk's links again", "/api/v1/risks/"+risk, riskLinks)

	// The demo's playbook run in the incident.
	playbook := one(`SELECT id FROM playbooks WHERE cacao_id = ?`, demo.RansomwarePlaybookID)
	if r := h.API(t, jonas.write, http.MethodPost, "/api/v1/incidents/"+incident+"/playbook-runs", map[string]any{"playbook_id": playbook}); r.Status != http.StatusCreated {
		t.Errorf("a playbook run with one connection: %d %s", r.Status, r.Body)
	}
}
