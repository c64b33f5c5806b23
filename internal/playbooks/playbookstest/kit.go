// Package playbookstest describes the playbooks capability to the
// hub-wide tests (internal/app): the authorization matrix rows of its
// routes, its shareable kind for the leak harness, and small CACAO 2.0
// playbooks to import.
package playbookstest

import (
	"context"
	"crypto/rand"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/incidents"
	"verbund/internal/policy"
)

// Kit is the playbooks capability's kit.
func Kit() apptest.Kit {
	return apptest.Kit{Name: "playbooks", Setup: setup, Rows: rows(), Kinds: []apptest.LeakKind{playbookKind()}}
}

// uuid4 is a random version 4 UUID.
func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ID is a new CACAO id of the given type ("playbook", "action", …).
func ID(typ string) string { return typ + "--" + uuid4() }

// Document is a small valid CACAO 2.0 playbook of manual steps: isolate
// (by the organisation), a decision whether backups are intact (restore
// by the provider, or rebuild) and an end. word goes into its name and
// its first step's command (what the search finds); modified is its
// version's timestamp; tlp is the TLP:… level of its marking or "" for
// none.
func Document(cacaoID, name, word, modified, tlp string) string {
	start, isolate, decide, restore, rebuild, end1, end2, end3 := ID("start"), ID("action"), ID("if-condition"), ID("action"), ID("action"), ID("end"), ID("end"), ID("end")
	org, prov := ID("organization"), ID("organization")
	marking := ""
	if tlp != "" {
		id := tlpIDs[tlp]
		marking = fmt.Sprintf(`"markings": [%q], "data_marking_definitions": {%q: {"type": "marking-tlp", "id": %q, "created_by": "identity--%s", "created": "2022-10-01T00:00:00.000Z", "tlpv2_level": %q}},`,
			id, id, id, uuid4(), tlp)
	}
	return fmt.Sprintf(`{
  "type": "playbook",
  "spec_version": "cacao-2.0",
  "id": %q,
  "name": %q,
  "description": "First response to encrypted file servers.",
  "playbook_types": ["remediation"],
  "created_by": "identity--%s",
  "created": "2026-01-05T08:00:00.000Z",
  "modified": %q,
  %s
  "workflow_start": %q,
  "workflow": {
    %q: {"type": "start", "on_completion": %q},
    %q: {"type": "action", "name": "Isolate the servers", "agent": %q, "commands": [{"type": "manual", "command": "Disconnect every server with a ransom note (%s)."}], "on_completion": %q},
    %q: {"type": "if-condition", "name": "Backups intact?", "condition": "[x-backup:status = 'intact']", "on_true": %q, "on_false": %q, "on_completion": %q},
    %q: {"type": "action", "name": "Restore", "agent": %q, "commands": [{"type": "manual", "command": "Restore the last clean snapshot."}], "on_completion": %q},
    %q: {"type": "action", "name": "Rebuild", "agent": %q, "commands": [{"type": "manual", "command": "Rebuild from installation media."}], "on_completion": %q},
    %q: {"type": "end"},
    %q: {"type": "end"},
    %q: {"type": "end"}
  },
  "agent_definitions": {
    %q: {"type": "organization", "name": "The affected business"},
    %q: {"type": "organization", "name": "The cloud provider"}
  },
  "x_example_extension": {"kept": [1.50, "\u00fc"]}
}
`, cacaoID, name, uuid4(), modified, marking, start,
		start, isolate,
		isolate, org, word, decide,
		decide, restore, rebuild, end3,
		restore, prov, end1,
		rebuild, org, end2,
		end1, end2, end3,
		org, prov)
}

