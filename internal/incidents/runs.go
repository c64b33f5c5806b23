package incidents

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"verbund/internal/audit"
	"verbund/internal/cacao"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Playbook runs: a CACAO playbook started inside an incident. The run
// lives here, not in internal/playbooks, because it is mostly the
// incident's tasks written in the incident's transaction; the playbook
// itself is read through the library (Service.Playbooks) with the
// starter's view, so a playbook the starter may not see is not found.
//
// Every step for people becomes a task at the start, in flow order, with
// the steps it waits for shown beside it (all at once rather than one by
// one: the checklist is whole from the first minute, and what is done
// early is recorded as a deviation instead of being hidden). A decision
// (if-condition, switch) is a task answered with yes/no (or a case); the
// answer marks the steps of the branches not taken skipped (kept, not
// deleted). Parallel branches are open at once.

// PlaybookSource is what runs need of the playbook library: a version's
// document and the playbook as the actor sees it (else not found), and
// the playbooks the actor may start.
type PlaybookSource interface {
	RunDocument(ctx context.Context, a policy.Actor, id, modified string) (RunPlaybook, error)
	RunChoices(ctx context.Context, a policy.Actor) ([]policy.Option, error)
}

// RunPlaybook is one version of a playbook to run.
type RunPlaybook struct {
	ID      string
	TLP     policy.TLP
	Doc     *cacao.Playbook
	OrgName string
}

// Limits of a run.
const (
	MaxRunSteps   = 150
	MaxRunReason  = 2000
	MaxRunsPerInc = 20
)

// Run is a playbook run as a reader of its incident sees it.
type Run struct {
	ID          string         `json:"id"`
	IncidentID  string         `json:"incident_id"`
	PlaybookID  string         `json:"playbook_id"`
	CACAOID     string         `json:"cacao_id"`
	Name        string         `json:"name"`
	Modified    string         `json:"modified"`
	StartedBy   string         `json:"started_by"`
	StartedOrg  string         `json:"started_org"`
	StarterOrg  string         `json:"-"`
	StartedAt   int64          `json:"started_at"`
	Steps       []RunStep      `json:"steps"`
	Progress    []RunProgress  `json:"progress"`
	Deviations  []RunDeviation `json:"deviations"`
	Done, Total int            `json:"-"`
}

// RunStep is one step for people of a run with its task.
type RunStep struct {
	StepID       string   `json:"step_id"`
	Seq          int      `json:"seq"`
	Kind         string   `json:"kind"` // action, decision
	Name         string   `json:"name"`
	AgentType    string   `json:"agent_type,omitempty"`
	AgentName    string   `json:"agent_name,omitempty"`
	Unassigned   bool     `json:"unassigned_agent"`
	AssigneeOrg  string   `json:"assignee_org"`
	AssigneeName string   `json:"assignee_name"`
	TaskID       string   `json:"task_id"`
	State        string   `json:"state"` // open, done, skipped
	Answer       string   `json:"answer,omitempty"`
	Answers      []string `json:"answers,omitempty"` // a decision's choices
	WaitingFor   []string `json:"waiting_for,omitempty"`
	WaitingNames []string `json:"-"`
	Ready        bool     `json:"ready"` // open and nothing it waits for is open
}

// RunProgress is one assignee org's share of a run.
type RunProgress struct {
	OrgID   string `json:"org_id"`
	OrgName string `json:"org_name"`
	Done    int    `json:"done"`
	Total   int    `json:"total"` // without skipped steps
	Skipped int    `json:"skipped"`
}

// RunDeviation is where the run left the playbook.
type RunDeviation struct {
	StepID   string `json:"step_id"`
	StepName string `json:"step_name"`
	Kind     string `json:"kind"` // skipped, out_of_order
	Reason   string `json:"reason,omitempty"`
	ByName   string `json:"by_name"`
	ByOrg    string `json:"by_org"`
	At       int64  `json:"at"`
}

// NewRun is the input of a run: the playbook (the hub's id) and
// optionally the version's modified ("" the current one).
type NewRun struct {
	PlaybookID string `json:"playbook_id"`
	Modified   string `json:"modified,omitempty"`
}

