package training

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Answers are a learner's answers: for each question, in order, the
// options chosen by their place (0 is the first).
type Answers struct {
	Answers [][]int `json:"answers"`
}

// Result is a scored attempt, as its person (and their admins) see it:
// which questions were answered right, never which answers are.
type Result struct {
	ID           string `json:"id"`
	ModuleID     string `json:"module_id"`
	AssignmentID string `json:"assignment_id"`
	Score        int    `json:"score"` // percent of the questions answered right
	PassMark     int    `json:"pass_mark"`
	Passed       bool   `json:"passed"`
	Right        []bool `json:"right"` // per question
	CreatedAt    int64  `json:"created_at"`
	// Certificate is the address of the certificate of completion (passed
	// attempts).
	Certificate string `json:"certificate,omitempty"`
}

// score compares answers with the key: a question is right when exactly
// its correct options were chosen. The score is the percentage of right
// questions, rounded down (a pass mark is never reached by rounding).
func score(key, answers [][]int) (int, []bool) {
	right := make([]bool, len(key))
	n := 0
	for i := range key {
		got := slices.Clone(answers[i])
		slices.Sort(got)
		if slices.Equal(got, key[i]) {
			right[i] = true
			n++
		}
	}
	return n * 100 / len(key), right
}

// checkAnswers refuses answers that do not fit the questions: one list per
// question, each naming options the question has, once, and exactly one
// for a single-choice question.
func checkAnswers(qs []Question, answers [][]int) error {
	if len(answers) != len(qs) {
		return fault.BadInput("answers", "quiz_answers_count", "answer each of the {count} questions: the answers name {given}").
			With("count", len(qs)).With("given", len(answers))
	}
	for i, q := range qs {
		n := i + 1
		if len(answers[i]) == 0 {
			return fault.BadInput(fmt.Sprintf("answers[%d]", i), "quiz_answer_missing", "question {n}: choose an answer").With("n", n)
		}
		seen := map[int]bool{}
		for _, o := range answers[i] {
			if o < 0 || o >= len(q.Options) || seen[o] {
				return fault.BadInput(fmt.Sprintf("answers[%d]", i), "quiz_bad_answer", "question {n}: there is no answer {o} to choose, or it was chosen twice").
					With("n", n).With("o", o+1)
			}
			seen[o] = true
		}
		if q.Kind == Single && len(answers[i]) != 1 {
			return fault.BadInput(fmt.Sprintf("answers[%d]", i), "quiz_one_answer", "question {n} is single choice: choose exactly one answer").With("n", n)
		}
	}
	return nil
}

