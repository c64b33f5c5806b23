package demo

import (
	"context"
	"fmt"
	"time"

	"verbund/internal/policy"
	"verbund/internal/training"
)

// The demo's training: CERT Süd puts a phishing-awareness module, in
// German and English, into the library of the trust circle; Müller's admin
// assigns it to all of Müller's staff, due in four weeks; Jonas passes at
// once, Petra on her second try, Karl's first try falls short and Anna has
// not started. Müller shares its completion rates with the circle's
// coordinator, so CERT Süd sees Müller's rate (2 of 4), never who.

// phishingModule is the circle's awareness module for non-specialists.
func phishingModule(community string) training.NewModule {
	return training.NewModule{
		Title: training.Text{"de": "Phishing erkennen – Sensibilisierung für alle", "en": "Spotting phishing – awareness for everyone"},
		Guide: training.Text{
			"de": `## Worum es geht

Die meisten Angriffe auf kleine und mittlere Unternehmen beginnen mit einer E-Mail. Ein Klick auf einen Link oder das Öffnen eines Anhangs genügt, damit Angreifer Zugangsdaten stehlen oder Schadsoftware einschleusen.

## Woran Sie Phishing erkennen

- **Zeitdruck oder Drohungen:** „Ihr Konto wird heute gesperrt“, „Rechnung sofort begleichen“.
- **Absender passt nicht:** Der angezeigte Name stimmt, die Adresse dahinter nicht (z. B. *rechnung@mueller-maschinenbau.example.com*).
- **Unerwartete Anhänge:** ZIP-Dateien, Office-Dokumente mit Makros, Verknüpfungen (.lnk).
- **Links, die woanders hinführen:** Fahren Sie mit der Maus darüber, bevor Sie klicken.

## Was Sie tun

1. Nicht klicken, nichts öffnen, nicht antworten.
2. Die Mail der IT-Sicherheit melden (Schaltfläche „Phishing melden“ oder Weiterleitung an it-sicherheit@…).
3. Wenn Sie doch geklickt oder ein Passwort eingegeben haben: **sofort** das Passwort ändern und die IT-Sicherheit anrufen. Niemand wird dafür getadelt – schnelles Melden begrenzt den Schaden.

Codes aus Ihrer Authentisierungs-App geben Sie nie weiter, auch nicht an „den IT-Support“ am Telefon.`,
			"en": `## What this is about

Most attacks on small and medium-sized companies start with an e-mail. One click on a link or one opened attachment is enough for attackers to steal credentials or plant malware.

## How to spot phishing

- **Urgency or threats:** "Your account will be locked today", "Pay this invoice now".
- **The sender does not fit:** the name shown is right, the address behind it is not (e.g. *rechnung@mueller-maschinenbau.example.com*).
- **Unexpected attachments:** ZIP files, Office documents with macros, shortcuts (.lnk).
- **Links that lead elsewhere:** hover over them before you click.

## What to do

1. Do not click, open or reply.
2. Report the mail to IT security (the "Report phishing" button, or forward it to it-sicherheit@…).
3. If you did click or enter a password: change the password **at once** and call IT security. Nobody will be blamed – reporting quickly limits the damage.

Never pass on codes from your authenticator app, not even to "IT support" on the phone.`,
		},
		Questions: []training.NewQuestion{
			{Kind: training.Single,
				Text: training.Text{"de": "Eine E-Mail fordert Sie auf, Ihr Passwort über einen Link zu bestätigen. Was tun Sie?",
					"en": "An e-mail asks you to confirm your password through a link. What do you do?"},
				Options: []training.Text{
					{"de": "Auf den Link klicken und das Passwort eingeben", "en": "Click the link and enter the password"},
					{"de": "Die Mail der IT-Sicherheit melden und löschen", "en": "Report the mail to IT security and delete it"},
					{"de": "Die Mail an Kolleginnen und Kollegen weiterleiten", "en": "Forward the mail to colleagues"}},
				Correct: []int{1}},
			{Kind: training.Multiple,
				Text: training.Text{"de": "Woran erkennen Sie eine Phishing-Mail?", "en": "Which signs point to a phishing mail?"},
				Options: []training.Text{
					{"de": "Zeitdruck oder Drohungen", "en": "Urgency or threats"},
					{"de": "Die Absenderadresse passt nicht zur Firma", "en": "The sender's address does not fit the company"},
					{"de": "Die Anrede nennt Ihren Namen", "en": "The greeting uses your name"},
					{"de": "Ein unerwarteter Anhang, z. B. ZIP oder Office-Datei mit Makros", "en": "An unexpected attachment, e.g. a ZIP or an Office file with macros"}},
				Correct: []int{0, 1, 3}},
			{Kind: training.Single,
				Text: training.Text{"de": "Sie haben versehentlich auf einen Phishing-Link geklickt und Ihr Passwort eingegeben. Was ist jetzt richtig?",
					"en": "You clicked a phishing link by mistake and entered your password. What is right now?"},
				Options: []training.Text{
					{"de": "Nichts tun und abwarten", "en": "Do nothing and wait"},
					{"de": "Das Passwort sofort ändern und die IT-Sicherheit informieren", "en": "Change the password at once and tell IT security"},
					{"de": "Den Rechner ausschalten und niemandem etwas sagen", "en": "Switch the computer off and tell nobody"}},
				Correct: []int{1}},
			{Kind: training.Single,
				Text: training.Text{"de": "Ein Anrufer gibt sich als IT-Support aus und verlangt einen Code aus Ihrer Authentisierungs-App. Was tun Sie?",
					"en": "A caller claims to be IT support and asks for a code from your authenticator app. What do you do?"},
				Options: []training.Text{
					{"de": "Den Code nennen – es ist ja der IT-Support", "en": "Give the code – it is IT support after all"},
					{"de": "Den Code nie weitergeben und den Anruf melden", "en": "Never give the code and report the call"},
					{"de": "Den Code per E-Mail schicken statt am Telefon", "en": "Send the code by e-mail instead of on the phone"}},
				Correct: []int{1}},
		},
		PassMark: 75,
		Sharing:  policy.Sharing{TLP: "GREEN", Audience: string(policy.AudCommunity), Community: community},
	}
}