// planStep is a step for people found walking the workflow.
type planStep struct {
	id, kind string
	step     *cacao.Step
	seq      int
	waits    []string
	branches []string
	edges    []string // a decision's answers
}

// plan walks a playbook from its start in flow order and lists its
// steps for people with what each waits for and under which decision
// branches it lies.
func plan(pb *cacao.Playbook) []*planStep {
	var out []*planStep
	byID := map[string]*planStep{}
	seen := map[string][]string{} // a walked step's last set (joins, loops)
	var walk func(id string, waits, branches []string) []string
	walk = func(id string, waits, branches []string) []string {
		st := pb.Step(id)
		if st == nil {
			return waits
		}
		if last, ok := seen[id]; ok {
			if p := byID[id]; p != nil {
				p.waits = union(p.waits, waits)
			}
			return last
		}
		seen[id] = waits
		runnable := st.Manual() || st.Type == cacao.StepIfCondition || st.Type == cacao.StepSwitchCondition
		var p *planStep
		if runnable {
			kind := "action"
			if !st.Manual() {
				kind = "decision"
			}
			p = &planStep{id: id, kind: kind, step: st, seq: len(out) + 1, waits: slices.Clone(waits), branches: slices.Clone(branches)}
			out, byID[id] = append(out, p), p
		}
		var last []string
		switch st.Type {
		case cacao.StepEnd:
			last = waits
		case cacao.StepIfCondition, cacao.StepSwitchCondition, cacao.StepParallel:
			inner := waits
			if p != nil {
				inner = []string{id}
			}
			seen[id] = inner
			var all []string // the last steps of every branch
			for _, e := range st.Next() {
				if e.Kind == "on_completion" || e.Kind == "on_success" || e.Kind == "on_failure" {
					continue
				}
				br := branches
				if p != nil {
					tok := id + "=" + answerOf(e.Kind)
					p.edges = append(p.edges, answerOf(e.Kind))
					br = append(slices.Clone(branches), tok)
				}
				all = union(all, walk(e.To, inner, br))
			}
			if len(all) == 0 {
				all = inner
			}
			last = all
			if st.OnCompletion != "" {
				last = walk(st.OnCompletion, all, branches)
			}
		default:
			next := waits
			if p != nil {
				next = []string{id}
			}
			seen[id] = next
			last = next
			for _, e := range st.Next() {
				last = union(last, walk(e.To, next, branches))
			}
		}
		seen[id] = last
		return last
	}
	walk(pb.WorkflowStart, nil, nil)
	return out
}

