package incidents

import (
	"context"
	"embed"
	"fmt"
	"strings"
	"text/template"
	"time"

	"verbund/internal/db"
	"verbund/internal/policy"
)

//go:embed drafts
var drafts embed.FS

var draftTemplates = template.Must(template.ParseFS(drafts, "drafts/*.txt"))

// Draft is a report to an authority written from the incident's data, as
// text the user copies into the authority's form and completes.
type Draft struct {
	Lang string `json:"lang"`
	Text string `json:"text"`
}

type draftClock struct{ Name, Due, Reported string }

// FindDraft writes the report draft of an incident the reader may see, in
// lang (de or en).
func (s *Service) FindDraft(ctx context.Context, a policy.Actor, incidentID, lang string) (Draft, error) {
	inc, err := s.FindIncidentByID(ctx, a, incidentID)
	if err != nil {
		return Draft{}, err
	}
	h := s.DB.R()
	ps, err := s.participants(ctx, h, inc.ID, inc.Status)
	if err != nil {
		return Draft{}, err
	}
	ts, err := s.FindTasks(ctx, a, inc.ID)
	if err != nil {
		return Draft{}, err
	}
	rep, err := s.reported(ctx, h, inc.ID)
	if err != nil {
		return Draft{}, err
	}
	if lang != "de" {
		lang = "en"
	}
	loc, _ := time.LoadLocation("Europe/Berlin")
	if loc == nil {
		loc = time.UTC
	}
	when := func(us int64) string {
		if us == 0 {
			return ""
		}
		return time.UnixMicro(us).In(loc).Format("2006-01-02 15:04 MST")
	}
	kind := map[string]string{"en": "Incident report", "de": "Meldung eines Sicherheitsvorfalls"}[lang]
	if inc.NIS2 {
		kind += " (NIS2)"
	}
	if inc.GDPR {
		kind += map[string]string{"en": " (GDPR Art. 33)", "de": " (DSGVO Art. 33)"}[lang]
	}
	d := struct {
		Kind, Detected string
		Incident       Incident
		Participants   []Participant
		Clocks         []draftClock
		Done, Open     []string
	}{Kind: kind, Detected: when(inc.DetectedAt), Incident: inc, Participants: ps}
	for _, c := range clocks(inc, rep, db.Now()) {
		d.Clocks = append(d.Clocks, draftClock{Name: c.Name, Due: when(c.DueAt), Reported: when(c.ReportedAt)})
	}
	for _, t := range ts {
		if t.DoneAt != 0 {
			d.Done = append(d.Done, t.Title)
		} else {
			d.Open = append(d.Open, t.Title)
		}
	}
	var b strings.Builder
	if err := draftTemplates.ExecuteTemplate(&b, "report."+lang+".txt", d); err != nil {
		return Draft{}, fmt.Errorf("write draft: %w", err)
	}
	return Draft{Lang: lang, Text: b.String()}, nil
}
