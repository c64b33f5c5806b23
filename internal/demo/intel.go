package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"verbund/internal/intel"
	"verbund/internal/policy"
)

// The demo's threat intelligence: CERT Süd shares a ransomware campaign
// against the Mittelstand with the circle at TLP:AMBER (indicators, the
// malware, the attack patterns, relationships), Müller reports a sighting
// of its command server, Wolke Cloud adds a GREEN indicator of a scanner,
// and CERT Süd publishes a TLP:CLEAR situation report that everyone sees.
// Hansa Logistik, outside the circle, sees only that report.

const (
	tlpAmberMarking = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
	tlpGreenMarking = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	tlpClearMarking = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"

	demoCampaign   = "campaign--6b1c4a70-1f3e-4a57-9d1e-2f0c8e6a1a01"
	demoMalware    = "malware--6b1c4a70-1f3e-4a57-9d1e-2f0c8e6a1a02"
	demoPhishing   = "attack-pattern--6b1c4a70-1f3e-4a57-9d1e-2f0c8e6a1a03"
	demoEncrypt    = "attack-pattern--6b1c4a70-1f3e-4a57-9d1e-2f0c8e6a1a04"
	demoC2         = "indicator--6b1c4a70-1f3e-4a57-9d1e-2f0c8e6a1a05"
	demoDomain     = "indicator--6b1c4a70-1f3e-4a57-9d1e-2f0c8e6a1a06"
	demoDropper    = "indicator--6b1c4a70-1f3e-4a57-9d1e-2f0c8e6a1a07"
	demoScanner    = "indicator--6b1c4a70-1f3e-4a57-9d1e-2f0c8e6a1a0b"
	demoSighting   = "sighting--6b1c4a70-1f3e-4a57-9d1e-2f0c8e6a1a0c"
	demoReport     = "report--6b1c4a70-1f3e-4a57-9d1e-2f0c8e6a1a0d"
	demoSector     = "identity--6b1c4a70-1f3e-4a57-9d1e-2f0c8e6a1a0e"
	demoT0         = "2026-11-23T08:00:00.000Z"
	demoT1         = "2026-11-24T09:30:00.000Z"
	demoValidUntil = "2027-05-23T08:00:00Z"
)

type obj = map[string]any

// sdo is a STIX domain object with the common properties.
func sdo(typ, id, created, by string, marking string, props obj) obj {
	o := obj{"type": typ, "spec_version": "2.1", "id": id, "created": created, "modified": created, "created_by_ref": by,
		"object_marking_refs": []string{marking}}
	for k, v := range props {
		o[k] = v
	}
	return o
}

func rel(n int, typ, src, dst, by, marking string) obj {
	return sdo("relationship", fmt.Sprintf("relationship--6b1c4a70-1f3e-4a57-9d1e-2f0c8e6a1b%02d", n), demoT0, by, marking,
		obj{"relationship_type": typ, "source_ref": src, "target_ref": dst})
}

func bundle(n int, objects ...obj) string {
	b, _ := json.Marshal(obj{"type": "bundle", "id": fmt.Sprintf("bundle--6b1c4a70-1f3e-4a57-9d1e-2f0c8e6a1c%02d", n), "objects": objects})
	return string(b)
}

