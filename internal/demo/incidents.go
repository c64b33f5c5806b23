package demo

import (
	"context"
	"fmt"
	"time"

	"verbund/internal/incidents"
	"verbund/internal/policy"
)

// The seed's story as a running incident: Müller reports ransomware on its
// file server, asks CERT Süd for assistance, the CERT accepts, coordinates
// and invites Wolke Cloud AG (Müller's provider), Wolke acknowledges and
// the three work their tasks. Beside it a closed phishing incident with
// its review. Everything is TLP:AMBER between the three: Hansa Logistik
// sees none of it.
func seedIncidents(ctx context.Context, svc *incidents.Service, jonas, anna, max, tom policy.Actor, cert, wolke string) (running string, err error) {
	err = seedIncidentStory(ctx, svc, jonas, anna, max, tom, cert, wolke, &running)
	return running, err
}

func seedIncidentStory(ctx context.Context, svc *incidents.Service, jonas, anna, max, tom policy.Actor, cert, wolke string, running *string) error {
	detected := time.Now().Add(-5 * time.Hour).UTC().Format(time.RFC3339)
	inc, err := svc.CreateIncident(ctx, jonas, incidents.NewIncident{Title: "Ransomware auf dem Dateiserver der Konstruktion",
		Description: "Seit 6 Uhr lassen sich Konstruktionszeichnungen auf dem Dateiserver nicht mehr öffnen; Dateien tragen die Endung .kryptonit, im Stammverzeichnis liegt eine Lösegeldforderung. Der Server läuft als virtuelle Maschine bei Wolke Cloud AG.",
		Category:    "malware", Severity: "critical", NIS2: true, GDPR: true, DetectedAt: detected, Sharing: policy.Sharing{TLP: "AMBER", Audience: "org"}})
	if err != nil {
		return fmt.Errorf("demo incident: %w", err)
	}
	*running = inc.ID
	req, err := svc.RequestAssistance(ctx, jonas, inc.ID, incidents.AssistanceRequest{CertOrg: cert, Message: "Bitte unterstützen Sie uns bei Eindämmung und Meldung."})
	if err != nil {
		return fmt.Errorf("demo assistance: %w", err)
	}
	if _, err := svc.DecideAssistance(ctx, max, req.ID, incidents.Decision{Action: "accept"}); err != nil {
		return fmt.Errorf("demo accept: %w", err)
	}
	if _, err := svc.InviteParticipant(ctx, max, inc.ID, incidents.Invitation{OrgID: wolke, Role: "responder", AckMinutes: 60, UpdateHours: 4}); err != nil {
		return fmt.Errorf("demo invite: %w", err)
	}
	if _, err := svc.Acknowledge(ctx, tom, inc.ID); err != nil {
		return fmt.Errorf("demo acknowledge: %w", err)
	}
	st := "investigating"
	if _, err := svc.UpdateIncident(ctx, max, inc.ID, incidents.Update{Status: &st}); err != nil {
		return fmt.Errorf("demo status: %w", err)
	}
	due := time.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)
	tasks := []struct {
		who   policy.Actor
		title string
		org   string
		done  bool
	}{
		{jonas, "Dateiserver vom Netz trennen (nicht ausschalten)", jonas.OrgID, true},
		{max, "Unveränderliche Snapshots von gestern prüfen", wolke, false},
		{max, "Indikatoren der Kampagne in den Vertrauenskreis geben", cert, false},
		{jonas, "NIS2-Frühwarnung an das BSI vorbereiten", jonas.OrgID, false},
	}
	for _, t := range tasks {
		tk, err := svc.CreateTask(ctx, t.who, inc.ID, incidents.NewTask{Title: t.title, AssigneeOrg: t.org, Due: due})
		if err != nil {
			return fmt.Errorf("demo task: %w", err)
		}
		if t.done {
			if _, err := svc.SetTaskDone(ctx, t.who, tk.ID, true); err != nil {
				return fmt.Errorf("demo task done: %w", err)
			}
		}
	}
	for _, c := range []struct {
		who  policy.Actor
		body string
	}{
		{max, "Die Endung .kryptonit passt zur Kampagne „Falsche Rechnung“. Bitte kein Lösegeld zahlen; wir stimmen das Vorgehen mit Wolke ab."},
		{tom, "Snapshots are taken every night and are immutable for 14 days. We are checking yesterday's now."},
	} {
		if _, err := svc.CreateComment(ctx, c.who, inc.ID, incidents.NewComment{Body: c.body}); err != nil {
			return fmt.Errorf("demo comment: %w", err)
		}
	}

	// A closed incident with its review (and the figures it leaves).
	old, err := svc.CreateIncident(ctx, jonas, incidents.NewIncident{Title: "Phishing-Welle mit falschen Rechnungen",
		Description: "Zwölf Beschäftigte erhielten E-Mails mit gefälschten Rechnungen; zwei öffneten den Anhang, die Makros waren blockiert.",
		Category:    "phishing", Severity: "medium", DetectedAt: time.Now().Add(-26 * time.Hour).UTC().Format(time.RFC3339), Sharing: policy.Sharing{TLP: "AMBER", Audience: "org"}})
	if err != nil {
		return fmt.Errorf("demo closed incident: %w", err)
	}
	if _, err := svc.InviteParticipant(ctx, anna, old.ID, incidents.Invitation{OrgID: wolke, Role: "affected", AckMinutes: 120}); err != nil {
		return fmt.Errorf("demo closed invite: %w", err)
	}
	if _, err := svc.Acknowledge(ctx, tom, old.ID); err != nil {
		return fmt.Errorf("demo closed acknowledge: %w", err)
	}
	for _, s := range []string{"acknowledged", "contained", "resolved"} {
		st := s
		if _, err := svc.UpdateIncident(ctx, jonas, old.ID, incidents.Update{Status: &st}); err != nil {
			return fmt.Errorf("demo closed status: %w", err)
		}
	}
	closed := "closed"
	if _, err := svc.UpdateIncident(ctx, anna, old.ID, incidents.Update{Status: &closed, Review: &incidents.Review{
		WhatHappened: "Eine Phishing-Welle mit gefälschten Rechnungen erreichte zwölf Postfächer; zwei Anhänge wurden geöffnet, die Makrosperre hielt.",
		WhatHelped:   "Die Makrosperre für Dateien aus dem Internet und schnelle Meldungen der Beschäftigten.",
		Lessons:      "Absender-Prüfung (DMARC) für Rechnungsadressen verschärfen; Sensibilisierung zu Rechnungs-Phishing wiederholen."}}); err != nil {
		return fmt.Errorf("demo review: %w", err)
	}
	return nil
}
