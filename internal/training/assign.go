package training

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/notify"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// Assignment targets.
const (
	TargetPeople = "people"
	TargetRole   = "role"
	TargetOrg    = "org"
)

// NewAssignment is an admin's assignment of a module to their own people.
type NewAssignment struct {
	Target  string   `json:"target"`             // people, role, org
	People  []string `json:"people,omitempty"`   // target people: user ids of the admin's organisation
	Role    string   `json:"role,omitempty"`     // target role
	DueDate string   `json:"due_date,omitempty"` // YYYY-MM-DD: the last day answers are taken; "" for none
}

// Assignment is a module assigned by an organisation to some of its
// people: that organisation's own data.
type Assignment struct {
	ID        string   `json:"id"`
	ModuleID  string   `json:"module_id"`
	Title     Text     `json:"module_title"`
	Languages []string `json:"module_languages"`
	Target    string   `json:"target"`
	Role      string   `json:"role,omitempty"`
	People    []string `json:"people,omitempty"` // target people (admins' answers)
	DueDate   string   `json:"due_date,omitempty"`
	DueAt     int64    `json:"due_at,omitempty"` // the first moment answers are no longer taken
	CreatedAt int64    `json:"created_at"`
	// RemindedAt is the last reminder an admin sent (0: none).
	RemindedAt int64 `json:"reminded_at,omitempty"`
	// Assigned and Completed count the people it covers and those who
	// passed since it was made (admins' lists).
	Assigned  int `json:"assigned"`
	Completed int `json:"completed"`
	// Mine is the reader's own progress on it (lists of their own).
	Mine *Status `json:"mine,omitempty"`
	org  string
}

// TitleIn is the title of the assigned module in lang.
func (a Assignment) TitleIn(lang string) string { return a.Title.In(lang, a.Languages) }

// DueLast is the last moment answers are taken (pages show its date).
func (a Assignment) DueLast() int64 { return a.DueAt - 1 }

// Rate is the assignment's completion as a rate (its organisation's own:
// shown whatever the number of people).
func (a Assignment) Rate() OrgRate {
	r := OrgRate{Assigned: a.Assigned}
	if a.Assigned > 0 {
		completed, rate := a.Completed, (a.Completed*100+a.Assigned/2)/a.Assigned
		r.Completed, r.Rate = &completed, &rate
	}
	return r
}

// Overdue reports whether answers are no longer taken at now.
func (a Assignment) Overdue(now int64) bool { return a.DueAt != 0 && now >= a.DueAt }

// Status is one person's progress on one assignment.
type Status struct {
	State     string `json:"status"` // not_started, in_progress, passed, overdue
	Attempts  int    `json:"attempts"`
	BestScore int    `json:"best_score"` // percent; 0 without attempts
	PassedAt  int64  `json:"passed_at,omitempty"`
	// Certificate is the id of the first passing attempt: its certificate
	// of completion (/training/attempts/{id}/certificate).
	Certificate string `json:"certificate,omitempty"`
}

// States of a person's progress.
const (
	NotStarted = "not_started"
	InProgress = "in_progress"
	Passed     = "passed"
	Overdue    = "overdue"
)

func (st *Status) decide(dueAt, now int64) {
	switch {
	case st.PassedAt != 0:
		st.State = Passed
	case dueAt != 0 && now >= dueAt:
		st.State = Overdue
	case st.Attempts > 0:
		st.State = InProgress
	default:
		st.State = NotStarted
	}
}

// berlin is the time zone of due dates (the hub's display zone).
var berlin = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Berlin"); err == nil {
		return l
	}
	return time.UTC
}()

// dueDate is the date of the last day answers are taken before dueAt.
func dueDate(dueAt int64) string {
	if dueAt == 0 {
		return ""
	}
	return time.UnixMicro(dueAt - 1).In(berlin).Format("2006-01-02")
}

// covers is the condition that assignment a covers person (role, id), with
// its arguments.
const covers = `(a.target = 'org' OR (a.target = 'role' AND a.role = ?) OR (a.target = 'people' AND EXISTS (
	SELECT 1 FROM training_assignees x WHERE x.assignment_id = a.id AND x.user_id = ?)))`

