package incidents

import (
	"slices"
	"strings"
	"testing"

	"verbund/internal/cacao"
)

// runDoc is a playbook of steps for people: isolate, then two branches in
// parallel, a decision with a step on each side, and a last step after
// it; and an automated step, which is no task.
const runDoc = `{"type": "playbook", "spec_version": "cacao-2.0", "id": "playbook--00000000-0000-4000-8000-000000000000", "name": "Run",
 "created_by": "identity--00000000-0000-4000-8000-000000000001", "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
 "workflow_start": "start--1",
 "workflow": {
  "start--1": {"type": "start", "on_completion": "action--isolate"},
  "action--isolate": {"type": "action", "name": "Isolate", "commands": [{"type": "manual", "command": "x"}], "on_completion": "parallel--1"},
  "parallel--1": {"type": "parallel", "next_steps": ["action--a", "action--b"], "on_completion": "if-condition--1"},
  "action--a": {"type": "action", "name": "A", "commands": [{"type": "manual", "command": "x"}], "on_completion": "end--a"},
  "action--b": {"type": "action", "name": "B", "commands": [{"type": "http-api", "command": "GET /"}], "on_completion": "end--b"},
  "end--a": {"type": "end"}, "end--b": {"type": "end"},
  "if-condition--1": {"type": "if-condition", "name": "Backups?", "condition": "x", "on_true": "action--yes", "on_false": "action--no", "on_completion": "action--last"},
  "action--yes": {"type": "action", "name": "Restore", "commands": [{"type": "manual", "command": "x"}], "on_completion": "end--y"},
  "action--no": {"type": "action", "name": "Rebuild", "commands": [{"type": "manual", "command": "x"}], "on_completion": "end--n"},
  "end--y": {"type": "end"}, "end--n": {"type": "end"},
  "action--last": {"type": "action", "name": "Report", "commands": [{"type": "manual", "command": "x"}], "on_completion": "end--z"},
  "end--z": {"type": "end"}
 }}`

func TestPlanOrderWaitsBranches(t *testing.T) {
	pb, err := cacao.Decode([]byte(runDoc))
	if err != nil {
		t.Fatal(err)
	}
	steps := plan(pb)
	var got []string
	for _, s := range steps {
		got = append(got, s.id+" ["+strings.Join(s.waits, ",")+"] {"+strings.Join(s.branches, ",")+"}")
	}
	want := []string{
		"action--isolate [] {}",
		"action--a [action--isolate] {}",
		// the automated step is no task: the decision waits for the
		// last steps of the parallel branches (A, and isolate through B)
		"if-condition--1 [action--a,action--isolate] {}",
		"action--yes [if-condition--1] {if-condition--1=yes}",
		"action--no [if-condition--1] {if-condition--1=no}",
		"action--last [action--yes,action--no] {}",
	}
	if !slices.Equal(got, want) {
		t.Errorf("plan:\n got %q\nwant %q", got, want)
	}
	if d := steps[2]; d.kind != "decision" || !slices.Equal(d.edges, []string{"yes", "no"}) {
		t.Errorf("the decision: %+v", d)
	}
}
