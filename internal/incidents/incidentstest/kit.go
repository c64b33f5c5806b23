// Package incidentstest describes the incidents capability to the
// hub-wide tests (internal/app): the authorization matrix rows of its
// routes and its shareable kinds (incidents, their timeline entries,
// tasks and evidence files) for the leak harness, the CERT inbox,
// evidence downloads and search included.
package incidentstest

import (
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/incidents"
	"verbund/internal/playbooks/playbookstest"
	"verbund/internal/policy"
)

// Kit is the incidents capability's kit.
func Kit() apptest.Kit {
	return apptest.Kit{Name: "incidents", Setup: setup, Rows: rows(),
		Kinds: []apptest.LeakKind{incidentKind(), entryKind(), taskKind(), evidenceKind()}}
}

// NewIncident creates an incident of sme.analyst with sharing s.
func NewIncident(t testing.TB, h *apptest.Hub, title string, s policy.Sharing, nis2 bool) string {
	inc, err := h.App.Incidents.CreateIncident(context.Background(), h.Users["sme.analyst"].Actor, incidents.NewIncident{
		Title: title, Description: "Text of " + title, Category: "malware", Severity: "high", NIS2: nis2, Sharing: s})
	if err != nil {
		t.Fatal(err)
	}
	return inc.ID
}

func circle(h *apptest.Hub) policy.Sharing {
	return policy.Sharing{TLP: "AMBER", Audience: "community", Community: h.Circle}
}

func own() policy.Sharing { return policy.Sharing{TLP: "AMBER", Audience: "org"} }

func task(t testing.TB, h *apptest.Hub, incident string) string {
	tk, err := h.App.Incidents.CreateTask(context.Background(), h.Users["sme.analyst"].Actor, incident, incidents.NewTask{Title: "task", AssigneeOrg: h.Orgs["sme"]})
	if err != nil {
		t.Fatal(err)
	}
	return tk.ID
}