// assignmentColumns are the columns scanAssignment reads (a: the
// assignment, m: its module, joined through the reader).
const assignmentColumns = `a.id, a.org_id, a.module_id, a.target, a.role, a.due_at, a.created_at, a.reminded_at, m.languages, m.title`

func scanAssignment(r db.Scanner, extra ...any) (Assignment, error) {
	var as Assignment
	var langs, title string
	err := r.Scan(append([]any{&as.ID, &as.org, &as.ModuleID, &as.Target, &as.Role, &as.DueAt, &as.CreatedAt, &as.RemindedAt, &langs, &title}, extra...)...)
	if err != nil {
		return as, err
	}
	as.Languages = strings.Split(langs, ",")
	as.DueDate = dueDate(as.DueAt)
	return as, decodeJSON(title, &as.Title, "module title")
}

// CreateAssignment assigns a module the admin's organisation may see to
// its own people, a role or everyone in it. A module shared with named
// people goes to those of them in the organisation only.
func (s *Service) CreateAssignment(ctx context.Context, a policy.Actor, moduleID string, in NewAssignment) (Assignment, error) {
	if !a.CanAdmin() {
		return Assignment{}, fault.New(fault.Forbidden, "admin_required", "only an admin of your organisation may do this")
	}
	target := strings.ToLower(strings.TrimSpace(in.Target))
	as := Assignment{ID: db.NewID(), ModuleID: moduleID, Target: target, CreatedAt: db.Now(), org: a.OrgID}
	switch target {
	case TargetOrg:
	case TargetRole:
		role, err := policy.ParseRole(in.Role)
		if err != nil {
			return Assignment{}, err
		}
		as.Role = string(role)
	case TargetPeople:
		for _, p := range in.People {
			if p = strings.TrimSpace(p); p != "" && !slices.Contains(as.People, p) {
				as.People = append(as.People, p)
			}
		}
		if len(as.People) == 0 {
			return Assignment{}, fault.BadInput("people", "assignment_people_missing", "choose at least one person to assign the module to")
		}
	default:
		return Assignment{}, fault.BadInput("target", "assignment_bad_target", `unknown target "{target}": assign to people, a role or the org`).With("target", in.Target)
	}
	if in.DueDate != "" {
		_, next, err := web.Day("due_date", "due date", "training.due_date", strings.TrimSpace(in.DueDate))
		if err != nil {
			return Assignment{}, err
		}
		if next <= as.CreatedAt {
			return Assignment{}, fault.BadInput("due_date", "assignment_due_past", "the due date has passed already: choose today or a later day")
		}
		as.DueAt, as.DueDate = next, dueDate(next)
	}
	var m Module
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		if m, err = s.module(ctx, tx.Handle, r, moduleID); err != nil {
			return err
		}
		as.Title, as.Languages = m.Title, m.Languages
		if err := s.checkAssignees(ctx, tx.Handle, a, m, as); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO training_assignments (id, org_id, module_id, target, role, due_at, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			as.ID, a.OrgID, moduleID, target, as.Role, as.DueAt, a.UserID, as.CreatedAt); err != nil {
			return fmt.Errorf("insert assignment: %w", err)
		}
		if len(as.People) > 0 {
			vals := make([]any, 0, 2*len(as.People))
			for _, p := range as.People {
				vals = append(vals, as.ID, p)
			}
			if err := tx.InsertMany(ctx, "training_assignees (assignment_id, user_id)", 2, vals); err != nil {
				return err
			}
		}
		if as.Assigned, as.Completed, err = s.count(ctx, tx.Handle, as); err != nil {
			return err
		}
		sh := m.Share
		tx.AfterCommit(func() {
			e := events.Event{Type: "training.assigned", Share: &sh, Orgs: []string{a.OrgID}, Topics: []string{"training", "training:" + moduleID},
				Data: map[string]string{"id": as.ID, "module": moduleID, "fragment": "/training/assignments/" + as.ID + "/fragment"}}
			if as.Role != "" {
				e.Roles = []policy.Role{policy.Role(as.Role)}
			}
			s.publishTo(e, as.People)
		})
		return audit.Write(ctx, tx, a, audit.Entry{Action: "training.assign", ObjectType: "training_assignment", ObjectID: as.ID,
			Detail:  map[string]any{"module": moduleID, "target": target, "role": as.Role, "people": as.People, "due_date": as.DueDate, "assigned": as.Assigned},
			Touches: touches(moduleID)})
	})
	if err != nil {
		return Assignment{}, err
	}
	return as, nil
}

