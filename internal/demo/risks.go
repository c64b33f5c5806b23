package demo

import (
	"context"
	"fmt"
	"time"

	"verbund/internal/policy"
	"verbund/internal/risks"
)

// The circle's joint risk register: five risks shared in "Mittelstand
// Süd" — the dependency on Wolke Cloud AG owned jointly by Müller and
// Wolke (each keeps its own part), Müller's missing offline backups,
// phishing of its accounting and its unpatched VPN appliance, and Wolke's
// single administrator — and a finished workshop in which Müller, Wolke
// and CERT Süd scored two of them.
func seedRisks(ctx context.Context, s *risks.Service, jonas, tom, max policy.Actor, circle, wolke string) error {
	in := policy.Sharing{TLP: "AMBER", Audience: "community", Community: circle}
	due := func(days int) string { return time.Now().AddDate(0, 0, days).Format("2006-01-02") }
	type spec struct {
		by                    policy.Actor
		title, desc, controls string
		l, i, rl, ri          int
		treatment, due        string
		coOwners              []string
	}
	specs := []spec{
		{jonas, "Abhängigkeit von Wolke Cloud AG", "ERP und Dateiablage laufen ausschließlich bei Wolke Cloud AG. Fällt der Dienst länger aus, steht die Auftragsabwicklung.",
			"Notfallhandbuch für den Ausfall des ERP; vierteljährlicher Export der Stammdaten.", 3, 5, 2, 4, "mitigate", due(60), []string{wolke}},
		{jonas, "Fehlende Offline-Datensicherung", "Alle Sicherungen liegen im selben Netz wie die Produktivsysteme; eine Ransomware könnte sie mitverschlüsseln.",
			"Wöchentliche Sicherung auf Band, außer Haus gelagert (im Aufbau).", 4, 5, 4, 5, "mitigate", due(30), nil},
		{jonas, "Phishing der Buchhaltung", "Gefälschte Rechnungen und Zahlungsaufforderungen erreichen die Buchhaltung regelmäßig.",
			"Sensibilisierungsschulung, Vier-Augen-Prinzip bei Zahlungen über 5.000 Euro.", 4, 3, 3, 3, "mitigate", due(45), nil},
		{jonas, "Ungepatchte VPN-Appliance", "Das VPN-Gateway edge-gw-01 hat eine kritische, aktiv ausgenutzte Schwachstelle; das Update steht aus.",
			"Zugriff bis zum Update auf bekannte Adressbereiche beschränkt.", 4, 5, 3, 5, "mitigate", due(7), nil},
		{tom, "Einzelner Administrator für die Kundensysteme", "Bei Wolke Cloud AG betreut ein einziger Administrator die Systeme der Mittelstandskunden; bei Ausfall fehlt die Vertretung.",
			"Zweite Administratorin wird eingearbeitet; Betriebshandbuch im Wiki.", 3, 4, 3, 3, "accept", due(90), nil},
	}
	ids := make([]string, len(specs))
	for n, sp := range specs {
		r, err := s.CreateRisk(ctx, sp.by, risks.NewRisk{Title: sp.title, Description: sp.desc, Controls: sp.controls, Likelihood: sp.l, Impact: sp.i,
			ResidualLikelihood: sp.rl, ResidualImpact: sp.ri, Treatment: sp.treatment, Due: sp.due, CoOwners: sp.coOwners, Sharing: in})
		if err != nil {
			return fmt.Errorf("demo risk %q: %w", sp.title, err)
		}
		ids[n] = r.ID
	}
	// Wolke writes its own part of the joint risk.
	part, controls, treatment, when := "Wolke betreibt ERP und Ablage georedundant in zwei Rechenzentren.", "SLA 99,9 %, halbjährlicher Wiederanlauftest, Exit-Plan mit Datenexport.", "mitigate", due(30)
	if _, err := s.UpdateRisk(ctx, tom, ids[0], risks.RiskUpdate{Part: &risks.PartUpdate{Description: &part, Controls: &controls, Treatment: &treatment, Due: &when}}); err != nil {
		return fmt.Errorf("demo risk part: %w", err)
	}
	w, err := s.CreateWorkshop(ctx, jonas, risks.NewWorkshop{Title: "Risikoworkshop Mittelstand Süd – Herbst", Risks: ids[:2], Sharing: in})
	if err != nil {
		return fmt.Errorf("demo workshop: %w", err)
	}
	votes := []struct {
		who  policy.Actor
		risk string
		l, i int
	}{{jonas, ids[0], 2, 4}, {tom, ids[0], 2, 3}, {max, ids[0], 3, 4}, {jonas, ids[1], 4, 5}, {tom, ids[1], 3, 5}, {max, ids[1], 4, 5}}
	for _, v := range votes {
		if err := s.Score(ctx, v.who, w.ID, v.risk, v.l, v.i); err != nil {
			return fmt.Errorf("demo vote: %w", err)
		}
	}
	if _, err := s.Comment(ctx, max, w.ID, "Ohne Offline-Sicherung ist jede Ransomware existenzbedrohend – bitte priorisieren."); err != nil {
		return fmt.Errorf("demo workshop comment: %w", err)
	}
	if err := s.Reveal(ctx, jonas, w.ID); err != nil {
		return fmt.Errorf("demo reveal: %w", err)
	}
	for _, a := range []struct {
		risk string
		l, i int
	}{{ids[0], 2, 4}, {ids[1], 4, 5}} {
		if err := s.Agree(ctx, jonas, w.ID, a.risk, a.l, a.i); err != nil {
			return fmt.Errorf("demo agreement: %w", err)
		}
	}
	return nil
}
