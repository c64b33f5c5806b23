package incidents

import (
	"context"
	"fmt"
	"slices"

	"verbund/internal/db"
	"verbund/internal/policy"
)

// Figures are the response times the reader's incidents show: per
// incident, per party, and their medians. Exercises are kept out.
type Figures struct {
	Incidents []IncidentFigure `json:"incidents"`
	Parties   []PartyFigure    `json:"parties"`
	// Medians in minutes (nil: nothing reached yet, null in the API; a
	// 0 would read as "at once").
	MedianAck     *int64 `json:"median_acknowledge_minutes"`
	MedianContain *int64 `json:"median_contain_minutes"`
	MedianResolve *int64 `json:"median_resolve_minutes"`
	Breaches      int    `json:"breaches"`
	ExercisesLeft int    `json:"exercises_left_out"`
	MaxBarMinutes int64  `json:"-"`
}

// IncidentFigure: minutes from report to acknowledgement, from detection
// to containment and to resolution (nil: not reached yet).
type IncidentFigure struct {
	ID         string `json:"id"`
	Title      string `json:"title"`
	Severity   string `json:"severity"`
	AckMin     *int64 `json:"acknowledge_minutes"`
	ContainMin *int64 `json:"contain_minutes"`
	ResolveMin *int64 `json:"resolve_minutes"`
}

// PartyFigure: how an org invited to incidents met its targets.
type PartyFigure struct {
	OrgID     string `json:"org_id"`
	OrgName   string `json:"org_name"`
	Incidents int    `json:"incidents"`
	MedianAck *int64 `json:"median_acknowledge_minutes"`
	AckBreach int    `json:"acknowledge_breaches"`
	UpdBreach int    `json:"update_breaches"`
}

// minutes from from to to; nil when the stage is not reached (to 0).
func minutes(from, to int64) *int64 {
	if from == 0 || to == 0 || to < from {
		return nil
	}
	m := (to - from) / 60_000_000
	return &m
}

// median of xs (nil for none): the middle value, or the mean of the two
// middle values of an even count, rounded down.
func median(xs []int64) *int64 {
	if len(xs) == 0 {
		return nil
	}
	slices.Sort(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + m) / 2
	}
	return &m
}

// FindFigures computes the figures over the incidents the actor may see.
func (s *Service) FindFigures(ctx context.Context, a policy.Actor) (Figures, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return Figures{}, err
	}
	q := db.Q(`SELECT i.id, i.title, i.severity, i.exercise, i.status, i.detected_at, i.created_at, i.acknowledged_at, i.contained_at, i.resolved_at FROM `).
		Append(r.From(s.incidents, "i")).Add(` ORDER BY i.id DESC LIMIT 1000`)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return Figures{}, fmt.Errorf("figures: %w", err)
	}
	type row struct {
		f                                    IncidentFigure
		ex                                   int
		status                               string
		det, created, ack, contain, resolved int64
	}
	list, err := db.Collect(rows, "figures", func(sc db.Scanner) (x row, err error) {
		err = sc.Scan(&x.f.ID, &x.f.Title, &x.f.Severity, &x.ex, &x.status, &x.det, &x.created, &x.ack, &x.contain, &x.resolved)
		return x, err
	})
	if err != nil {
		return Figures{}, err
	}
	var f Figures
	var acks, contains, resolves []int64
	parties := map[string]*PartyFigure{}
	partyAcks := map[string][]int64{}
	for _, x := range list {
		if x.ex == 1 {
			f.ExercisesLeft++
			continue
		}
		x.f.AckMin, x.f.ContainMin, x.f.ResolveMin = minutes(x.created, x.ack), minutes(x.det, x.contain), minutes(x.det, x.resolved)
		for _, p := range []struct {
			v    *int64
			list *[]int64
		}{{x.f.AckMin, &acks}, {x.f.ContainMin, &contains}, {x.f.ResolveMin, &resolves}} {
			if p.v != nil {
				*p.list = append(*p.list, *p.v)
				f.MaxBarMinutes = max(f.MaxBarMinutes, *p.v)
			}
		}
		f.Incidents = append(f.Incidents, x.f)
		ps, err := s.participants(ctx, h, x.f.ID, x.status)
		if err != nil {
			return f, err
		}
		for _, p := range ps {
			if p.Role == "reporter" {
				continue
			}
			pf := parties[p.OrgID]
			if pf == nil {
				pf = &PartyFigure{OrgID: p.OrgID, OrgName: p.OrgName}
				parties[p.OrgID] = pf
			}
			pf.Incidents++
			if m := minutes(p.InvitedAt, p.AcknowledgedAt); m != nil {
				partyAcks[p.OrgID] = append(partyAcks[p.OrgID], *m)
			}
			if p.AckBreached {
				pf.AckBreach++
				f.Breaches++
			}
			if p.UpdateBreached {
				pf.UpdBreach++
				f.Breaches++
			}
		}
	}
	f.MedianAck, f.MedianContain, f.MedianResolve = median(acks), median(contains), median(resolves)
	for id, pf := range parties {
		pf.MedianAck = median(partyAcks[id])
		f.Parties = append(f.Parties, *pf)
	}
	slices.SortFunc(f.Parties, func(a, b PartyFigure) int {
		if a.OrgName < b.OrgName {
			return -1
		}
		return 1
	})
	if f.Incidents == nil {
		f.Incidents = []IncidentFigure{}
	}
	if f.Parties == nil {
		f.Parties = []PartyFigure{}
	}
	return f, nil
}
