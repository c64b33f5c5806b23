package demo_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"verbund/internal/app"
	"verbund/internal/audit"
	"verbund/internal/auth"
	"verbund/internal/config"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/demo"
	"verbund/internal/forum"
	"verbund/internal/incidents"
	"verbund/internal/intel"
	"verbund/internal/knowledge"
	"verbund/internal/policy"
	"verbund/internal/risks"
	"verbund/internal/search"
	"verbund/internal/training"
	"verbund/internal/vulns"
)

// The demo is seeded through the services only: on a database from dbtest
// every one of its writes must be audited (dbtest refuses any other), and
// the trail it leaves verifies.
func TestSeedIsAudited(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a, err := app.New(ctx, &config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LogLevel: "error"}, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		a.Accounts.Password = auth.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32} // cheap hashing keeps the test fast
		logins, err := demo.Seed(ctx, demo.Services{DB: d, Accounts: a.Accounts, Orgs: a.Orgs, Agreements: a.Agreements, Forum: a.Forum, Intel: a.Intel, Training: a.Training, Knowledge: a.Knowledge, Incidents: a.Incidents, Vulns: a.Vulns, Risks: a.Risks}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if seeded, err := demo.Seeded(ctx, d); err != nil || !seeded || len(logins) == 0 {
			t.Fatalf("seeded %v, %d logins, err %v", seeded, len(logins), err)
		}
		res, err := audit.Verify(ctx, d)
		if err != nil || !res.OK || res.Records == 0 {
			t.Fatalf("audit trail after the demo: %+v, %v", res, err)
		}
	})
}

