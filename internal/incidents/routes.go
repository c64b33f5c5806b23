package incidents

import (
	"context"
	"embed"
	"fmt"

	"verbund/internal/db"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// files are the capability's pages, its texts and its part of the API
// document.
//
//go:embed all:templates i18n openapi.json
var files embed.FS

// Handler serves the incident pages and API.
type Handler struct {
	svc *Service
	srv *web.Server
	tpl *web.Templates
}

// Register adds the incident routes.
func Register(srv *web.Server, svc *Service) error {
	tpl, err := srv.Templates(files, "templates/*.html")
	if err != nil {
		return err
	}
	if err := srv.Catalog.Add(files, "i18n"); err != nil {
		return err
	}
	if err := srv.AddOpenAPI(files, "openapi.json"); err != nil {
		return err
	}
	svc.SetResolver(srv.Resolve)
	h := &Handler{svc: svc, srv: srv, tpl: tpl}
	srv.AddObjectType(web.ObjectType{Name: "incident", Label: "incidents.incident", Resolve: svc.nameIncidents})
	srv.AddObjectType(web.ObjectType{Name: "incident_entry", Label: "incidents.entry", Resolve: svc.nameContained(svc.entries, "timeline")})
	srv.AddObjectType(web.ObjectType{Name: "incident_task", Label: "incidents.task", Resolve: svc.nameContained(svc.tasks, "tasks")})
	srv.AddObjectType(web.ObjectType{Name: "incident_evidence", Label: "incidents.evidence_file", Resolve: svc.nameContained(svc.evidence, "evidence")})
	srv.AddNav(web.NavItem{Key: "incidents", Path: "/incidents", Label: "nav.incidents", Go: "v"})
	r := srv.Router
	r.Handle("GET /incidents", web.Read, h.listPage)
	r.Handle("GET /incidents/new", web.Read, h.newPage)
	r.Handle("GET /incidents/recipients", web.Read, h.recipientsLine)
	r.Handle("POST /incidents", web.Write, h.createForm)
	r.Handle("GET /incidents/figures", web.Read, h.figuresPage)
	r.Handle("GET /incidents/inbox", web.Read, h.inboxPage)
	r.Handle("POST /incident-requests/{id}", web.Write, h.decideForm)
	r.Handle("GET /incidents/{id}", web.Read, h.incidentPage)
	r.Handle("GET /incidents/{id}/draft", web.Read, h.draftPage)
	r.Handle("GET /incidents/{id}/edit", web.Read, h.editPage)
	r.Handle("POST /incidents/{id}/edit", web.Write, h.editForm)
	r.Handle("POST /incidents/{id}/delete", web.Write, h.deleteForm)
	r.Handle("POST /incidents/{id}/status", web.Write, h.statusForm)
	r.Handle("POST /incidents/{id}/comments", web.Write, h.commentForm)
	r.Handle("POST /incidents/{id}/participants", web.Write, h.inviteForm)
	r.Handle("POST /incidents/{id}/acknowledge", web.Write, h.acknowledgeForm)
	r.Handle("POST /incidents/{id}/assistance", web.Write, h.assistanceForm)
	r.Handle("POST /incidents/{id}/tasks", web.Write, h.taskForm)
	r.Handle("POST /incident-tasks/{id}/done", web.Write, h.taskDoneForm)
	r.HandleUpload("POST /incidents/{id}/evidence", web.Write, h.evidenceForm)
	r.Handle("GET /incidents/{id}/evidence/{file}", web.Read, h.download)
	r.Handle("POST /incidents/{id}/clocks/{clock}", web.Write, h.clockForm)
	r.Handle("POST /incidents/{id}/playbook-runs", web.Write, h.startRunForm)
	r.Handle("POST /playbook-runs/{run}/steps/{step}/decision", web.Write, h.answerForm)
	r.Handle("POST /playbook-runs/{run}/steps/{step}/skip", web.Write, h.skipForm)

	r.Handle("GET /api/v1/incidents", web.Read, h.apiList)
	r.Handle("POST /api/v1/incidents", web.Write, h.apiCreate)
	r.Handle("GET /api/v1/incidents/{id}", web.Read, h.apiGet)
	r.Handle("PATCH /api/v1/incidents/{id}", web.Write, h.apiUpdate)
	r.Handle("DELETE /api/v1/incidents/{id}", web.Write, h.apiDelete)
	r.Handle("GET /api/v1/incidents/{id}/timeline", web.Read, h.apiTimeline)
	r.Handle("POST /api/v1/incidents/{id}/comments", web.Write, h.apiComment)
	r.Handle("GET /api/v1/incidents/{id}/participants", web.Read, h.apiParticipants)
	r.Handle("POST /api/v1/incidents/{id}/participants", web.Write, h.apiInvite)
	r.Handle("POST /api/v1/incidents/{id}/acknowledge", web.Write, h.apiAcknowledge)
	r.Handle("GET /api/v1/incidents/{id}/tasks", web.Read, h.apiTasks)
	r.Handle("POST /api/v1/incidents/{id}/tasks", web.Write, h.apiCreateTask)
	r.Handle("PUT /api/v1/incident-tasks/{id}/done", web.Write, h.apiTaskDone(true))
	r.Handle("DELETE /api/v1/incident-tasks/{id}/done", web.Write, h.apiTaskDone(false))
	r.Handle("GET /api/v1/incidents/{id}/evidence", web.Read, h.apiEvidence)
	r.HandleUpload("POST /api/v1/incidents/{id}/evidence", web.Write, h.apiAddEvidence)
	r.Handle("GET /api/v1/incidents/{id}/evidence/{file}", web.Read, h.download)
	r.Handle("GET /api/v1/incidents/{id}/clocks", web.Read, h.apiClocks)
	r.Handle("PUT /api/v1/incidents/{id}/clocks/{clock}", web.Write, h.apiMarkReported)
	r.Handle("GET /api/v1/incidents/{id}/draft", web.Read, h.apiDraft)
	r.Handle("POST /api/v1/incidents/{id}/assistance", web.Write, h.apiRequestAssistance)
	r.Handle("GET /api/v1/cert-inbox", web.Read, h.apiInbox)
	r.Handle("POST /api/v1/cert-inbox/{id}", web.Write, h.apiDecide)
	r.Handle("GET /api/v1/incident-figures", web.Read, h.apiFigures)
	r.Handle("GET /api/v1/incidents/{id}/playbook-runs", web.Read, h.apiRuns)
	r.Handle("POST /api/v1/incidents/{id}/playbook-runs", web.Write, h.apiStartRun)
	r.Handle("POST /api/v1/playbook-runs/{run}/steps/{step}/decision", web.Write, h.apiAnswer)
	r.Handle("POST /api/v1/playbook-runs/{run}/steps/{step}/skip", web.Write, h.apiSkip)
	return nil
}

// nameIncidents names the incidents among ids that a may see, with their
// pages (the audit trail).
func (s *Service) nameIncidents(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT i.id, i.title, i.id FROM `).Append(r.From(s.incidents, "i")).Add(` WHERE i.id IN (`+db.Placeholders(len(ids))+`)`, idArgs(ids)...)
	return refs(ctx, h, q, func(id, _ string) string { return "/incidents/" + id })
}

// nameContained names what lives in incidents (entries, tasks, files)
// by their incident's title, for the objects among ids that a may see.
func (s *Service) nameContained(k *policy.Kind, section string) func(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
	return func(ctx context.Context, a policy.Actor, ids []string) (map[string]web.Ref, error) {
		h := s.DB.R()
		r, err := policy.NewReader(ctx, h, a, db.Now())
		if err != nil {
			return nil, err
		}
		q := db.Q(`SELECT c.id, ci.title, c.incident_id FROM `).Append(r.FromIn(k, "c", "ci")).Add(` WHERE c.id IN (`+db.Placeholders(len(ids))+`)`, idArgs(ids)...)
		return refs(ctx, h, q, func(_, incident string) string { return "/incidents/" + incident + "#" + section })
	}
}

func idArgs(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// refs reads rows of (id, name, more) with q and gives each its page.
func refs(ctx context.Context, h db.Handle, q *db.Query, page func(id, more string) string) (map[string]web.Ref, error) {
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("name objects: %w", err)
	}
	found, err := db.Collect(rows, "name objects", func(r db.Scanner) (v [3]string, err error) {
		err = r.Scan(&v[0], &v[1], &v[2])
		return v, err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]web.Ref, len(found))
	for _, v := range found {
		out[v[0]] = web.Ref{Name: v[1], URL: page(v[0], v[2])}
	}
	return out, nil
}