func seedTraining(ctx context.Context, s *training.Service, cert, admin policy.Actor, learners map[string]policy.Actor, community string) error {
	m, err := s.CreateModule(ctx, cert, phishingModule(community))
	if err != nil {
		return fmt.Errorf("demo training module: %w", err)
	}
	due := time.Now().AddDate(0, 0, 28).Format("2006-01-02")
	if _, err := s.CreateAssignment(ctx, admin, m.ID, training.NewAssignment{Target: training.TargetOrg, DueDate: due}); err != nil {
		return fmt.Errorf("demo training assignment: %w", err)
	}
	right := [][]int{{1}, {0, 1, 3}, {1}, {1}}
	threeOfFour := [][]int{{1}, {0, 1}, {1}, {1}} // passes: 75 %
	halfRight := [][]int{{0}, {0, 1, 3}, {1}, {0}}
	for _, a := range []struct {
		who     string
		answers [][]int
	}{{"jonas", right}, {"petra", halfRight}, {"petra", threeOfFour}, {"karl", halfRight}} {
		if _, err := s.SubmitAnswers(ctx, learners[a.who], m.ID, training.Answers{Answers: a.answers}); err != nil {
			return fmt.Errorf("demo training answers of %s: %w", a.who, err)
		}
	}
	if _, err := s.ShareRates(ctx, admin, training.NewRateShare{CoordinatorOf: community,
		Note: "Sensibilisierung der Belegschaft, für die Auswertung im Vertrauenskreis"}); err != nil {
		return fmt.Errorf("demo training rates: %w", err)
	}
	return nil
}
