package training

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"unicode/utf8"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// PersonProgress is one person's progress on one assignment, for the
// admins of their organisation.
type PersonProgress struct {
	AssignmentID string `json:"assignment_id"`
	UserID       string `json:"user_id"`
	Name         string `json:"name"`
	Status
}

// OrgRate is an organisation's completion rate of a module, shown to
// whoever the organisation shares its rates with: how many of its people
// its assignments cover and how many of them passed, never who. Below
// MinGroup people only the number of people is shown.
type OrgRate struct {
	OrgID     string `json:"org_id"`
	OrgName   string `json:"org_name"`
	Assigned  int    `json:"assigned"`
	Completed *int   `json:"completed,omitempty"`
	Rate      *int   `json:"rate,omitempty"` // percent
	// Shares are the organisation's rate shares that let the reader see
	// it.
	Shares []string `json:"shares"`
}

// Width is the rate's bar class (web.BarWidth).
func (o OrgRate) Width() int {
	if o.Rate == nil {
		return 0
	}
	return web.BarWidth(*o.Rate, 100)
}

// Done is the number of people who completed (0 where not shown).
func (o OrgRate) Done() int {
	if o.Completed == nil {
		return 0
	}
	return *o.Completed
}

// Percent is the rate in percent (0 where not shown).
func (o OrgRate) Percent() int {
	if o.Rate == nil {
		return 0
	}
	return *o.Rate
}

// Min is the fewest people a rate shared with another organisation counts.
func (o OrgRate) Min() int { return MinGroup }

// Progress is the progress of a module as far as the reader may know it:
// their own (Mine), their organisation's people for its admins
// (Assignments with counts, People of one of them, a page at a time), and
// the rates of other organisations that share theirs with the reader.
type Progress struct {
	ModuleID    string           `json:"module_id"`
	Mine        []Assignment     `json:"mine"`
	Assignments []Assignment     `json:"assignments,omitempty"`
	Assignment  string           `json:"assignment,omitempty"` // the assignment People are of
	People      []PersonProgress `json:"people,omitempty"`
	Next        string           `json:"next,omitempty"`
	Orgs        []OrgRate        `json:"orgs"`
}

// ProgressFilter chooses the people of a progress: one assignment's (the
// newest by default), a page at a time.
type ProgressFilter struct {
	Assignment string
	After      string
	Limit      int
}

// FindProgress returns a module's progress for the reader (the module must
// be visible to them, else not found).
func (s *Service) FindProgress(ctx context.Context, a policy.Actor, moduleID string, f ProgressFilter) (Progress, error) {
	p := Progress{ModuleID: moduleID, Mine: []Assignment{}, Orgs: []OrgRate{}}
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return p, err
	}
	if _, err := r.Envelope(ctx, h, s.modules, moduleID); err != nil {
		return p, err
	}
	if p.Mine, _, err = s.FindAssignments(ctx, a, ScopeMine, moduleID, "", 200); err != nil {
		return p, err
	}
	if a.Role == policy.Admin {
		if p.Assignments, _, err = s.FindAssignments(ctx, a, ScopeOrg, moduleID, "", 50); err != nil {
			return p, err
		}
		var as *Assignment
		for i := range p.Assignments {
			if f.Assignment == "" || p.Assignments[i].ID == f.Assignment {
				as = &p.Assignments[i]
				break
			}
		}
		switch {
		case as != nil:
			p.Assignment = as.ID
			if p.People, p.Next, err = s.people(ctx, h, *as, f.After, f.Limit); err != nil {
				return p, err
			}
		case f.Assignment != "":
			return p, fault.ErrNotFound
		}
	} else if f.Assignment != "" {
		return p, fault.ErrNotFound
	}
	orgs, err := s.rateOrgs(ctx, h, r, a)
	if err != nil {
		return p, err
	}
	for _, o := range orgs {
		if err := s.rate(ctx, h, &o, moduleID); err != nil {
			return p, err
		}
		if o.Assigned > 0 {
			p.Orgs = append(p.Orgs, o)
		}
	}
	return p, nil
}