func evidence(t testing.TB, h *apptest.Hub, incident, name, content string, s policy.Sharing) string {
	ev, err := h.App.Incidents.AddEvidence(context.Background(), h.Users["sme.analyst"].Actor, incident, name, "text/plain", s, strings.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	return ev.ID
}

// invited is a fresh incident of sme's own org to which cert is invited
// (cert's people may acknowledge it).
func invited(t *testing.T, f *apptest.Fixture) string {
	h := f.Hub
	id := NewIncident(t, h, "invited "+f.Uniq(), own(), false)
	if _, err := h.App.Incidents.InviteParticipant(context.Background(), h.Users["sme.analyst"].Actor, id, incidents.Invitation{OrgID: h.Orgs["cert"], Role: "responder", AckMinutes: 30}); err != nil {
		t.Fatal(err)
	}
	return id
}

// request is a fresh request for cert's assistance.
func request(t *testing.T, f *apptest.Fixture) string {
	h := f.Hub
	id := NewIncident(t, h, "help "+f.Uniq(), own(), false)
	as, err := h.App.Incidents.RequestAssistance(context.Background(), h.Users["sme.analyst"].Actor, id, incidents.AssistanceRequest{CertOrg: h.Orgs["cert"]})
	if err != nil {
		t.Fatal(err)
	}
	return as.ID
}

// setup makes the matrix's objects: an AMBER circle incident of
// sme.analyst ({incident}) with a task, a comment and a file
// ({evidence}), and a playbook sme shares in the circle ({runbook}) run
// in it.
func setup(t *testing.T, f *apptest.Fixture) {
	h := f.Hub
	f.IDs["incident"] = NewIncident(t, h, "incident "+f.Uniq(), circle(h), true)
	status, rep := playbookstest.Import(t, h, h.Users["sme.analyst"], playbookstest.Document(playbookstest.ID("playbook"), "Runbook "+f.Uniq(), "run", "2026-01-06T09:00:00.000Z", ""), circle(h))
	if status != http.StatusOK || rep.Accepted != 1 {
		t.Fatalf("import the runbook: %d %+v", status, rep)
	}
	f.IDs["runbook"] = rep.Items[0].ID
	if _, err := h.App.Incidents.StartRun(context.Background(), h.Users["sme.analyst"].Actor, f.IDs["incident"], incidents.NewRun{PlaybookID: f.IDs["runbook"]}); err != nil {
		t.Fatal(err)
	}
	f.IDs["evidence"] = evidence(t, h, f.IDs["incident"], "log.txt", "log", policy.Sharing{})
	task(t, h, f.IDs["incident"])
	if _, err := h.App.Incidents.CreateComment(context.Background(), h.Users["sme.analyst"].Actor, f.IDs["incident"], incidents.NewComment{Body: "first"}); err != nil {
		t.Fatal(err)
	}
}

// upload is a multipart body with a file part.
func upload(name, content string) apptest.Raw {
	var b strings.Builder
	w := multipart.NewWriter(&b)
	fw, _ := w.CreateFormFile("file", name)
	_, _ = fw.Write([]byte(content))
	_ = w.Close()
	return apptest.Raw{ContentType: w.FormDataContentType(), Body: b.String()}
}

func rows() map[string]apptest.Row {
	const (
		objPage = "anon=303 nocontract=404 outsider=404 *=200" // the AMBER circle incident
		objAPI  = "anon=401 nocontract=404 outsider=404 *=200"
		writer  = apptest.WriterOnly
	)
	owned := writer + " partner=403 coord=403 nocontract=404 outsider=404"
	participant := writer + " partner=403 coord=403 nocontract=404 outsider=404" // cert sees the circle incident but takes no part
	ownOnly := writer + " partner=404 coord=404 nocontract=404 outsider=404"     // an incident of sme's org alone
	certOnly := writer + " analyst=404 admin=404 nocontract=404 outsider=404"    // a request in cert's inbox
	ack := writer + " analyst=409 admin=409 nocontract=404 outsider=404"         // cert was invited, sme reported it
	w, get, send, form := apptest.W, apptest.Get, apptest.Send, apptest.Form
	freshCircle := func(t *testing.T, f *apptest.Fixture) string {
		return NewIncident(t, f.Hub, "fresh "+f.Uniq(), circle(f.Hub), true)
	}
	freshOwn := func(t *testing.T, f *apptest.Fixture) string {
		return NewIncident(t, f.Hub, "own "+f.Uniq(), own(), false)
	}
	freshTask := func(t *testing.T, f *apptest.Fixture) string { return task(t, f.Hub, f.IDs["incident"]) }
	// freshRun runs {runbook} in a fresh circle incident and names the
	// path of its decision's route (decision or skip).
	freshRun := func(prefix, action string) func(t *testing.T, f *apptest.Fixture) (string, any) {
		return func(t *testing.T, f *apptest.Fixture) (string, any) {
			run, err := f.Hub.App.Incidents.StartRun(context.Background(), f.Hub.Users["sme.analyst"].Actor, freshCircle(t, f), incidents.NewRun{PlaybookID: f.IDs["runbook"]})
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(run.Steps, func(s incidents.RunStep) bool { return s.Kind == "decision" })
			if i < 0 {
				t.Fatalf("no decision in %+v", run.Steps)
			}
			path := prefix + "/playbook-runs/" + run.ID + "/steps/" + run.Steps[i].StepID + "/" + action
			switch {
			case prefix == "" && action == "decision":
				return path, form("answer", "yes")
			case prefix == "":
				return path, form("reason", "not needed")
			case action == "decision":
				return path, map[string]any{"answer": "no"}
			}
			return path, map[string]any{"reason": "not needed"}
		}
	}
	startRun := func(prefix string, body func(f *apptest.Fixture) any) func(t *testing.T, f *apptest.Fixture) (string, any) {
		return func(t *testing.T, f *apptest.Fixture) (string, any) {
			return prefix + "/incidents/" + freshCircle(t, f) + "/playbook-runs", body(f)
		}
	}
	incident := map[string]any{"title": "Ransomware", "description": "Files encrypted", "category": "malware", "severity": "critical", "tlp": "AMBER", "audience": "org"}
	return map[string]apptest.Row{
		"GET /incidents":                      {Req: apptest.Static("/incidents?status=reported&severity=high"), Want: w(apptest.PageRead)},
		"GET /incidents/new":                  {Req: apptest.Static("/incidents/new"), Want: w(apptest.PageRead)},
		"GET /incidents/recipients":           {Req: apptest.Static("/incidents/recipients?tlp=AMBER&audience=org"), Want: w(apptest.PageRead)},
		"GET /incidents/figures":              {Req: apptest.Static("/incidents/figures"), Want: w(apptest.PageRead)},
		"GET /incidents/inbox":                {Req: apptest.Static("/incidents/inbox?status=all"), Want: w(apptest.PageRead)},
		"GET /incidents/{id}":                 {Req: get("/incidents/{incident}"), Want: w(objPage)},
		"GET /incidents/{id}/draft":           {Req: get("/incidents/{incident}/draft?report=de"), Want: w(objPage)},
		"GET /incidents/{id}/evidence/{file}": {Req: get("/incidents/{incident}/evidence/{evidence}"), Want: w(objPage)},
		"GET /incidents/{id}/edit":            {Req: get("/incidents/{incident}/edit"), Want: w(objPage)},
		"POST /incidents/{id}/edit": {Req: func(t *testing.T, f *apptest.Fixture) (string, any) {
			return "/incidents/" + freshCircle(t, f) + "/edit", form("title", "renamed", "description", "d", "category", "malware", "severity", "high",
				"tlp", "AMBER", "audience", "community", "community_id", f.Hub.Circle)
		}, Want: w(owned + " *=303")},
		"POST /incidents/{id}/delete":   {Req: apptest.Fresh(freshCircle, "/incidents/{new}/delete", nil), Want: w(owned + " *=303")},
		"POST /incidents":               {Req: send("/incidents", form("title", "x", "category", "phishing", "severity", "low", "tlp", "AMBER", "audience", "org")), Want: w(writer + " *=303")},
		"POST /incidents/{id}/status":   {Req: apptest.Fresh(freshCircle, "/incidents/{new}/status", form("status", "acknowledged")), Want: w(owned + " *=303")},
		"POST /incidents/{id}/comments": {Req: send("/incidents/{incident}/comments", form("body", "a remark")), Want: w(writer + " nocontract=404 outsider=404 *=303")},
		"POST /incidents/{id}/participants": {Req: func(t *testing.T, f *apptest.Fixture) (string, any) {
			return "/incidents/" + freshOwn(t, f) + "/participants", form("org_id", f.Hub.Orgs["cloud"], "role", "responder", "ack_minutes", "30")
		}, Want: w(ownOnly + " *=303")},
		"POST /incidents/{id}/acknowledge": {Req: apptest.Fresh(invited, "/incidents/{new}/acknowledge", nil), Want: w(ack + " *=303")},
		"POST /incidents/{id}/assistance": {Req: func(t *testing.T, f *apptest.Fixture) (string, any) {
			return "/incidents/" + freshOwn(t, f) + "/assistance", form("cert_org", f.Hub.Orgs["cert"])
		}, Want: w(ownOnly + " *=303")},
		"POST /incidents/{id}/tasks":     {Req: send("/incidents/{incident}/tasks", form("title", "isolate", "assignee", "o:{sme}")), Want: w(participant + " *=303")},
		"POST /incident-tasks/{id}/done": {Req: apptest.Fresh(freshTask, "/incident-tasks/{new}/done", form("done", "1")), Want: w(participant + " *=303")},
		"POST /incidents/{id}/evidence": {Req: func(t *testing.T, f *apptest.Fixture) (string, any) {
			return "/incidents/" + f.IDs["incident"] + "/evidence", upload("page.txt", "x")
		}, Want: w(participant + " *=303")},
		"POST /incidents/{id}/clocks/{clock}":     {Req: apptest.Fresh(freshCircle, "/incidents/{new}/clocks/nis2_early_warning", nil), Want: w(owned + " *=303")},
		"POST /incident-requests/{id}":            {Req: apptest.Fresh(request, "/incident-requests/{new}", form("action", "accept")), Want: w(certOnly + " *=303")},
		"GET /api/v1/incidents":                   {Req: apptest.Static("/api/v1/incidents?category=malware"), Want: w(apptest.APIRead)},
		"POST /api/v1/incidents":                  {Req: send("/api/v1/incidents", incident), Want: w(writer + " *=201")},
		"GET /api/v1/incidents/{id}":              {Req: get("/api/v1/incidents/{incident}"), Want: w(objAPI)},
		"PATCH /api/v1/incidents/{id}":            {Req: apptest.Fresh(freshCircle, "/api/v1/incidents/{new}", map[string]any{"title": "renamed"}), Want: w(owned + " *=200")},
		"DELETE /api/v1/incidents/{id}":           {Req: apptest.Fresh(freshCircle, "/api/v1/incidents/{new}", nil), Want: w(owned + " *=204")},
		"GET /api/v1/incidents/{id}/timeline":     {Req: get("/api/v1/incidents/{incident}/timeline"), Want: w(objAPI)},
		"POST /api/v1/incidents/{id}/comments":    {Req: send("/api/v1/incidents/{incident}/comments", map[string]any{"body": "a remark"}), Want: w(writer + " nocontract=404 outsider=404 *=201")},
		"GET /api/v1/incidents/{id}/participants": {Req: get("/api/v1/incidents/{incident}/participants"), Want: w(objAPI)},
		"POST /api/v1/incidents/{id}/participants": {Req: func(t *testing.T, f *apptest.Fixture) (string, any) {
			return "/api/v1/incidents/" + freshOwn(t, f) + "/participants", map[string]any{"org_id": f.Hub.Orgs["cloud"], "role": "affected"}
		}, Want: w(ownOnly + " *=201")},
		"POST /api/v1/incidents/{id}/acknowledge":    {Req: apptest.Fresh(invited, "/api/v1/incidents/{new}/acknowledge", nil), Want: w(ack + " *=200")},
		"GET /api/v1/incidents/{id}/tasks":           {Req: get("/api/v1/incidents/{incident}/tasks"), Want: w(objAPI)},
		"POST /api/v1/incidents/{id}/tasks":          {Req: send("/api/v1/incidents/{incident}/tasks", map[string]any{"title": "patch", "assignee_org": "{sme}"}), Want: w(participant + " *=201")},
		"PUT /api/v1/incident-tasks/{id}/done":       {Req: apptest.Fresh(freshTask, "/api/v1/incident-tasks/{new}/done", nil), Want: w(participant + " *=200")},
		"DELETE /api/v1/incident-tasks/{id}/done":    {Req: apptest.Fresh(freshTask, "/api/v1/incident-tasks/{new}/done", nil), Want: w(participant + " *=200")},
		"GET /api/v1/incidents/{id}/evidence":        {Req: get("/api/v1/incidents/{incident}/evidence"), Want: w(objAPI)},
		"GET /api/v1/incidents/{id}/evidence/{file}": {Req: get("/api/v1/incidents/{incident}/evidence/{evidence}"), Want: w(objAPI)},
		"GET /api/v1/incidents/{id}/clocks":          {Req: get("/api/v1/incidents/{incident}/clocks"), Want: w(objAPI)},
		"PUT /api/v1/incidents/{id}/clocks/{clock}":  {Req: apptest.Fresh(freshCircle, "/api/v1/incidents/{new}/clocks/nis2_notification", nil), Want: w(owned + " *=200")},
		"GET /api/v1/incidents/{id}/draft":           {Req: get("/api/v1/incidents/{incident}/draft?lang=en"), Want: w(objAPI)},
		"POST /api/v1/incidents/{id}/assistance": {Req: func(t *testing.T, f *apptest.Fixture) (string, any) {
			return "/api/v1/incidents/" + freshOwn(t, f) + "/assistance", map[string]any{"cert_org": f.Hub.Orgs["cert"]}
		}, Want: w(ownOnly + " *=201")},
		"GET /api/v1/cert-inbox":                   {Req: apptest.Static("/api/v1/cert-inbox?status=all"), Want: w(apptest.APIRead)},
		"POST /api/v1/cert-inbox/{id}":             {Req: apptest.Fresh(request, "/api/v1/cert-inbox/{new}", map[string]any{"action": "decline", "reason": "not ours"}), Want: w(certOnly + " *=200")},
		"GET /api/v1/incident-figures":             {Req: apptest.Static("/api/v1/incident-figures"), Want: w(apptest.APIRead)},
		"GET /api/v1/incidents/{id}/playbook-runs": {Req: get("/api/v1/incidents/{incident}/playbook-runs"), Want: w(objAPI)},
		"POST /api/v1/incidents/{id}/playbook-runs": {Req: startRun("/api/v1", func(f *apptest.Fixture) any { return map[string]any{"playbook_id": f.IDs["runbook"]} }),
			Want: w(participant + " *=201")},
		"POST /incidents/{id}/playbook-runs": {Req: startRun("", func(f *apptest.Fixture) any { return form("playbook_id", f.IDs["runbook"]) }),
			Want: w(participant + " *=303")},
		"POST /api/v1/playbook-runs/{run}/steps/{step}/decision": {Req: freshRun("/api/v1", "decision"), Want: w(participant + " *=200")},
		"POST /api/v1/playbook-runs/{run}/steps/{step}/skip":     {Req: freshRun("/api/v1", "skip"), Want: w(participant + " *=200")},
		"POST /playbook-runs/{run}/steps/{step}/decision":        {Req: freshRun("", "decision"), Want: w(participant + " *=303")},
		"POST /playbook-runs/{run}/steps/{step}/skip":            {Req: freshRun("", "skip"), Want: w(participant + " *=303")},
		"POST /api/v1/incidents/{id}/evidence": {Req: func(t *testing.T, f *apptest.Fixture) (string, any) {
			return "/api/v1/incidents/" + f.IDs["incident"] + "/evidence", upload("api.txt", "from the API")
		}, Want: w(participant + " *=201")},
	}
}

// leakState is what the harness's incidents carry: each its file, and
// the carrier incident contributions go to.
type leakState struct {
	file    map[string]string // incident → its evidence file
	carrier string
}

func state(c *apptest.LeakCase) *leakState { return c.State.(*leakState) }

func sharingBody(s policy.Sharing, m map[string]any) map[string]any {
	m["tlp"], m["audience"], m["community_id"], m["orgs"], m["people"] = s.TLP, s.Audience, s.Community, s.Orgs, s.People
	return m
}

// create reports an incident as sme.analyst through the API with sharing
// s and the marker in title and description.
func create(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
	h := c.Hub
	body := sharingBody(s, map[string]any{"title": "incident " + marker, "description": "Description " + marker, "category": "malware", "severity": "high", "nis2": true})
	r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/incidents", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create incident %s: %d %s", marker, r.Status, r.Body)
	}
	var a struct{ ID string }
	r.JSON(t, &a)
	return a.ID
}

