// Package demo seeds the ecosystem of the original request into an empty
// hub: Müller Maschinenbau GmbH (an SME), its cloud provider Wolke Cloud
// AG, the regional CERT Süd coordinating the trust circle "Mittelstand
// Süd", a company outside the circle, agreements between them, people in
// every role, forum threads at every TLP level, threat intelligence, and
// the circle's library: a phishing-awareness module, articles and the
// playbook "Ransomware – Erstmaßnahmen" (CACAO 2.0), a running and a
// closed incident of Müller's, and the circle's joint risk register
// with a finished risk workshop. Passwords are random;
// they are printed once and written to a file in the data folder.
package demo

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"verbund/internal/accounts"
	"verbund/internal/agreements"
	"verbund/internal/db"
	"verbund/internal/forum"
	"verbund/internal/incidents"
	"verbund/internal/intel"
	"verbund/internal/knowledge"
	"verbund/internal/orgs"
	"verbund/internal/playbooks"
	"verbund/internal/policy"
	"verbund/internal/risks"
	"verbund/internal/training"
	"verbund/internal/vulns"
)

// Services are what the seeder uses.
type Services struct {
	DB         *db.DB
	Accounts   *accounts.Service
	Orgs       *orgs.Service
	Agreements *agreements.Service
	Forum      *forum.Service
	Intel      *intel.Service
	Training   *training.Service
	Knowledge  *knowledge.Service
	Incidents  *incidents.Service
	Vulns      *vulns.Service
	Playbooks  *playbooks.Service
	Risks      *risks.Service
}

// Login is one demo account.
type Login struct {
	Org, Name, Email, Role, Password, Lang string
}

// Seeded reports whether the database already has organisations.
func Seeded(ctx context.Context, d *db.DB) (bool, error) {
	var n int
	err := d.R().QueryRow(ctx, `SELECT COUNT(*) FROM orgs`).Scan(&n)
	return n > 0, db.Map(err)
}

