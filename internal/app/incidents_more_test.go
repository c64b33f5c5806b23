package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"verbund/internal/agreements"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/incidents"
	"verbund/internal/policy"
)

func newIncident(t *testing.T, h *apptest.Hub, s policy.Sharing, nis2 bool, detected string) string {
	t.Helper()
	inc, err := h.App.Incidents.CreateIncident(context.Background(), h.Users["sme.analyst"].Actor, incidents.NewIncident{Title: "Vorfall", Category: "malware",
		Severity: "high", NIS2: nis2, DetectedAt: detected, Sharing: s})
	if err != nil {
		t.Fatal(err)
	}
	return inc.ID
}

// uploadEvidence posts a file of n bytes (query: extra sharing).
func uploadEvidence(t *testing.T, h *apptest.Hub, token, incident, query string, content []byte) apptest.Response {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fw, _ := w.CreateFormFile("file", "dump.bin")
	_, _ = fw.Write(content)
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/api/v1/incidents/"+incident+"/evidence"+query, &b)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := h.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: out.Bytes()}
}

// TestIncidentBadInput: every refusal has its status and stable code and
// leaves nothing behind.
func TestIncidentBadInput(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			tok := h.Users["sme.analyst"].WriteToken
			base := func(k string, v any) map[string]any {
				m := map[string]any{"title": "T", "category": "malware", "severity": "low", "tlp": "AMBER", "audience": "org"}
				m[k] = v
				return m
			}
			for _, c := range []struct {
				name string
				body map[string]any
				code string
			}{
				{"no title", base("title", " "), "bad_incident_title"},
				{"unknown category", base("category", "aliens"), "bad_incident_category"},
				{"unknown severity", base("severity", "apocalyptic"), "bad_incident_severity"},
				{"detected in the future", base("detected_at", "2099-01-01T00:00:00Z"), "detected_in_future"},
				{"bad time", base("detected_at", "yesterday"), "bad_incident_time"},
				{"uncovered org", base("audience", "orgs"), "orgs_missing"},
			} {
				r := h.API(t, tok, http.MethodPost, "/api/v1/incidents", c.body)
				if r.Status != http.StatusBadRequest || r.ErrorCode() != c.code {
					t.Errorf("%s: %d %s, want 400 %s", c.name, r.Status, r.Body, c.code)
				}
			}
			var list struct{ Items []any }
			h.API(t, tok, http.MethodGet, "/api/v1/incidents", nil).JSON(t, &list)
			if len(list.Items) != 0 {
				t.Fatalf("refused incidents were stored: %v", list.Items)
			}

			id := newIncident(t, h, policy.Sharing{TLP: "AMBER", Audience: "community", Community: h.Circle}, false, "")
			for _, c := range []struct {
				body   map[string]any
				status int
				code   string
			}{
				{map[string]any{"status": "closed"}, 409, "bad_transition"},
				{map[string]any{"status": "finished"}, 400, "bad_status"},
				{map[string]any{"status": "resolved"}, 200, ""},
				{map[string]any{"status": "closed", "review": map[string]any{"what_happened": "x"}}, 400, "review_missing"},
				{map[string]any{"status": "reported"}, 409, "bad_transition"},
			} {
				r := h.API(t, tok, http.MethodPatch, "/api/v1/incidents/"+id, c.body)
				if r.Status != c.status || (c.code != "" && r.ErrorCode() != c.code) {
					t.Errorf("PATCH %v: %d %s, want %d %s", c.body, r.Status, r.Body, c.status, c.code)
				}
			}
			// Inviting an org without an agreement: the outsider, and the
			// circle member that never accepted the charter.
			for _, org := range []string{"outsider", "nocontract"} {
				r := h.API(t, tok, http.MethodPost, "/api/v1/incidents/"+id+"/participants", map[string]any{"org_id": h.Orgs[org], "role": "affected"})
				if r.Status != http.StatusBadRequest || r.ErrorCode() != "no_agreement" {
					t.Errorf("invite %s: %d %s, want 400 no_agreement", org, r.Status, r.Body)
				}
			}
			if r := h.API(t, tok, http.MethodPost, "/api/v1/incidents/"+id+"/assistance", map[string]any{"cert_org": h.Orgs["cloud"]}); r.ErrorCode() != "not_a_cert" {
				t.Errorf("assistance from a provider: %d %s", r.Status, r.Body)
			}
			// Files: empty, too large, less restricted than the incident.
			if r := uploadEvidence(t, h, tok, id, "", nil); r.Status != http.StatusBadRequest || r.ErrorCode() != "evidence_empty" {
				t.Errorf("empty file: %d %s", r.Status, r.Body)
			}
			if r := uploadEvidence(t, h, tok, id, "", bytes.Repeat([]byte("x"), incidents.MaxEvidence+1)); r.Status != http.StatusRequestEntityTooLarge || r.ErrorCode() != "evidence_too_large" {
				t.Errorf("oversize file: %d %.200s", r.Status, r.Body)
			}
			if r := uploadEvidence(t, h, tok, id, "?tlp=GREEN", []byte("x")); r.Status != http.StatusBadRequest || r.ErrorCode() != "tlp_below_container" {
				t.Errorf("file below the incident's level: %d %s", r.Status, r.Body)
			}
			var files struct{ Items []any }
			h.API(t, tok, http.MethodGet, "/api/v1/incidents/"+id+"/evidence", nil).JSON(t, &files)
			if len(files.Items) != 0 {
				t.Errorf("refused files were stored: %v", files.Items)
			}
			r := uploadEvidence(t, h, tok, id, "?tlp=RED&audience=people&people="+h.Users["sme.analyst2"].ID, []byte("memory dump"))
			if r.Status != http.StatusCreated || !strings.Contains(string(r.Body), "TLP:RED") {
				t.Fatalf("stricter file: %d %s", r.Status, r.Body)
			}
			var ev struct{ ID, SHA256 string }
			r.JSON(t, &ev)
			if sum := sha256.Sum256([]byte("memory dump")); ev.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("sha256 %q", ev.SHA256)
			}
			// The circle's partner sees the incident but not the RED file.
			cert := h.Users["cert.analyst"].ReadToken
			if r := h.API(t, cert, http.MethodGet, "/api/v1/incidents/"+id+"/evidence/"+ev.ID, nil); r.Status != http.StatusNotFound {
				t.Errorf("RED file to the partner: %d", r.Status)
			}
			if r := h.API(t, h.Users["sme.analyst2"].ReadToken, http.MethodGet, "/api/v1/incidents/"+id+"/evidence/"+ev.ID, nil); r.Status != http.StatusOK || string(r.Body) != "memory dump" {
				t.Errorf("RED file to the named colleague: %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestIncidentRound: a missed acknowledgement target is told once (live,
// webhook) and shown; a NIS2 deadline near is reminded once.
func TestIncidentRound(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			ctx := context.Background()
			rx := newReceiver(t)
			r := h.API(t, h.Users["cloud.admin"].WriteToken, "POST", "/api/v1/webhooks", map[string]any{"url": rx.srv.URL + "/hook", "events": []string{"incident.breach", "incident.deadline"}})
			var hook struct{ Secret string }
			r.JSON(t, &hook)
			if r.Status != http.StatusCreated {
				t.Fatalf("webhook: %d %s", r.Status, r.Body)
			}
			rx.secret = hook.Secret
			detected := time.Now().Add(-20 * time.Hour).UTC().Format(time.RFC3339)
			id := newIncident(t, h, policy.Sharing{TLP: "AMBER", Audience: "org"}, true, detected)
			if _, err := h.App.Incidents.InviteParticipant(ctx, h.Users["sme.analyst"].Actor, id, incidents.Invitation{OrgID: h.Orgs["cloud"], Role: "responder", AckMinutes: 5}); err != nil {
				t.Fatal(err)
			}
			live := openStream(t, h.URL, h.Users["cloud.analyst"].ReadToken, "")
			outsider := openStream(t, h.URL, h.Users["outsider.admin"].ReadToken, "")
			// Ten minutes ago, for the test's sake.
			err := h.App.DB.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
				_, err := tx.Exec(ctx, `UPDATE incident_participants SET invited_at = ? WHERE incident_id = ? AND org_id = ?`, db.Now()-600_000_000, id, h.Orgs["cloud"])
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			n, err := h.App.Incidents.Round(ctx)
			if err != nil || n != 2 { // the breach and the NIS2 early warning due in 4 h
				t.Fatalf("round: %d %v, want 2", n, err)
			}
			if n, err := h.App.Incidents.Round(ctx); err != nil || n != 0 {
				t.Fatalf("second round: %d %v, want nothing new", n, err)
			}
			live.waitFor(t, id, 5*time.Second)
			outsider.never(t, id, 300*time.Millisecond)
			got := rx.waitDeliveries(t, 2, 10*time.Second)
			types := map[string]bool{}
			for _, d := range got {
				types[d.Type] = true
				if d.Data["id"] != id || d.Data["path"] != "/incidents/"+id || d.Data["title"] == nil || d.Data["severity"] != "high" {
					t.Errorf("delivery data %v", d.Data)
				}
			}
			if !types["incident.breach"] || !types["incident.deadline"] {
				t.Errorf("delivered %v", types)
			}
			ps, err := h.App.Incidents.FindParticipants(ctx, h.Users["cloud.analyst"].Actor, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if p.OrgID == h.Orgs["cloud"] && !p.AckBreached {
					t.Errorf("the breach is not shown: %+v", p)
				}
			}
			cs, err := h.App.Incidents.FindClocks(ctx, h.Users["sme.analyst"].Actor, id)
			if err != nil || len(cs) != 3 || cs[0].Overdue {
				t.Errorf("clocks %+v %v", cs, err)
			}
			words := func(lang, key string) string { return h.App.Web.Catalog.T(lang, key) }
			d, err := h.App.Incidents.FindDraft(ctx, h.Users["sme.analyst"].Actor, id, "de", words)
			if err != nil || !strings.Contains(d.Text, "NIS2") || !strings.Contains(d.Text, "Wolke Cloud AG") {
				t.Errorf("draft: %v\n%s", err, d.Text)
			}
			// The draft names categories, statuses, roles and deadlines in
			// its language, and the zone by its German name.
			for _, want := range []string{"NIS2-Frühwarnung, Frist:", "Kategorie: Schadsoftware", "Status: ", "(Bearbeiter)"} {
				if !strings.Contains(d.Text, want) {
					t.Errorf("the German draft lacks %q:\n%s", want, d.Text)
				}
			}
			if !strings.Contains(d.Text, " MEZ") && !strings.Contains(d.Text, " MESZ") {
				t.Errorf("the German draft does not name the zone MEZ or MESZ:\n%s", d.Text)
			}
			for _, raw := range []string{"nis2_early_warning", "malware", "responder", "CET", ") ("} {
				if strings.Contains(d.Text, raw) {
					t.Errorf("the German draft shows %q:\n%s", raw, d.Text)
				}
			}
			if d, err = h.App.Incidents.FindDraft(ctx, h.Users["sme.analyst"].Actor, id, "en", words); err != nil || !strings.Contains(d.Text, "NIS2 early warning due:") || strings.Contains(d.Text, "nis2_") {
				t.Errorf("the English draft: %v\n%s", err, d.Text)
			}
		})
	}
}