func detail(route, path string) apptest.Path {
	return apptest.Path{Route: route, Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
		apptest.ExpectDetail(t, c, r, path, objs)
	}}
}

func page(route, path, what string, exact bool) apptest.Path {
	return apptest.Path{Route: route, Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
		_, p := apptest.Page(t, c, r, path)
		apptest.ExpectMarkers(t, what, r, p, objs, exact)
	}}
}

func incidentKind() apptest.LeakKind {
	return apptest.LeakKind{
		Kind:  "incident",
		Setup: func(testing.TB, *apptest.LeakCase) any { return &leakState{file: map[string]string{}} },
		Create: func(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
			id := create(t, c, s, marker)
			state(c).file[id] = evidence(t, c.Hub, id, marker+".txt", "file of "+marker, policy.Sharing{})
			// A request for cert's assistance of every incident, whoever
			// may see it: the inbox must show only those cert may see.
			err := c.Hub.App.DB.Tx(dbtest.Unaudited(context.Background()), func(tx *db.Tx) error {
				_, err := tx.Exec(context.Background(), `INSERT INTO incident_assistance (id, incident_id, from_org, cert_org, message, status, created_at, created_by) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`,
					id, id, c.Hub.Orgs["sme"], c.Hub.Orgs["cert"], "help "+marker, db.Now(), c.Hub.Users["sme.analyst"].ID)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return id
		},
		Streamed: true,
		Touch: func(t testing.TB, c *apptest.LeakCase, o apptest.LeakObject) {
			h := c.Hub
			r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPatch, "/api/v1/incidents/"+o.ID, map[string]any{"description": fmt.Sprintf("Edited %s %d", o.Marker, time.Now().UnixNano())})
			if r.Status != http.StatusOK {
				t.Fatalf("edit %s: %d %s", o.Marker, r.Status, r.Body)
			}
		},
		Paths: append([]apptest.Path{
			detail("GET /api/v1/incidents/{id}", "/api/v1/incidents/%s"),
			detail("GET /api/v1/incidents/{id}/timeline", "/api/v1/incidents/%s/timeline"),
			detail("GET /api/v1/incidents/{id}/participants", "/api/v1/incidents/%s/participants"),
			detail("GET /api/v1/incidents/{id}/tasks", "/api/v1/incidents/%s/tasks"),
			detail("GET /api/v1/incidents/{id}/playbook-runs", "/api/v1/incidents/%s/playbook-runs"),
			detail("GET /api/v1/incidents/{id}/evidence", "/api/v1/incidents/%s/evidence"),
			detail("GET /api/v1/incidents/{id}/clocks", "/api/v1/incidents/%s/clocks"),
			detail("GET /api/v1/incidents/{id}/draft", "/api/v1/incidents/%s/draft"),
			detail("GET /incidents/{id}", "/incidents/%s"),
			detail("GET /incidents/{id}/draft", "/incidents/%s/draft"),
			detail("GET /incidents/{id}/edit", "/incidents/%s/edit"),
			download("GET /api/v1/incidents/{id}/evidence/{file}", "/api/v1/incidents/%s/evidence/%s", func(c *apptest.LeakCase, o apptest.LeakObject) (string, string) { return o.ID, state(c).file[o.ID] }),
			download("GET /incidents/{id}/evidence/{file}", "/incidents/%s/evidence/%s", func(c *apptest.LeakCase, o apptest.LeakObject) (string, string) { return o.ID, state(c).file[o.ID] }),
			{Route: "GET /api/v1/incidents", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "the incident list", r, apptest.ListIDs(t, c, r, "/api/v1/incidents?limit=3"), objs)
			}},
			{Route: "GET /incidents", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, p := apptest.Page(t, c, r, "/incidents")
				apptest.ExpectIDs(t, "the incident list page", r, htmlIDs(p, "incident-"), objs)
				apptest.ExpectMarkers(t, "the incident list page", r, p, objs, true)
			}},
			{Route: "GET /api/v1/incident-figures", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				resp := c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/incident-figures", nil)
				apptest.ExpectMarkers(t, "the figures", r, string(resp.Body), objs, true)
			}},
			page("GET /incidents/figures", "/incidents/figures", "the figures page", true),
			{Route: "GET /api/v1/cert-inbox", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				got := apptest.ListIDs(t, c, r, "/api/v1/cert-inbox?status=all")
				if strings.HasPrefix(r.Key, "cert.") {
					apptest.ExpectIDs(t, "the CERT inbox", r, got, objs)
					return
				}
				for _, o := range objs {
					if slices.Contains(got, o.ID) {
						t.Errorf("LEAK on the CERT inbox: %s sees %s", r.Key, o.Envelope)
					}
				}
			}},
			{Route: "GET /incidents/inbox", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, p := apptest.Page(t, c, r, "/incidents/inbox?status=all")
				apptest.ExpectMarkers(t, "the CERT inbox page", r, p, objs, strings.HasPrefix(r.Key, "cert."))
			}},
			{Route: "GET /audit", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				status, p := apptest.Page(t, c, r, "/audit")
				if status == http.StatusForbidden {
					return
				}
				apptest.ExpectMarkers(t, "the audit page", r, p, objs, false)
				for _, o := range objs {
					if !o.Visible && strings.Contains(p, `href="/incidents/`+o.ID) {
						t.Errorf("LEAK on the audit page: %s gets a link to %s", r.Key, o.Envelope)
					}
				}
			}},
		}, apptest.SearchPaths("incident", nil)...),
	}
}

