package incidents

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Task is one item of an incident's checklist, assigned to a
// participating org or a person of one, with a due date.
type Task struct {
	ID           string       `json:"id"`
	IncidentID   string       `json:"incident_id"`
	Title        string       `json:"title"`
	AssigneeOrg  string       `json:"assignee_org,omitempty"`
	AssigneeUser string       `json:"assignee_user,omitempty"`
	AssigneeName string       `json:"assignee_name,omitempty"`
	DueAt        int64        `json:"due_at,omitempty"`
	DoneAt       int64        `json:"done_at,omitempty"`
	Overdue      bool         `json:"overdue"`
	Share        policy.Share `json:"sharing"`
	AuthorName   string       `json:"author_name"`
	OrgName      string       `json:"org_name"`
	CreatedAt    int64        `json:"created_at"`
}

// NewTask is the input of a task: an org (a participant) or a person of
// one, an optional due time (RFC 3339), the sharing (default: the
// incident's).
type NewTask struct {
	Title        string `json:"title"`
	AssigneeOrg  string `json:"assignee_org,omitempty"`
	AssigneeUser string `json:"assignee_user,omitempty"`
	Due          string `json:"due,omitempty"`
	policy.Sharing
}

// CreateTask adds a task to an incident: participants' analysts write
// them.
func (s *Service) CreateTask(ctx context.Context, a policy.Actor, incidentID string, in NewTask) (Task, error) {
	if !a.CanWrite() {
		return Task{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	title, ok := cleanText(in.Title, true, MaxTitle)
	if !ok {
		return Task{}, fault.BadInput("title", "bad_task_title", "the task needs a title of 1 to {max} characters").With("max", MaxTitle)
	}
	var due int64
	var err error
	if strings.TrimSpace(in.Due) != "" {
		if due, err = parseTime("due", in.Due); err != nil {
			return Task{}, err
		}
	}
	var t Task
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		inc, err := s.load(ctx, tx.Handle, r, incidentID)
		if err != nil {
			return err
		}
		if err := writable(inc); err != nil {
			return err
		}
		if role, err := s.roleOf(ctx, tx.Handle, incidentID, a.OrgID); err != nil {
			return err
		} else if role == "" {
			return fault.New(fault.Forbidden, "not_participant", "only organisations that take part in the incident may add tasks and evidence")
		}
		var n int
		// Each org's own tasks count against its limit: a total would
		// tell how many tasks the others keep hidden (attack review).
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM incident_tasks WHERE incident_id = ? AND org_id = ?`, incidentID, a.OrgID).Scan(&n); err != nil {
			return fmt.Errorf("count tasks: %w", db.Map(err))
		}
		if n >= MaxTasks {
			return fault.BadInput("title", "too_many_tasks", "your organisation has added {max} tasks to this incident, the most it may").With("max", MaxTasks)
		}
		t = Task{IncidentID: incidentID, Title: title, DueAt: due}
		if in.AssigneeUser != "" {
			err := tx.QueryRow(ctx, `SELECT u.org_id, u.name FROM users u JOIN incident_participants p ON p.org_id = u.org_id AND p.incident_id = ? WHERE u.id = ?`,
				incidentID, in.AssigneeUser).Scan(&t.AssigneeOrg, &t.AssigneeName)
			if errors.Is(err, sql.ErrNoRows) {
				return fault.BadInput("assignee_user", "bad_assignee", "assign the task to a participating organisation or a person of one")
			} else if err != nil {
				return fmt.Errorf("assignee: %w", db.Map(err))
			}
			t.AssigneeUser = in.AssigneeUser
		} else if in.AssigneeOrg != "" {
			err := tx.QueryRow(ctx, `SELECT o.name FROM orgs o JOIN incident_participants p ON p.org_id = o.id AND p.incident_id = ? WHERE o.id = ?`,
				incidentID, in.AssigneeOrg).Scan(&t.AssigneeName)
			if errors.Is(err, sql.ErrNoRows) {
				return fault.BadInput("assignee_org", "bad_assignee", "assign the task to a participating organisation or a person of one")
			} else if err != nil {
				return fmt.Errorf("assignee: %w", db.Map(err))
			}
			t.AssigneeOrg = in.AssigneeOrg
		}
		return s.addTask(ctx, tx, a, inc, &t, in.Sharing, "")
	})
	return t, err
}

// addTask writes a task (its title and assignee checked) into an
// incident in tx: the envelope (sharing as given, else the incident's),
// the row, the participant's activity, the event and the audit record;
// run names the playbook run that made it ("" none).
func (s *Service) addTask(ctx context.Context, tx *db.Tx, a policy.Actor, inc Incident, t *Task, in policy.Sharing, run string) error {
	tlp, aud, err := s.inherited(ctx, tx.Handle, a, in, inc.Share)
	if err != nil {
		return err
	}
	sh := s.tasks.Envelope(a, tlp, aud)
	sh.Container = inc.ID
	d, err := s.tasks.Disclose(ctx, tx, a, sh)
	if err != nil {
		return err
	}
	t.ID, t.Share, t.CreatedAt, t.AuthorName = sh.ID, d.Share, sh.CreatedAt, a.Name
	if _, err := tx.Exec(ctx, `INSERT INTO incident_tasks (id, incident_id, org_id, author_id, title, assignee_org, assignee_user, due_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, inc.ID, a.OrgID, a.UserID, t.Title, nullable(t.AssigneeOrg), nullable(t.AssigneeUser), t.DueAt, t.CreatedAt); err != nil {
		return fmt.Errorf("insert task: %w", db.Map(err))
	}
	if err := s.touchParticipant(ctx, tx, inc.ID, a.OrgID, t.CreatedAt); err != nil {
		return err
	}
	if err := s.emit(ctx, tx, a.UserID, EventTask, inc, &t.Share, t.Title); err != nil {
		return err
	}
	detail := map[string]any{"incident": inc.ID, "assignee_org": t.AssigneeOrg, "assignee_user": t.AssigneeUser, "due_at": t.DueAt}
	if run != "" {
		detail["playbook_run"] = run
	}
	return audit.Write(ctx, tx, a, audit.Entry{Action: "incident.task.create", ObjectType: "incident_task", ObjectID: t.ID,
		Orgs: []string{inc.Share.Owner}, Detail: detail, Touches: touches(inc.ID)})
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// SetTaskDone ticks a task off (or back on): the analysts of the
// assigned org, of the task's org and of the incident's owner may.
func (s *Service) SetTaskDone(ctx context.Context, a policy.Actor, taskID string, done bool) (Task, error) {
	if !a.CanWrite() {
		return Task{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	var t Task
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		ts, err := s.findTasks(ctx, tx.Handle, r, "", taskID)
		if err != nil {
			return err
		}
		if len(ts) == 0 {
			return fault.ErrNotFound
		}
		t = ts[0]
		inc, err := s.load(ctx, tx.Handle, r, t.IncidentID)
		if err != nil {
			return err
		}
		if err := writable(inc); err != nil {
			return err
		}
		if a.OrgID != t.AssigneeOrg && a.OrgID != t.Share.Owner && a.OrgID != inc.Share.Owner {
			return fault.New(fault.Forbidden, "not_assignee", "only the assigned organisation, the task's author and the incident's owner may tick it off")
		}
		if done == (t.DoneAt != 0) {
			return nil
		}
		var at int64
		var by any
		if done {
			at, by = db.Now(), a.UserID
		}
		if _, err := tx.Exec(ctx, `UPDATE incident_tasks SET done_at = ?, done_by = ? WHERE id = ?`, at, by, taskID); err != nil {
			return fmt.Errorf("tick task: %w", db.Map(err))
		}
		t.DoneAt, t.Overdue = at, false
		if err := s.runTaskDone(ctx, tx, a, taskID, done); err != nil {
			return err
		}
		if done {
			if _, err := s.addEntry(ctx, tx, a, inc.Share, "task", t.Title); err != nil {
				return err
			}
		} else if err := s.touchParticipant(ctx, tx, inc.ID, a.OrgID, db.Now()); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, a.UserID, EventTask, inc, &t.Share, t.Title); err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "incident.task.done", ObjectType: "incident_task", ObjectID: taskID,
			Orgs: []string{inc.Share.Owner}, Detail: map[string]any{"done": done}, Touches: touches(inc.ID)})
	})
	return t, err
}

