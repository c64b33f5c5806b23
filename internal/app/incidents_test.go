package app_test

import (
	"context"
	"net/http"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db/dbtest"
)

// TestIncidentFlow walks the cross-org flow through the API on every
// engine: the SME reports, asks CERT Süd for help, the CERT accepts and
// invites the provider, the provider acknowledges, tasks are worked, the
// incident is resolved and closed with its review; the outsider sees
// nothing at any point.
func TestIncidentFlow(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			sme, cert, cloud, out := h.Users["sme.analyst"], h.Users["cert.analyst"], h.Users["cloud.analyst"], h.Users["outsider.admin"]
			call := func(u *apptest.User, method, path string, body any, want int) apptest.Response {
				t.Helper()
				r := h.API(t, u.WriteToken, method, path, body)
				if r.Status != want {
					t.Fatalf("%s %s as %s: %d %s, want %d", method, path, u.Key, r.Status, r.Body, want)
				}
				return r
			}
			var inc struct{ ID string }
			call(sme, http.MethodPost, "/api/v1/incidents", map[string]any{"title": "Ransomware auf dem Dateiserver", "description": "Dateien verschlüsselt",
				"category": "malware", "severity": "critical", "tlp": "AMBER", "audience": "org", "nis2": true}, http.StatusCreated).JSON(t, &inc)
			id := inc.ID
			call(out, http.MethodGet, "/api/v1/incidents/"+id, nil, http.StatusNotFound)
			call(cert, http.MethodGet, "/api/v1/incidents/"+id, nil, http.StatusNotFound)

			var req struct{ ID string }
			call(sme, http.MethodPost, "/api/v1/incidents/"+id+"/assistance", map[string]any{"cert_org": h.Orgs["cert"], "message": "Bitte helfen"}, http.StatusCreated).JSON(t, &req)
			var inbox struct {
				Items []struct{ ID, IncidentID string }
			}
			call(cert, http.MethodGet, "/api/v1/cert-inbox", nil, http.StatusOK).JSON(t, &inbox)
			if len(inbox.Items) != 1 || inbox.Items[0].ID != req.ID {
				t.Fatalf("CERT inbox: %+v", inbox)
			}
			call(out, http.MethodGet, "/api/v1/cert-inbox", nil, http.StatusOK).JSON(t, &inbox)
			if len(inbox.Items) != 0 {
				t.Fatalf("outsider's inbox: %+v", inbox)
			}
			call(cert, http.MethodPost, "/api/v1/cert-inbox/"+req.ID, map[string]any{"action": "accept"}, http.StatusOK)
			call(cert, http.MethodPost, "/api/v1/cert-inbox/"+req.ID, map[string]any{"action": "accept"}, http.StatusConflict)
			call(cert, http.MethodPost, "/api/v1/incidents/"+id+"/participants", map[string]any{"org_id": h.Orgs["cloud"], "role": "responder", "ack_minutes": 60, "update_hours": 4}, http.StatusCreated)
			if code := call(cert, http.MethodPost, "/api/v1/incidents/"+id+"/participants", map[string]any{"org_id": h.Orgs["outsider"], "role": "affected"}, http.StatusBadRequest).ErrorCode(); code != "no_agreement" {
				t.Errorf("invite without agreement: %s", code)
			}
			call(cloud, http.MethodPost, "/api/v1/incidents/"+id+"/acknowledge", nil, http.StatusOK)
			var ps struct {
				Items []struct {
					OrgID          string `json:"org_id"`
					Role           string
					AcknowledgedAt int64 `json:"acknowledged_at"`
					AckBreached    bool  `json:"ack_breached"`
				}
			}
			call(sme, http.MethodGet, "/api/v1/incidents/"+id+"/participants", nil, http.StatusOK).JSON(t, &ps)
			if len(ps.Items) != 3 {
				t.Fatalf("participants: %+v", ps)
			}
			for _, p := range ps.Items {
				if p.AcknowledgedAt == 0 || p.AckBreached {
					t.Errorf("participant %+v: want acknowledged within target", p)
				}
			}
			var task struct{ ID string }
			call(cert, http.MethodPost, "/api/v1/incidents/"+id+"/tasks", map[string]any{"title": "Backups prüfen", "assignee_org": h.Orgs["cloud"], "due": "2030-01-01T00:00:00Z"}, http.StatusCreated).JSON(t, &task)
			call(cloud, http.MethodPut, "/api/v1/incident-tasks/"+task.ID+"/done", nil, http.StatusOK)
			call(sme, http.MethodDelete, "/api/v1/incident-tasks/"+task.ID+"/done", nil, http.StatusOK)
			call(sme, http.MethodPut, "/api/v1/incident-tasks/"+task.ID+"/done", nil, http.StatusOK)
			call(cloud, http.MethodPost, "/api/v1/incidents/"+id+"/comments", map[string]any{"body": "Snapshots von gestern sind sauber"}, http.StatusCreated)
			if code := call(sme, http.MethodPatch, "/api/v1/incidents/"+id, map[string]any{"status": "closed"}, http.StatusConflict).ErrorCode(); code != "bad_transition" {
				t.Errorf("reported → closed: %s, want bad_transition", code)
			}
			call(cert, http.MethodPatch, "/api/v1/incidents/"+id, map[string]any{"status": "investigating"}, http.StatusOK)
			call(cloud, http.MethodPatch, "/api/v1/incidents/"+id, map[string]any{"status": "contained"}, http.StatusOK)
			call(sme, http.MethodPatch, "/api/v1/incidents/"+id, map[string]any{"status": "resolved"}, http.StatusOK)
			if code := call(sme, http.MethodPatch, "/api/v1/incidents/"+id, map[string]any{"status": "closed"}, http.StatusBadRequest).ErrorCode(); code != "review_required" {
				t.Errorf("closing without review: %s", code)
			}
			call(sme, http.MethodPatch, "/api/v1/incidents/"+id, map[string]any{"status": "closed", "review": map[string]any{
				"what_happened": "Phishing-Mail", "what_helped": "CERT", "lessons_learned": "MFA"}}, http.StatusOK)
			var got struct {
				Status         string
				AcknowledgedAt int64 `json:"acknowledged_at"`
				ContainedAt    int64 `json:"contained_at"`
				ClosedAt       int64 `json:"closed_at"`
			}
			call(cloud, http.MethodGet, "/api/v1/incidents/"+id, nil, http.StatusOK).JSON(t, &got)
			if got.Status != "closed" || got.AcknowledgedAt == 0 || got.ContainedAt == 0 || got.ClosedAt == 0 {
				t.Errorf("incident after close: %+v", got)
			}
			// A closed incident's record is final: no new tasks, ticks,
			// files or comments.
			for _, c := range []struct {
				method, path string
				body         any
			}{{http.MethodPost, "/api/v1/incidents/" + id + "/comments", map[string]any{"body": "Nachtrag"}}, {http.MethodPost, "/api/v1/incidents/" + id + "/tasks", map[string]any{"title": "Nachtrag"}},
				{http.MethodDelete, "/api/v1/incident-tasks/" + task.ID + "/done", nil}} {
				if code := call(cloud, c.method, c.path, c.body, http.StatusConflict).ErrorCode(); code != "incident_closed" {
					t.Errorf("%s %s on a closed incident: %s, want incident_closed", c.method, c.path, code)
				}
			}
			if r := uploadEvidence(t, h, cloud.WriteToken, id, "", []byte("log")); r.Status != http.StatusConflict || r.ErrorCode() != "incident_closed" {
				t.Errorf("evidence on a closed incident: %d %s", r.Status, r.Body)
			}
			// Figures: what is not reached is null, not 0.
			var fig map[string]any
			call(sme, http.MethodGet, "/api/v1/incident-figures", nil, http.StatusOK).JSON(t, &fig)
			if items, _ := fig["incidents"].([]any); len(items) != 1 || fig["median_resolve_minutes"] == nil {
				t.Errorf("figures: %v", fig)
			}
			var tl struct{ Items []struct{ Kind string } }
			call(cloud, http.MethodGet, "/api/v1/incidents/"+id+"/timeline", nil, http.StatusOK).JSON(t, &tl)
			if len(tl.Items) < 10 {
				t.Errorf("timeline has %d entries: %+v", len(tl.Items), tl.Items)
			}
			for _, p := range []string{"", "/timeline", "/participants", "/tasks", "/evidence", "/clocks", "/draft"} {
				call(out, http.MethodGet, "/api/v1/incidents/"+id+p, nil, http.StatusNotFound)
			}
			var list struct{ Items []struct{ ID string } }
			call(out, http.MethodGet, "/api/v1/incidents", nil, http.StatusOK).JSON(t, &list)
			if len(list.Items) != 0 {
				t.Errorf("outsider lists %v", list.Items)
			}
			_ = context.Background()
		})
	}
}
