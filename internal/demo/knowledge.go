package demo

import (
	"context"
	"fmt"

	"verbund/internal/intel"
	"verbund/internal/knowledge"
	"verbund/internal/policy"
)

// The circle's library: CERT Süd's guide for people who are not security
// specialists, Müller's post-incident review of the ransomware at two of
// its machines (linked to CERT Süd's threat intelligence on it), Wolke's
// lessons learned in English, a comment and a vote.

const ransomwareGuide = `Dieser Leitfaden ist für Geschäftsführung und Mitarbeitende ohne IT-Fachwissen. Er sagt, was Sie in der ersten Stunde tun – und was Sie lassen sollten –, wenn Rechner plötzlich verschlüsselt sind.

## Woran Sie einen Ransomware-Angriff erkennen

- Dateien lassen sich nicht mehr öffnen oder haben seltsame Endungen.
- Auf dem Bildschirm steht eine Lösegeldforderung.
- Viele Kolleginnen und Kollegen melden gleichzeitig Probleme.

## Die ersten Schritte

1. **Ruhe bewahren.** Hektik zerstört Spuren.
2. **Betroffene Geräte vom Netz trennen**: Netzwerkkabel ziehen, WLAN ausschalten. Die Geräte **nicht** ausschalten – im Arbeitsspeicher stecken wichtige Spuren.
3. **Geschäftsführung und IT-Dienstleister informieren.**
4. **CERT Süd anrufen** (Rufnummer unten). Wir helfen bei der Einschätzung und beim Vorgehen.
5. **Nichts löschen und kein Lösegeld zahlen**, bevor Sie sich beraten haben.
6. **Meldepflichten prüfen**: Sind personenbezogene Daten betroffen, gilt die 72-Stunden-Frist der DSGVO; besonders wichtige Einrichtungen melden nach NIS2 innerhalb von 24 Stunden eine Frühwarnung.

## Checkliste für heute noch

- [ ] Betroffene Geräte vom Netz getrennt
- [ ] Zeitpunkt und Beobachtungen notiert (wer hat was wann gesehen?)
- [ ] IT-Dienstleister und CERT informiert
- [ ] Datensicherungen geprüft: Gibt es eine Sicherung, die **nicht** mit dem Netz verbunden war?

## Wen Sie anrufen

| Wer | Wann | Kontakt |
|---|---|---|
| IT-Dienstleister | sofort | laut Notfallkarte |
| CERT Süd | bei Verdacht, rund um die Uhr | 0800 000 0000, cert@cert-sued.example |
| Polizei (Zentrale Ansprechstelle Cybercrime) | für eine Anzeige | über das Landeskriminalamt |

## Was Sie vorher tun können

- Offline-Datensicherungen anlegen und die **Wiederherstellung** regelmäßig üben.
- Makros in Office-Dateien aus dem Internet blockieren.
- Notfallkontakte auf Papier aufbewahren – bei einem Angriff ist das Adressbuch im Rechner vielleicht verschlüsselt.

Mehr dazu: [BSI – Ransomware](https://www.bsi.bund.de/DE/Themen/Unternehmen-und-Organisationen/Cyber-Sicherheitslage/Analysen-und-Prognosen/Ransomware-Angriffe/ransomware-angriffe_node.html) und das Lagebild des CERT Süd zur Kampagne „Falsche Rechnung“ (unten verknüpft).`

const reviewBody = `## Zusammenfassung

Am 24. November verschlüsselte die Ransomware Kryptonit Dateien auf zwei Bedienrechnern der Fertigung. Die Firewall blockte die Verbindungen zum Steuerserver; die Rechner waren nach 20 Minuten vom Netz. Es flossen keine Daten ab, die Produktion stand vier Stunden.

## Zeitleiste

| Zeitpunkt | Ereignis |
|---|---|
| 21.11., 10:12 | Mitarbeiter öffnet „rechnung.docm“ aus einer Mail, Makros aktiviert |
| 24.11., 02:13 | Erste Verbindung zum Steuerserver, von der Firewall blockiert |
| 24.11., 06:40 | Schichtleitung meldet verschlüsselte Dateien – erkannt |
| 24.11., 07:00 | Beide Rechner vom Netz getrennt – eingedämmt |
| 24.11., 11:00 | Aus der Offline-Sicherung wiederhergestellt – behoben |

## Ursache

Ein Makro-Anhang der Kampagne „Falsche Rechnung“. Makros aus dem Internet waren für die Fertigung nicht gesperrt.

## Was gut funktioniert hat

- Die Firewall-Regel gegen bekannte Steuerserver (aus dem Vertrauenskreis) hat den Datenabfluss verhindert.
- Die Offline-Sicherung der Fertigungsrechner war aktuell.
- Das CERT Süd war in 20 Minuten erreichbar.

## Was wir verbessern

| Maßnahme | Verantwortlich | Fällig |
|---|---|---|
| Makros aus dem Internet per Gruppenrichtlinie sperren, auch in der Fertigung | IT | 05.12. |
| Wiederherstellung der Fertigungsrechner vierteljährlich üben | IT, Fertigung | 31.01. |
| Kurzschulung „Rechnungen und Anhänge“ für alle Mitarbeitenden | Geschäftsführung | 15.12. |`

