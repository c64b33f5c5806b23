package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"verbund/internal/db"
	"verbund/internal/playbooks"
	"verbund/internal/policy"
)

// PlaybooksOptions configure the playbooks scenario.
type PlaybooksOptions struct {
	Documents int // synthetic CACAO 2.0 playbooks to import
	Log       io.Writer
}

// PlaybooksResult is what the playbooks scenario measured.
type PlaybooksResult struct {
	Documents     int     `json:"documents"`
	Steps         int     `json:"steps_each"`
	Bytes         int     `json:"bytes_each"`
	ImportSeconds float64 `json:"import_seconds"`
	ImportPerSec  float64 `json:"import_per_sec"`
	// Again: every document a version the library holds (checked, looked
	// up, left as it is).
	AgainSeconds float64 `json:"again_seconds"`
	AgainPerSec  float64 `json:"again_per_sec"`
	Checks       []Check `json:"checks"`
}

func (o PlaybooksOptions) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format, args...)
	}
}

// Playbooks measures the CACAO import into a fresh SQLite database in
// process: o.Documents synthetic playbooks of 14 steps (manual steps for
// three organisations, a decision, parallel branches, a TLP:AMBER
// marking) shared in the trust circle, with everything an import does:
// the official schemas and the semantic checks, the kernel's disclosure,
// the version with its document, the search index and an audit record
// each. Then the same documents again (the idempotent re-import).
func Playbooks(ctx context.Context, o PlaybooksOptions) (*PlaybooksResult, error) {
	dir, err := os.MkdirTemp("", "verbund-bench-playbooks-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	d, err := db.Open(ctx, "", dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		return nil, err
	}
	w, err := BuildWorld(ctx, d, 0)
	if err != nil {
		return nil, err
	}
	inputs := make([]playbooks.Input, o.Documents)
	for i := range inputs {
		inputs[i] = playbooks.Input{Name: fmt.Sprintf("bench-%d.json", i), Data: SyntheticPlaybook(i)}
	}
	res := &PlaybooksResult{Documents: len(inputs), Steps: 14}
	if len(inputs) > 0 {
		res.Bytes = len(inputs[0].Data)
	}
	sme := w.Users["sme.analyst"].Actor
	opts := playbooks.ImportOptions{Sharing: policy.Sharing{Audience: "community", Community: w.Circle}}
	run := func() (float64, error) {
		start := time.Now()
		for i := 0; i < len(inputs); i += 256 {
			rep, err := w.App.Playbooks.Import(ctx, sme, inputs[i:min(i+256, len(inputs))], opts)
			if err != nil {
				return 0, err
			}
			if rep.Rejected > 0 {
				for _, it := range rep.Items {
					if it.Error != "" {
						return 0, fmt.Errorf("import refused %d playbooks: %s: %s", rep.Rejected, it.File, it.Error)
					}
				}
			}
		}
		return time.Since(start).Seconds(), nil
	}
	o.logf("  importing %d CACAO playbooks (%d bytes each) as Müller into the circle's library\n", len(inputs), res.Bytes)
	if res.ImportSeconds, err = run(); err != nil {
		return nil, err
	}
	res.ImportPerSec = float64(len(inputs)) / res.ImportSeconds
	o.logf("  importing them again\n")
	if res.AgainSeconds, err = run(); err != nil {
		return nil, err
	}
	res.AgainPerSec = float64(len(inputs)) / res.AgainSeconds
	res.Checks = []Check{atLeast("playbooks: CACAO import with schema and semantic validation", round2(res.ImportPerSec), 1000, "playbooks/s")}
	return res, nil
}