// answerOf names a decision's edge as its answer: yes, no, or the case.
func answerOf(kind string) string {
	switch kind {
	case "on_true":
		return "yes"
	case "on_false":
		return "no"
	}
	return strings.TrimPrefix(kind, "case:")
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// StartRun starts a playbook inside an incident: participants' analysts
// may, with a playbook they may see; every step for people becomes a
// task of the org or person its agent names, in one transaction.
func (s *Service) StartRun(ctx context.Context, a policy.Actor, incidentID string, in NewRun) (Run, error) {
	if !a.CanWrite() {
		return Run{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	if s.Playbooks == nil {
		return Run{}, fault.ErrNotFound
	}
	if strings.TrimSpace(in.PlaybookID) == "" {
		return Run{}, fault.BadInput("playbook_id", "run_playbook_required", "name the playbook to run")
	}
	// The playbook is read before the transaction (the library reads
	// through the pool, and a write that asks the pool for a second
	// connection while it holds one waits for itself when the pool is
	// small), but its answer is given only after the incident's: who
	// cannot see the incident learns nothing of the playbook.
	pb, pbErr := s.Playbooks.RunDocument(ctx, a, in.PlaybookID, in.Modified)
	var run Run
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		inc, err := s.load(ctx, tx.Handle, r, incidentID)
		if err != nil {
			return err
		}
		if pbErr != nil {
			return pbErr
		}
		if err := writable(inc); err != nil {
			return err
		}
		if role, err := s.roleOf(ctx, tx.Handle, incidentID, a.OrgID); err != nil {
			return err
		} else if role == "" {
			return fault.New(fault.Forbidden, "not_participant", "only organisations that take part in the incident may add tasks and evidence")
		}
		// The steps are copied into the incident's tasks: a playbook
		// marked more strictly than the incident would reach further.
		if pb.TLP > inc.Share.TLP {
			return fault.BadInput("playbook_id", "run_playbook_tlp", "the playbook is marked {tlp}, more strictly than the incident").With("tlp", "TLP:"+pb.TLP.Name())
		}
		// Every reader of the incident reads the steps: the playbook's
		// audience must take in the incident's (its owner org, or its
		// author for RED, and its audience), judged by the kernel's rule
		// for what lies within a share (policy.Within).
		if err := runAudienceCovered(ctx, tx.Handle, inc.Share, pb.ID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM playbook_runs WHERE incident_id = ?`, incidentID).Scan(&n); err != nil {
			return fmt.Errorf("count runs: %w", db.Map(err))
		}
		if n >= MaxRunsPerInc {
			return fault.BadInput("playbook_id", "too_many_runs", "the incident has {max} playbook runs, the most it may").With("max", MaxRunsPerInc)
		}
		steps := plan(pb.Doc)
		if len(steps) == 0 {
			return fault.BadInput("playbook_id", "run_no_steps", "the playbook has no steps for people to run")
		}
		if len(steps) > MaxRunSteps {
			return fault.BadInput("playbook_id", "run_too_many_steps", "the playbook has more than {max} steps for people").With("max", MaxRunSteps)
		}
		// The run's tasks are the starter org's and count against its
		// limit, as tasks added by hand do.
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM incident_tasks WHERE incident_id = ? AND org_id = ?`, incidentID, a.OrgID).Scan(&n); err != nil {
			return fmt.Errorf("count tasks: %w", db.Map(err))
		}
		if n+len(steps) > MaxTasks {
			return fault.BadInput("playbook_id", "too_many_tasks", "your organisation has added {max} tasks to this incident, the most it may").With("max", MaxTasks)
		}
		parts, err := s.participants(ctx, tx.Handle, incidentID, inc.Status)
		if err != nil {
			return err
		}
		now := db.Now()
		run = Run{ID: db.NewID(), IncidentID: incidentID, PlaybookID: pb.ID, CACAOID: pb.Doc.ID, Name: pb.Doc.Name, Modified: pb.Doc.Modified,
			StartedBy: a.Name, StartedAt: now}
		if _, err := tx.Exec(ctx, `INSERT INTO playbook_runs (id, incident_id, playbook_id, cacao_id, name, modified, org_id, started_by, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			run.ID, incidentID, pb.ID, run.CACAOID, clip(run.Name, MaxTitle), run.Modified, a.OrgID, a.UserID, now); err != nil {
			return fmt.Errorf("insert run: %w", db.Map(err))
		}
		for _, p := range steps {
			t := Task{IncidentID: incidentID, Title: clip(stepTitle(p), MaxTitle)}
			ag := pb.Doc.Agents[p.step.Agent]
			var agType, agName string
			if ag != nil {
				agType, agName = ag.Type, ag.Name
			}
			unassigned, err := s.assign(ctx, tx.Handle, inc, parts, agType, agName, &t)
			if err != nil {
				return err
			}
			if err := s.addTask(ctx, tx, a, inc, &t, policy.Sharing{}, run.ID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO playbook_run_steps (run_id, step_id, seq, kind, name, agent_type, agent_name, unassigned, assignee_org, task_id, waiting_for, branches, edges, state)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')`,
				run.ID, p.id, p.seq, p.kind, clip(stepTitle(p), MaxTitle), agType, clip(agName, MaxTitle), boolInt(unassigned), t.AssigneeOrg, t.ID,
				strings.Join(p.waits, " "), strings.Join(p.branches, " "), strings.Join(p.edges, " ")); err != nil {
				return fmt.Errorf("insert run step: %w", db.Map(err))
			}
		}
		if _, err := s.addEntry(ctx, tx, a, inc.Share, "playbook", run.Name); err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "incident.playbook_run.start", ObjectType: "incident", ObjectID: incidentID,
			Orgs: []string{inc.Share.Owner}, Detail: map[string]any{"run": run.ID, "playbook": pb.ID, "cacao_id": run.CACAOID, "modified": run.Modified, "steps": len(steps)},
			Touches: touches(incidentID)})
	})
	if err != nil {
		return Run{}, err
	}
	runs, err := s.FindRuns(ctx, a, incidentID)
	for _, x := range runs {
		if x.ID == run.ID {
			return x, err
		}
	}
	return run, err
}

