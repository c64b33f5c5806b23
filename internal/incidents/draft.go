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

type draftParticipant struct {
	OrgName, Role string
	Acknowledged  bool
}

// Words names catalogue keys (a category, a status, a deadline) in the
// draft's language; the web handler passes its catalogue.
type Words func(lang, key string) string

// FindDraft writes the report draft of an incident the reader may see, in
// lang (de or en), its machine words named by words.
func (s *Service) FindDraft(ctx context.Context, a policy.Actor, incidentID, lang string, words Words) (Draft, error) {
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
	w := func(key string) string { return words(lang, key) }
	when := func(us int64) string {
		if us == 0 {
			return ""
		}
		t := time.UnixMicro(us).In(loc)
		zone := t.Format("MST")
		if lang == "de" {
			// The German names of the zone: MEZ, MESZ.
			switch zone {
			case "CET":
				zone = "MEZ"
			case "CEST":
				zone = "MESZ"
			}
		}
		return t.Format("2006-01-02 15:04") + " " + zone
	}
	kind := map[string]string{"en": "Incident report", "de": "Meldung eines Sicherheitsvorfalls"}[lang]
	var laws []string
	if inc.NIS2 {
		laws = append(laws, "NIS2")
	}
	if inc.GDPR {
		laws = append(laws, map[string]string{"en": "GDPR Art. 33", "de": "DSGVO Art. 33"}[lang])
	}
	if len(laws) > 0 {
		kind += " (" + strings.Join(laws, ", ") + ")"
	}
	d := struct {
		Kind, Detected             string
		Category, Severity, Status string
		Incident                   Incident
		Participants               []draftParticipant
		Clocks                     []draftClock
		Done, Open                 []string
	}{Kind: kind, Detected: when(inc.DetectedAt), Incident: inc, Category: w("incidents.category." + inc.Category),
		Severity: w("incidents.severity." + inc.Severity), Status: w("incidents.status." + inc.Status)}
	for _, p := range ps {
		d.Participants = append(d.Participants, draftParticipant{OrgName: p.OrgName, Role: w("incidents.role." + p.Role), Acknowledged: p.AcknowledgedAt != 0})
	}
	for _, c := range clocks(inc, rep, db.Now()) {
		d.Clocks = append(d.Clocks, draftClock{Name: w("incidents.clock." + c.Name), Due: when(c.DueAt), Reported: when(c.ReportedAt)})
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
