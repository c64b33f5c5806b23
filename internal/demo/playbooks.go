package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"verbund/internal/cacao"
	"verbund/internal/incidents"
	"verbund/internal/playbooks"
	"verbund/internal/policy"
	"verbund/internal/stix"
)

// RansomwarePlaybookID is the CACAO id of the circle's playbook
// "Ransomware – Erstmaßnahmen" (fixed, so that `verbund playbooks export`
// can name it in the demo).
const RansomwarePlaybookID = "playbook--6f1d3c2e-8a4b-4c1d-9e2f-3a5b7c9d1e20"

// ransomwarePlaybook is the circle's first-response playbook: manual steps
// for Müller (the SME), Wolke Cloud AG (its provider) and CERT Süd, the
// provider and the CERT brought in in parallel, a decision on whether
// Wolke's backups are intact, and the reporting duties and the review
// after it. TLP:GREEN (the circle may pass it on within its members'
// organisations).
func ransomwarePlaybook() ([]byte, error) {
	id := func(typ, suffix string) string { return typ + "--6f1d3c2e-8a4b-4c1d-9e2f-" + suffix }
	mueller, wolke, cert, itTeam := id("organization", "000000000001"), id("organization", "000000000002"), id("organization", "000000000003"), id("group", "000000000004")
	step := func(n int) string {
		types := map[int]string{1: "start", 3: "parallel", 5: "end", 7: "end", 8: "if-condition", 10: "end", 12: "end", 15: "end"}
		t := types[n]
		if t == "" {
			t = "action"
		}
		return id(t, fmt.Sprintf("%012d", 100+n))
	}
	manual := func(name, desc, agent string, next int, commands ...string) map[string]any {
		var cs []map[string]any
		for _, c := range commands {
			cs = append(cs, map[string]any{"type": "manual", "command": c})
		}
		s := map[string]any{"type": "action", "name": name, "agent": agent, "commands": cs, "on_completion": step(next)}
		if desc != "" {
			s["description"] = desc
		}
		return s
	}
	end := func(name string) map[string]any {
		s := map[string]any{"type": "end"}
		if name != "" {
			s["name"] = name
		}
		return s
	}
	tlp := cacao.TLPMarkingID(stix.TLPGreen)
	doc := map[string]any{
		"type":                "playbook",
		"spec_version":        cacao.SpecVersion,
		"id":                  RansomwarePlaybookID,
		"name":                "Ransomware – Erstmaßnahmen",
		"description":         "Erste Schritte, wenn bei einem Mitglied des Vertrauenskreises Dateien verschlüsselt werden: isolieren, Provider und CERT parallel einbinden, über Wiederherstellung oder Neuaufbau entscheiden, Meldepflichten prüfen, nachbereiten.",
		"playbook_types":      []string{"remediation", "notification"},
		"playbook_activities": []string{"disconnect-system", "restore-data", "deliver-content"},
		"created_by":          "identity--6f1d3c2e-8a4b-4c1d-9e2f-0000000000cf",
		"created":             "2026-09-14T08:00:00.000Z",
		"modified":            "2026-10-02T15:30:00.000Z",
		"labels":              []string{"ransomware", "erstmaßnahmen", "mittelstand-süd"},
		"markings":            []string{tlp},
		"workflow_start":      step(1),
		"workflow": map[string]any{
			step(1): map[string]any{"type": "start", "name": "Verdacht auf Ransomware", "on_completion": step(2)},
			step(2): manual("Betroffene Systeme isolieren", "Nicht ausschalten: Der Arbeitsspeicher enthält oft Schlüssel und Spuren.", mueller, 3,
				"Netzwerkkabel der Systeme mit Lösegeldforderung ziehen oder ihren Switch-Port deaktivieren; die Systeme eingeschaltet lassen.",
				"Zeitpunkt, betroffene Systeme und den Text der Lösegeldforderung im Vorfall festhalten."),
			step(3): map[string]any{"type": "parallel", "name": "Provider und CERT parallel einbinden", "next_steps": []string{step(4), step(6)}, "on_completion": step(8)},
			step(4): manual("Cloud-Zugänge sperren und Snapshots sichern", "", wolke, 5,
				"Zugänge und API-Schlüssel des Kunden sperren, die letzten Snapshots schreibschützen und den Zeitpunkt des letzten sauberen Standes nennen."),
			step(5): end(""),
			step(6): manual("Erstanalyse der Schadsoftware", "", cert, 7,
				"Lösegeldforderung und eine Probe der Schadsoftware analysieren, die Ransomware-Familie bestimmen und Indikatoren im Vertrauenskreis teilen."),
			step(7): end(""),
			step(8): map[string]any{"type": "if-condition", "name": "Sind die Backups bei Wolke unversehrt?", "condition": "[x-backup:status = 'intact']",
				"on_true": step(9), "on_false": step(11), "on_completion": step(13)},
			step(9): manual("Wiederherstellung aus dem letzten sauberen Snapshot", "", wolke, 10,
				"Den letzten sauberen Snapshot in eine isolierte Umgebung zurückspielen und Müller zur Prüfung übergeben."),
			step(10): end("Wiederhergestellt"),
			step(11): manual("Neuaufbau aus Offline-Medien", "", itTeam, 12,
				"Server von Installationsmedien neu aufsetzen und Daten aus den Offline-Sicherungen zurückspielen."),
			step(12): end("Neu aufgebaut"),
			step(13): manual("Meldepflichten prüfen", "DSGVO Art. 33: binnen 72 Stunden, wenn personenbezogene Daten betroffen sind; NIS2: Frühwarnung binnen 24 Stunden.", mueller, 14,
				"Prüfen, ob personenbezogene Daten betroffen sind, und die Meldung an die Aufsichtsbehörde vorbereiten.",
				"Frühwarnung nach NIS2 an das zuständige CSIRT abgeben, falls Müller eine wichtige Einrichtung ist."),
			step(14): manual("Nachbereitung und Lessons Learned", "", cert, 15,
				"Nachbereitung mit allen Beteiligten durchführen und Änderungen an diesem Playbook vorschlagen."),
			step(15): end("Erstmaßnahmen abgeschlossen"),
		},
		"agent_definitions": map[string]any{
			mueller: map[string]any{"type": "organization", "name": "Müller Maschinenbau GmbH"},
			wolke:   map[string]any{"type": "organization", "name": "Wolke Cloud AG"},
			cert:    map[string]any{"type": "organization", "name": "CERT Süd"},
			itTeam:  map[string]any{"type": "group", "name": "IT-Betrieb Müller"},
		},
		"data_marking_definitions": map[string]any{
			tlp: map[string]any{"type": "marking-tlp", "id": tlp, "created_by": "identity--6f1d3c2e-8a4b-4c1d-9e2f-0000000000cf",
				"created": "2022-10-01T00:00:00.000Z", "tlpv2_level": "TLP:GREEN"},
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

// seedPlaybooks puts the circle's playbook into the library of
// "Mittelstand Süd": CERT Süd, the circle's coordinator, imports it.
func seedPlaybooks(ctx context.Context, s *playbooks.Service, cert policy.Actor, circle string) (string, error) {
	doc, err := ransomwarePlaybook()
	if err != nil {
		return "", err
	}
	rep, err := s.Import(ctx, cert, []playbooks.Input{{Name: "ransomware-erstmassnahmen.json", Data: doc}},
		playbooks.ImportOptions{Sharing: policy.Sharing{Audience: "community", Community: circle}})
	if err != nil {
		return "", fmt.Errorf("demo playbook: %w", err)
	}
	if rep.Accepted != 1 {
		return "", fmt.Errorf("demo playbook refused: %+v", rep.Items)
	}
	return rep.Items[0].ID, nil
}

// seedRun runs the circle's playbook in the running incident: CERT Süd,
// the coordinator, starts it; Müller has isolated its systems and Wolke
// locked the accounts; Müller prepared the reporting duties before the
// decision on the backups was taken, which the run records as a
// deviation from the playbook's order.
func seedRun(ctx context.Context, svc *incidents.Service, cert, jonas, tom policy.Actor, incident, playbook string) error {
	run, err := svc.StartRun(ctx, cert, incident, incidents.NewRun{PlaybookID: playbook})
	if err != nil {
		return fmt.Errorf("demo run: %w", err)
	}
	for _, done := range []struct {
		who  policy.Actor
		step string
	}{{jonas, "Betroffene Systeme isolieren"}, {tom, "Cloud-Zugänge sperren und Snapshots sichern"}, {jonas, "Meldepflichten prüfen"}} {
		i := slices.IndexFunc(run.Steps, func(s incidents.RunStep) bool { return s.Name == done.step })
		if i < 0 {
			return fmt.Errorf("demo run: no step %q", done.step)
		}
		if _, err := svc.SetTaskDone(ctx, done.who, run.Steps[i].TaskID, true); err != nil {
			return fmt.Errorf("demo run step: %w", err)
		}
	}
	return nil
}

// RansomwarePlaybook is the document of the circle's playbook (tests read
// it: the editor keeps what it does not show).
func RansomwarePlaybook() ([]byte, error) { return ransomwarePlaybook() }
