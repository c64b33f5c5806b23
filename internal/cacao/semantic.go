package cacao

import (
	"fmt"
	"slices"
	"strings"
)

// stepTypes are the workflow step types of CACAO 2.0 §4.
var stepTypes = map[string]bool{
	StepStart: true, StepEnd: true, StepAction: true, StepPlaybookAction: true, StepParallel: true,
	StepIfCondition: true, StepWhileCondition: true, StepSwitchCondition: true,
}

// commandTypes is the command-type-ov vocabulary (§5). The schema lets any
// string through (an open vocabulary); the hub accepts only the types it
// can show and run, so a typo ("manuall") is an error, not a silent step
// nobody can execute.
var commandTypes = map[string]bool{
	"manual": true, "bash": true, "caldera-cmd": true, "elastic": true, "http-api": true, "jupyter": true,
	"kestrel": true, "openc2-http": true, "powershell": true, "sigma": true, "ssh": true, "yara": true,
}

// agentTargetTypes is the agent-target-type-ov vocabulary (§7).
var agentTargetTypes = map[string]bool{
	"group": true, "individual": true, "location": true, "organization": true, "sector": true,
	"http-api": true, "linux": true, "net-address": true, "security-category": true, "ssh": true,
}

// markingTypes are the data marking types (§9).
var markingTypes = map[string]bool{"marking-statement": true, "marking-tlp": true, "marking-iep": true}

// Semantic checks the rules the schemas do not express (or, being draft-07,
// do not enforce). Every error names the field or step at fault.
func Semantic(p *Playbook) Errors {
	c := &checker{p: p}
	c.metadata()
	c.definitions()
	c.steps()
	c.graph()
	return c.errs
}

type checker struct {
	p    *Playbook
	errs Errors
}