// tlpIDs are the CACAO TLP markings' ids (the STIX TLP 2.0 UUIDs).
var tlpIDs = map[string]string{
	"TLP:CLEAR":        "marking-tlp--94868c89-83c2-464b-929b-a1a8aa3c8487",
	"TLP:GREEN":        "marking-tlp--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
	"TLP:AMBER":        "marking-tlp--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
	"TLP:AMBER+STRICT": "marking-tlp--939a9414-2ddd-4d32-a0cd-375ea402b003",
	"TLP:RED":          "marking-tlp--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

// Report is the import report as the API answers it.
type Report struct {
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	Items    []struct {
		File    string `json:"file"`
		ID      string `json:"id"`
		CACAOID string `json:"cacao_id"`
		Error   string `json:"error"`
		Code    string `json:"code"`
		// Problems is every problem of a refused document.
		Problems []struct {
			Code    string `json:"code"`
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"problems"`
	} `json:"items"`
}

// Import posts a document through the API as u (its write token) with
// the sharing s and returns the report.
func Import(t testing.TB, h *apptest.Hub, u *apptest.User, doc string, s policy.Sharing) (int, Report) {
	t.Helper()
	q := url.Values{}
	if s.TLP != "" {
		q.Set("tlp", s.TLP)
	}
	if s.Audience != "" {
		q.Set("audience", s.Audience)
	}
	if s.Community != "" {
		q.Set("community_id", s.Community)
	}
	for _, o := range s.Orgs {
		q.Add("orgs", o)
	}
	for _, p := range s.People {
		q.Add("people", p)
	}
	r := h.API(t, u.WriteToken, http.MethodPost, "/api/v1/playbooks?"+q.Encode(), doc)
	var rep Report
	r.JSON(t, &rep)
	return r.Status, rep
}

// create imports a playbook as sme.analyst with sharing s and returns its
// id.
func create(t testing.TB, h *apptest.Hub, name, word string, s policy.Sharing) string {
	t.Helper()
	status, rep := Import(t, h, h.Users["sme.analyst"], Document(ID("playbook"), name, word, "2026-01-06T09:00:00.000Z", ""), s)
	if status != http.StatusOK || rep.Accepted != 1 {
		t.Fatalf("import %s: %d %+v", name, status, rep)
	}
	return rep.Items[0].ID
}

// setup makes sme's own AMBER playbook ({playbook}).
func setup(t *testing.T, f *apptest.Fixture) {
	f.IDs["playbook"] = create(t, f.Hub, "Own playbook "+f.Uniq(), "isolate", policy.Sharing{TLP: "AMBER", Audience: "org"})
}

func freshPlaybook(t *testing.T, f *apptest.Fixture) string {
	return create(t, f.Hub, "Fresh playbook "+f.Uniq(), "fresh", policy.Sharing{TLP: "AMBER", Audience: "org"})
}

func upload(doc string) apptest.Raw {
	var b strings.Builder
	w := multipart.NewWriter(&b)
	_ = w.WriteField("tlp", "AMBER")
	fw, _ := w.CreateFormFile("files", "ransomware.json")
	_, _ = fw.Write([]byte(doc))
	_ = w.Close()
	return apptest.Raw{ContentType: w.FormDataContentType(), Body: b.String()}
}

func rows() map[string]apptest.Row {
	w, get, static, send := apptest.W, apptest.Get, apptest.Static, apptest.Send
	writer := apptest.WriterOnly
	owned := writer + " partner=404 coord=404 nocontract=404 outsider=404"
	// One document for every actor: each org that may import gets its own
	// playbook, and the same version again changes nothing.
	doc := Document(ID("playbook"), "Matrix playbook", "matrix", "2026-01-06T09:00:00.000Z", "TLP:AMBER")
	return map[string]apptest.Row{
		"GET /playbooks":        {Req: static("/playbooks?q=isolate"), Want: w(apptest.PageRead)},
		"GET /playbooks/{id}":   {Req: get("/playbooks/{playbook}"), Want: w(apptest.OwnOrgPage)},
		"GET /playbooks/import": {Req: static("/playbooks/import"), Want: w("anon=303 viewer=403 auditor=403 readtok=403 *=200")},
		"GET /playbooks/new":    {Req: static("/playbooks/new"), Want: w("anon=303 viewer=403 auditor=403 readtok=403 *=200")},
		"GET /playbooks/{id}/edit": {Req: get("/playbooks/{playbook}/edit"),
			Want: w("anon=303 viewer=403 auditor=403 readtok=403 partner=404 coord=404 nocontract=404 outsider=404 *=200")},
		"POST /playbooks/{id}/propose": {Req: proposal, Want: w(writer + " partner=404 coord=404 nocontract=404 outsider=404 *=200")},
		// A change of the draft's shape (no save): the form comes back.
		"POST /playbooks/editor":           {Req: send("/playbooks/editor", apptest.Form("op", "add:decision", "name", "Matrix draft", "step.len", "0", "party.len", "0")), Want: w(writer + " *=200")},
		"POST /playbooks/import":           {Req: send("/playbooks/import", upload(doc)), Want: w(writer + " *=200")},
		"POST /playbooks/{id}/delete":      {Req: apptest.Fresh(freshPlaybook, "/playbooks/{new}/delete", nil), Want: w(owned + " *=303")},
		"GET /api/v1/playbooks":            {Req: static("/api/v1/playbooks"), Want: w(apptest.APIRead)},
		"POST /api/v1/playbooks":           {Req: send("/api/v1/playbooks", apptest.Raw{ContentType: "application/json", Body: doc}), Want: w(writer + " *=200")},
		"GET /api/v1/playbooks/{id}":       {Req: get("/api/v1/playbooks/{playbook}"), Want: w(apptest.OwnOrgAPI)},
		"GET /api/v1/playbooks/{id}/cacao": {Req: get("/api/v1/playbooks/{playbook}/cacao"), Want: w(apptest.OwnOrgAPI)},
		"DELETE /api/v1/playbooks/{id}":    {Req: apptest.Fresh(freshPlaybook, "/api/v1/playbooks/{new}", nil), Want: w(owned + " *=204")},
		"PATCH /api/v1/playbooks/{id}": {Req: func(t *testing.T, f *apptest.Fixture) (string, any) {
			return "/api/v1/playbooks/" + freshPlaybook(t, f), map[string]any{"tlp": "AMBER", "audience": "community", "community_id": f.Hub.Circle}
		}, Want: w(owned + " *=200")},
	}
}

func playbookKind() apptest.LeakKind {
	detail := func(route, path string) apptest.Path {
		return apptest.Path{Route: route, Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
			apptest.ExpectDetail(t, c, r, path, objs)
		}}
	}
	return apptest.LeakKind{
		Kind: "playbook",
		Create: func(t testing.TB, c *apptest.LeakCase, s policy.Sharing, marker string) string {
			return create(t, c.Hub, "playbook "+marker, marker, s)
		},
		Streamed: true,
		Paths: append([]apptest.Path{
			detail("GET /api/v1/playbooks/{id}", "/api/v1/playbooks/%s"),
			detail("GET /api/v1/playbooks/{id}/cacao", "/api/v1/playbooks/%s/cacao"),
			detail("GET /playbooks/{id}", "/playbooks/%s"),
			{Route: "GET /playbooks/{id}/edit", Check: editorPath},
			{Route: "GET /incidents/{id}", Check: runChoicesPath},
			{Route: "GET /api/v1/playbooks", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				apptest.ExpectIDs(t, "the playbook list", r, apptest.ListIDs(t, c, r, "/api/v1/playbooks?limit=3"), objs)
				apptest.ExpectIDs(t, "the playbook search", r, apptest.ListIDs(t, c, r, "/api/v1/playbooks?q=leakmark&limit=3"), objs)
			}},
			{Route: "GET /playbooks", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				_, page := apptest.Page(t, c, r, "/playbooks")
				apptest.ExpectMarkers(t, "the library page", r, page, objs, true)
				_, page = apptest.Page(t, c, r, "/playbooks?q=leakmark")
				apptest.ExpectMarkers(t, "the library search", r, page, objs, true)
			}},
			{Route: "GET /audit", Check: func(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
				status, page := apptest.Page(t, c, r, "/audit")
				if status == http.StatusForbidden {
					return
				}
				apptest.ExpectMarkers(t, "the audit page", r, page, objs, false)
				for _, o := range objs {
					if !o.Visible && strings.Contains(page, `href="/playbooks/`+o.ID) {
						t.Errorf("LEAK on the audit page: %s gets a link to %s", r.Key, o.Envelope)
					}
				}
			}},
		}, apptest.SearchPaths("playbook", nil)...),
	}
}