// runAudienceCovered refuses a run whose playbook some reader of the
// incident may not see: the incident's level and audience, and its owner
// org (below RED) or its author (RED), must lie within the playbook's
// share. A TLP:CLEAR playbook is open to all.
func runAudienceCovered(ctx context.Context, h db.Handle, inc policy.Share, playbookID string) error {
	pb, ok, err := policy.LoadShare(ctx, h, playbookID)
	if err != nil {
		return err
	}
	if !ok {
		return fault.ErrNotFound
	}
	if pb.TLP == policy.Clear {
		return nil
	}
	owner := policy.Share{Owner: inc.Owner, TLP: inc.TLP, Audience: policy.Audience{Kind: policy.AudOrg}}
	if inc.TLP == policy.Red {
		owner.Audience = policy.Audience{Kind: policy.AudPeople, People: []string{inc.Author}}
	}
	for _, s := range []policy.Share{inc, owner} {
		if err := policy.Within(ctx, h, s, pb); err != nil {
			return fault.New(fault.Conflict, "run_playbook_audience", "some readers of the incident may not see this playbook: share the playbook with the incident's participants first")
		}
	}
	return nil
}

func anySlice(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func stepTitle(p *planStep) string {
	if n := strings.TrimSpace(p.step.Name); n != "" {
		return n
	}
	if p.step.Condition != "" {
		return p.step.Condition
	}
	return p.id
}

// assign gives a step's task to whom its agent names: an organisation
// agent the participant org of that name, an individual agent the person
// of a participant org with that e-mail (or name), a group agent the
// incident's owner (the group's name is shown). What matches no
// participant goes to the owner, flagged "unassigned agent".
func (s *Service) assign(ctx context.Context, h db.Handle, inc Incident, parts []Participant, typ, name string, t *Task) (bool, error) {
	owner := func() {
		t.AssigneeOrg, t.AssigneeName = inc.Share.Owner, inc.OrgName
	}
	key := strings.ToLower(strings.TrimSpace(name))
	switch typ {
	case "organization":
		for _, p := range parts {
			if strings.ToLower(p.OrgName) == key {
				t.AssigneeOrg, t.AssigneeName = p.OrgID, p.OrgName
				return false, nil
			}
		}
	case "individual":
		// Only a person who may see the incident: of an incident for named
		// people, one of them or its author; else a member of a participant
		// org (RED reaches named people only). Anyone else is not looked up
		// at all, so an agent's e-mail probes nothing and a task never goes
		// to someone who cannot read it.
		q := db.Q(`SELECT u.id, u.org_id, u.name FROM users u JOIN incident_participants p ON p.org_id = u.org_id AND p.incident_id = ?
			WHERE u.disabled = 0 AND (LOWER(u.email) = ? OR LOWER(u.name) = ?)`, inc.ID, key, key)
		if inc.Share.Audience.Kind == policy.AudPeople || inc.Share.TLP == policy.Red {
			people := append([]any{inc.Share.Author}, anySlice(inc.Share.Audience.People)...)
			q.Add(` AND u.id IN (`+db.Placeholders(len(people))+`)`, people...)
		}
		q.Add(` ORDER BY u.email LIMIT 1`)
		var org, user, uname string
		err := h.SelectRow(ctx, q).Scan(&user, &org, &uname)
		if err == nil {
			t.AssigneeOrg, t.AssigneeUser, t.AssigneeName = org, user, uname
			return false, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, fmt.Errorf("individual agent: %w", db.Map(err))
		}
	case "group":
		owner()
		return false, nil
	}
	owner()
	return typ != "" || name != "", nil
}

// FindRuns lists the playbook runs of an incident the actor may see
// (else not found), with their steps, progress per org and deviations.
func (s *Service) FindRuns(ctx context.Context, a policy.Actor, incidentID string) ([]Run, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	if _, err := r.Envelope(ctx, h, s.incidents, incidentID); err != nil {
		return nil, err
	}
	return s.runs(ctx, h, incidentID, "")
}

func (s *Service) runs(ctx context.Context, h db.Handle, incidentID, runID string) ([]Run, error) {
	q := db.Q(`SELECT r.id, r.incident_id, r.playbook_id, r.cacao_id, r.name, r.modified, u.name, o.name, r.org_id, r.started_at FROM playbook_runs r
		JOIN users u ON u.id = r.started_by JOIN orgs o ON o.id = r.org_id WHERE `)
	if runID != "" {
		q.Add(`r.id = ?`, runID)
	} else {
		q.Add(`r.incident_id = ? ORDER BY r.started_at, r.id`, incidentID)
	}
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	out, err := db.Collect(rows, "list runs", func(sc db.Scanner) (Run, error) {
		var x Run
		err := sc.Scan(&x.ID, &x.IncidentID, &x.PlaybookID, &x.CACAOID, &x.Name, &x.Modified, &x.StartedBy, &x.StartedOrg, &x.StarterOrg, &x.StartedAt)
		return x, err
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		if err := s.fillRun(ctx, h, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Service) fillRun(ctx context.Context, h db.Handle, x *Run) error {
	rows, err := h.Query(ctx, `SELECT st.step_id, st.seq, st.kind, st.name, st.agent_type, st.agent_name, st.unassigned, st.assignee_org,
		COALESCE(au.name, o.name), st.task_id, st.waiting_for, st.edges, st.state, st.answer
		FROM playbook_run_steps st JOIN orgs o ON o.id = st.assignee_org JOIN incident_tasks t ON t.id = st.task_id LEFT JOIN users au ON au.id = t.assignee_user
		WHERE st.run_id = ? ORDER BY st.seq`, x.ID)
	if err != nil {
		return fmt.Errorf("run steps: %w", err)
	}
	x.Steps, err = db.Collect(rows, "run steps", func(sc db.Scanner) (RunStep, error) {
		var st RunStep
		var un int
		var waits, edges string
		err := sc.Scan(&st.StepID, &st.Seq, &st.Kind, &st.Name, &st.AgentType, &st.AgentName, &un, &st.AssigneeOrg, &st.AssigneeName, &st.TaskID, &waits, &edges, &st.State, &st.Answer)
		st.Unassigned, st.WaitingFor, st.Answers = un == 1, strings.Fields(waits), strings.Fields(edges)
		return st, err
	})
	if err != nil {
		return err
	}
	names, states := map[string]string{}, map[string]string{}
	for _, st := range x.Steps {
		names[st.StepID], states[st.StepID] = st.Name, st.State
	}
	x.Progress, x.Done, x.Total = nil, 0, 0
	byOrg := map[string]int{}
	for i := range x.Steps {
		st := &x.Steps[i]
		st.Ready = st.State == "open"
		for _, w := range st.WaitingFor {
			st.WaitingNames = append(st.WaitingNames, names[w])
			if states[w] == "open" {
				st.Ready = false
			}
		}
		k, ok := byOrg[st.AssigneeOrg]
		if !ok {
			var orgName string
			if err := h.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, st.AssigneeOrg).Scan(&orgName); err != nil {
				return fmt.Errorf("run org: %w", db.Map(err))
			}
			k = len(x.Progress)
			byOrg[st.AssigneeOrg] = k
			x.Progress = append(x.Progress, RunProgress{OrgID: st.AssigneeOrg, OrgName: orgName})
		}
		p := &x.Progress[k]
		switch st.State {
		case "skipped":
			p.Skipped++
		case "done":
			p.Done++
			p.Total++
			x.Done++
			x.Total++
		default:
			p.Total++
			x.Total++
		}
	}
	rows, err = h.Query(ctx, `SELECT d.step_id, COALESCE(st.name, d.step_id), d.kind, d.reason, u.name, o.name, d.at FROM playbook_run_deviations d
		JOIN users u ON u.id = d.by_user JOIN orgs o ON o.id = d.by_org LEFT JOIN playbook_run_steps st ON st.run_id = d.run_id AND st.step_id = d.step_id
		WHERE d.run_id = ? ORDER BY d.at, d.id`, x.ID)
	if err != nil {
		return fmt.Errorf("run deviations: %w", err)
	}
	x.Deviations, err = db.Collect(rows, "run deviations", func(sc db.Scanner) (RunDeviation, error) {
		var d RunDeviation
		err := sc.Scan(&d.StepID, &d.StepName, &d.Kind, &d.Reason, &d.ByName, &d.ByOrg, &d.At)
		return d, err
	})
	if x.Steps == nil {
		x.Steps = []RunStep{}
	}
	if x.Deviations == nil {
		x.Deviations = []RunDeviation{}
	}
	return err
}

// runStep loads a run's step for a change: the incident must be visible
// to the actor and open, the actor an analyst of the step's assignee or
// of the org that started the run or of the incident's owner.
func (s *Service) runStep(ctx context.Context, tx *db.Tx, a policy.Actor, runID, stepID string) (Incident, Run, RunStep, error) {
	var inc Incident
	var st RunStep
	if !a.CanWrite() {
		return inc, Run{}, st, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	var incidentID string
	err := tx.QueryRow(ctx, `SELECT incident_id FROM playbook_runs WHERE id = ?`, runID).Scan(&incidentID)
	if err != nil {
		return inc, Run{}, st, db.NotFound(err, "find run")
	}
	r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
	if err != nil {
		return inc, Run{}, st, err
	}
	if inc, err = s.load(ctx, tx.Handle, r, incidentID); err != nil {
		return inc, Run{}, st, err
	}
	runs, err := s.runs(ctx, tx.Handle, incidentID, runID)
	if err != nil || len(runs) == 0 {
		return inc, Run{}, st, errors.Join(err, fault.ErrNotFound)
	}
	i := slices.IndexFunc(runs[0].Steps, func(x RunStep) bool { return x.StepID == stepID })
	if i < 0 {
		return inc, runs[0], st, fault.ErrNotFound
	}
	st = runs[0].Steps[i]
	if err := writable(inc); err != nil {
		return inc, runs[0], st, err
	}
	// As for a task: its assignee, its author (the org that started the
	// run) and the incident's owner.
	if a.OrgID != st.AssigneeOrg && a.OrgID != runs[0].StarterOrg && a.OrgID != inc.Share.Owner {
		return inc, runs[0], st, fault.New(fault.Forbidden, "not_assignee", "only the assigned organisation, the task's author and the incident's owner may tick it off")
	}
	return inc, runs[0], st, nil
}

// AnswerDecision answers a decision step: its task is done, the steps of
// the branches not taken are skipped. A decision is answered once.
func (s *Service) AnswerDecision(ctx context.Context, a policy.Actor, runID, stepID, answer string) (Run, error) {
	answer = strings.TrimSpace(answer)
	var incID string
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		inc, run, st, err := s.runStep(ctx, tx, a, runID, stepID)
		if err != nil {
			return err
		}
		incID = inc.ID
		if st.Kind != "decision" {
			return fault.BadInput("step", "run_not_decision", "this step is not a decision")
		}
		if st.State != "open" || st.Answer != "" {
			return fault.New(fault.Conflict, "decision_answered", "this decision has been answered already")
		}
		if !slices.Contains(st.Answers, answer) {
			return fault.BadInput("answer", "bad_answer", "answer with one of the decision's choices")
		}
		now := db.Now()
		if _, err := tx.Exec(ctx, `UPDATE playbook_run_steps SET state = 'done', answer = ? WHERE run_id = ? AND step_id = ? AND state = 'open'`, answer, runID, stepID); err != nil {
			return fmt.Errorf("answer decision: %w", db.Map(err))
		}
		if _, err := tx.Exec(ctx, `UPDATE incident_tasks SET done_at = ?, done_by = ? WHERE id = ? AND done_at = 0`, now, a.UserID, st.TaskID); err != nil {
			return fmt.Errorf("tick decision: %w", db.Map(err))
		}
		// The branches not taken: their steps are skipped (a step also
		// under the branch taken stays open).
		var skip []string
		for _, o := range run.Steps {
			if o.State != "open" {
				continue
			}
			br, err := s.branchesOf(ctx, tx.Handle, runID, o.StepID)
			if err != nil {
				return err
			}
			if slices.ContainsFunc(st.Answers, func(e string) bool { return e != answer && slices.Contains(br, stepID+"="+e) }) &&
				!slices.Contains(br, stepID+"="+answer) {
				skip = append(skip, o.StepID)
			}
		}
		for _, id := range skip {
			if _, err := tx.Exec(ctx, `UPDATE playbook_run_steps SET state = 'skipped' WHERE run_id = ? AND step_id = ?`, runID, id); err != nil {
				return fmt.Errorf("skip branch: %w", db.Map(err))
			}
		}
		if err := s.outOfOrder(ctx, tx, a, run, st, now); err != nil {
			return err
		}
		if _, err := s.addEntry(ctx, tx, a, inc.Share, "task", st.Name+" → "+answer); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, a.UserID, EventTask, inc, nil, st.Name); err != nil {
			return err
		}
		// The audit trail's readers are the owner's admins and auditors,
		// not the incident's audience: ids only, never the text of an
		// answer (a switch's case is the playbook's words) or a reason.
		return audit.Write(ctx, tx, a, audit.Entry{Action: "incident.playbook_run.decide", ObjectType: "incident", ObjectID: inc.ID,
			Orgs: []string{inc.Share.Owner}, Detail: map[string]any{"run": runID, "step": stepID, "answer_index": slices.Index(st.Answers, answer), "skipped": skip}, Touches: touches(inc.ID)})
	})
	if err != nil {
		return Run{}, err
	}
	return s.oneRun(ctx, a, incID, runID)
}

func (s *Service) branchesOf(ctx context.Context, h db.Handle, runID, stepID string) ([]string, error) {
	var br string
	if err := h.QueryRow(ctx, `SELECT branches FROM playbook_run_steps WHERE run_id = ? AND step_id = ?`, runID, stepID).Scan(&br); err != nil {
		return nil, fmt.Errorf("step branches: %w", db.Map(err))
	}
	return strings.Fields(br), nil
}

func (s *Service) oneRun(ctx context.Context, a policy.Actor, incidentID, runID string) (Run, error) {
	runs, err := s.FindRuns(ctx, a, incidentID)
	if err != nil {
		return Run{}, err
	}
	for _, x := range runs {
		if x.ID == runID {
			return x, nil
		}
	}
	return Run{}, fault.ErrNotFound
}

// SkipStep skips an open step of a run (with an optional reason): a
// deviation from the playbook, recorded with who and when.
func (s *Service) SkipStep(ctx context.Context, a policy.Actor, runID, stepID, reason string) (Run, error) {
	reason, ok := cleanText(reason, false, MaxRunReason)
	if !ok {
		return Run{}, fault.BadInput("reason", "bad_run_reason", "the reason may have at most {max} characters").With("max", MaxRunReason)
	}
	var incID string
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		inc, _, st, err := s.runStep(ctx, tx, a, runID, stepID)
		if err != nil {
			return err
		}
		incID = inc.ID
		if st.State != "open" {
			return fault.New(fault.Conflict, "run_step_settled", "this step is done or skipped already")
		}
		if _, err := tx.Exec(ctx, `UPDATE playbook_run_steps SET state = 'skipped' WHERE run_id = ? AND step_id = ?`, runID, stepID); err != nil {
			return fmt.Errorf("skip step: %w", db.Map(err))
		}
		if err := s.deviate(ctx, tx, a, runID, stepID, "skipped", reason); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, a.UserID, EventTask, inc, nil, st.Name); err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "incident.playbook_run.skip", ObjectType: "incident", ObjectID: inc.ID,
			Orgs: []string{inc.Share.Owner}, Detail: map[string]any{"run": runID, "step": stepID, "has_reason": reason != ""}, Touches: touches(inc.ID)})
	})
	if err != nil {
		return Run{}, err
	}
	return s.oneRun(ctx, a, incID, runID)
}