// The demo's story: Müller reports incidents to its CERT up to TLP:RED
// under a bilateral agreement, every agreement says its purpose, and the
// logins say who each person is and in which language their pages are.
func TestDemoStory(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	ctx := context.Background()
	a, err := app.New(ctx, &config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LogLevel: "error"}, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a.Accounts.Password = auth.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32}
	dir := t.TempDir()
	logins, err := demo.Seed(ctx, demo.Services{DB: d, Accounts: a.Accounts, Orgs: a.Orgs, Agreements: a.Agreements, Forum: a.Forum, Intel: a.Intel, Training: a.Training, Knowledge: a.Knowledge, Incidents: a.Incidents, Vulns: a.Vulns, Risks: a.Risks}, dir)
	if err != nil {
		t.Fatal(err)
	}
	actor := func(email string) policy.Actor {
		u, err := a.Accounts.FindUserByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		return policy.Actor{UserID: u.ID, OrgID: u.OrgID, Role: u.Role, Scope: policy.ScopeSession}
	}
	anna := actor("anna.mueller@mueller-maschinenbau.example")
	// Wolke's gateway advisory names Müller's gateway: it is on Müller's
	// patch board; Wolke's internal AMBER advisory is not, and Hansa
	// (outside the circle) reads only the TLP:WHITE one.
	affected, err := a.Vulns.FindAffected(ctx, anna)
	if err != nil || len(affected) != 1 || affected[0].TrackingID != "WCSA-2026-0007" || affected[0].AssetName != "edge-gw-01" || affected[0].Severity != "CRITICAL" {
		t.Errorf("Müller's affected assets: %+v %v", affected, err)
	}
	hansa, _, err := a.Vulns.FindAdvisories(ctx, actor("greta.lange@hansa-logistik.example"), vulns.AdvisoryFilter{})
	if err != nil || len(hansa) != 1 || hansa[0].TrackingID != "WCSA-2026-0007" {
		t.Errorf("Hansa's advisories: %+v %v", hansa, err)
	}
	mine, _, err := a.Vulns.FindAdvisories(ctx, anna, vulns.AdvisoryFilter{})
	if err != nil || len(mine) != 2 {
		t.Errorf("Müller's advisories: %d %v, want the WHITE and the circle's GREEN one", len(mine), err)
	}
	// The circle's joint register: five risks the circle reads, one owned
	// by Müller and Wolke in parts; Hansa (outside) reads none; the
	// workshop is finished and recorded the agreed scores.
	circleRisks, _, err := a.Risks.FindRisks(ctx, actor("max.bauer@cert-sued.example"), risks.ListFilter{})
	if err != nil || len(circleRisks) != 5 {
		t.Errorf("CERT Süd reads %d risks (%v), want the circle's five", len(circleRisks), err)
	}
	joint := 0
	for _, r := range circleRisks {
		if len(r.Parts) == 2 && r.Parts[0].OrgName == "Müller Maschinenbau GmbH" && r.Parts[1].OrgName == "Wolke Cloud AG" && r.Parts[1].Controls != "" {
			joint++
		}
	}
	if joint != 1 {
		t.Errorf("%d risks owned jointly by Müller and Wolke with Wolke's part written, want 1", joint)
	}
	if hr, _, err := a.Risks.FindRisks(ctx, actor("greta.lange@hansa-logistik.example"), risks.ListFilter{}); err != nil || len(hr) != 0 {
		t.Errorf("Hansa reads %d risks (%v), want none", len(hr), err)
	}
	if ws, err := a.Risks.FindWorkshops(ctx, anna, 10); err != nil || len(ws) != 1 || ws[0].Status != risks.WorkshopClosed {
		t.Errorf("Müller's workshops: %+v %v, want one closed", ws, err)
	}
	flows, err := a.Agreements.FindFlows(ctx, anna)
	if err != nil {
		t.Fatal(err)
	}
	red := false
	for _, f := range flows {
		for _, c := range f.Categories {
			red = red || (f.OrgName == "CERT Süd" && c.Category == "incident" && c.MaxTLP == "TLP:RED")
		}
	}
	if !red {
		t.Errorf("Müller may not report incidents to CERT Süd at TLP:RED: %+v", flows)
	}
	gs, err := a.Agreements.FindAgreements(ctx, anna, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if strings.TrimSpace(g.Purpose) == "" {
			t.Errorf("agreement %q has no purpose", g.Title)
		}
	}
	// Max Bauer at the CERT reads Jonas's RED report.
	posts, _, err := a.Forum.FindPosts(ctx, actor("max.bauer@cert-sued.example"), forum.ListFilter{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range posts {
		found = found || (p.Share.TLP == policy.Red && p.OrgName == "Müller Maschinenbau GmbH")
	}
	if !found {
		t.Error("the CERT's analyst does not read Müller's TLP:RED report")
	}
	// Threat intelligence: the circle's members see CERT Süd's campaign,
	// Müller's sighting and Wolke's indicator; Hansa sees only the CLEAR
	// situation report.
	seen := func(email string) map[string]bool {
		objs, _, err := a.Intel.List(ctx, actor(email), intel.Filter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, o := range objs {
			out[o.Type+":"+o.TLP] = true
		}
		return out
	}
	for _, email := range []string{"jonas.weber@mueller-maschinenbau.example", "tom.richter@wolke-cloud.example", "max.bauer@cert-sued.example"} {
		got := seen(email)
		for _, want := range []string{"campaign:TLP:AMBER", "malware:TLP:AMBER", "indicator:TLP:AMBER", "sighting:TLP:AMBER", "indicator:TLP:GREEN", "report:TLP:CLEAR", "relationship:TLP:AMBER"} {
			if !got[want] {
				t.Errorf("%s does not see a %s", email, want)
			}
		}
	}
	if got := seen("ole.hansen@hansa-logistik.example"); len(got) != 2 || !got["report:TLP:CLEAR"] || !got["identity:TLP:CLEAR"] {
		t.Errorf("Hansa sees %v, want only the CLEAR report (and CERT Süd's CLEAR identity)", got)
	}
	// Training: the circle's phishing-awareness module, assigned to all of
	// Müller's staff, two of four passed; CERT Süd sees Müller's rate,
	// never who; Hansa, outside the circle, does not see the module.
	mods, _, err := a.Training.FindModules(ctx, anna, training.ModuleFilter{Library: training.LibraryCommunity})
	if err != nil || len(mods) != 1 || !mods[0].HasLanguage("de") || !mods[0].HasLanguage("en") {
		t.Fatalf("the circle's library for Müller: %+v %v", mods, err)
	}
	p, err := a.Training.FindProgress(ctx, anna, mods[0].ID, training.ProgressFilter{})
	if err != nil || len(p.Assignments) != 1 || p.Assignments[0].Assigned != 4 || p.Assignments[0].Completed != 2 || len(p.People) != 4 {
		t.Errorf("Müller's progress: %+v %v", p, err)
	}
	p, err = a.Training.FindProgress(ctx, actor("sabine.hoffmann@cert-sued.example"), mods[0].ID, training.ProgressFilter{})
	if err != nil || len(p.Orgs) != 1 || p.Orgs[0].OrgName != "Müller Maschinenbau GmbH" || p.Orgs[0].Rate == nil || *p.Orgs[0].Rate != 50 || p.People != nil {
		t.Errorf("CERT Süd's view of Müller's completion: %+v %v", p, err)
	}
	if mods, _, err := a.Training.FindModules(ctx, actor("ole.hansen@hansa-logistik.example"), training.ModuleFilter{}); err != nil || len(mods) != 0 {
		t.Errorf("Hansa sees training modules: %+v %v", mods, err)
	}
	// The circle's library: CERT Süd's guide for non-specialists and
	// Müller's post-incident review, found by the hub's search in German
	// word forms; Hansa, outside the circle, finds neither.
	library, _, err := a.Knowledge.FindArticles(ctx, actor("tom.richter@wolke-cloud.example"), knowledge.ListFilter{Library: "community:" + flowsCircle(t, a, anna)})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, ar := range library {
		kinds[ar.Title] = ar.Kind
	}
	if kinds["Ransomware – Erste Schritte für KMU"] != "guide" || kinds["Nachbereitung: Kryptonit an zwei Bedienrechnern der Fertigung"] != "post_incident_review" {
		t.Errorf("the circle's library: %v", kinds)
	}
	items, _, err := a.Search.Search(ctx, actor("jonas.weber@mueller-maschinenbau.example"), search.Query{Q: "Wiederherstellung"})
	if err != nil || len(items) == 0 {
		t.Errorf("searching the demo for Wiederherstellung: %v %v", items, err)
	}
	if items, _, err := a.Search.Search(ctx, actor("ole.hansen@hansa-logistik.example"), search.Query{Q: "Ransomware", Types: []string{"article"}}); err != nil || len(items) != 0 {
		t.Errorf("Hansa finds articles of the circle: %v %v", items, err)
	}
	// The running incident: Müller, CERT Süd (coordinating) and Wolke
	// work on it, the closed one carries its review; Hansa sees neither.
	// (CERT Süd was not asked about the closed one.)
	for who, n := range map[string]int{"jonas.weber@mueller-maschinenbau.example": 2, "max.bauer@cert-sued.example": 1, "tom.richter@wolke-cloud.example": 2} {
		list, _, err := a.Incidents.FindIncidents(ctx, actor(who), incidents.ListFilter{})
		if err != nil || len(list) != n {
			t.Errorf("%s sees %d incidents (%v), want %d", who, len(list), err, n)
		}
	}
	if list, _, err := a.Incidents.FindIncidents(ctx, actor("ole.hansen@hansa-logistik.example"), incidents.ListFilter{}); err != nil || len(list) != 0 {
		t.Errorf("Hansa sees incidents: %+v %v", list, err)
	}
	if list, _, _ := a.Incidents.FindIncidents(ctx, actor("max.bauer@cert-sued.example"), incidents.ListFilter{Status: "investigating"}); len(list) == 1 {
		ps, err := a.Incidents.FindParticipants(ctx, actor("max.bauer@cert-sued.example"), list[0].ID)
		if err != nil || len(ps) != 3 {
			t.Errorf("the running incident's participants: %+v %v", ps, err)
		}
	} else {
		t.Errorf("CERT Süd does not see the running incident under investigation")
	}
	file, err := os.ReadFile(filepath.Join(dir, "demo-logins.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range logins {
		line := ""
		for _, s := range strings.Split(string(file), "\n") {
			if strings.Contains(s, l.Email) {
				line = s
			}
		}
		if !strings.Contains(line, l.Name) || !strings.Contains(line, demo.LanguageName(l.Lang)) || l.Lang == "" {
			t.Errorf("the logins file does not name %s and the UI language: %q", l.Email, line)
		}
	}
}

// flowsCircle is the id of the demo's trust circle.
func flowsCircle(t *testing.T, a *app.App, who policy.Actor) string {
	cs, err := a.Orgs.FindCommunities(context.Background(), who)
	if err != nil || len(cs) == 0 {
		t.Fatalf("circles: %v %v", cs, err)
	}
	return cs[0].ID
}
