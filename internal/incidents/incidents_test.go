package incidents

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTransitions: closed is reached only from resolved, nothing leaves
// closed, and every status can be reached from reported.
func TestTransitions(t *testing.T) {
	for from, tos := range transitions {
		for _, to := range tos {
			if !slices.Contains(Statuses, to) {
				t.Errorf("%s → unknown %s", from, to)
			}
			if to == "closed" && from != "resolved" {
				t.Errorf("%s → closed skips the resolution", from)
			}
		}
	}
	if len(transitions["closed"]) != 0 {
		t.Errorf("a closed incident moves: %v", transitions["closed"])
	}
	seen := map[string]bool{"reported": true}
	for changed := true; changed; {
		changed = false
		for from := range seen {
			for _, to := range transitions[from] {
				if !seen[to] {
					seen[to], changed = true, true
				}
			}
		}
	}
	for _, s := range Statuses {
		if !seen[s] {
			t.Errorf("%s cannot be reached", s)
		}
	}
}

// TestClocks: NIS2 24 h / 72 h / one month and GDPR 72 h from detection;
// a reported clock is never overdue.
func TestClocks(t *testing.T) {
	det := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
	inc := Incident{DetectedAt: det.UnixMicro(), NIS2: true, GDPR: true}
	now := det.Add(30 * time.Hour).UnixMicro()
	cs := clocks(inc, map[string]int64{"nis2_notification": now}, now)
	want := map[string]time.Time{"nis2_early_warning": det.Add(24 * time.Hour), "nis2_notification": det.Add(72 * time.Hour),
		"nis2_final_report": time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC), "gdpr_notification": det.Add(72 * time.Hour)}
	if len(cs) != 4 {
		t.Fatalf("clocks %+v", cs)
	}
	for _, c := range cs {
		if c.DueAt != want[c.Name].UnixMicro() {
			t.Errorf("%s due %v, want %v", c.Name, time.UnixMicro(c.DueAt).UTC(), want[c.Name])
		}
		if c.Overdue != (c.Name == "nis2_early_warning") {
			t.Errorf("%s overdue = %v", c.Name, c.Overdue)
		}
	}
	if cs := clocks(Incident{DetectedAt: det.UnixMicro()}, nil, now); len(cs) != 0 {
		t.Errorf("an unflagged incident has clocks: %+v", cs)
	}
}

// TestJudge: the acknowledgement target is missed when it passes without
// one or the acknowledgement came late; the update target counts from the
// last update and ends with the resolution.
func TestJudge(t *testing.T) {
	const min = int64(60_000_000)
	p := Participant{AckMinutes: 10, UpdateHours: 1, InvitedAt: 0}
	p.judge("investigating", 5*min)
	if p.AckBreached || p.AckDue != 10*min {
		t.Errorf("within the target: %+v", p)
	}
	p.judge("investigating", 11*min)
	if !p.AckBreached {
		t.Errorf("past the target: %+v", p)
	}
	p = Participant{AckMinutes: 10, UpdateHours: 1, AcknowledgedAt: 12 * min, LastUpdateAt: 30 * min}
	p.judge("investigating", 60*min)
	if !p.AckBreached || p.UpdateBreached || p.UpdateDue != 90*min {
		t.Errorf("late acknowledgement, update due: %+v", p)
	}
	p.judge("investigating", 91*min)
	if !p.UpdateBreached {
		t.Errorf("update missed: %+v", p)
	}
	p = Participant{UpdateHours: 1, AcknowledgedAt: 1, LastUpdateAt: 1}
	p.judge("resolved", 500*min)
	if p.UpdateBreached || p.UpdateDue != 0 {
		t.Errorf("a resolved incident asks for updates: %+v", p)
	}
}

// TestFigureArithmetic: a stage not reached is nil (null in the API, "—"
// on the page), never 0; the median of an even count is the mean of the
// two middle values.
func TestFigureArithmetic(t *testing.T) {
	if m := minutes(60_000_000, 0); m != nil {
		t.Errorf("minutes to a stage not reached: %d, want nil", *m)
	}
	if m := minutes(60_000_000, 180_000_000); m == nil || *m != 2 {
		t.Errorf("minutes: %v", m)
	}
	if m := median(nil); m != nil {
		t.Errorf("median of nothing: %d, want nil", *m)
	}
	for _, c := range []struct {
		xs   []int64
		want int64
	}{{[]int64{30}, 30}, {[]int64{10, 20}, 15}, {[]int64{50, 10, 20}, 20}, {[]int64{40, 10, 30, 20}, 25}} {
		if m := median(c.xs); m == nil || *m != c.want {
			t.Errorf("median %v: %v, want %d", c.xs, m, c.want)
		}
	}
}

// TestNextStatuses: the status form offers the next forward step first;
// only the reporting org is offered "closed", and "resolved" only to it
// and the coordinator.
func TestNextStatuses(t *testing.T) {
	for _, c := range []struct {
		cur                string
		owner, coordinator bool
		want               string
	}{{"reported", true, false, "acknowledged investigating contained resolved"}, {"contained", false, true, "resolved investigating"},
		{"contained", false, false, "investigating"}, {"reported", false, false, "acknowledged investigating contained"},
		{"resolved", true, false, "closed investigating"}, {"resolved", false, true, "investigating"}, {"closed", true, false, ""}} {
		if got := strings.Join(nextStatuses(c.cur, c.owner, c.coordinator), " "); got != c.want {
			t.Errorf("from %s (owner %v, coordinator %v): %q, want %q", c.cur, c.owner, c.coordinator, got, c.want)
		}
	}
}
