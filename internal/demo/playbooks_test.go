package demo_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"verbund/internal/app"
	"verbund/internal/auth"
	"verbund/internal/config"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/demo"
	"verbund/internal/playbooks"
	"verbund/internal/policy"
)

// TestDemoPlaybook: the circle's "Ransomware – Erstmaßnahmen" is a valid
// CACAO 2.0 playbook in the library of "Mittelstand Süd" for Müller and
// Wolke (the charter covers knowledge), with manual steps for Müller, Wolke
// and CERT Süd, a decision and parallel branches; Hansa, outside the
// circle, neither lists nor exports it.
func TestDemoPlaybook(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	ctx := context.Background()
	a, err := app.New(ctx, &config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LogLevel: "error"}, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a.Accounts.Password = auth.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32}
	if _, err := demo.Seed(ctx, demo.Services{DB: d, Accounts: a.Accounts, Orgs: a.Orgs, Agreements: a.Agreements, Forum: a.Forum, Intel: a.Intel,
		Training: a.Training, Knowledge: a.Knowledge, Incidents: a.Incidents, Vulns: a.Vulns, Playbooks: a.Playbooks}, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	actor := func(email string) policy.Actor {
		u, err := a.Accounts.FindUserByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		return policy.Actor{UserID: u.ID, OrgID: u.OrgID, Role: u.Role, Scope: policy.ScopeSession}
	}
	for _, who := range []string{"anna.mueller@mueller-maschinenbau.example", "tom.richter@wolke-cloud.example", "max.bauer@cert-sued.example"} {
		list, _, err := a.Playbooks.FindPlaybooks(ctx, actor(who), playbooks.ListFilter{Q: "Erstmaßnahmen"})
		if err != nil || len(list) != 1 || list[0].Name != "Ransomware – Erstmaßnahmen" || list[0].Community != "Mittelstand Süd" || list[0].TLP != "GREEN" {
			t.Fatalf("%s: %+v %v", who, list, err)
		}
		if who != "tom.richter@wolke-cloud.example" {
			continue
		}
		p, err := a.Playbooks.FindPlaybookByID(ctx, actor(who), list[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		types, agents := map[string]int{}, map[string]bool{}
		for _, s := range p.Flow {
			types[s.Type]++
			if s.Manual {
				agents[s.Agent] = true
			}
		}
		if types["if-condition"] != 1 || types["parallel"] != 1 || p.ManualSteps != 7 {
			t.Errorf("steps: %v, %d manual", types, p.ManualSteps)
		}
		for _, org := range []string{"Müller Maschinenbau GmbH", "Wolke Cloud AG", "CERT Süd", "IT-Betrieb Müller"} {
			if !agents[org] {
				t.Errorf("no manual step for %s", org)
			}
		}
	}
	hansa := actor("greta.lange@hansa-logistik.example")
	if list, _, err := a.Playbooks.FindPlaybooks(ctx, hansa, playbooks.ListFilter{}); err != nil || len(list) != 0 {
		t.Errorf("LEAK: Hansa lists %+v %v", list, err)
	}
	if _, _, err := a.Playbooks.FindDocumentByCACAOID(ctx, hansa, demo.RansomwarePlaybookID, ""); err == nil {
		t.Error("LEAK: Hansa exports the circle's playbook")
	}
}