// SyntheticPlaybook is a CACAO 2.0 playbook of realistic shape, its ids
// derived from i: start, isolate, a decision (restore or rebuild, each
// ending), parallel notifications (authority and CERT, each ending), a
// review and the end; manual commands for three organisations, a variable
// and a TLP:AMBER marking; about 5 KB.
func SyntheticPlaybook(i int) []byte {
	id := func(typ string, n int) string { return fmt.Sprintf("%s--%08x-%04x-4000-8000-%012x", typ, i, n, i*31+n) }
	s := func(n int) string { return id(stepType(n), n) }
	sme, prov, cert := id("organization", 1), id("organization", 2), id("organization", 3)
	manual := func(n int, name, agent, cmd string, next string) string {
		return fmt.Sprintf(`%q: {"type": "action", "name": %q, "description": "Step %d of playbook %d.", "agent": %q,
      "commands": [{"type": "manual", "command": %q}], "on_completion": %q}`, s(n), name, n, i, agent, cmd, next)
	}
	steps := []string{
		fmt.Sprintf(`%q: {"type": "start", "name": "Ransomware suspected", "on_completion": %q}`, s(0), s(1)),
		fmt.Sprintf(`%q: {"type": "action", "name": "Isolate affected systems", "agent": %q, "in_args": ["__host__"],
      "commands": [{"type": "manual", "command": "Disconnect __host__:value from the network; leave it powered on."},
                   {"type": "manual", "command": "Note the time and the ransom note text in the incident."}], "on_completion": %q}`, s(1), sme, s(2)),
		fmt.Sprintf(`%q: {"type": "if-condition", "name": "Backups intact?", "condition": "[x-backup:status = 'intact']", "on_true": %q, "on_false": %q, "on_completion": %q}`, s(2), s(3), s(5), s(7)),
		manual(3, "Restore from the cloud backup", prov, "Restore the last clean snapshot to isolated systems.", s(4)),
		fmt.Sprintf(`%q: {"type": "end"}`, s(4)),
		manual(5, "Rebuild from offline media", sme, "Rebuild the servers from installation media.", s(6)),
		fmt.Sprintf(`%q: {"type": "end"}`, s(6)),
		fmt.Sprintf(`%q: {"type": "parallel", "name": "Notify", "next_steps": [%q, %q], "on_completion": %q}`, s(7), s(8), s(10), s(12)),
		manual(8, "Report to the supervisory authority", sme, "File the initial GDPR Art. 33 report within 72 hours.", s(9)),
		fmt.Sprintf(`%q: {"type": "end"}`, s(9)),
		manual(10, "Ask the CERT for assistance", cert, "Analyse the ransom note and share indicators with the circle.", s(11)),
		fmt.Sprintf(`%q: {"type": "end"}`, s(11)),
		manual(12, "Review and lessons learned", cert, "Hold the post-incident review with everyone involved.", s(13)),
		fmt.Sprintf(`%q: {"type": "end", "name": "First response done"}`, s(13)),
	}
	tlp := "marking-tlp--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
	return []byte(fmt.Sprintf(`{
  "type": "playbook",
  "spec_version": "cacao-2.0",
  "id": %q,
  "name": "Ransomware first response %d",
  "description": "Manual first steps when ransomware encrypts file servers (synthetic playbook %d).",
  "playbook_types": ["remediation", "notification"],
  "playbook_activities": ["disconnect-system", "restore-data"],
  "created_by": "identity--%08x-0000-4000-8000-000000000001",
  "created": "2026-03-02T09:00:00.000Z",
  "modified": "2026-03-09T14:30:00.000Z",
  "labels": ["ransomware", "bench"],
  "markings": [%q],
  "playbook_variables": {"__host__": {"type": "string", "value": "fs01.example.net"}},
  "workflow_start": %q,
  "workflow": {
    %s
  },
  "agent_definitions": {
    %q: {"type": "organization", "name": "Müller Maschinenbau GmbH"},
    %q: {"type": "organization", "name": "Wolke Cloud AG"},
    %q: {"type": "organization", "name": "CERT Süd"}
  },
  "data_marking_definitions": {%q: {"type": "marking-tlp", "id": %q, "created_by": "identity--%08x-0000-4000-8000-000000000001", "created": "2022-10-01T00:00:00.000Z", "tlpv2_level": "TLP:AMBER"}}
}
`, id("playbook", 0), i, i, i, tlp, s(0), strings.Join(steps, ",\n    "), sme, prov, cert, tlp, tlp, i))
}

// stepType is the type of synthetic step n (see SyntheticPlaybook).
func stepType(n int) string {
	switch n {
	case 0:
		return "start"
	case 2:
		return "if-condition"
	case 4, 6, 9, 11, 13:
		return "end"
	case 7:
		return "parallel"
	}
	return "action"
}
