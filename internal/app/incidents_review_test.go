package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"verbund/internal/agreements"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/notify/notifytest"
	"verbund/internal/policy"
)

// TestIncidentNarrowedHidesContributions (attack review): an incident
// shared with Wolke, then narrowed to two named people of Müller at
// TLP:RED. Ticking an older task, shared while Wolke could still see the
// incident, must tell nobody but the named people: no webhook delivery
// to Wolke, no mail to Wolke's people or to Müller's people not named.
// The re-check before each attempt judges the incident too.
func TestIncidentNarrowedHidesContributions(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		srv := notifytest.StartMailServer(t)
		h := mailHub(t, e, srv)
		for k := range h.Users {
			chooseMail(t, h, k, map[string]string{"incidents": "instant"})
		}
		rx := newReceiver(t)
		r := h.API(t, h.Users["cloud.admin"].WriteToken, http.MethodPost, "/api/v1/webhooks", map[string]any{"url": rx.srv.URL + "/hook", "events": []string{"incident.task"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("webhook: %d %s", r.Status, r.Body)
		}
		var hook struct{ ID, Secret string }
		r.JSON(t, &hook)
		rx.secret = hook.Secret
		sme := h.Users["sme.analyst"]
		var inc struct{ ID string }
		r = h.API(t, sme.WriteToken, http.MethodPost, "/api/v1/incidents", map[string]any{"title": "Vorfall bei Müller", "category": "malware", "severity": "high",
			"tlp": "AMBER", "audience": "orgs", "orgs": []string{h.Orgs["cloud"]}})
		if r.Status != http.StatusCreated {
			t.Fatalf("incident: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &inc)
		var task struct{ ID string }
		r = h.API(t, sme.WriteToken, http.MethodPost, "/api/v1/incidents/"+inc.ID+"/tasks", map[string]any{"title": "Backups prüfen"})
		if r.Status != http.StatusCreated {
			t.Fatalf("task: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &task)
		r = h.API(t, sme.WriteToken, http.MethodPatch, "/api/v1/incidents/"+inc.ID, map[string]any{"title": "GEHEIM: Innentäter vermutet",
			"sharing": map[string]any{"tlp": "RED", "audience": "people", "people": []string{sme.ID, h.Users["sme.analyst2"].ID}}})
		if r.Status != http.StatusOK {
			t.Fatalf("narrow: %d %s", r.Status, r.Body)
		}
		if r := h.API(t, h.Users["cloud.analyst"].ReadToken, http.MethodGet, "/api/v1/incidents/"+inc.ID+"/tasks", nil); r.Status != http.StatusNotFound {
			t.Fatalf("Wolke reads the narrowed incident's tasks: %d", r.Status)
		}
		srv.Wait(t, 1, 10*time.Second) // the earlier mails have gone
		time.Sleep(700 * time.Millisecond)
		before := len(srv.Mails())
		var hooksBefore int
		ctx := context.Background()
		count := func() int {
			var n int
			if err := h.App.DB.R().QueryRow(ctx, `SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = ?`, hook.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		hooksBefore = count()
		if r := h.API(t, sme.WriteToken, http.MethodPut, "/api/v1/incident-tasks/"+task.ID+"/done", nil); r.Status != http.StatusOK {
			t.Fatalf("task done: %d %s", r.Status, r.Body)
		}
		srv.Wait(t, before+1, 10*time.Second)
		time.Sleep(700 * time.Millisecond)
		for _, m := range srv.Mails()[before:] {
			for _, to := range m.To {
				if to != h.Users["sme.analyst2"].Email {
					t.Errorf("a mail about the narrowed incident's task went to %s (%q)", to, m.Subject)
				}
			}
		}
		if n := count(); n != hooksBefore {
			t.Errorf("Wolke's webhook got %d deliveries about the narrowed incident's task", n-hooksBefore)
		}
		// And the deliverer's re-check: the task as Wolke's org view sees it.
		v, err := policy.LoadView(ctx, h.App.DB.R(), policy.Actor{OrgID: h.Orgs["cloud"]}, db.Now())
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := v.SeesShare(ctx, h.App.DB.R(), task.ID); err != nil || ok {
			t.Errorf("Wolke's view sees the task of an incident hidden from it: %v %v", ok, err)
		}
	})
}

// TestIncidentReviewRules (attack and new-user reviews): the audit
// keeps no incident text, only the reporting org closes, a leak report
// is only widened by the org it names, a leak report to an org without a
// RED agreement names nobody of it, and a CERT that declines a request
// leaves the incident.
func TestIncidentReviewRules(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		h := apptest.World(t, e)
		ctx := context.Background()
		sme, cloud, cert := h.Users["sme.analyst"], h.Users["cloud.analyst"], h.Users["cert.analyst"]
		call := func(u *apptest.User, method, path string, body any) apptest.Response {
			t.Helper()
			return h.API(t, u.WriteToken, method, path, body)
		}

		// The audit says that the description changed, not what it says.
		id := newIncident(t, h, policy.Sharing{TLP: "AMBER", Audience: "org"}, false, "")
		if r := call(sme, http.MethodPatch, "/api/v1/incidents/"+id, map[string]any{"description": "Konto svc-backup von 203.0.113.7 benutzt"}); r.Status != http.StatusOK {
			t.Fatalf("edit: %d %s", r.Status, r.Body)
		}
		for _, rec := range auditRecords(t, h, "sme.auditor") {
			if strings.Contains(string(rec.Detail), "svc-backup") {
				t.Errorf("audit record %s keeps the incident's text: %s", rec.Action, rec.Detail)
			}
		}

		// A responder works the incident but does not close it.
		if r := call(sme, http.MethodPost, "/api/v1/incidents/"+id+"/participants", map[string]any{"org_id": h.Orgs["cloud"], "role": "responder"}); r.Status != http.StatusCreated {
			t.Fatalf("invite: %d %s", r.Status, r.Body)
		}
		for _, st := range []string{"acknowledged", "investigating", "contained"} {
			if r := call(cloud, http.MethodPatch, "/api/v1/incidents/"+id, map[string]any{"status": st}); r.Status != http.StatusOK {
				t.Fatalf("responder moves to %s: %d %s", st, r.Status, r.Body)
			}
		}
		// Resolving ends every party's response clocks: not a responder's call.
		if r := call(cloud, http.MethodPatch, "/api/v1/incidents/"+id, map[string]any{"status": "resolved"}); r.ErrorCode() != "coordinator_resolves" {
			t.Errorf("a responder resolves: %d %s", r.Status, r.Body)
		}
		if r := call(sme, http.MethodPatch, "/api/v1/incidents/"+id, map[string]any{"status": "resolved"}); r.Status != http.StatusOK {
			t.Fatalf("the owner resolves: %d %s", r.Status, r.Body)
		}
		review := map[string]any{"what_happened": "x", "lessons_learned": "y"}
		if r := call(cloud, http.MethodPatch, "/api/v1/incidents/"+id, map[string]any{"status": "closed", "review": review}); r.ErrorCode() != "owner_closes" {
			t.Errorf("a responder closes: %d %s", r.Status, r.Body)
		}
		if r := call(sme, http.MethodPatch, "/api/v1/incidents/"+id, map[string]any{"status": "closed", "review": review}); r.Status != http.StatusOK {
			t.Errorf("the owner closes: %d %s", r.Status, r.Body)
		}

		// A leak report to an org the CERT has no RED agreement with.
		leak := map[string]any{"title": "Zugangsdaten im Leak", "category": "credential_leak", "severity": "high", "tlp": "RED"}
		leak["affected_org"] = h.Orgs["outsider"]
		r := call(cert, http.MethodPost, "/api/v1/incidents", leak)
		if r.ErrorCode() != "no_agreement" {
			t.Errorf("leak report without agreement: %d %s", r.Status, r.Body)
		}
		for _, k := range []string{"outsider.admin", "outsider.analyst", "outsider.viewer", "outsider.auditor"} {
			if strings.Contains(string(r.Body), h.Users[k].ID) {
				t.Errorf("the refusal names %s: %s", k, r.Body)
			}
		}

		// The affected org widens a leak report, and only widens it.
		if _, err := h.App.Agreements.Propose(ctx, policy.System("test"), h.Orgs["cert"], agreements.Input{Kind: "bilateral", Partner: h.Orgs["sme"],
			Categories: []string{"incident"}, MaxTLP: "RED", RetentionDays: 90, Purpose: "leak reports"}); err != nil {
			t.Fatal(err)
		}
		leak["affected_org"] = h.Orgs["sme"]
		var rep struct{ ID string }
		r = call(cert, http.MethodPost, "/api/v1/incidents", leak)
		if r.Status != http.StatusCreated {
			t.Fatalf("leak report: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &rep)
		admin := h.Users["sme.admin"]
		for _, s := range []map[string]any{
			{"tlp": "CLEAR", "audience": "org"},
			{"tlp": "GREEN", "audience": "community", "community_id": h.Circle},
			{"tlp": "AMBER", "audience": "orgs", "orgs": []string{h.Orgs["cloud"]}},
			{"tlp": "RED", "audience": "people", "people": []string{sme.ID}},
		} {
			if r := call(admin, http.MethodPatch, "/api/v1/incidents/"+rep.ID, map[string]any{"sharing": s}); r.ErrorCode() != "leak_widen_only" {
				t.Errorf("the affected org changes the leak report to %v: %d %s", s, r.Status, r.Body)
			}
		}
		if r := h.API(t, h.Users["outsider.admin"].ReadToken, http.MethodGet, "/api/v1/incidents/"+rep.ID, nil); r.Status != http.StatusNotFound {
			t.Errorf("the outsider reads the leak report: %d", r.Status)
		}
		if r := call(admin, http.MethodPatch, "/api/v1/incidents/"+rep.ID, map[string]any{"sharing": map[string]any{"tlp": "AMBER", "audience": "orgs", "orgs": []string{h.Orgs["sme"]}}}); r.Status != http.StatusOK {
			t.Errorf("the affected org widens to itself: %d %s", r.Status, r.Body)
		}
		if r := h.API(t, sme.ReadToken, http.MethodGet, "/api/v1/incidents/"+rep.ID, nil); r.Status != http.StatusOK {
			t.Errorf("Müller's analyst after the widening: %d", r.Status)
		}
		// Step by step is no way round it (re-check review): once the org
		// reads it, neither the org nor any of its analysts narrows it
		// back to people, or to another org.
		for _, s := range []map[string]any{
			{"tlp": "AMBER", "audience": "people", "people": []string{cloud.ID}},
			{"tlp": "RED", "audience": "people", "people": []string{sme.ID}},
			{"tlp": "AMBER", "audience": "orgs", "orgs": []string{h.Orgs["cloud"]}},
		} {
			for _, u := range []*apptest.User{admin, sme} {
				if r := call(u, http.MethodPatch, "/api/v1/incidents/"+rep.ID, map[string]any{"sharing": s}); r.ErrorCode() != "leak_widen_only" {
					t.Errorf("%s narrows the widened leak report to %v: %d %s", u.Key, s, r.Status, r.Body)
				}
			}
		}
		if r := call(admin, http.MethodPatch, "/api/v1/incidents/"+rep.ID, map[string]any{"sharing": map[string]any{"tlp": "AMBER", "audience": "orgs", "orgs": []string{h.Orgs["sme"], h.Orgs["cloud"]}}}); r.Status != http.StatusOK {
			t.Errorf("the affected org widens to its provider too: %d %s", r.Status, r.Body)
		}
		if r := call(admin, http.MethodPatch, "/api/v1/incidents/"+rep.ID, map[string]any{"sharing": map[string]any{"tlp": "AMBER", "audience": "orgs", "orgs": []string{h.Orgs["sme"]}}}); r.ErrorCode() != "leak_widen_only" {
			t.Errorf("the affected org drops its provider again: %d %s", r.Status, r.Body)
		}

		// A CERT that declines leaves the incident it was only named for.
		id2 := newIncident(t, h, policy.Sharing{TLP: "AMBER", Audience: "org"}, false, "")
		var req struct{ ID string }
		r = call(sme, http.MethodPost, "/api/v1/incidents/"+id2+"/assistance", map[string]any{"cert_org": h.Orgs["cert"]})
		if r.Status != http.StatusCreated {
			t.Fatalf("request: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &req)
		if r := h.API(t, cert.ReadToken, http.MethodGet, "/api/v1/incidents/"+id2, nil); r.Status != http.StatusOK {
			t.Fatalf("the asked CERT reads the incident: %d", r.Status)
		}
		if r := call(cert, http.MethodPost, "/api/v1/cert-inbox/"+req.ID, map[string]any{"action": "decline", "reason": "Keine Kapazität"}); r.Status != http.StatusOK {
			t.Fatalf("decline: %d %s", r.Status, r.Body)
		}
		if r := h.API(t, cert.ReadToken, http.MethodGet, "/api/v1/incidents/"+id2, nil); r.Status != http.StatusNotFound {
			t.Errorf("the CERT that declined still reads the incident: %d", r.Status)
		}
		// A CERT the owner had named itself stays when it declines.
		id3 := newIncident(t, h, policy.Sharing{TLP: "AMBER", Audience: "orgs", Orgs: []string{h.Orgs["cert"]}}, false, "")
		var req3 struct{ ID string }
		r = call(sme, http.MethodPost, "/api/v1/incidents/"+id3+"/assistance", map[string]any{"cert_org": h.Orgs["cert"]})
		if r.Status != http.StatusCreated {
			t.Fatalf("request: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &req3)
		if r := call(cert, http.MethodPost, "/api/v1/cert-inbox/"+req3.ID, map[string]any{"action": "decline", "reason": "Keine Kapazität"}); r.Status != http.StatusOK {
			t.Fatalf("decline: %d %s", r.Status, r.Body)
		}
		if r := h.API(t, cert.ReadToken, http.MethodGet, "/api/v1/incidents/"+id3, nil); r.Status != http.StatusOK {
			t.Errorf("a decline undid the owner's own naming of the CERT: %d", r.Status)
		}
		var tl struct{ Items []struct{ Kind, Body string } }
		h.API(t, sme.ReadToken, http.MethodGet, "/api/v1/incidents/"+id2+"/timeline", nil).JSON(t, &tl)
		declined := false
		for _, it := range tl.Items {
			declined = declined || it.Kind == "declined"
		}
		if !declined {
			t.Errorf("the owner's timeline lost the decline: %+v", tl.Items)
		}
	})
}