// people is a page of the people as covers, by name, with their progress.
func (s *Service) people(ctx context.Context, h db.Handle, as Assignment, cursor string, limit int) ([]PersonProgress, string, error) {
	if limit <= 0 || limit > 200 {
		limit = 100
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	q, args := covered(as)
	q = `SELECT c.id, c.name FROM (` + q + `) c`
	if after != "" {
		name, id, ok := strings.Cut(after, "\x00")
		if !ok {
			return nil, "", fault.BadInput("next", "bad_cursor", "the page cursor is not valid: start from the first page")
		}
		q += ` WHERE (c.name > ? OR (c.name = ? AND c.id > ?))`
		args = append(args, name, name, id)
	}
	rows, err := h.Query(ctx, q+` ORDER BY c.name, c.id LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list assigned people: %w", err)
	}
	out, err := db.CollectN(rows, limit+1, "list assigned people", func(r db.Scanner) (PersonProgress, error) {
		pp := PersonProgress{AssignmentID: as.ID}
		err := r.Scan(&pp.UserID, &pp.Name)
		return pp, err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[len(out)-1]
		next = Cursor(last.Name + "\x00" + last.UserID)
	}
	return out, next, s.fillStatus(ctx, h, as, out)
}

// fillStatus reads the progress of a page of people on as, in one query.
func (s *Service) fillStatus(ctx context.Context, h db.Handle, as Assignment, ps []PersonProgress) error {
	if len(ps) == 0 {
		return nil
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.UserID
	}
	rows, err := h.Query(ctx, `SELECT user_id, COUNT(*), COALESCE(MAX(score), 0), MIN(CASE WHEN passed = 1 THEN created_at END), MIN(CASE WHEN passed = 1 THEN id END)
		FROM training_attempts WHERE module_id = ? AND created_at >= ? AND user_id IN (`+db.Placeholders(len(ids))+`) GROUP BY user_id`,
		append([]any{as.ModuleID, as.CreatedAt}, idArgs(ids)...)...)
	if err != nil {
		return fmt.Errorf("read progress: %w", err)
	}
	type row struct {
		user string
		st   Status
	}
	got, err := db.Collect(rows, "read progress", func(r db.Scanner) (row, error) {
		var x row
		var passedAt sql.NullInt64
		var cert sql.NullString
		err := r.Scan(&x.user, &x.st.Attempts, &x.st.BestScore, &passedAt, &cert)
		x.st.PassedAt, x.st.Certificate = passedAt.Int64, cert.String
		return x, err
	})
	if err != nil {
		return err
	}
	by := map[string]Status{}
	for _, x := range got {
		by[x.user] = x.st
	}
	now := db.Now()
	for i := range ps {
		st := by[ps[i].UserID]
		st.decide(as.DueAt, now)
		ps[i].Status = st
	}
	return nil
}

// FindPersonProgress returns one person's row of an assignment of the
// admin's organisation (else not found): the row an admin's open page
// replaces when the person sends answers.
func (s *Service) FindPersonProgress(ctx context.Context, a policy.Actor, assignmentID, userID string) (PersonProgress, error) {
	h := s.DB.R()
	as, _, err := s.orgAssignment(ctx, h, a, assignmentID)
	if err != nil {
		return PersonProgress{}, err
	}
	q, args := covered(as)
	pp := PersonProgress{AssignmentID: as.ID}
	if err := h.QueryRow(ctx, `SELECT c.id, c.name FROM (`+q+`) c WHERE c.id = ?`, append(args, userID)...).Scan(&pp.UserID, &pp.Name); err != nil {
		return pp, db.NotFound(err, "load assigned person")
	}
	ps := []PersonProgress{pp}
	err = s.fillStatus(ctx, h, as, ps)
	return ps[0], err
}

// rateOrgs lists the other organisations whose completion rates the
// reader may see (through their rate shares), by name.
func (s *Service) rateOrgs(ctx context.Context, h db.Handle, r *policy.Reader, a policy.Actor) ([]OrgRate, error) {
	q := db.Q(`SELECT rs.id, rs.org_id, o.name FROM `).Append(r.From(s.rates, "rs")).
		Add(` JOIN orgs o ON o.id = rs.org_id WHERE rs.org_id <> ? ORDER BY o.name_key, rs.id LIMIT 1000`, a.OrgID)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list rate shares: %w", err)
	}
	found, err := db.Collect(rows, "list rate shares", func(sc db.Scanner) (v [3]string, err error) {
		err = sc.Scan(&v[0], &v[1], &v[2])
		return v, err
	})
	if err != nil {
		return nil, err
	}
	var out []OrgRate
	for _, v := range found {
		if n := len(out); n > 0 && out[n-1].OrgID == v[1] {
			out[n-1].Shares = append(out[n-1].Shares, v[0])
			continue
		}
		out = append(out, OrgRate{OrgID: v[1], OrgName: v[2], Shares: []string{v[0]}})
	}
	return out, nil
}

// rate counts, for o's organisation and a module, the people its
// assignments cover and those who passed since the newest assignment
// that covers them; the rate only from MinGroup people on.
func (s *Service) rate(ctx context.Context, h db.Handle, o *OrgRate, moduleID string) error {
	var assigned, completed int
	err := h.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM training_attempts t
			WHERE t.user_id = c.uid AND t.module_id = ? AND t.passed = 1 AND t.created_at >= c.since) THEN 1 ELSE 0 END), 0)
		FROM (SELECT u.id AS uid, MAX(a.created_at) AS since FROM training_assignments a JOIN users u ON u.org_id = a.org_id AND u.disabled = 0
			AND (a.target = 'org' OR (a.target = 'role' AND u.role = a.role) OR (a.target = 'people' AND EXISTS (
				SELECT 1 FROM training_assignees x WHERE x.assignment_id = a.id AND x.user_id = u.id)))
			WHERE a.org_id = ? AND a.module_id = ? GROUP BY u.id) c`, moduleID, o.OrgID, moduleID).Scan(&assigned, &completed)
	if err != nil {
		return fmt.Errorf("count completion rate: %w", db.Map(err))
	}
	o.Assigned, o.Completed, o.Rate = assigned, nil, nil
	if assigned >= MinGroup {
		rate := (completed*100 + assigned/2) / assigned
		o.Completed, o.Rate = &completed, &rate
	}
	return nil
}

// ModuleRate is one module's line of an organisation's shared rates.
type ModuleRate struct {
	ModuleID  string   `json:"module_id"`
	Title     Text     `json:"module_title"`
	Languages []string `json:"module_languages"`
	OrgRate
}

// TitleIn is the module's title in lang.
func (m ModuleRate) TitleIn(lang string) string { return m.Title.In(lang, m.Languages) }

// OrgRates is an organisation's completion rates as a reader may see
// them: of the modules it assigned that the reader may see too.
type OrgRates struct {
	OrgID   string       `json:"org_id"`
	OrgName string       `json:"org_name"`
	Shares  []string     `json:"shares"`
	Modules []ModuleRate `json:"modules"`
}

// FindRates lists the completion rates other organisations share with the
// reader: per organisation, the modules it assigned that the reader may
// see (at most 100 each, newest first).
func (s *Service) FindRates(ctx context.Context, a policy.Actor) ([]OrgRates, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	orgs, err := s.rateOrgs(ctx, h, r, a)
	if err != nil {
		return nil, err
	}
	out := make([]OrgRates, 0, len(orgs))
	for _, o := range orgs {
		q := db.Q(`SELECT DISTINCT a.module_id, m.languages, m.title FROM training_assignments a`).Append(r.Join(s.modules, "m", "a.module_id")).
			Add(` WHERE a.org_id = ? ORDER BY a.module_id DESC LIMIT 100`, o.OrgID)
		rows, err := h.Select(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("list rated modules: %w", err)
		}
		mods, err := db.Collect(rows, "list rated modules", func(sc db.Scanner) (ModuleRate, error) {
			var m ModuleRate
			var langs, title string
			if err := sc.Scan(&m.ModuleID, &langs, &title); err != nil {
				return m, err
			}
			m.Languages = strings.Split(langs, ",")
			return m, decodeJSON(title, &m.Title, "module title")
		})
		if err != nil {
			return nil, err
		}
		for i := range mods {
			mods[i].OrgRate = OrgRate{OrgID: o.OrgID, OrgName: o.OrgName, Shares: o.Shares}
			if err := s.rate(ctx, h, &mods[i].OrgRate, mods[i].ModuleID); err != nil {
				return nil, err
			}
		}
		out = append(out, OrgRates{OrgID: o.OrgID, OrgName: o.OrgName, Shares: o.Shares, Modules: mods})
	}
	return out, nil
}

// RateShare is an organisation's disclosure of its completion rates.
type RateShare struct {
	ID        string       `json:"id"`
	OrgID     string       `json:"org_id"`
	OrgName   string       `json:"org_name"`
	Note      string       `json:"note,omitempty"`
	Share     policy.Share `json:"sharing"`
	CreatedAt int64        `json:"created_at"`
	// NotDeliveredTo lists circle members it did not reach (answer to a
	// share only).
	NotDeliveredTo []string `json:"not_delivered_to,omitempty"`
	AudienceNames  []string `json:"-"`
}

// NewRateShare shares an organisation's completion rates: with the
// coordinator of one of its trust circles (CoordinatorOf, at TLP:AMBER
// unless the level is given), or with the audience of the sharing fields.
type NewRateShare struct {
	Note          string `json:"note"`
	CoordinatorOf string `json:"coordinator_of,omitempty"`
	policy.Sharing
}

// ShareRates lets the audience of a new rate share see the admin's
// organisation's completion rates: admins only, checked like any
// disclosure (an audience no agreement covers is refused).
func (s *Service) ShareRates(ctx context.Context, a policy.Actor, in NewRateShare) (RateShare, error) {
	if !a.CanAdmin() {
		return RateShare{}, fault.New(fault.Forbidden, "admin_required", "only an admin of your organisation may do this")
	}
	note := strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(note) > MaxNote {
		return RateShare{}, fault.BadInput("note", "too_long", "the text is too long: at most {max} characters").With("max", MaxNote)
	}
	var rs RateShare
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		sharing := in.Sharing
		if c := strings.TrimSpace(in.CoordinatorOf); c != "" {
			var coordinator string
			err := tx.QueryRow(ctx, `SELECT c.coordinator_org_id FROM communities c JOIN community_members m ON m.community_id = c.id
				WHERE c.id = ? AND m.org_id = ? AND m.status = 'active'`, c, a.OrgID).Scan(&coordinator)
			if err == sql.ErrNoRows {
				return fault.BadInput("coordinator_of", "not_a_member", "your organisation is not an active member of that trust circle")
			}
			if err != nil {
				return fmt.Errorf("find coordinator: %w", db.Map(err))
			}
			if coordinator == a.OrgID {
				return fault.BadInput("coordinator_of", "rates_own_circle", "your organisation coordinates this trust circle: its rates are its own; share them with members instead")
			}
			sharing = policy.Sharing{TLP: in.TLP, Audience: string(policy.AudOrgs), Orgs: []string{coordinator}}
		} else if strings.TrimSpace(sharing.Audience) == "" {
			return fault.BadInput("audience", "rates_audience_missing", "choose whom to show your completion rates: a trust circle's coordinator or an audience")
		}
		env, err := s.envelope(a, s.rates, sharing)
		if err != nil {
			return err
		}
		d, err := s.rates.Disclose(ctx, tx, a, env)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO training_rate_shares (id, org_id, note, created_at) VALUES (?, ?, ?, ?)`, env.ID, a.OrgID, note, env.CreatedAt); err != nil {
			return fmt.Errorf("insert rate share: %w", err)
		}
		rs = RateShare{ID: env.ID, OrgID: a.OrgID, Note: note, Share: d.Share, CreatedAt: env.CreatedAt, NotDeliveredTo: d.Uncovered}
		if err := tx.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, a.OrgID).Scan(&rs.OrgName); err != nil {
			return fmt.Errorf("name org: %w", db.Map(err))
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "training.rates.share", ObjectType: "training_rates", ObjectID: env.ID,
			Detail: d.Detail(), Touches: []string{"training"}})
	})
	return rs, err
}

// FindRateShares lists the rate shares the reader may see (their own
// organisation's and those shared with them), newest first.
func (s *Service) FindRateShares(ctx context.Context, a policy.Actor, cursor string, limit int) ([]RateShare, string, error) {
	if limit <= 0 || limit > 200 {
		limit = 100
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
	q := db.Q(`SELECT rs.note, o.name, rs.org_id, ` + s.rates.Columns("rs") + ` FROM `).Append(r.FromOrdered(h, s.rates, "rs")).
		Add(` JOIN orgs o ON o.id = rs.org_id WHERE 1 = 1`)
	if after != "" {
		q.Add(` AND rs.id < ?`, after)
	}
	q.Add(` ORDER BY rs.id DESC LIMIT ?`, limit+1)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("list rate shares: %w", err)
	}
	out, err := db.CollectN(rows, limit+1, "list rate shares", func(sc db.Scanner) (RateShare, error) {
		var rs RateShare
		err := sc.Scan(s.rates.Dest(&rs.Share, []any{&rs.Note, &rs.OrgName, &rs.OrgID})...)
		rs.ID, rs.CreatedAt = rs.Share.ID, rs.Share.CreatedAt
		return rs, err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = Cursor(out[len(out)-1].ID)
	}
	shares := make([]*policy.Share, len(out))
	for i := range out {
		shares[i] = &out[i].Share
	}
	if err := r.Audiences(ctx, h, shares); err != nil {
		return nil, "", err
	}
	for i := range out {
		if out[i].AudienceNames, err = policy.AudienceNames(ctx, h, out[i].Share.Audience); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

// WithdrawRates ends a rate share of the admin's organisation: its
// audience no longer sees the rates.
func (s *Service) WithdrawRates(ctx context.Context, a policy.Actor, id string) error {
	if !a.CanAdmin() {
		return fault.New(fault.Forbidden, "admin_required", "only an admin of your organisation may do this")
	}
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := s.rates.Authorize(ctx, tx, a, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM training_rate_shares WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete rate share: %w", err)
		}
		if err := s.rates.Withdraw(ctx, tx, a, id); err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "training.rates.withdraw", ObjectType: "training_rates", ObjectID: id, Touches: []string{"training"}})
	})
}