// TestLeakReport: a CERT's report of leaked credentials names the
// affected org and reaches only its security contact (TLP:RED), not its
// other people nor anyone else, until that contact widens it to the org.
func TestLeakReport(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			ctx := context.Background()
			if _, err := h.App.Agreements.Propose(ctx, policy.System("test"), h.Orgs["cert"], agreements.Input{Kind: "bilateral", Partner: h.Orgs["sme"],
				Categories: []string{"incident"}, MaxTLP: "RED", RetentionDays: 90, Purpose: "leak reports"}); err != nil {
				t.Fatal(err)
			}
			cert := h.Users["cert.analyst"].WriteToken
			body := map[string]any{"title": "Zugangsdaten von Müller in einem Leak", "category": "credential_leak", "severity": "high", "affected_org": h.Orgs["sme"], "tlp": "AMBER", "audience": "org"}
			r := h.API(t, cert, http.MethodPost, "/api/v1/incidents", body)
			if r.Status != http.StatusCreated {
				t.Fatalf("leak report: %d %s", r.Status, r.Body)
			}
			var inc struct {
				ID      string
				Sharing policy.Share
			}
			r.JSON(t, &inc)
			if inc.Sharing.TLP != policy.Red || len(inc.Sharing.Audience.People) != 1 || inc.Sharing.Audience.People[0] != h.Users["sme.admin"].ID {
				t.Fatalf("leak report envelope %+v, want TLP:RED to sme's admin (no contact e-mail set)", inc.Sharing)
			}
			for user, want := range map[string]int{"sme.admin": 200, "sme.analyst": 404, "cloud.analyst": 404, "cert.admin": 404, "outsider.admin": 404, "cert.analyst": 200} {
				if r := h.API(t, h.Users[user].ReadToken, http.MethodGet, "/api/v1/incidents/"+inc.ID, nil); r.Status != want {
					t.Errorf("%s reads the leak report: %d, want %d", user, r.Status, want)
				}
			}
			// Not a leak, not a CERT: refused.
			body["category"] = "malware"
			if r := h.API(t, cert, http.MethodPost, "/api/v1/incidents", body); r.ErrorCode() != "leak_report_category" {
				t.Errorf("malware naming an org: %d %s", r.Status, r.Body)
			}
			body["category"] = "data_leak"
			if r := h.API(t, h.Users["cloud.analyst"].WriteToken, http.MethodPost, "/api/v1/incidents", body); r.ErrorCode() != "leak_report_cert" {
				t.Errorf("a provider reporting a leak of another org: %d %s", r.Status, r.Body)
			}
			// The contact widens it to the own org's people (named), in the
			// CERT's name.
			people := []string{h.Users["sme.admin"].ID, h.Users["sme.analyst"].ID}
			if r := h.API(t, h.Users["sme.admin"].WriteToken, http.MethodPatch, "/api/v1/incidents/"+inc.ID, map[string]any{"sharing": map[string]any{"tlp": "RED", "audience": "people", "people": people}}); r.Status != http.StatusOK {
				t.Fatalf("widen: %d %s", r.Status, r.Body)
			}
			if r := h.API(t, h.Users["sme.analyst"].ReadToken, http.MethodGet, "/api/v1/incidents/"+inc.ID, nil); r.Status != http.StatusOK {
				t.Errorf("after widening, sme.analyst reads it: %d", r.Status)
			}
			if r := h.API(t, h.Users["sme.admin"].WriteToken, http.MethodPatch, "/api/v1/incidents/"+inc.ID, map[string]any{"title": "mine now"}); r.Status != http.StatusForbidden {
				t.Errorf("the affected org edits the CERT's report: %d", r.Status)
			}
		})
	}
}