func (c *checker) add(code Code, field, format string, args ...any) {
	c.errs = append(c.errs, &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) metadata() {
	p := c.p
	if p.Type != "playbook" {
		c.add(CodeBadValue, "type", "must be %q, not %q", "playbook", p.Type)
	}
	c.id("id", p.ID, "playbook")
	if p.Name == "" {
		c.add(CodeMissing, "name", "is required")
	}
	if p.CreatedBy == "" {
		c.add(CodeMissing, "created_by", "is required")
	} else {
		c.id("created_by", p.CreatedBy, "identity")
	}
	created, modified := p.CreatedTime(), p.ModifiedTime()
	switch {
	case created.IsZero():
		c.add(CodeMissing, "created", "must be an RFC 3339 UTC timestamp")
	case modified.IsZero():
		c.add(CodeMissing, "modified", "must be an RFC 3339 UTC timestamp")
	case modified.Before(created):
		c.add(CodeBadOrder, "modified", "%s is before created %s", p.Modified, p.Created)
	}
	for name := range p.Variables {
		if !validVariableName(name) {
			c.add(CodeBadID, "playbook_variables."+name, "a variable name must look like __name__")
		}
	}
	for i, m := range p.Markings {
		if _, ok := p.MarkingDefs[m]; !ok {
			c.add(CodeReference, fmt.Sprintf("markings.%d", i), "%s is not in data_marking_definitions", m)
		}
	}
}

// definitions checks agents, targets and markings: each key carries its
// object's type as prefix.
func (c *checker) definitions() {
	for _, set := range []struct {
		field string
		defs  map[string]*AgentTarget
	}{{"agent_definitions", c.p.Agents}, {"target_definitions", c.p.Targets}} {
		for _, id := range sortedKeys(set.defs) {
			d, field := set.defs[id], set.field+"."+id
			if d == nil {
				c.add(CodeBadValue, field, "must be an object")
				continue
			}
			if !agentTargetTypes[d.Type] {
				c.add(CodeStepType, field+".type", "%q is not an agent or target type", d.Type)
				continue
			}
			c.id(field, id, d.Type)
		}
	}
	for _, id := range sortedKeys(c.p.MarkingDefs) {
		m, field := c.p.MarkingDefs[id], "data_marking_definitions."+id
		if m == nil {
			c.add(CodeBadValue, field, "must be an object")
			continue
		}
		if !markingTypes[m.Type] {
			c.add(CodeMarking, field+".type", "%q is not a data marking type", m.Type)
			continue
		}
		if !c.id(field, id, m.Type) || m.Type != "marking-tlp" {
			continue
		}
		level, ok := parseTLPLevel(m.TLPLevel)
		if !ok {
			c.add(CodeMarking, field+".tlpv2_level", "%q is not a TLP 2.0 level", m.TLPLevel)
			continue
		}
		if want := TLPMarkingID(level); id != want {
			c.add(CodeMarking, field, "%s must have the shared id %s", m.TLPLevel, want)
		}
	}
}

// steps checks each step on its own: id, type, the references it makes.
func (c *checker) steps() {
	p := c.p
	if len(p.Workflow) == 0 {
		c.add(CodeMissing, "workflow", "must contain at least a start, an action and an end step")
	}
	for _, id := range sortedKeys(p.Workflow) {
		s, field := p.Workflow[id], "workflow."+id
		if s == nil {
			c.add(CodeBadValue, field, "must be an object")
			continue
		}
		if !stepTypes[s.Type] {
			c.add(CodeStepType, field+".type", "%q is not a workflow step type", s.Type)
			continue
		}
		c.id(field, id, s.Type)
		for _, e := range s.Next() {
			f := field + "." + edgeField(e.Kind)
			next, ok := p.Workflow[e.To]
			switch {
			case !ok:
				c.add(CodeReference, f, "step %s does not exist", e.To)
			case next != nil && next.Type == StepStart:
				c.add(CodeStepType, f, "leads to the start step %s", e.To)
			}
		}
		if s.OnCompletion != "" && (s.OnSuccess != "" || s.OnFailure != "") {
			c.add(CodeBadValue, field+".on_completion", "may not be combined with on_success or on_failure")
		}
		if s.Type == StepEnd && len(s.Next()) > 0 {
			c.add(CodeStepType, field, "an end step may not lead to another step")
		}
		for name := range s.StepVariables {
			if !validVariableName(name) {
				c.add(CodeBadID, field+".step_variables."+name, "a variable name must look like __name__")
			}
		}
		c.stepFields(id, field, s)
	}
}

func (c *checker) stepFields(id, field string, s *Step) {
	p := c.p
	switch s.Type {
	case StepAction:
		if s.Agent == "" {
			c.add(CodeMissing, field+".agent", "an action step needs an agent")
		} else if _, ok := p.Agents[s.Agent]; !ok {
			c.add(CodeReference, field+".agent", "agent %s is not in agent_definitions", s.Agent)
		}
		for i, t := range s.Targets {
			if _, ok := p.Targets[t]; !ok {
				c.add(CodeReference, fmt.Sprintf("%s.targets.%d", field, i), "target %s is not in target_definitions", t)
			}
		}
		if len(s.Commands) == 0 {
			c.add(CodeMissing, field+".commands", "an action step needs at least one command")
		}
		for i, cmd := range s.Commands {
			f := fmt.Sprintf("%s.commands.%d", field, i)
			if !commandTypes[cmd.Type] {
				c.add(CodeCommandType, f+".type", "%q is not a command type", cmd.Type)
			}
			if cmd.Command == "" && cmd.CommandB64 == "" {
				c.add(CodeMissing, f, "needs command or command_b64")
			}
			c.variablesIn(s, f+".command", cmd.Command)
		}
		for _, args := range []struct {
			name string
			list []string
		}{{"in_args", s.InArgs}, {"out_args", s.OutArgs}} {
			for i, v := range args.list {
				if !c.variableExists(s, v) {
					c.add(CodeReference, fmt.Sprintf("%s.%s.%d", field, args.name, i), "variable %s is not defined", v)
				}
			}
		}
	case StepPlaybookAction:
		c.id(field+".playbook_id", s.PlaybookID, "playbook")
	case StepIfCondition, StepWhileCondition:
		if s.OnTrue == "" {
			c.add(CodeMissing, field+".on_true", "is required")
		}
		if s.Condition == "" {
			c.add(CodeMissing, field+".condition", "is required")
		}
		c.variablesIn(s, field+".condition", s.Condition)
	case StepParallel:
		if len(s.NextSteps) < 2 {
			c.add(CodeMissing, field+".next_steps", "a parallel step needs at least two branches")
		}
	case StepSwitchCondition:
		if len(s.Cases) == 0 {
			c.add(CodeMissing, field+".cases", "is required")
		}
		c.variablesIn(s, field+".switch", s.Switch)
	}
}

// graph checks the workflow as a whole: the start, that every step is
// reached from it (or from the exception handler) and that an end is
// reachable from every step. Dangling references were reported by steps.
func (c *checker) graph() {
	p := c.p
	start, ok := p.Workflow[p.WorkflowStart]
	switch {
	case p.WorkflowStart == "":
		c.add(CodeStart, "workflow_start", "is required")
		return
	case !ok || start == nil:
		c.add(CodeStart, "workflow_start", "step %s does not exist", p.WorkflowStart)
		return
	case start.Type != StepStart:
		c.add(CodeStart, "workflow_start", "step %s is a %s step, not a start step", p.WorkflowStart, start.Type)
		return
	}
	roots := []string{p.WorkflowStart}
	if p.WorkflowException != "" {
		if _, ok := p.Workflow[p.WorkflowException]; !ok {
			c.add(CodeReference, "workflow_exception", "step %s does not exist", p.WorkflowException)
		} else {
			roots = append(roots, p.WorkflowException)
		}
	}
	reached := c.walk(roots, func(id string) []string {
		var out []string
		if s := p.Workflow[id]; s != nil {
			for _, e := range s.Next() {
				out = append(out, e.To)
			}
		}
		return out
	})
	// Walk backwards from every end step.
	back := map[string][]string{}
	var ends []string
	for id, s := range p.Workflow {
		if s == nil {
			continue
		}
		if s.Type == StepEnd {
			ends = append(ends, id)
		}
		for _, e := range s.Next() {
			back[e.To] = append(back[e.To], id)
		}
	}
	endReach := c.walk(ends, func(id string) []string { return back[id] })
	if len(ends) == 0 {
		c.add(CodeNoEnd, "workflow", "has no end step")
	}
	for _, id := range sortedKeys(p.Workflow) {
		s := p.Workflow[id]
		if s == nil || !stepTypes[s.Type] {
			continue
		}
		if !reached[id] {
			c.add(CodeOrphan, "workflow."+id, "no path from workflow_start reaches this step")
		}
		if !endReach[id] && len(ends) > 0 {
			c.add(CodeNoEnd, "workflow."+id, "no end step is reachable from this step")
		}
	}
}

func (c *checker) walk(roots []string, next func(string) []string) map[string]bool {
	seen := make(map[string]bool, len(c.p.Workflow))
	queue := slices.Clone(roots)
	for _, r := range roots {
		seen[r] = true
	}
	for len(queue) > 0 {
		id := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, n := range next(id) {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	return seen
}

// id checks an identifier: "<prefix>--<UUID>" with the schema's UUID form.
func (c *checker) id(field, id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix+"--")
	if !ok {
		c.add(CodeBadID, field, "%q must start with %q", id, prefix+"--")
		return false
	}
	if !isUUID(rest) {
		c.add(CodeBadID, field, "%q must end in a UUID", id)
		return false
	}
	return true
}

// variablesIn checks the variables a text references in CACAO's form
// "__name__:value": each must be the step's or the playbook's.
func (c *checker) variablesIn(s *Step, field, text string) {
	for {
		i := strings.Index(text, "__:value")
		if i < 0 {
			return
		}
		// The name is the run of name characters that ends in this "__".
		j := i
		for j > 0 && isNameByte(text[j-1]) {
			j--
		}
		if name := text[j : i+2]; validVariableName(name) && !c.variableExists(s, name) {
			c.add(CodeReference, field, "variable %s is not defined", name)
		}
		text = text[i+len("__:value"):]
	}
}

func isNameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-'
}

func (c *checker) variableExists(s *Step, name string) bool {
	if _, ok := s.StepVariables[name]; ok {
		return true
	}
	_, ok := c.p.Variables[name]
	return ok
}

// validVariableName is the schema's ^__[a-zA-Z_][a-zA-Z0-9_-]{0,199}__$.
func validVariableName(s string) bool {
	inner, ok := strings.CutPrefix(s, "__")
	if !ok {
		return false
	}
	inner, ok = strings.CutSuffix(inner, "__")
	if !ok || len(inner) == 0 || len(inner) > 200 {
		return false
	}
	for i := 0; i < len(inner); i++ {
		b := inner[i]
		letter := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_'
		if !letter && (i == 0 || !(b >= '0' && b <= '9' || b == '-')) {
			return false
		}
	}
	return true
}

// isUUID is the schema's UUID form: version 1-5, RFC 4122 variant.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		b := s[i]
		switch i {
		case 8, 13, 18, 23:
			if b != '-' {
				return false
			}
			continue
		case 14:
			if b < '1' || b > '5' {
				return false
			}
			continue
		case 19:
			if !strings.ContainsRune("89abAB", rune(b)) {
				return false
			}
			continue
		}
		if !(b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F') {
			return false
		}
	}
	return true
}

func edgeField(kind string) string {
	if c, ok := strings.CutPrefix(kind, "case:"); ok {
		return "cases." + c
	}
	return kind
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