// carrier is a TLP:CLEAR incident of the circle that contributions of
// every envelope may go to.
func carrier(t testing.TB, c *apptest.LeakCase) any {
	return &leakState{carrier: create(t, c, policy.Sharing{TLP: "CLEAR", Audience: "community", Community: c.Hub.Circle}, "carrier"), file: map[string]string{}}
}

func entryKind() apptest.LeakKind {
	return apptest.LeakKind{
		Kind:     "incident_entry",
		Setup:    carrier,
		Streamed: true,
		Create: func(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
			h := c.Hub
			r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/incidents/"+state(c).carrier+"/comments", sharingBody(s, map[string]any{"body": "comment " + marker}))
			if r.Status != http.StatusCreated {
				t.Fatalf("comment %s: %d %s", marker, r.Status, r.Body)
			}
			var out struct{ ID string }
			r.JSON(t, &out)
			return out.ID
		},
		Paths: []apptest.Path{
			{Route: "GET /api/v1/incidents/{id}/timeline", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				got := apptest.ListIDs(t, c, r, "/api/v1/incidents/"+state(c).carrier+"/timeline")
				apptest.ExpectIDs(t, "the timeline", r, onlyOf(got, objs), objs)
			}},
			{Route: "GET /incidents/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, p := apptest.Page(t, c, r, "/incidents/"+state(c).carrier)
				apptest.ExpectIDs(t, "the incident page's timeline", r, onlyOf(htmlIDs(p, "entry-"), objs), objs)
				apptest.ExpectMarkers(t, "the incident page", r, p, objs, true)
			}},
			{Route: "GET /audit", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				status, p := apptest.Page(t, c, r, "/audit")
				if status != http.StatusForbidden {
					apptest.ExpectMarkers(t, "the audit page", r, p, objs, false)
				}
			}},
		},
	}
}

