package cacao

import (
	"fmt"
	"strconv"
)

// The size of a playbook the hub accepts. CACAO sets no limits; playbooks
// in practice (the OASIS examples, CISA's and the CERTs' published ones)
// have tens of steps and a handful of branches per step. The limits are
// far above that and far below what makes a workflow expensive to check,
// lay out and draw: every walk over the workflow is linear in steps and
// arrows, and these keep both small enough that a reader's page never
// waits on a document crafted to be large.
const (
	// MaxSteps is the most steps a workflow may have.
	MaxSteps = 1000
	// MaxStepRefs is the most entries one step may list in each of its
	// lists: next steps and cases together (its branches), commands,
	// targets, in_args, out_args, step variables.
	MaxStepRefs = 100
)

// Limits checks a playbook's size against MaxSteps and MaxStepRefs, each
// error naming the limit. Validate runs it first and alone.
func Limits(p *Playbook) Errors {
	if n := len(p.Workflow); n > MaxSteps {
		return Errors{{Code: CodeLimit, Field: "workflow", Message: fmt.Sprintf("has %d steps; a playbook may have at most %d", n, MaxSteps)}}
	}
	var errs Errors
	for _, id := range sortedKeys(p.Workflow) {
		s := p.Workflow[id]
		if s == nil {
			continue
		}
		for _, l := range []struct {
			field string
			n     int
		}{
			{"next_steps", len(s.NextSteps) + len(s.Cases)}, // a step's branches, however named
			{"commands", len(s.Commands)},
			{"targets", len(s.Targets)},
			{"in_args", len(s.InArgs)},
			{"out_args", len(s.OutArgs)},
			{"step_variables", len(s.StepVariables)},
		} {
			if l.n > MaxStepRefs {
				field := l.field
				if l.field == "next_steps" && len(s.Cases) > 0 {
					field = "cases"
				}
				errs = append(errs, &Error{Code: CodeLimit, Field: "workflow." + id + "." + field,
					Message: "lists " + strconv.Itoa(l.n) + " entries; a step may list at most " + strconv.Itoa(MaxStepRefs)})
			}
		}
	}
	return errs
}