func password() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Seed creates the demo ecosystem and writes the logins to
// dataDir/demo-logins.txt (mode 0600).
func Seed(ctx context.Context, s Services, dataDir string) ([]Login, error) {
	op := policy.System("demo")
	type orgSpec struct{ name, kind, contact string }
	specs := []orgSpec{
		{"Müller Maschinenbau GmbH", "company", "it-sicherheit@mueller-maschinenbau.example"},
		{"Wolke Cloud AG", "provider", "psirt@wolke-cloud.example"},
		{"CERT Süd", "cert", "cert@cert-sued.example"},
		{"Hansa Logistik AG", "company", "security@hansa-logistik.example"},
	}
	ids := map[string]string{}
	for _, sp := range specs {
		o, err := s.Orgs.CreateOrg(ctx, op, sp.name, sp.kind, sp.contact)
		if err != nil {
			return nil, fmt.Errorf("demo org %s: %w", sp.name, err)
		}
		ids[sp.kind+":"+strings.Fields(sp.name)[0]] = o.ID
	}
	mueller, wolke, cert, hansa := ids["company:Müller"], ids["provider:Wolke"], ids["cert:CERT"], ids["company:Hansa"]

	people := []struct{ org, name, email, role, lang string }{
		{mueller, "Anna Müller", "anna.mueller@mueller-maschinenbau.example", "admin", "de"},
		{mueller, "Jonas Weber", "jonas.weber@mueller-maschinenbau.example", "analyst", "de"},
		{mueller, "Petra Schmidt", "petra.schmidt@mueller-maschinenbau.example", "viewer", "de"},
		{mueller, "Karl Prüfer", "karl.pruefer@mueller-maschinenbau.example", "auditor", "de"},
		{wolke, "Lena Koch", "lena.koch@wolke-cloud.example", "admin", "de"},
		{wolke, "Tom Richter", "tom.richter@wolke-cloud.example", "analyst", "en"},
		{cert, "Sabine Hoffmann", "sabine.hoffmann@cert-sued.example", "admin", "de"},
		{cert, "Max Bauer", "max.bauer@cert-sued.example", "analyst", "de"},
		{cert, "Eva Klein", "eva.klein@cert-sued.example", "viewer", "en"},
		{hansa, "Ole Hansen", "ole.hansen@hansa-logistik.example", "analyst", "de"},
		{hansa, "Greta Lange", "greta.lange@hansa-logistik.example", "admin", "de"},
	}
	orgName := map[string]string{mueller: specs[0].name, wolke: specs[1].name, cert: specs[2].name, hansa: specs[3].name}
	var logins []Login
	actors := map[string]policy.Actor{}
	for _, p := range people {
		pw := password()
		u, err := s.Accounts.CreateUser(ctx, op, accounts.NewUser{OrgID: p.org, Email: p.email, Name: p.name, Role: p.role, Lang: p.lang, Password: pw})
		if err != nil {
			return nil, fmt.Errorf("demo user %s: %w", p.email, err)
		}
		logins = append(logins, Login{Org: orgName[p.org], Name: p.name, Email: p.email, Role: p.role, Password: pw, Lang: p.lang})
		actors[p.email] = policy.Actor{UserID: u.ID, OrgID: p.org, Role: policy.Role(p.role), Scope: policy.ScopeSession, Via: "demo", Name: p.name}
	}
	act := func(email string) policy.Actor { return actors[email] }

	c, err := s.Orgs.CreateCommunity(ctx, op, "Mittelstand Süd",
		"Vertrauenskreis für mittelständische Unternehmen in Süddeutschland, ihre Dienstleister und das CERT Süd.", cert)
	if err != nil {
		return nil, fmt.Errorf("demo community: %w", err)
	}
	for _, o := range []string{mueller, wolke} {
		if err := s.Orgs.AddMember(ctx, op, c.ID, o); err != nil {
			return nil, fmt.Errorf("demo member: %w", err)
		}
	}
	if _, err := s.Agreements.Propose(ctx, op, cert, agreements.Input{Kind: "charter", Community: c.ID, Title: "Charta Mittelstand Süd",
		Categories: []string{"incident", "indicator", "vulnerability", "knowledge", "exercise", "risk"}, MaxTLP: "AMBER",
		Purpose: "Frühwarnung und gemeinsame Bewältigung von Sicherheitsvorfällen im Vertrauenskreis", RetentionDays: 365}); err != nil {
		return nil, fmt.Errorf("demo charter: %w", err)
	}
	if _, err := s.Agreements.Propose(ctx, op, mueller, agreements.Input{Kind: "bilateral", Partner: wolke, Title: "Cloud-Betrieb Müller / Wolke",
		Categories: []string{"incident", "log", "knowledge", "vulnerability"}, MaxTLP: "RED", PersonalData: true,
		Purpose: "Vorfallbearbeitung für die bei Wolke Cloud betriebenen Systeme von Müller Maschinenbau", RetentionDays: 90}); err != nil {
		return nil, fmt.Errorf("demo bilateral: %w", err)
	}
	// Reporting an incident to one's CERT, TLP:RED included, is the most
	// common real flow: Müller and CERT Süd agree on it bilaterally (the
	// circle's charter stops at AMBER). The forum carries such reports as
	// knowledge today, so the agreement covers that category too.
	if _, err := s.Agreements.Propose(ctx, op, mueller, agreements.Input{Kind: "bilateral", Partner: cert, Title: "Meldeweg Müller / CERT Süd",
		Categories: []string{"incident", "knowledge"}, MaxTLP: "RED",
		Purpose: "Meldung von Sicherheitsvorfällen an das CERT Süd und ihre gemeinsame Bearbeitung, auch unter TLP:RED", RetentionDays: 180}); err != nil {
		return nil, fmt.Errorf("demo bilateral with the CERT: %w", err)
	}
	if _, err := s.Agreements.Propose(ctx, act("greta.lange@hansa-logistik.example"), "", agreements.Input{Kind: "bilateral", Partner: mueller,
		Title: "Lieferkette Hansa / Müller", Categories: []string{"incident"}, MaxTLP: "GREEN",
		Purpose: "Warnungen zu Vorfällen in der gemeinsamen Lieferkette", RetentionDays: 180}); err != nil {
		return nil, fmt.Errorf("demo pending agreement: %w", err)
	}

	chs, err := s.Forum.FindChannels(ctx, act("max.bauer@cert-sued.example"))
	if err != nil {
		return nil, err
	}
	var circle string
	for _, ch := range chs {
		if ch.CommunityID == c.ID {
			circle = ch.ID
		}
	}
	type post struct {
		who, title, body string
		sh               policy.Sharing
	}
	tomID, jonasID := actors["tom.richter@wolke-cloud.example"].UserID, actors["jonas.weber@mueller-maschinenbau.example"].UserID
	maxID, annaID := actors["max.bauer@cert-sued.example"].UserID, actors["anna.mueller@mueller-maschinenbau.example"].UserID
	posts := []post{
		{"sabine.hoffmann@cert-sued.example", "Willkommen im Vertrauenskreis Mittelstand Süd",
			"Hier tauschen wir Warnungen, Erfahrungen und Fragen aus. Bitte kennzeichnen Sie jeden Beitrag mit dem passenden TLP-Wert.",
			policy.Sharing{TLP: "CLEAR", Audience: "community"}},
		{"max.bauer@cert-sued.example", "Phishing-Welle mit gefälschten Rechnungen",
			"Seit Montag sehen wir Mails mit angeblichen Rechnungen (ZIP mit LNK-Datei). Absenderdomains wechseln täglich.",
			policy.Sharing{TLP: "GREEN", Audience: "community"}},
		{"jonas.weber@mueller-maschinenbau.example", "Verdächtige Anmeldungen am VPN-Gateway",
			"Wir sehen seit heute Nacht viele fehlgeschlagene Anmeldungen aus einem Hosting-Netz. Sieht das noch jemand?",
			policy.Sharing{TLP: "AMBER", Audience: "community"}},
		{"tom.richter@wolke-cloud.example", "Hinweis auf laufende Kompromittierung",
			"Zugangsdaten eines Ihrer Dienstkonten tauchen in einem Leak auf. Bitte rufen Sie uns an.",
			policy.Sharing{TLP: "RED", Audience: "people", People: []string{tomID, jonasID}}},
		{"jonas.weber@mueller-maschinenbau.example", "Verdacht auf Ransomware in der Fertigung",
			"Zwei Bedienrechner der Fertigung zeigen verschlüsselte Dateien. Wir haben sie vom Netz getrennt und bitten um Unterstützung.",
			policy.Sharing{TLP: "RED", Audience: "people", People: []string{maxID, annaID}}},
	}
	for _, p := range posts {
		if _, _, err := s.Forum.CreateThread(ctx, act(p.who), circle, forum.NewThread{Title: p.title, Body: p.body, Sharing: p.sh}); err != nil {
			return nil, fmt.Errorf("demo thread %q: %w", p.title, err)
		}
	}
	muellerChs, err := s.Forum.FindChannels(ctx, act("jonas.weber@mueller-maschinenbau.example"))
	if err != nil {
		return nil, err
	}
	for _, ch := range muellerChs {
		if ch.CommunityID == "" {
			if _, _, err := s.Forum.CreateThread(ctx, act("jonas.weber@mueller-maschinenbau.example"), ch.ID, forum.NewThread{
				Title: "Patch-Plan KW 48", Body: "Firewall-Update am Donnerstag 22:00, Wartungsfenster zwei Stunden.",
				Sharing: policy.Sharing{TLP: "AMBER", Audience: "org"}}); err != nil {
				return nil, fmt.Errorf("demo internal thread: %w", err)
			}
		}
	}
	if s.Intel != nil {
		if err := seedIntel(ctx, s.Intel, act("max.bauer@cert-sued.example"), act("jonas.weber@mueller-maschinenbau.example"),
			act("tom.richter@wolke-cloud.example"), c.ID); err != nil {
			return nil, err
		}
	}
	if s.Training != nil {
		learners := map[string]policy.Actor{"jonas": act("jonas.weber@mueller-maschinenbau.example"),
			"petra": act("petra.schmidt@mueller-maschinenbau.example"), "karl": act("karl.pruefer@mueller-maschinenbau.example")}
		if err := seedTraining(ctx, s.Training, act("max.bauer@cert-sued.example"), act("anna.mueller@mueller-maschinenbau.example"), learners, c.ID); err != nil {
			return nil, err
		}
	}
	if s.Knowledge != nil {
		if err := seedKnowledge(ctx, s.Knowledge, s.Intel, act("max.bauer@cert-sued.example"), act("jonas.weber@mueller-maschinenbau.example"),
			act("anna.mueller@mueller-maschinenbau.example"), act("tom.richter@wolke-cloud.example"), c.ID); err != nil {
			return nil, err
		}
	}
	var running string // the running incident, in which the circle's playbook runs
	if s.Incidents != nil {
		if running, err = seedIncidents(ctx, s.Incidents, act("jonas.weber@mueller-maschinenbau.example"), act("anna.mueller@mueller-maschinenbau.example"),
			act("max.bauer@cert-sued.example"), act("tom.richter@wolke-cloud.example"), cert, wolke); err != nil {
			return nil, err
		}
	}
	if s.Vulns != nil {
		if err := seedVulns(ctx, s.Vulns, act("tom.richter@wolke-cloud.example"), act("jonas.weber@mueller-maschinenbau.example"), c.ID); err != nil {
			return nil, err
		}
	}
	if s.Playbooks != nil {
		pb, err := seedPlaybooks(ctx, s.Playbooks, act("max.bauer@cert-sued.example"), c.ID)
		if err != nil {
			return nil, err
		}
		if running != "" && s.Incidents.Playbooks != nil {
			if err := seedRun(ctx, s.Incidents, act("max.bauer@cert-sued.example"), act("jonas.weber@mueller-maschinenbau.example"),
				act("tom.richter@wolke-cloud.example"), running, pb); err != nil {
				return nil, err
			}
		}
	}
	if s.Risks != nil {
		if err := seedRisks(ctx, s.Risks, act("jonas.weber@mueller-maschinenbau.example"), act("tom.richter@wolke-cloud.example"),
			act("max.bauer@cert-sued.example"), c.ID, wolke); err != nil {
			return nil, err
		}
	}
	return logins, writeLogins(dataDir, logins)
}

func writeLogins(dir string, logins []Login) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	var b strings.Builder
	b.WriteString("# verbund demo logins (random passwords; delete this file when you no longer need it)\n")
	WriteLogins(&b, logins)
	path := filepath.Join(dir, "demo-logins.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteLogins writes the logins as a table: who each person is, in which
// organisation and role, the language their pages are in, and how to sign in.
func WriteLogins(w io.Writer, logins []Login) {
	fmt.Fprintf(w, "%-26s %-16s %-8s %-8s %-44s %s\n", "organisation", "name", "role", "language", "e-mail", "password")
	for _, l := range logins {
		fmt.Fprintf(w, "%-26s %-16s %-8s %-8s %-44s %s\n", l.Org, l.Name, l.Role, LanguageName(l.Lang), l.Email, l.Password)
	}
}

// LanguageName names a UI language in itself.
func LanguageName(lang string) string {
	switch lang {
	case "de":
		return "Deutsch"
	case "en":
		return "English"
	}
	return lang
}