const lessonsBody = `## Situation

In November two customers in the circle were hit by Kryptonit ransomware. We restored their hosted systems from immutable backups.

## What we learned

1. Immutable (write-once) backups were the only copies the attackers could not reach.
2. Restores took three times longer than planned: nobody had restored a whole customer environment before.
3. Customers did not know which of their systems we host and which they run themselves.

## What others can take from it

- Test a full restore, not only single files.
- Keep a list of who operates which system, on paper too.

## What we change

- Quarterly restore drills with each customer.`

func seedKnowledge(ctx context.Context, svc *knowledge.Service, in *intel.Service, cert, mueller, muellerAdmin, wolke policy.Actor, circle string) error {
	var links []knowledge.Link
	if in != nil {
		for _, stixID := range []string{demoReport, demoMalware} {
			objs, _, err := in.List(ctx, cert, intel.Filter{IDs: []string{stixID}, Limit: 1})
			if err != nil {
				return fmt.Errorf("demo article links: %w", err)
			}
			if len(objs) == 1 {
				links = append(links, knowledge.Link{Type: "intel", ID: objs[0].ID})
			}
		}
	}
	guide, err := svc.CreateArticle(ctx, cert, knowledge.NewArticle{Title: "Ransomware – Erste Schritte für KMU", Kind: "guide", Lang: "de",
		Body: ransomwareGuide, Tags: []string{"ransomware", "KMU", "Notfall", "Erste Hilfe"}, Links: links[:min(1, len(links))],
		Sharing: policy.Sharing{TLP: "GREEN", Audience: "community", Community: circle}})
	if err != nil {
		return fmt.Errorf("demo guide: %w", err)
	}
	review, err := svc.CreateArticle(ctx, mueller, knowledge.NewArticle{Title: "Nachbereitung: Kryptonit an zwei Bedienrechnern der Fertigung",
		Kind: "post_incident_review", Lang: "de", Body: reviewBody, Tags: []string{"ransomware", "Kryptonit", "Phishing", "Fertigung"}, Links: links,
		Sharing: policy.Sharing{TLP: "AMBER", Audience: "community", Community: circle}})
	if err != nil {
		return fmt.Errorf("demo review: %w", err)
	}
	if _, err := svc.CreateArticle(ctx, wolke, knowledge.NewArticle{Title: "Lessons learned: restoring customers from immutable backups",
		Kind: "lessons_learned", Lang: "en", Body: lessonsBody, Tags: []string{"backup", "ransomware", "restore"},
		Sharing: policy.Sharing{TLP: "GREEN", Audience: "community", Community: circle}}); err != nil {
		return fmt.Errorf("demo lessons: %w", err)
	}
	if _, err := svc.CreateComment(ctx, cert, review.ID, knowledge.NewComment{
		Body: "Danke für die offene Nachbereitung. Die Makro-Sperre für die Fertigung empfehlen wir allen Mitgliedern; wir nehmen sie in den Leitfaden auf."}); err != nil {
		return fmt.Errorf("demo comment: %w", err)
	}
	for _, a := range []policy.Actor{mueller, muellerAdmin, wolke} {
		if _, err := svc.SetHelpful(ctx, a, guide.ID, true); err != nil {
			return fmt.Errorf("demo vote: %w", err)
		}
	}
	for _, a := range []policy.Actor{mueller, muellerAdmin, wolke, cert} {
		if err := svc.CountRead(ctx, a, guide.ID); err != nil {
			return fmt.Errorf("demo reads: %w", err)
		}
	}
	return nil
}