// TestCertInbox: a CERT declines only with a reason, forwards only to a
// CERT the reporter has an agreement with (widened in the reporter's
// name), and the second CERT accepts and coordinates; the first keeps no
// coordinator's rights.
func TestCertInbox(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			ctx := context.Background()
			op := policy.System("test")
			o, err := h.App.Orgs.CreateOrg(ctx, op, "CERT Nord", "cert", "cert@nord.example")
			if err != nil {
				t.Fatal(err)
			}
			h.Orgs["nord"] = o.ID
			h.AddUser(t, "nord", "analyst", "nord.analyst")
			id := newIncident(t, h, policy.Sharing{TLP: "AMBER", Audience: "org"}, false, "")
			var req struct{ ID string }
			r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/incidents/"+id+"/assistance", map[string]any{"cert_org": h.Orgs["cert"]})
			r.JSON(t, &req)
			if r.Status != http.StatusCreated {
				t.Fatalf("request: %d %s", r.Status, r.Body)
			}
			if r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/incidents/"+id+"/assistance", map[string]any{"cert_org": h.Orgs["nord"]}); r.ErrorCode() != "no_agreement" {
				t.Errorf("request from a CERT without agreement: %d %s", r.Status, r.Body)
			}
			cert := h.Users["cert.analyst"].WriteToken
			if r := h.API(t, cert, http.MethodPost, "/api/v1/cert-inbox/"+req.ID, map[string]any{"action": "decline"}); r.ErrorCode() != "reason_missing" {
				t.Errorf("decline without a reason: %d %s", r.Status, r.Body)
			}
			if r := h.API(t, cert, http.MethodPost, "/api/v1/cert-inbox/"+req.ID, map[string]any{"action": "forward", "to": h.Orgs["nord"], "reason": "Zuständig ist Nord"}); r.ErrorCode() != "no_agreement" {
				t.Errorf("forward to a CERT the reporter has no agreement with: %d %s", r.Status, r.Body)
			}
			if r := h.API(t, h.Users["nord.analyst"].ReadToken, http.MethodGet, "/api/v1/incidents/"+id, nil); r.Status != http.StatusNotFound {
				t.Fatalf("a refused forward widened the incident: %d", r.Status)
			}
			if _, err := h.App.Agreements.Propose(ctx, op, h.Orgs["sme"], agreements.Input{Kind: "bilateral", Partner: h.Orgs["nord"],
				Categories: []string{"incident"}, MaxTLP: "AMBER", RetentionDays: 90, Purpose: "incident reports"}); err != nil {
				t.Fatal(err)
			}
			if r := h.API(t, cert, http.MethodPost, "/api/v1/cert-inbox/"+req.ID, map[string]any{"action": "forward", "to": h.Orgs["nord"], "reason": "Zuständig ist Nord"}); r.Status != http.StatusOK {
				t.Fatalf("forward: %d %s", r.Status, r.Body)
			}
			var inbox struct{ Items []struct{ ID, Status string } }
			h.API(t, h.Users["nord.analyst"].ReadToken, http.MethodGet, "/api/v1/cert-inbox", nil).JSON(t, &inbox)
			if len(inbox.Items) != 1 {
				t.Fatalf("CERT Nord's inbox: %+v", inbox)
			}
			if r := h.API(t, h.Users["nord.analyst"].WriteToken, http.MethodPost, "/api/v1/cert-inbox/"+inbox.Items[0].ID, map[string]any{"action": "accept"}); r.Status != http.StatusOK {
				t.Fatalf("accept: %d %s", r.Status, r.Body)
			}
			// The coordinator invites; the CERT that forwarded does not.
			if r := h.API(t, h.Users["nord.analyst"].WriteToken, http.MethodPost, "/api/v1/incidents/"+id+"/participants", map[string]any{"org_id": h.Orgs["cloud"], "role": "affected"}); r.Status != http.StatusCreated {
				t.Errorf("the coordinator invites: %d %s", r.Status, r.Body)
			}
			// The CERT that forwarded left the incident with the request
			// (it was only named for it): it neither invites nor reads.
			if r := h.API(t, cert, http.MethodPost, "/api/v1/incidents/"+id+"/participants", map[string]any{"org_id": h.Orgs["nocontract"], "role": "affected"}); r.Status != http.StatusNotFound {
				t.Errorf("the forwarding CERT invites: %d %s", r.Status, r.Body)
			}
			if r := h.API(t, cert, http.MethodGet, "/api/v1/incidents/"+id, nil); r.Status != http.StatusNotFound {
				t.Errorf("the forwarding CERT still reads the incident: %d", r.Status)
			}
			recs := auditRecords(t, h, "sme.admin")
			found := false
			for _, rec := range recs {
				if rec.Action == "incident.participant.invite" && strings.Contains(string(rec.Detail), h.Orgs["sme"]) {
					found = true
				}
			}
			if !found {
				t.Errorf("the owner's audit trail does not show the invitation in its name")
			}
		})
	}
}