// runChoicesPath: an incident's page offers to start the playbooks its
// reader may see, and no other (the reader reports an incident of its
// own org to see the form).
func runChoicesPath(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
	writer := r.WriteToken != "" && (r.Role == policy.Analyst || r.Role == policy.Admin)
	if !writer {
		return // no form: nothing of a playbook on the page
	}
	inc, err := c.Hub.App.Incidents.CreateIncident(context.Background(), r.Actor, incidents.NewIncident{Title: "Runs of " + r.Key, Category: "malware", Severity: "low",
		Sharing: policy.Sharing{TLP: "AMBER", Audience: "org"}})
	if err != nil {
		t.Fatal(err)
	}
	// The form is for writers: the page is read with the write token.
	res := c.Hub.API(t, r.WriteToken, http.MethodGet, "/incidents/"+inc.ID, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("%s reads its incident: %d", r.Key, res.Status)
	}
	apptest.ExpectMarkers(t, "the incident page's playbooks", r, string(res.Body), objs, true)
}

// proposal is a closed incident of sme's org in which {playbook} ran,
// with its review: the path of the proposal of a new version.
func proposal(t *testing.T, f *apptest.Fixture) (string, any) {
	ctx := context.Background()
	svc, sme := f.Hub.App.Incidents, f.Hub.Users["sme.analyst"].Actor
	inc, err := svc.CreateIncident(ctx, sme, incidents.NewIncident{Title: "Run " + f.Uniq(), Category: "malware", Severity: "low", Sharing: policy.Sharing{TLP: "AMBER", Audience: "org"}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := svc.StartRun(ctx, sme, inc.ID, incidents.NewRun{PlaybookID: f.IDs["playbook"]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SkipStep(ctx, sme, run.ID, run.Steps[0].StepID, "done before"); err != nil {
		t.Fatal(err)
	}
	resolved, closed := "resolved", "closed"
	if _, err := svc.UpdateIncident(ctx, sme, inc.ID, incidents.Update{Status: &resolved}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpdateIncident(ctx, sme, inc.ID, incidents.Update{Status: &closed, Review: &incidents.Review{WhatHappened: "x", WhatHelped: "y", Lessons: "check backups first"}}); err != nil {
		t.Fatal(err)
	}
	return "/playbooks/" + f.IDs["playbook"] + "/propose", apptest.Form("run", run.ID)
}

// editorPath: the editor opens only for the owner org's writers who may
// see the playbook; whoever may not see it gets 404 (a viewer 403 first,
// whatever the object), and no refusal carries the playbook's text.
func editorPath(t testing.TB, c *apptest.LeakCase, r *apptest.User, objs []apptest.LeakObject) {
	token := r.WriteToken
	if token == "" {
		token = r.ReadToken
	}
	writer := r.WriteToken != "" && (r.Role == policy.Analyst || r.Role == policy.Admin)
	for _, o := range objs {
		res := c.Hub.API(t, token, http.MethodGet, "/playbooks/"+o.ID+"/edit", nil)
		switch {
		case !o.Visible && res.Status == http.StatusOK:
			t.Errorf("LEAK on the editor: %s opens %s", r.Key, o.Envelope)
		case !o.Visible && writer && res.Status != http.StatusNotFound:
			t.Errorf("the editor answers %s with %d for %s, which it may not see: want 404", r.Key, res.Status, o.Envelope)
		case res.Status != http.StatusOK && strings.Contains(string(res.Body), o.Marker):
			t.Errorf("LEAK: the editor's refusal (%d) shows %s to %s", res.Status, o.Envelope, r.Key)
		case o.Visible && r.OrgID == c.Hub.Orgs["sme"] && writer && res.Status != http.StatusOK:
			t.Errorf("%s cannot edit its org's %s: %d", r.Key, o.Envelope, res.Status)
		}
	}
}