func taskKind() apptest.LeakKind {
	return apptest.LeakKind{
		Kind:     "incident_task",
		Setup:    carrier,
		Streamed: true,
		Create: func(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
			h := c.Hub
			r := h.API(t, h.Users["sme.analyst"].WriteToken, http.MethodPost, "/api/v1/incidents/"+state(c).carrier+"/tasks", sharingBody(s, map[string]any{"title": "task " + marker}))
			if r.Status != http.StatusCreated {
				t.Fatalf("task %s: %d %s", marker, r.Status, r.Body)
			}
			var out struct{ ID string }
			r.JSON(t, &out)
			return out.ID
		},
		Paths: []apptest.Path{
			{Route: "GET /api/v1/incidents/{id}/tasks", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "the tasks", r, apptest.ListIDs(t, c, r, "/api/v1/incidents/"+state(c).carrier+"/tasks"), objs)
			}},
			{Route: "GET /incidents/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, p := apptest.Page(t, c, r, "/incidents/"+state(c).carrier)
				apptest.ExpectIDs(t, "the incident page's tasks", r, htmlIDs(p, "task-"), objs)
				apptest.ExpectMarkers(t, "the incident page", r, p, objs, true)
			}},
			{Route: "GET /api/v1/incidents/{id}/draft", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				resp := c.Hub.API(t, r.ReadToken, http.MethodGet, "/api/v1/incidents/"+state(c).carrier+"/draft", nil)
				apptest.ExpectMarkers(t, "the report draft", r, string(resp.Body), objs, true)
			}},
			{Route: "GET /incidents/{id}/draft", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, p := apptest.Page(t, c, r, "/incidents/"+state(c).carrier+"/draft")
				apptest.ExpectMarkers(t, "the report draft page", r, p, objs, true)
			}},
			{Route: "GET /audit", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				status, p := apptest.Page(t, c, r, "/audit")
				if status != http.StatusForbidden {
					apptest.ExpectMarkers(t, "the audit page", r, p, objs, false)
				}
			}},
		},
	}
}