// TestIncidentLinks: an incident links threat intelligence its reporter
// may see (else 400, alike for hidden and missing objects), and each
// reader of the incident is shown only the links to objects they may see.
func TestIncidentLinks(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.WorldCovering(t, e)
			bundle := func(n, ip string) string {
				return `{"type":"bundle","id":"bundle--77777777-0000-4000-8000-00000000000` + n + `","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--77777777-0000-4000-8000-00000000000` + n +
					`","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"c2 ` + n + `","pattern":"[ipv4-addr:value = '` + ip + `']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}`
			}
			circle := importAs(t, h, "cert.analyst", "community="+h.Circle+"&tlp=AMBER", bundle("1", "203.0.113.71"), "indicator--77777777-0000-4000-8000-000000000001")
			hidden := importAs(t, h, "cloud.analyst", "tlp=AMBER", bundle("2", "203.0.113.72"), "indicator--77777777-0000-4000-8000-000000000002")
			tok := h.Users["sme.analyst"].WriteToken
			base := map[string]any{"title": "C2-Verkehr", "category": "malware", "severity": "high", "tlp": "CLEAR", "audience": "org"}
			base["links"] = []map[string]any{{"type": "intel", "id": hidden}}
			if r := h.API(t, tok, http.MethodPost, "/api/v1/incidents", base); r.Status != http.StatusBadRequest || r.ErrorCode() != "incident_link_unknown" {
				t.Errorf("a link to intelligence sme cannot see: %d %s", r.Status, r.Body)
			}
			base["links"] = []map[string]any{{"type": "intel", "id": circle}}
			r := h.API(t, tok, http.MethodPost, "/api/v1/incidents", base)
			var inc struct{ ID string }
			r.JSON(t, &inc)
			if r.Status != http.StatusCreated {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
			for user, want := range map[string]int{"sme.analyst": 1, "cloud.analyst": 1, "outsider.admin": 0} {
				var got struct{ Links []struct{ ID, URL string } }
				h.API(t, h.Users[user].ReadToken, http.MethodGet, "/api/v1/incidents/"+inc.ID, nil).JSON(t, &got)
				if len(got.Links) != want {
					t.Errorf("%s sees %d links of the CLEAR incident, want %d", user, len(got.Links), want)
				}
			}
		})
	}
}