// checkAssignees refuses people who are not active people of the admin's
// organisation (they answer as people who do not exist) and people who may
// not read the module: a module shared with named people goes only to
// those of them in the organisation (and, below TLP:RED, to the owner's
// own people), never to a role or the whole organisation that includes
// others.
func (s *Service) checkAssignees(ctx context.Context, h db.Handle, a policy.Actor, m Module, as Assignment) error {
	v, err := policy.LoadView(ctx, h, a, db.Now())
	if err != nil {
		return err
	}
	canSee := func(user string) bool {
		pv := *v
		pv.UserID = user
		return pv.CanSee(m.Share)
	}
	if as.Target != TargetPeople {
		q, args := covered(as)
		rows, err := h.Query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("list assignees: %w", err)
		}
		people, err := db.Collect(rows, "list assignees", func(r db.Scanner) (p [2]string, err error) { err = r.Scan(&p[0], &p[1]); return p, err })
		if err != nil {
			return err
		}
		for _, p := range people {
			if !canSee(p[0]) {
				return fault.BadInput("target", "assignment_needs_people", "this module is shared with named people only: assign it to those of them in your organisation")
			}
		}
		return nil
	}
	for _, p := range as.People {
		var org, name string
		var disabled int
		err := h.QueryRow(ctx, `SELECT org_id, name, disabled FROM users WHERE id = ?`, p).Scan(&org, &name, &disabled)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("check assignee: %w", db.Map(err))
		}
		if err != nil || org != a.OrgID || disabled != 0 {
			return fault.BadInput("people", "assignment_unknown_person", `unknown person "{person}": assign modules to active people of your organisation`).With("person", p)
		}
		if !canSee(p) {
			return fault.BadInput("people", "assignment_person_cannot_see", "{name} may not read this module: its audience does not include them").With("name", name)
		}
	}
	return nil
}

// publishTo publishes e, to people (in batches: an event's list must fit
// the PostgreSQL relay's message) when they are named.
func (s *Service) publishTo(e events.Event, people []string) {
	if len(people) == 0 {
		s.Events.Publish(e)
		return
	}
	for chunk := range slices.Chunk(people, 100) {
		c := e
		c.Users = chunk
		s.Events.Publish(c)
	}
}

// covered is the query of the active people assignment as covers (columns
// id, name), with its arguments.
func covered(as Assignment) (string, []any) {
	switch as.Target {
	case TargetPeople:
		return `SELECT u.id, u.name FROM training_assignees x JOIN users u ON u.id = x.user_id WHERE x.assignment_id = ? AND u.disabled = 0`, []any{as.ID}
	case TargetRole:
		return `SELECT u.id, u.name FROM users u WHERE u.org_id = ? AND u.role = ? AND u.disabled = 0`, []any{as.org, as.Role}
	}
	return `SELECT u.id, u.name FROM users u WHERE u.org_id = ? AND u.disabled = 0`, []any{as.org}
}

// count counts the people as covers and those of them who passed its
// module since it was made.
func (s *Service) count(ctx context.Context, h db.Handle, as Assignment) (assigned, completed int, err error) {
	q, args := covered(as)
	err = h.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM training_attempts t
		WHERE t.user_id = c.id AND t.module_id = ? AND t.passed = 1 AND t.created_at >= ?) THEN 1 ELSE 0 END), 0) FROM (`+q+`) c`,
		append([]any{as.ModuleID, as.CreatedAt}, args...)...).Scan(&assigned, &completed)
	if err != nil {
		return 0, 0, fmt.Errorf("count assignment: %w", db.Map(err))
	}
	return assigned, completed, nil
}

// status reads one person's progress on as at now.
func (s *Service) status(ctx context.Context, h db.Handle, as Assignment, user string, now int64) (Status, error) {
	var st Status
	var passedAt sql.NullInt64
	var cert sql.NullString
	err := h.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(score), 0), MIN(CASE WHEN passed = 1 THEN created_at END), MIN(CASE WHEN passed = 1 THEN id END)
		FROM training_attempts WHERE user_id = ? AND module_id = ? AND created_at >= ?`, user, as.ModuleID, as.CreatedAt).
		Scan(&st.Attempts, &st.BestScore, &passedAt, &cert)
	if err != nil {
		return st, fmt.Errorf("read progress: %w", db.Map(err))
	}
	st.PassedAt, st.Certificate = passedAt.Int64, cert.String
	st.decide(as.DueAt, now)
	return st, nil
}