func evidenceKind() apptest.LeakKind {
	return apptest.LeakKind{
		Kind:     "incident_evidence",
		Setup:    carrier,
		Streamed: true,
		Create: func(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
			return evidence(t, c.Hub, state(c).carrier, marker+".txt", "file of "+marker, s)
		},
		Paths: []apptest.Path{
			{Route: "GET /api/v1/incidents/{id}/evidence", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "the evidence list", r, apptest.ListIDs(t, c, r, "/api/v1/incidents/"+state(c).carrier+"/evidence"), objs)
			}},
			{Route: "GET /incidents/{id}", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, p := apptest.Page(t, c, r, "/incidents/"+state(c).carrier)
				apptest.ExpectIDs(t, "the incident page's evidence", r, htmlIDs(p, "evidence-"), objs)
				apptest.ExpectMarkers(t, "the incident page", r, p, objs, true)
			}},
			download("GET /api/v1/incidents/{id}/evidence/{file}", "/api/v1/incidents/%s/evidence/%s", inCarrier),
			download("GET /incidents/{id}/evidence/{file}", "/incidents/%s/evidence/%s", inCarrier),
			{Route: "GET /audit", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				status, p := apptest.Page(t, c, r, "/audit")
				if status != http.StatusForbidden {
					apptest.ExpectMarkers(t, "the audit page", r, p, objs, false)
				}
			}},
		},
	}
}