func seedIntel(ctx context.Context, svc *intel.Service, cert, mueller, wolke policy.Actor, circle string) error {
	// Each org's identity is the one the hub names it by in what it writes
	// for it (a sighting reported in the UI names the same).
	demoCERT, demoMueller, demoWolke := intel.IdentityID(cert.OrgID), intel.IdentityID(mueller.OrgID), intel.IdentityID(wolke.OrgID)
	ransomware := bundle(1,
		sdo("identity", demoCERT, demoT0, demoCERT, tlpClearMarking, obj{"name": "CERT Süd", "identity_class": "organization", "sectors": []string{"government"}}),
		sdo("identity", demoSector, demoT0, demoCERT, tlpAmberMarking, obj{"name": "Mittelständische Maschinenbauer in Süddeutschland", "identity_class": "class", "sectors": []string{"manufacturing"}}),
		sdo("campaign", demoCampaign, demoT0, demoCERT, tlpAmberMarking, obj{"name": "Kampagne „Falsche Rechnung“",
			"description": "Seit Mitte November verschicken Angreifer Rechnungen mit Makro-Anhängen an Maschinenbauer im Süden. Nach der Erstinfektion folgt nach zwei bis fünf Tagen die Verschlüsselung mit der Ransomware Kryptonit.",
			"first_seen":  "2026-11-16T00:00:00Z", "objective": "Erpressung durch Verschlüsselung und Datenabfluss"}),
		sdo("malware", demoMalware, demoT0, demoCERT, tlpAmberMarking, obj{"name": "Kryptonit", "is_family": true, "malware_types": []string{"ransomware"},
			"description": "Ransomware, die Dateifreigaben verschlüsselt und vorher Daten zu einem Speicherdienst hochlädt."}),
		sdo("attack-pattern", demoPhishing, demoT0, demoCERT, tlpAmberMarking, obj{"name": "Spearphishing Attachment",
			"external_references": []obj{{"source_name": "mitre-attack", "external_id": "T1566.001", "url": "https://attack.mitre.org/techniques/T1566/001/"}}}),
		sdo("attack-pattern", demoEncrypt, demoT0, demoCERT, tlpAmberMarking, obj{"name": "Data Encrypted for Impact",
			"external_references": []obj{{"source_name": "mitre-attack", "external_id": "T1486", "url": "https://attack.mitre.org/techniques/T1486/"}}}),
		sdo("indicator", demoC2, demoT0, demoCERT, tlpAmberMarking, obj{"name": "Kryptonit-Steuerserver", "indicator_types": []string{"malicious-activity"},
			"pattern": "[ipv4-addr:value = '198.51.100.23']", "pattern_type": "stix", "valid_from": "2026-11-23T08:00:00Z", "valid_until": demoValidUntil, "confidence": 85}),
		sdo("indicator", demoDomain, demoT0, demoCERT, tlpAmberMarking, obj{"name": "Rechnungsportal der Angreifer", "indicator_types": []string{"malicious-activity"},
			"pattern":      "[domain-name:value = 'rechnung-portal.example'] OR [url:value = 'https://rechnung-portal.example/download/rechnung.zip']",
			"pattern_type": "stix", "valid_from": "2026-11-23T08:00:00Z", "valid_until": demoValidUntil, "confidence": 70}),
		sdo("indicator", demoDropper, demoT0, demoCERT, tlpAmberMarking, obj{"name": "Makro-Dropper rechnung.docm", "indicator_types": []string{"malicious-activity"},
			"pattern": "[file:hashes.'SHA-256' = '4bf0d3a5c3e4f98d1c4d3f1b7e6a2c9d8b0a1e2f3c4d5e6f708192a3b4c5d6e7']", "pattern_type": "stix",
			"valid_from": "2026-11-23T08:00:00Z", "confidence": 90}),
		rel(1, "indicates", demoC2, demoMalware, demoCERT, tlpAmberMarking),
		rel(2, "indicates", demoDomain, demoCampaign, demoCERT, tlpAmberMarking),
		rel(3, "indicates", demoDropper, demoMalware, demoCERT, tlpAmberMarking),
		rel(4, "uses", demoCampaign, demoMalware, demoCERT, tlpAmberMarking),
		rel(5, "uses", demoCampaign, demoPhishing, demoCERT, tlpAmberMarking),
		rel(6, "uses", demoMalware, demoEncrypt, demoCERT, tlpAmberMarking),
		rel(7, "targets", demoCampaign, demoSector, demoCERT, tlpAmberMarking),
	)
	report := bundle(2, sdo("report", demoReport, demoT1, demoCERT, tlpClearMarking, obj{"name": "Lagebild: Ransomware gegen den Mittelstand",
		"description":  "Das CERT Süd beobachtet eine Welle von Angriffen mit gefälschten Rechnungen. Blockieren Sie Makros in Office-Dokumenten aus dem Internet, prüfen Sie Ihre Offline-Sicherungen und melden Sie Auffälligkeiten Ihrem CERT.",
		"report_types": []string{"threat-report"}, "published": "2026-11-24T09:30:00Z", "object_refs": []string{demoCampaign, demoMalware}}))
	sighting := bundle(3,
		sdo("identity", demoMueller, demoT1, demoMueller, tlpAmberMarking, obj{"name": "Müller Maschinenbau GmbH", "identity_class": "organization", "sectors": []string{"manufacturing"}}),
		sdo("sighting", demoSighting, demoT1, demoMueller, tlpAmberMarking, obj{"sighting_of_ref": demoC2, "where_sighted_refs": []string{demoMueller},
			"first_seen": "2026-11-24T02:13:00Z", "last_seen": "2026-11-24T02:47:00Z", "count": 14,
			"description": "Verbindungen von zwei Bedienrechnern der Fertigung zum Steuerserver, von der Firewall geblockt."}))
	scanner := bundle(4,
		sdo("identity", demoWolke, demoT1, demoWolke, tlpGreenMarking, obj{"name": "Wolke Cloud AG", "identity_class": "organization", "sectors": []string{"technology"}}),
		sdo("indicator", demoScanner, demoT1, demoWolke, tlpGreenMarking, obj{"name": "Scanner auf VPN-Gateways", "indicator_types": []string{"anomalous-activity"},
			"description": "Massenhafte Anmeldeversuche an VPN-Gateways unserer Kunden.",
			"pattern":     "[ipv4-addr:value ISSUBSET '203.0.113.0/26']", "pattern_type": "stix", "valid_from": "2026-11-24T00:00:00Z", "valid_until": "2027-02-24T00:00:00Z", "confidence": 60}))
	for _, imp := range []struct {
		who    policy.Actor
		bundle string
	}{{cert, ransomware}, {cert, report}, {mueller, sighting}, {wolke, scanner}} {
		rep, err := svc.Import(ctx, imp.who, strings.NewReader(imp.bundle), intel.ImportOptions{Community: circle, Via: "demo"})
		if err != nil {
			return fmt.Errorf("demo intel: %w", err)
		}
		if rep.Rejected > 0 {
			return fmt.Errorf("demo intel: %d objects refused: %+v", rep.Rejected, rep.Errors)
		}
	}
	return nil
}