// Assignment scopes.
const (
	ScopeMine = "mine" // the assignments that cover the reader
	ScopeOrg  = "org"  // every assignment of the reader's organisation (admins)
)

// FindAssignments lists assignments of the reader's organisation whose
// module the reader may see, newest first: those that cover the reader
// (scope mine, with their progress), or all of them (scope org, admins,
// with counts).
func (s *Service) FindAssignments(ctx context.Context, a policy.Actor, scope, module, cursor string, limit int) ([]Assignment, string, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	if scope == "" {
		scope = ScopeMine
	}
	if scope != ScopeMine && scope != ScopeOrg {
		return nil, "", fault.BadInput("scope", "assignment_bad_scope", `unknown scope "{scope}": use mine or org`).With("scope", scope)
	}
	if scope == ScopeOrg && a.Role != policy.Admin {
		return nil, "", fault.New(fault.Forbidden, "admin_required", "only an admin of your organisation may do this")
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, "", err
	}
	q := db.Q(`SELECT `+assignmentColumns+` FROM training_assignments a`).Append(r.Join(s.modules, "m", "a.module_id")).
		Add(` WHERE a.org_id = ?`, a.OrgID)
	if scope == ScopeMine {
		q.Add(` AND `+covers, string(a.Role), a.UserID)
	}
	if module != "" {
		q.Add(` AND a.module_id = ?`, module)
	}
	if after != "" {
		q.Add(` AND a.id < ?`, after)
	}
	q.Add(` ORDER BY a.id DESC LIMIT ?`, limit+1)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("list assignments: %w", err)
	}
	out, err := db.CollectN(rows, limit+1, "list assignments", func(sc db.Scanner) (Assignment, error) { return scanAssignment(sc) })
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = Cursor(out[len(out)-1].ID)
	}
	now := db.Now()
	for i := range out {
		if scope == ScopeMine {
			st, err := s.status(ctx, h, out[i], a.UserID, now)
			if err != nil {
				return nil, "", err
			}
			out[i].Mine = &st
			continue
		}
		if out[i].Assigned, out[i].Completed, err = s.count(ctx, h, out[i]); err != nil {
			return nil, "", err
		}
		if out[i].Target == TargetPeople {
			if out[i].People, err = s.assignees(ctx, h, out[i].ID); err != nil {
				return nil, "", err
			}
		}
	}
	return out, next, nil
}

func (s *Service) assignees(ctx context.Context, h db.Handle, id string) ([]string, error) {
	rows, err := h.Query(ctx, `SELECT user_id FROM training_assignees WHERE assignment_id = ? ORDER BY user_id`, id)
	if err != nil {
		return nil, fmt.Errorf("list assignees: %w", err)
	}
	return db.Collect(rows, "list assignees", func(r db.Scanner) (p string, err error) { err = r.Scan(&p); return p, err })
}

// FindMyAssignment returns one assignment that covers the reader, with
// their progress (else not found): the row of their training list.
func (s *Service) FindMyAssignment(ctx context.Context, a policy.Actor, id string) (Assignment, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return Assignment{}, err
	}
	q := db.Q(`SELECT `+assignmentColumns+` FROM training_assignments a`).Append(r.Join(s.modules, "m", "a.module_id")).
		Add(` WHERE a.id = ? AND a.org_id = ? AND `+covers, id, a.OrgID, string(a.Role), a.UserID)
	as, err := scanAssignment(h.SelectRow(ctx, q))
	if err != nil {
		return as, db.NotFound(err, "load assignment")
	}
	st, err := s.status(ctx, h, as, a.UserID, db.Now())
	as.Mine = &st
	return as, err
}