// download checks that a file is served as a download to those who may
// see it, and to nobody else (which returns the incident and file ids).
func download(route, path string, which func(c *apptest.LeakCase, o apptest.LeakObject) (string, string)) apptest.Path {
	return apptest.Path{Route: route, Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
		for _, o := range objs {
			inc, file := which(c, o)
			p := fmt.Sprintf(path, inc, file)
			resp := c.Hub.API(t, r.ReadToken, http.MethodGet, p, nil)
			switch {
			case o.Visible && resp.Status != http.StatusOK:
				t.Errorf("GET %s: %s gets %d for %s, want 200", path, r.Key, resp.Status, o.Envelope)
			case o.Visible && (!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
				resp.Header.Get("Content-Type") != "application/octet-stream" || !strings.Contains(string(resp.Body), o.Marker)):
				t.Errorf("GET %s: %s gets %v %q for %s, want the file as a download", path, r.Key, resp.Header, resp.Body, o.Envelope)
			case !o.Visible && resp.Status != http.StatusNotFound:
				t.Errorf("LEAK on GET %s: %s gets %d for %s, want 404", path, r.Key, resp.Status, o.Envelope)
			case !o.Visible && strings.Contains(string(resp.Body), o.Marker):
				t.Errorf("LEAK on GET %s: %s gets the content of %s", path, r.Key, o.Envelope)
			}
		}
	}}
}

func inCarrier(c *apptest.LeakCase, o apptest.LeakObject) (string, string) {
	return state(c).carrier, o.ID
}

// onlyOf keeps the ids of objs among got (a timeline holds entries the
// harness did not make: the carrier's own).
func onlyOf(got []string, objs []apptest.LeakObject) []string {
	var out []string
	for _, id := range got {
		if slices.ContainsFunc(objs, func(o apptest.LeakObject) bool { return o.ID == id }) {
			out = append(out, id)
		}
	}
	return out
}

// htmlIDs lists the ids of elements id="<prefix><id>" in a page.
func htmlIDs(page, prefix string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`id="`+regexp.QuoteMeta(prefix)+`([0-9a-f-]{36})"`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}
