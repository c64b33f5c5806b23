package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"verbund/internal/policy"
	"verbund/internal/vulns"
)

// CSAFProvider names Wolke Cloud AG (by its exact name), whose CSAF
// provider `serve --demo` also serves at /.well-known/csaf/.
const CSAFProvider = "Wolke Cloud AG"

// The demo's vulnerability coordination: Wolke Cloud AG publishes three
// CSAF advisories on its products, as a CSAF trusted provider — a TLP:WHITE one on its gateway
// (every organisation reads it), a GREEN one to the circle on its storage
// client, an AMBER one it keeps to itself — and Müller Maschinenbau keeps
// an inventory of what it runs at Wolke: the gateway advisory names
// Müller's gateway, which shows on Müller's patch board with its deadline.

type demoAdvisory struct {
	id, title, tlp, vendor, product, fixed, affected, cve, vector, summary string
	sharing                                                                policy.Sharing
}

// csafDocument writes a small CSAF 2.0 security advisory of Wolke Cloud.
func csafDocument(a demoAdvisory) ([]byte, error) {
	doc := obj{
		"document": obj{
			"category": "csaf_security_advisory", "csaf_version": "2.0", "lang": "de",
			"distribution": obj{"tlp": obj{"label": a.tlp}},
			"notes":        []obj{{"category": "summary", "title": "Zusammenfassung", "text": a.summary}},
			"publisher":    obj{"category": "vendor", "name": "Wolke Cloud AG", "namespace": "https://wolke-cloud.example"},
			"title":        a.title,
			"tracking": obj{"id": a.id, "version": "1", "status": "final",
				"initial_release_date": "2026-11-25T09:00:00.000Z", "current_release_date": "2026-11-25T09:00:00.000Z",
				"revision_history": []obj{{"number": "1", "date": "2026-11-25T09:00:00.000Z", "summary": "Erstveröffentlichung"}}},
		},
		"product_tree": obj{"branches": []obj{{"category": "vendor", "name": a.vendor, "branches": []obj{{"category": "product_name", "name": a.product,
			"branches": []obj{
				{"category": "product_version", "name": a.affected, "product": obj{"name": a.product + " " + a.affected, "product_id": "AFFECTED"}},
				{"category": "product_version", "name": a.fixed, "product": obj{"name": a.product + " " + a.fixed, "product_id": "FIXED"}},
			}}}}}},
		"vulnerabilities": []obj{{
			"cve": a.cve, "title": a.title,
			"product_status": obj{"known_affected": []string{"AFFECTED"}, "fixed": []string{"FIXED"}},
			"remediations":   []obj{{"category": "vendor_fix", "details": "Aktualisieren Sie auf Version " + a.fixed + ".", "product_ids": []string{"AFFECTED"}}},
			"scores":         []obj{{"products": []string{"AFFECTED"}, "cvss_v3": obj{"version": "3.1", "vectorString": a.vector, "baseScore": 0, "baseSeverity": "NONE"}}},
		}},
	}
	return json.Marshal(doc)
}

func seedVulns(ctx context.Context, s *vulns.Service, wolke, mueller policy.Actor, circle string) error {
	advs := []demoAdvisory{
		{id: "WCSA-2026-0007", title: "Wolke Gateway: Umgehung der Anmeldung", tlp: "WHITE", vendor: "Wolke Cloud AG", product: "Wolke Gateway",
			affected: "2.4.1", fixed: "2.4.2", cve: "CVE-2026-40007", vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
			summary: "Ein Angreifer kann die Anmeldung am Verwaltungszugang des Wolke Gateway umgehen."},
		{id: "WCSA-2026-0008", title: "Wolke Storage Client: Zugangsdaten im Protokoll", tlp: "GREEN", vendor: "Wolke Cloud AG", product: "Wolke Storage Client",
			affected: "5.2", fixed: "5.3", cve: "CVE-2026-40008", vector: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
			summary: "Der Client schreibt Zugangsdaten in seine Protokolldatei.", sharing: policy.Sharing{Audience: "community", Community: circle}},
		{id: "WCSA-2026-0009", title: "Interne Prüfung: Hypervisor-Härtung", tlp: "AMBER", vendor: "Wolke Cloud AG", product: "Wolke Compute",
			affected: "11", fixed: "12", cve: "CVE-2026-40009", vector: "CVSS:3.1/AV:A/AC:H/PR:H/UI:N/S:C/C:H/I:H/A:H",
			summary: "Ergebnis einer internen Prüfung; betrifft nur Wolkes eigene Plattform."},
	}
	if _, err := s.ImportAssets(ctx, mueller, strings.NewReader("name,vendor,product,version\nedge-gw-01,Wolke Cloud AG,Wolke Gateway,2.4.1\n"+
		"nas-backup,Wolke Cloud AG,Wolke Storage Client,5.3\nfirewall-fertigung,Beispiel Netzwerke,Perimeter FW,9.1\n")); err != nil {
		return fmt.Errorf("demo inventory: %w", err)
	}
	for _, a := range advs {
		b, err := csafDocument(a)
		if err != nil {
			return err
		}
		rep, err := s.Import(ctx, wolke, []vulns.Input{{Name: a.id + ".json", Data: b}}, vulns.ImportOptions{Sharing: a.sharing, Via: "demo"})
		if err != nil {
			return fmt.Errorf("demo advisory %s: %w", a.id, err)
		}
		if rep.Documents.Imported != 1 {
			return fmt.Errorf("demo advisory %s refused: %+v", a.id, rep.Errors)
		}
		if _, err := s.Publish(ctx, wolke, rep.Advisories[0]); err != nil {
			return fmt.Errorf("publish demo advisory %s: %w", a.id, err)
		}
	}
	return nil
}
