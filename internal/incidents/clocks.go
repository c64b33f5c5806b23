package incidents

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Clock is a regulatory reporting deadline of a flagged incident, counted
// from its detection: NIS2's early warning (24 h), notification (72 h)
// and final report (one month), GDPR's notification of the supervisory
// authority (72 h).
type Clock struct {
	Name       string `json:"name"` // nis2_early_warning, nis2_notification, nis2_final_report, gdpr_notification
	DueAt      int64  `json:"due_at"`
	ReportedAt int64  `json:"reported_at,omitempty"`
	Overdue    bool   `json:"overdue"`
	// HoursLeft is the countdown in whole hours (negative: overdue).
	HoursLeft int64 `json:"hours_left"`
}

// ClockNames lists the clocks in order.
var ClockNames = []string{"nis2_early_warning", "nis2_notification", "nis2_final_report", "gdpr_notification"}

// RemindBefore is how long before a deadline its reminder goes out.
const RemindBefore = 6 * time.Hour

// clocks works out the deadlines of inc with what was reported.
func clocks(inc Incident, reported map[string]int64, now int64) []Clock {
	det := time.UnixMicro(inc.DetectedAt).UTC()
	var out []Clock
	add := func(name string, due time.Time) {
		c := Clock{Name: name, DueAt: due.UnixMicro(), ReportedAt: reported[name]}
		c.Overdue = c.ReportedAt == 0 && now > c.DueAt
		c.HoursLeft = (c.DueAt - now) / int64(time.Hour/time.Microsecond)
		out = append(out, c)
	}
	if inc.NIS2 {
		add("nis2_early_warning", det.Add(24*time.Hour))
		add("nis2_notification", det.Add(72*time.Hour))
		add("nis2_final_report", det.AddDate(0, 1, 0))
	}
	if inc.GDPR {
		add("gdpr_notification", det.Add(72*time.Hour))
	}
	return out
}

func (s *Service) reported(ctx context.Context, h db.Handle, incident string) (map[string]int64, error) {
	rows, err := h.Query(ctx, `SELECT clock, reported_at FROM incident_clocks WHERE incident_id = ?`, incident)
	if err != nil {
		return nil, fmt.Errorf("load clocks: %w", err)
	}
	list, err := db.Collect(rows, "load clocks", func(sc db.Scanner) (c Clock, err error) { err = sc.Scan(&c.Name, &c.ReportedAt); return c, err })
	m := map[string]int64{}
	for _, c := range list {
		m[c.Name] = c.ReportedAt
	}
	return m, err
}

// FindClocks returns the regulatory clocks of an incident the reader may
// see (none when it is not flagged).
func (s *Service) FindClocks(ctx context.Context, a policy.Actor, incidentID string) ([]Clock, error) {
	inc, err := s.FindIncidentByID(ctx, a, incidentID)
	if err != nil {
		return nil, err
	}
	rep, err := s.reported(ctx, s.DB.R(), incidentID)
	if err != nil {
		return nil, err
	}
	return clocks(inc, rep, db.Now()), nil
}

// MarkReported records that the report of a clock went to the authority
// (the owner's analysts): its countdown stops.
func (s *Service) MarkReported(ctx context.Context, a policy.Actor, incidentID, clock string) error {
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := s.incidents.Authorize(ctx, tx, a, incidentID); err != nil {
			return err
		}
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		inc, err := s.load(ctx, tx.Handle, r, incidentID)
		if err != nil {
			return err
		}
		found := false
		for _, c := range clocks(inc, nil, 0) {
			found = found || c.Name == clock
		}
		if !found {
			return fault.BadInput("clock", "bad_clock", "this incident has no clock {clock}: flag it as NIS2 or GDPR first").With("clock", clock)
		}
		now := db.Now()
		if _, err := tx.Exec(ctx, `INSERT INTO incident_clocks (incident_id, clock, reported_at) VALUES (?, ?, ?)
			ON CONFLICT (incident_id, clock) DO UPDATE SET reported_at = excluded.reported_at`, incidentID, clock, now); err != nil {
			return fmt.Errorf("mark reported: %w", db.Map(err))
		}
		if _, err := s.addEntry(ctx, tx, a, inc.Share, "reported_to_authority", clock); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, a.UserID, EventUpdated, inc, nil, clock); err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "incident.clock.reported", ObjectType: "incident", ObjectID: incidentID,
			Detail: map[string]any{"clock": clock}, Touches: touches(incidentID)})
	})
}

// Rounds runs Round every interval until ctx ends.
func (s *Service) Rounds(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Round(ctx); err != nil && ctx.Err() == nil {
				log.Warn("incident round", "err", err)
			}
		}
	}
}