func (s *Service) deviate(ctx context.Context, tx *db.Tx, a policy.Actor, runID, stepID, kind, reason string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO playbook_run_deviations (id, run_id, step_id, kind, reason, by_user, by_org, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		db.NewID(), runID, stepID, kind, reason, a.UserID, a.OrgID, db.Now()); err != nil {
		return fmt.Errorf("record deviation: %w", db.Map(err))
	}
	return nil
}

// outOfOrder records a deviation when st is settled before a step it
// waits for.
func (s *Service) outOfOrder(ctx context.Context, tx *db.Tx, a policy.Actor, run Run, st RunStep, _ int64) error {
	for _, w := range st.WaitingFor {
		for _, o := range run.Steps {
			if o.StepID == w && o.State == "open" {
				return s.deviate(ctx, tx, a, run.ID, st.StepID, "out_of_order", "")
			}
		}
	}
	return nil
}

// runTaskDone follows a task ticked off (or back on) in its run, if a run
// made it: its step is done (or open again), and done before a step it
// waits for is a deviation. A decision is answered, not ticked.
func (s *Service) runTaskDone(ctx context.Context, tx *db.Tx, a policy.Actor, taskID string, done bool) error {
	var runID, stepID, kind string
	err := tx.QueryRow(ctx, `SELECT run_id, step_id, kind FROM playbook_run_steps WHERE task_id = ?`, taskID).Scan(&runID, &stepID, &kind)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("task's run: %w", db.Map(err))
	}
	if kind == "decision" {
		return fault.BadInput("done", "run_decision_task", "a decision is answered on its playbook run, not ticked off")
	}
	runs, err := s.runs(ctx, tx.Handle, "", runID)
	if err != nil || len(runs) == 0 {
		return errors.Join(err, fault.ErrNotFound)
	}
	i := slices.IndexFunc(runs[0].Steps, func(x RunStep) bool { return x.StepID == stepID })
	if i < 0 {
		return fault.ErrNotFound
	}
	st := runs[0].Steps[i]
	from, to := "open", "done"
	if !done {
		from, to = "done", "open"
	}
	if st.State != from {
		return nil // a skipped step's task stays skipped in the run
	}
	if _, err := tx.Exec(ctx, `UPDATE playbook_run_steps SET state = ? WHERE run_id = ? AND step_id = ?`, to, runID, stepID); err != nil {
		return fmt.Errorf("run step: %w", db.Map(err))
	}
	if done {
		return s.outOfOrder(ctx, tx, a, runs[0], st, 0)
	}
	return nil
}

