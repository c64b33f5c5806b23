package playbooks

import (
	"os"
	"strings"
	"testing"
	"time"

	"verbund/internal/cacao"
)

func decode(t *testing.T, name string) *cacao.Playbook {
	t.Helper()
	b, err := os.ReadFile("../cacao/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := cacao.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStepsReadingOrderAndRows: the step list starts at the start, reads
// a decision's yes branch before its no branch, and the flow puts what
// follows a branching below every branch.
func TestStepsReadingOrderAndRows(t *testing.T) {
	steps := Steps(decode(t, "ransomware.json"))
	var names []string
	row := map[string]int{}
	for _, s := range steps {
		names = append(names, s.Name)
		row[s.Name] = s.layer
	}
	want := "Ransomware suspected|Isolate affected systems|Are the cloud backups intact?|Restore from the cloud backup|Restored|Rebuild from offline media|Rebuilt|Notify in parallel"
	if got := strings.Join(names[:8], "|"); got != want {
		t.Errorf("reading order:\n%s\nwant\n%s", got, want)
	}
	if row["Notify in parallel"] <= row["Restored"] || row["Notify in parallel"] <= row["Rebuilt"] {
		t.Errorf("the step after the decision is not below its branches: %v", row)
	}
	if row["First response done"] <= row["Ask the CERT for assistance"] {
		t.Errorf("the end after the parallel step is not below its branches: %v", row)
	}
	// A loop (while) draws its way back without breaking the rows.
	for _, s := range Steps(decode(t, "phishing.json")) {
		if s.Type == cacao.StepStart && s.layer != 0 {
			t.Errorf("start on row %d", s.layer)
		}
	}
}

// TestDraftRoundTrip: a draft written as CACAO passes the importer's
// checks and reads back as the same draft (ids kept); a playbook of
// another shape (automated steps) is not editable.
func TestDraftRoundTrip(t *testing.T) {
	d := Draft{Name: "Erstmaßnahmen", Desc: "Erste Schritte", TLP: "GREEN",
		Parties: []Party{{Kind: "organization", Name: "Müller"}, {Kind: "group", Name: "IT-Betrieb"}, {Kind: "individual", Name: "Jonas Weber"}},
		Blocks: []Block{
			{Kind: "action", Action: Action{Name: "Isolieren", Party: 0, Commands: "Kabel ziehen\n\nZeit notieren"}},
			{Kind: "decision", Action: Action{Name: "Backups unversehrt?"}, Yes: []Action{{Name: "Wiederherstellen", Party: 1, Commands: "Snapshot"}}},
			{Kind: "parallel", Action: Action{Name: "Melden"}, Branches: [][]Action{
				{{Name: "Behörde", Party: 2, Commands: "Art. 33"}}, {{Name: "CERT", Party: 0, Commands: "Anrufen"}, {Name: "Nachfassen", Party: 0, Commands: "Morgen"}}}},
		}}
	doc, err := d.ToCACAO("org-1", time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	v, err := cacao.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	pb, err := v.Check(doc)
	if err != nil {
		t.Fatalf("the editor wrote an invalid playbook: %v\n%s", err, doc)
	}
	if pb.TLP().String() != "TLP:GREEN" || pb.Modified != "2026-12-02T10:00:00.000Z" {
		t.Errorf("TLP %v, modified %s", pb.TLP(), pb.Modified)
	}
	back, ok := DraftOf(pb)
	if !ok {
		t.Fatal("the editor cannot read its own playbook")
	}
	if len(back.Blocks) != 3 || back.Blocks[0].Action.Commands != "Kabel ziehen\nZeit notieren" || back.Blocks[0].Action.ID != d.Blocks[0].Action.ID ||
		len(back.Blocks[2].Branches[1]) != 2 || back.Parties[back.Blocks[2].Branches[0][0].Party].Name != "Jonas Weber" || len(back.Blocks[1].No) != 0 {
		t.Errorf("read back: %+v", back)
	}
	// A new version is later than the one edited, even at the same instant.
	back.Modified = pb.Modified
	doc2, err := back.ToCACAO("org-1", time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	pb2, err := v.Check(doc2)
	if err != nil || !pb2.ModifiedTime().After(pb.ModifiedTime()) || pb2.ID != pb.ID {
		t.Errorf("second version: %v, %s after %s", err, pb2.Modified, pb.Modified)
	}
	if _, ok := DraftOf(decode(t, "phishing.json")); ok {
		t.Error("an automated playbook reads as a draft")
	}
	// Shape changes by button.
	if _, err := d.apply("add-in:2.1"); err != nil || len(d.Blocks[2].Branches[1]) != 3 {
		t.Errorf("add-in: %v", err)
	}
	if _, err := d.apply("remove-party:0"); err != nil || d.Blocks[0].Action.Party != -1 || d.Blocks[1].Yes[0].Party != 0 {
		t.Errorf("remove-party: %v %+v", err, d.Blocks[:2])
	}
	for _, op := range []string{"remove:9", "add:loop", "up:0", "add-yes:0", "remove:1.b.0", "nonsense"} {
		if _, err := d.apply(op); err == nil {
			t.Errorf("%s accepted", op)
		}
	}
	if err := d.Check(); err == nil {
		t.Error("a step without a party passed the check")
	}
}