// SubmitAnswers scores a person's answers to a module assigned to them by
// their organisation and keeps the attempt. A module the person may not
// see is not found; one not assigned to them, or whose every assignment
// is past its due date, takes no answers. Nothing is written unless the
// answers are taken.
func (s *Service) SubmitAnswers(ctx context.Context, a policy.Actor, moduleID string, in Answers) (Result, error) {
	if a.UserID == "" {
		return Result{}, fault.ErrNotFound
	}
	var res Result
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		m, err := s.module(ctx, tx.Handle, r, moduleID)
		if err != nil {
			return err
		}
		as, err := s.openAssignment(ctx, tx.Handle, a, moduleID)
		if err != nil {
			return err
		}
		if err := checkAnswers(m.Questions, in.Answers); err != nil {
			return err
		}
		if !s.attempts.Allow(a.UserID, time.Now()) {
			return fault.New(fault.RateLimited, "quiz_rate", "too many attempts in a short time: read the guide again and try in a minute")
		}
		var keyText string
		if err := tx.QueryRow(ctx, `SELECT answer_key FROM training_modules WHERE id = ?`, m.ID).Scan(&keyText); err != nil {
			return db.NotFound(err, "load answer key")
		}
		var key [][]int
		if err := decodeJSON(keyText, &key, "answer key"); err != nil {
			return err
		}
		if len(key) != len(m.Questions) {
			return fmt.Errorf("module %s: %d questions but %d keys", m.ID, len(m.Questions), len(key))
		}
		res = Result{ID: db.NewID(), ModuleID: m.ID, AssignmentID: as.ID, PassMark: m.PassMark, CreatedAt: db.Now()}
		res.Score, res.Right = score(key, in.Answers)
		res.Passed = res.Score >= m.PassMark
		if res.Passed {
			res.Certificate = "/training/attempts/" + res.ID + "/certificate"
		}
		answers, err := json.Marshal(in.Answers)
		if err != nil {
			return fmt.Errorf("encode answers: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO training_attempts (id, org_id, user_id, module_id, assignment_id, answers, score, passed, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, res.ID, a.OrgID, a.UserID, m.ID, as.ID, string(answers), res.Score, boolInt(res.Passed), res.CreatedAt); err != nil {
			return fmt.Errorf("insert attempt: %w", err)
		}
		// The admins' open pages of the module update the person's row in
		// every assignment of theirs that covers them: each event names
		// its row under "a-<assignment>", the key the progress table of
		// that assignment takes (data-live-view), so that a table of
		// another assignment gains no row.
		mine, err := s.covering(ctx, tx.Handle, a, moduleID)
		if err != nil {
			return err
		}
		sh := m.Share
		tx.AfterCommit(func() {
			for _, c := range mine {
				s.Events.Publish(events.Event{Type: "training.attempt", Share: &sh, Orgs: []string{a.OrgID}, Roles: []policy.Role{policy.Admin},
					Topics: []string{"training:" + moduleID}, Data: map[string]string{"id": res.ID, "module": moduleID, "assignment": c, "replace": "true",
						"a-" + c: "/training/assignments/" + c + "/people/" + a.UserID + "/fragment"}})
			}
		})
		// The record says that answers were sent, not how they scored: the
		// org's auditors read the trail, and a person's results are for
		// them and their admins (the progress pages).
		return audit.Write(ctx, tx, a, audit.Entry{Action: "training.attempt", ObjectType: "training_attempt", ObjectID: res.ID,
			Detail: map[string]any{"module": m.ID, "assignment": as.ID}, Touches: touches(moduleID)})
	})
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// openAssignment is the assignment a person's answers to a module count
// for: of those of their organisation that cover them, the newest that
// still takes answers. Without one the answers are refused: not assigned,
// or past the due date.
func (s *Service) openAssignment(ctx context.Context, h db.Handle, a policy.Actor, moduleID string) (Assignment, error) {
	rows, err := h.Query(ctx, `SELECT a.id, a.due_at FROM training_assignments a WHERE a.org_id = ? AND a.module_id = ? AND `+covers+`
		ORDER BY a.created_at DESC, a.id DESC`, a.OrgID, moduleID, string(a.Role), a.UserID)
	if err != nil {
		return Assignment{}, fmt.Errorf("find assignment: %w", err)
	}
	all, err := db.Collect(rows, "find assignment", func(r db.Scanner) (as Assignment, err error) {
		err = r.Scan(&as.ID, &as.DueAt)
		return as, err
	})
	if err != nil {
		return Assignment{}, err
	}
	if len(all) == 0 {
		return Assignment{}, fault.New(fault.Forbidden, "quiz_not_assigned", "this module has not been assigned to you: only assigned modules take answers; ask an admin of your organisation")
	}
	now := db.Now()
	last := int64(0)
	for _, as := range all {
		if !as.Overdue(now) {
			return as, nil
		}
		last = max(last, as.DueAt)
	}
	return Assignment{}, fault.New(fault.Conflict, "quiz_overdue", "the due date {date} has passed: answers are no longer taken; ask an admin of your organisation for a new assignment").
		With("date", dueDate(last))
}

// covering lists the ids of the person's organisation's assignments of a
// module that cover them.
func (s *Service) covering(ctx context.Context, h db.Handle, a policy.Actor, moduleID string) ([]string, error) {
	rows, err := h.Query(ctx, `SELECT a.id FROM training_assignments a WHERE a.org_id = ? AND a.module_id = ? AND `+covers,
		a.OrgID, moduleID, string(a.Role), a.UserID)
	if err != nil {
		return nil, fmt.Errorf("find assignments: %w", err)
	}
	return db.Collect(rows, "find assignments", func(r db.Scanner) (id string, err error) { err = r.Scan(&id); return id, err })
}