// orgAssignment reads an assignment of the admin's organisation whose
// module the admin may see (else not found).
func (s *Service) orgAssignment(ctx context.Context, h db.Handle, a policy.Actor, id string) (Assignment, policy.Share, error) {
	if a.Role != policy.Admin {
		return Assignment{}, policy.Share{}, fault.ErrNotFound
	}
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return Assignment{}, policy.Share{}, err
	}
	var sh policy.Share
	q := db.Q(`SELECT `+assignmentColumns+`, `+s.modules.Columns("m")+` FROM training_assignments a`).Append(r.Join(s.modules, "m", "a.module_id")).
		Add(` WHERE a.id = ? AND a.org_id = ?`, id, a.OrgID)
	as, err := scanAssignment(h.SelectRow(ctx, q), s.modules.Dest(&sh, nil)...)
	if err != nil {
		return as, sh, db.NotFound(err, "load assignment")
	}
	return as, sh, r.Audiences(ctx, h, []*policy.Share{&sh})
}

// Remind sends the people an assignment covers who have not passed yet a
// reminder (live, to their open pages; by e-mail once the hub sends
// e-mail) and returns how many were reminded: admins of its organisation.
func (s *Service) Remind(ctx context.Context, a policy.Actor, id string) (int, error) {
	if !a.CanAdmin() {
		return 0, fault.New(fault.Forbidden, "admin_required", "only an admin of your organisation may do this")
	}
	var n int
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		as, sh, err := s.orgAssignment(ctx, tx.Handle, a, id)
		if err != nil {
			return err
		}
		people, err := s.notDone(ctx, tx.Handle, as)
		if err != nil {
			return err
		}
		n = len(people)
		now := db.Now()
		if _, err := tx.Exec(ctx, `UPDATE training_assignments SET reminded_at = ? WHERE id = ?`, now, as.ID); err != nil {
			return fmt.Errorf("note reminder: %w", err)
		}
		tx.AfterCommit(func() { s.publishReminder(as, sh, people) })
		return audit.Write(ctx, tx, a, audit.Entry{Action: "training.remind", ObjectType: "training_assignment", ObjectID: as.ID,
			Detail: map[string]any{"module": as.ModuleID, "reminded": n}, Touches: touches(as.ModuleID)})
	})
	return n, err
}

// notDone lists the people as covers who have not passed its module since
// it was made.
func (s *Service) notDone(ctx context.Context, h db.Handle, as Assignment) ([]string, error) {
	q, args := covered(as)
	rows, err := h.Query(ctx, `SELECT c.id FROM (`+q+`) c WHERE NOT EXISTS (SELECT 1 FROM training_attempts t
		WHERE t.user_id = c.id AND t.module_id = ? AND t.passed = 1 AND t.created_at >= ?) ORDER BY c.id`, append(args, as.ModuleID, as.CreatedAt)...)
	if err != nil {
		return nil, fmt.Errorf("list people to remind: %w", err)
	}
	return db.Collect(rows, "list people to remind", func(r db.Scanner) (p string, err error) { err = r.Scan(&p); return p, err })
}

func (s *Service) publishReminder(as Assignment, module policy.Share, people []string) {
	if len(people) == 0 {
		return
	}
	s.publishTo(events.Event{Type: "training.reminder", Share: &module, Orgs: []string{as.org}, Topics: []string{"training", "training:" + as.ModuleID},
		Data: map[string]string{"id": as.ID, "module": as.ModuleID, "fragment": "/training/assignments/" + as.ID + "/fragment", "replace": "true"}}, people)
}