// Round tells of missed response targets (incident.breach) and of
// regulatory deadlines coming near (incident.deadline), each once:
// replicas claim each with one update. It returns how many it told of.
func (s *Service) Round(ctx context.Context) (int, error) {
	now := db.Now()
	rows, err := s.DB.R().Query(ctx, `SELECT p.incident_id, p.org_id FROM incident_participants p JOIN incidents i ON i.id = p.incident_id
		WHERE i.status NOT IN ('resolved', 'closed') AND ((p.ack_minutes > 0 AND p.acknowledged_at = 0 AND p.ack_breached_at = 0 AND p.invited_at + p.ack_minutes * 60000000 < ?)
		   OR (p.update_hours > 0 AND p.acknowledged_at > 0 AND
		       (CASE WHEN p.last_update_at > p.acknowledged_at THEN p.last_update_at ELSE p.acknowledged_at END) + p.update_hours * 3600000000 < ?
		       AND p.update_breach_due < (CASE WHEN p.last_update_at > p.acknowledged_at THEN p.last_update_at ELSE p.acknowledged_at END) + p.update_hours * 3600000000))
		LIMIT 200`, now, now)
	if err != nil {
		return 0, fmt.Errorf("find breaches: %w", err)
	}
	pairs, err := db.Collect(rows, "find breaches", func(sc db.Scanner) (p [2]string, err error) { err = sc.Scan(&p[0], &p[1]); return p, err })
	if err != nil {
		return 0, err
	}
	told := 0
	for _, p := range pairs {
		n, err := s.tellBreach(ctx, p[0], p[1])
		if err != nil {
			return told, err
		}
		told += n
	}
	rows, err = s.DB.R().Query(ctx, `SELECT id FROM incidents WHERE (nis2 = 1 OR gdpr = 1) AND status <> 'closed' AND detected_at > ? LIMIT 500`,
		now-int64(32*24*time.Hour/time.Microsecond))
	if err != nil {
		return told, fmt.Errorf("find clocks: %w", err)
	}
	ids, err := db.Collect(rows, "find clocks", func(sc db.Scanner) (id string, err error) { err = sc.Scan(&id); return id, err })
	if err != nil {
		return told, err
	}
	for _, id := range ids {
		n, err := s.remindClocks(ctx, id, now)
		if err != nil {
			return told, err
		}
		told += n
	}
	return told, nil
}

// asOwner reads an incident as its author (who always sees it): the
// round's events carry its envelope, so only those who may see it hear.
func (s *Service) asOwner(ctx context.Context, h db.Handle, id string) (Incident, policy.Actor, error) {
	var a policy.Actor
	var role policy.Role
	err := h.QueryRow(ctx, `SELECT u.id, u.org_id, u.role, u.name FROM shares s JOIN users u ON u.id = s.author_id WHERE s.id = ?`, id).Scan(&a.UserID, &a.OrgID, &role, &a.Name)
	if err != nil {
		return Incident{}, a, db.NotFound(err, "load incident author")
	}
	a.Role, a.Scope, a.Via = role, policy.ScopeSession, "system"
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return Incident{}, a, err
	}
	inc, err := s.load(ctx, h, r, id)
	return inc, a, err
}

func (s *Service) tellBreach(ctx context.Context, incident, org string) (int, error) {
	told := 0
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		inc, _, err := s.asOwner(ctx, tx.Handle, incident)
		if err != nil {
			return err
		}
		ps, err := s.participants(ctx, tx.Handle, incident, inc.Status)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.OrgID != org {
				continue
			}
			what := ""
			if p.AckBreached && p.AcknowledgedAt == 0 {
				res, err := tx.Exec(ctx, `UPDATE incident_participants SET ack_breached_at = ? WHERE incident_id = ? AND org_id = ? AND ack_breached_at = 0`, db.Now(), incident, org)
				if err != nil {
					return fmt.Errorf("claim breach: %w", err)
				}
				if n, _ := db.Affected(res); n == 1 {
					what = "acknowledge"
				}
			} else if p.UpdateBreached {
				res, err := tx.Exec(ctx, `UPDATE incident_participants SET update_breach_due = ? WHERE incident_id = ? AND org_id = ? AND update_breach_due < ?`, p.UpdateDue, incident, org, p.UpdateDue)
				if err != nil {
					return fmt.Errorf("claim breach: %w", err)
				}
				if n, _ := db.Affected(res); n == 1 {
					what = "update"
				}
			}
			if what == "" {
				return nil
			}
			told++
			if err := s.emit(ctx, tx, "", EventBreach, inc, nil, p.OrgName+": "+what); err != nil {
				return err
			}
			return audit.Write(ctx, tx, policy.System("incident-round"), audit.Entry{Action: "incident.breach", ObjectType: "incident", ObjectID: incident,
				Orgs: []string{inc.Share.Owner, org}, Detail: map[string]any{"org": org, "target": what}, Touches: touches(incident)})
		}
		return nil
	})
	return told, err
}

func (s *Service) remindClocks(ctx context.Context, incident string, now int64) (int, error) {
	told := 0
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		inc, _, err := s.asOwner(ctx, tx.Handle, incident)
		if err != nil {
			return err
		}
		rep, err := s.reported(ctx, tx.Handle, incident)
		if err != nil {
			return err
		}
		var names []string
		for _, c := range clocks(inc, rep, now) {
			if c.ReportedAt != 0 || c.DueAt-RemindBefore.Microseconds() > now {
				continue
			}
			res, err := tx.Exec(ctx, `INSERT INTO incident_clocks (incident_id, clock, reminded_at) VALUES (?, ?, ?) ON CONFLICT (incident_id, clock) DO UPDATE SET reminded_at = excluded.reminded_at WHERE incident_clocks.reminded_at = 0`,
				incident, c.Name, now)
			if err != nil {
				return fmt.Errorf("claim reminder: %w", db.Map(err))
			}
			if n, _ := db.Affected(res); n == 0 {
				continue
			}
			told++
			names = append(names, c.Name)
			if err := s.emit(ctx, tx, "", EventDeadline, inc, nil, c.Name+" "+time.UnixMicro(c.DueAt).UTC().Format(time.RFC3339)); err != nil {
				return err
			}
		}
		if len(names) == 0 {
			return nil
		}
		return audit.Write(ctx, tx, policy.System("incident-round"), audit.Entry{Action: "incident.clock.remind", ObjectType: "incident", ObjectID: incident,
			Orgs: []string{inc.Share.Owner}, Detail: map[string]any{"clocks": strings.Join(names, ",")}, Touches: touches(incident)})
	})
	return told, err
}