// FindResults lists the reader's own attempts at a module they may see,
// newest first (at most 50).
func (s *Service) FindResults(ctx context.Context, a policy.Actor, moduleID string) ([]Result, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT t.id, t.assignment_id, t.score, t.passed, t.created_at, m.pass_mark FROM training_attempts t`).Append(r.Join(s.modules, "m", "t.module_id")).
		Add(` WHERE t.user_id = ? AND t.module_id = ? ORDER BY t.created_at DESC LIMIT 50`, a.UserID, moduleID)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	return db.Collect(rows, "list attempts", func(sc db.Scanner) (Result, error) {
		res := Result{ModuleID: moduleID}
		var passed int
		err := sc.Scan(&res.ID, &res.AssignmentID, &res.Score, &passed, &res.CreatedAt, &res.PassMark)
		res.Passed = passed == 1
		if res.Passed {
			res.Certificate = "/training/attempts/" + res.ID + "/certificate"
		}
		return res, err
	})
}

// Certificate is what a certificate of completion says.
type Certificate struct {
	ID         string // the passing attempt
	Person     string
	OrgName    string
	Module     Module // title and languages, owner org's name
	Score      int
	PassMark   int
	PassedAt   int64
	AssignedBy string // the person's organisation (which assigned it)
}

// FindCertificate returns the certificate of a passed attempt: for its
// person and the admins of their organisation, while they may see the
// module (else not found, as for an attempt that does not exist).
func (s *Service) FindCertificate(ctx context.Context, a policy.Actor, attemptID string) (Certificate, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return Certificate{}, err
	}
	var c Certificate
	var moduleID string
	q := db.Q(`SELECT t.id, t.module_id, t.score, t.created_at, u.name, o.name FROM training_attempts t JOIN users u ON u.id = t.user_id
		JOIN orgs o ON o.id = t.org_id`).Append(r.Join(s.modules, "m", "t.module_id")).
		Add(` WHERE t.id = ? AND t.passed = 1 AND t.org_id = ? AND (t.user_id = ? OR ? = 1)`, attemptID, a.OrgID, a.UserID, boolInt(a.Role == policy.Admin))
	if err := h.SelectRow(ctx, q).Scan(&c.ID, &moduleID, &c.Score, &c.PassedAt, &c.Person, &c.OrgName); err != nil {
		return c, db.NotFound(err, "load certificate")
	}
	if c.Module, err = s.module(ctx, h, r, moduleID); err != nil {
		return c, err
	}
	c.PassMark = c.Module.PassMark
	return c, nil
}

// FindResult returns one of the reader's own attempts at a module they may
// see, with which questions were answered right (else not found).
func (s *Service) FindResult(ctx context.Context, a policy.Actor, id string) (Result, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return Result{}, err
	}
	var res Result
	var passed int
	var answers, key string
	q := db.Q(`SELECT t.id, t.module_id, t.assignment_id, t.score, t.passed, t.created_at, t.answers, m.pass_mark, m.answer_key FROM training_attempts t`).
		Append(r.Join(s.modules, "m", "t.module_id")).Add(` WHERE t.id = ? AND t.user_id = ?`, id, a.UserID)
	if err := h.SelectRow(ctx, q).Scan(&res.ID, &res.ModuleID, &res.AssignmentID, &res.Score, &passed, &res.CreatedAt, &answers, &res.PassMark, &key); err != nil {
		return res, db.NotFound(err, "load attempt")
	}
	res.Passed = passed == 1
	if res.Passed {
		res.Certificate = "/training/attempts/" + res.ID + "/certificate"
	}
	var given, correct [][]int
	if err := decodeJSON(answers, &given, "answers"); err != nil {
		return res, err
	}
	if err := decodeJSON(key, &correct, "answer key"); err != nil {
		return res, err
	}
	if len(given) == len(correct) && len(correct) > 0 {
		_, res.Right = score(correct, given)
	}
	return res, nil
}