// RemindDue sends the hub's own reminder for assignments whose due date is
// within DueSoon: once per assignment (replicas claim each with one
// update), to those who have not passed yet. It returns how many
// assignments it reminded of.
func (s *Service) RemindDue(ctx context.Context) (int, error) {
	now := db.Now()
	rows, err := s.DB.R().Query(ctx, `SELECT id FROM training_assignments WHERE auto_reminded_at = 0 AND due_at > ? AND due_at <= ? ORDER BY due_at LIMIT 100`,
		now, now+s.DueSoon.Microseconds())
	if err != nil {
		return 0, fmt.Errorf("find due assignments: %w", err)
	}
	ids, err := db.Collect(rows, "find due assignments", func(r db.Scanner) (id string, err error) { err = r.Scan(&id); return id, err })
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, id := range ids {
		err := s.DB.Tx(ctx, func(tx *db.Tx) error {
			res, err := tx.Exec(ctx, `UPDATE training_assignments SET auto_reminded_at = ? WHERE id = ? AND auto_reminded_at = 0`, db.Now(), id)
			if err != nil {
				return fmt.Errorf("claim reminder: %w", err)
			}
			if n, err := db.Affected(res); err != nil || n == 0 {
				return err // another replica took it
			}
			as := Assignment{ID: id}
			var creator string
			var role policy.Role
			err = tx.QueryRow(ctx, `SELECT a.org_id, a.module_id, a.target, a.role, a.due_at, a.created_at, a.created_by, u.role
				FROM training_assignments a JOIN users u ON u.id = a.created_by WHERE a.id = ?`, id).
				Scan(&as.org, &as.ModuleID, &as.Target, &as.Role, &as.DueAt, &as.CreatedAt, &creator, &role)
			if err != nil {
				return db.NotFound(err, "load due assignment")
			}
			as.DueDate = dueDate(as.DueAt)
			// The module as the admin who assigned it may see it now: a
			// module the organisation no longer sees is not reminded of,
			// and every reminder carries its envelope, so that only those
			// who may read it receive it.
			r, err := policy.NewReader(ctx, tx.Handle, policy.Actor{UserID: creator, OrgID: as.org, Role: role, Scope: policy.ScopeSession}, db.Now())
			if err != nil {
				return err
			}
			sh, err := r.Envelope(ctx, tx.Handle, s.modules, as.ModuleID)
			if fault.Is(err, fault.NotFound) {
				return audit.Write(ctx, tx, policy.System("reminder"), audit.Entry{Action: "training.remind_due", ObjectType: "training_assignment", ObjectID: id,
					Orgs: []string{as.org}, Detail: map[string]any{"module": as.ModuleID, "due_date": as.DueDate, "reminded": 0}, Touches: touches(as.ModuleID)})
			}
			if err != nil {
				return err
			}
			people, err := s.notDone(ctx, tx.Handle, as)
			if err != nil {
				return err
			}
			if err := s.mailReminder(ctx, tx, as, sh, people); err != nil {
				return err
			}
			sent++
			tx.AfterCommit(func() { s.publishReminder(as, sh, people) })
			return audit.Write(ctx, tx, policy.System("reminder"), audit.Entry{Action: "training.remind_due", ObjectType: "training_assignment", ObjectID: id,
				Orgs: []string{as.org}, Detail: map[string]any{"module": as.ModuleID, "due_date": as.DueDate, "reminded": len(people)}, Touches: touches(as.ModuleID)})
		})
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// mailReminder enqueues the reminder's mails in tx: to the people who
// have not passed, each only if they may see the module (notify judges
// it per person) and chose mails for training. The title goes in every
// language the module has; each mail takes its reader's.
func (s *Service) mailReminder(ctx context.Context, tx *db.Tx, as Assignment, module policy.Share, people []string) error {
	if !s.Notify.MailOn() || len(people) == 0 {
		return nil
	}
	var raw string
	if err := tx.QueryRow(ctx, `SELECT title FROM training_modules WHERE id = ?`, as.ModuleID).Scan(&raw); err != nil {
		return db.NotFound(err, "load the module's title")
	}
	var title Text
	if err := decodeJSON(raw, &title, "module title"); err != nil {
		return err
	}
	return s.Notify.Enqueue(ctx, tx, notify.Event{Type: EventReminder, Share: module, People: people,
		Data: map[string]any{"id": as.ID, "title": map[string]string(title), "due": as.DueDate, "path": "/training/modules/" + as.ModuleID}})
}

// EventReminder is the mail event of a reminder before a due date.
const EventReminder = "training.reminder"

// Reminders runs RemindDue every interval until ctx ends.
func (s *Service) Reminders(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.RemindDue(ctx); err != nil && ctx.Err() == nil {
				log.Warn("training reminders", "err", err)
			}
		}
	}
}
