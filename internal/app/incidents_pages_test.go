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
	"verbund/internal/incidents"
	"verbund/internal/policy"
)

// TestIncidentPagesGerman: the incident page in German answers each form
// with what happened (not "Gespeichert."), names statuses and deadlines in
// words, reads a typed time in the zone the page shows, refuses an empty
// invitation by name, and says "nothing changed" for a move already made.
func TestIncidentPagesGerman(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	germanUI(t, h, "sme.analyst")
	id := newIncident(t, h, policy.Sharing{TLP: "AMBER", Audience: "org"}, true, "")
	b := h.Login(t, h.Users["sme.analyst"])
	page := func(want int, r apptest.Response, must ...string) string {
		t.Helper()
		body := string(r.Body)
		if r.Status != want {
			t.Fatalf("status %d, want %d: %s", r.Status, want, body)
		}
		for _, m := range must {
			if !strings.Contains(body, m) {
				t.Errorf("the page lacks %q", m)
			}
		}
		return body
	}
	body := page(http.StatusOK, b.Get(t, "/incidents/"+id), "Noch keine Aufgaben.")
	if strings.Contains(body, "0 von 0") {
		t.Errorf("an incident without tasks counts 0 of 0 done")
	}
	// post sends a form and follows its redirect, as a browser does.
	post := func(path string, v url.Values) apptest.Response {
		t.Helper()
		r := b.PostForm(t, "/incidents/"+id+path, v)
		if r.Status == http.StatusSeeOther {
			loc := r.Header.Get("Location")
			if !strings.HasPrefix(loc, "/incidents/"+id) {
				t.Fatalf("%s redirects to %q", path, loc)
			}
			return b.Get(t, loc)
		}
		return r
	}
	// A move the incident cannot make is refused in words, beside the form.
	body = page(http.StatusConflict, post("/status", url.Values{"status": {"closed"}}), "von gemeldet zu abgeschlossen")
	if i, j := strings.Index(body, `id="status-card"`), strings.Index(body, `id="form-error"`); i < 0 || j < i {
		t.Errorf("the error is not shown in the status form's section")
	}
	page(http.StatusOK, post("/status", url.Values{"status": {"acknowledged"}}), "Status geändert.")
	page(http.StatusOK, post("/status", url.Values{"status": {"acknowledged"}}), "Nichts geändert: Der Vorfall hat diesen Status bereits.")
	page(http.StatusBadRequest, post("/participants", url.Values{"org_id": {""}, "role": {"responder"}}), "Wählen Sie die Organisation, die Sie einladen.")
	page(http.StatusOK, post("/clocks/nis2_early_warning", nil), "Als gemeldet markiert.", "An die Behörde gemeldet: NIS2-Frühwarnung")
	// The due time is typed and shown in German time: 10:00 in June is
	// 08:00 UTC.
	page(http.StatusOK, post("/tasks", url.Values{"title": {"Protokolle sichern"}, "due": {"2030-06-01T10:00"}}), "Aufgabe hinzugefügt.", "01.06.2030, 10:00", "0 von 1 erledigt")
	tasks, err := h.App.Incidents.FindTasks(context.Background(), h.Users["sme.analyst"].Actor, id)
	if err != nil || len(tasks) != 1 || tasks[0].DueAt != time.Date(2030, 6, 1, 8, 0, 0, 0, time.UTC).UnixMicro() {
		t.Errorf("the task's due time: %+v %v, want 2030-06-01 08:00 UTC", tasks, err)
	}
	// A failed task keeps what was typed.
	page(http.StatusBadRequest, post("/tasks", url.Values{"title": {""}, "due": {"2030-06-02T09:30"}}), `value="2030-06-02T09:30"`)
	// Figures: a stage not reached is "—", not 0 minutes.
	body = page(http.StatusOK, b.Get(t, "/incidents/figures"), "—", "Zeit bis zur Eindämmung")
	if strings.Contains(body, "0 Min.") && !strings.Contains(body, "Zeit bis zur Bestätigung") {
		t.Errorf("figures: %s", body)
	}
	// Forms that cannot succeed are not offered: an org without any
	// agreement has nobody to invite (and is told why), and a CERT asked
	// already is not offered again.
	other, err := h.App.Incidents.CreateIncident(context.Background(), h.Users["nocontract.analyst"].Actor, incidents.NewIncident{Title: "Allein", Category: "outage",
		Severity: "low", Sharing: policy.Sharing{TLP: "AMBER", Audience: "org"}})
	if err != nil {
		t.Fatal(err)
	}
	nb := h.Login(t, h.Users["nocontract.analyst"])
	if body := string(nb.Get(t, "/incidents/"+other.ID).Body); strings.Contains(body, `id="invite-form"`) || !strings.Contains(body, `id="invite-none"`) {
		t.Errorf("an org without agreements is offered the invitation form, or not told why")
	}
	if _, err := h.App.Incidents.RequestAssistance(context.Background(), h.Users["sme.analyst"].Actor, id, incidents.AssistanceRequest{CertOrg: h.Orgs["cert"]}); err != nil {
		t.Fatal(err)
	}
	if body := string(b.Get(t, "/incidents/"+id).Body); strings.Contains(body, `id="assistance-form"`) {
		t.Errorf("the only CERT, asked already, is offered again")
	}
	// The report draft names its words in German.
	body = page(http.StatusOK, b.Get(t, "/incidents/"+id+"/draft"), "NIS2-Frühwarnung, Frist:", "Kategorie: Schadsoftware")
	if strings.Contains(body, "nis2_early_warning") {
		t.Errorf("the draft shows raw deadline names")
	}
}