// Proposal is what a run suggests for the playbook's next version: its
// deviations and the incident's lessons learned.
type Proposal struct {
	PlaybookID string
	Modified   string
	Deviations []RunDeviation
	Lessons    string
	// Incident is the incident's envelope: what the proposal may carry of
	// the incident reaches no further than it.
	Incident policy.Share
}

// ProposeFromRun gives what a run suggests for a new version of its
// playbook: only once the incident is closed with its review, and for
// readers of the incident (else not found).
func (s *Service) ProposeFromRun(ctx context.Context, a policy.Actor, runID string) (Proposal, error) {
	var incidentID string
	if err := s.DB.R().QueryRow(ctx, `SELECT incident_id FROM playbook_runs WHERE id = ?`, runID).Scan(&incidentID); err != nil {
		return Proposal{}, db.NotFound(err, "find run")
	}
	inc, err := s.FindIncidentByID(ctx, a, incidentID)
	if err != nil {
		return Proposal{}, err
	}
	if inc.Status != "closed" || inc.Review == nil {
		return Proposal{}, fault.New(fault.Conflict, "run_not_reviewed", "a new version is proposed from the review, once the incident is closed")
	}
	run, err := s.oneRun(ctx, a, incidentID, runID)
	if err != nil {
		return Proposal{}, err
	}
	return Proposal{PlaybookID: run.PlaybookID, Modified: run.Modified, Deviations: run.Deviations, Lessons: strings.TrimSpace(inc.Review.Lessons), Incident: inc.Share}, nil
}