// FindTasks lists the tasks of an incident the reader may see (else not
// found): those the reader may see, in order of writing.
func (s *Service) FindTasks(ctx context.Context, a policy.Actor, incidentID string) ([]Task, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	if _, err := r.Envelope(ctx, h, s.incidents, incidentID); err != nil {
		return nil, err
	}
	return s.findTasks(ctx, h, r, incidentID, "")
}

func (s *Service) findTasks(ctx context.Context, h db.Handle, r *policy.Reader, incidentID, taskID string) ([]Task, error) {
	q := db.Q(`SELECT t.incident_id, t.title, COALESCE(t.assignee_org, ''), COALESCE(t.assignee_user, ''), COALESCE(au.name, ao.name, ''), t.due_at, t.done_at, u.name, o.name, ` + s.tasks.Columns("t") + ` FROM `).
		Append(r.FromIn(s.tasks, "t", "ti")).
		Add(` JOIN users u ON u.id = t.author_id JOIN orgs o ON o.id = t.org_id LEFT JOIN users au ON au.id = t.assignee_user LEFT JOIN orgs ao ON ao.id = t.assignee_org WHERE `)
	if taskID != "" {
		q.Add(`t.id = ?`, taskID)
	} else {
		q.Add(`t.incident_id = ? ORDER BY t.id LIMIT 500`, incidentID)
	}
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	now := db.Now()
	out, err := db.Collect(rows, "list tasks", func(sc db.Scanner) (Task, error) {
		var t Task
		err := sc.Scan(s.tasks.Dest(&t.Share, []any{&t.IncidentID, &t.Title, &t.AssigneeOrg, &t.AssigneeUser, &t.AssigneeName, &t.DueAt, &t.DoneAt, &t.AuthorName, &t.OrgName})...)
		t.ID, t.CreatedAt = t.Share.ID, t.Share.CreatedAt
		t.Overdue = t.DoneAt == 0 && t.DueAt != 0 && now > t.DueAt
		return t, err
	})
	if err != nil {
		return nil, err
	}
	// The envelopes' named orgs and people: shown, and judged again for
	// every recipient of the change's events.
	shares := make([]*policy.Share, len(out))
	for i := range out {
		shares[i] = &out[i].Share
	}
	return out, r.Audiences(ctx, h, shares)
}
