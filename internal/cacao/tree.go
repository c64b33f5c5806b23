package cacao

import "strconv"

// The document is parsed once, into the generic tree the schema validator
// reads (objects, arrays, strings, json.Number, bools, nil), and the typed
// fields are read from that tree: a second decode into structs cost as
// much as the schema validation itself. A property of the wrong JSON type
// is an error naming it (the step's id included).

type reader struct{ err *Error }

func (r *reader) fail(field, want string) {
	if r.err == nil {
		r.err = &Error{Code: CodeBadValue, Field: field, Message: "must be a JSON " + want}
	}
}

func (r *reader) str(m map[string]any, key, path string) string {
	v, ok := m[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.fail(join(path, key), "string")
	}
	return s
}

func (r *reader) boolean(m map[string]any, key, path string) bool {
	v, ok := m[key]
	if !ok || v == nil {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		r.fail(join(path, key), "boolean")
	}
	return b
}

func (r *reader) strs(m map[string]any, key, path string) []string {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		r.fail(join(path, key), "array")
		return nil
	}
	out := make([]string, len(list))
	for i, x := range list {
		s, ok := x.(string)
		if !ok {
			r.fail(join(path, key)+"."+strconv.Itoa(i), "string")
		}
		out[i] = s
	}
	return out
}

// object reads a property that must be an object (nil when absent).
func (r *reader) object(m map[string]any, key, path string) map[string]any {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		r.fail(join(path, key), "object")
	}
	return o
}

// entries reads a dictionary of objects (the workflow, the definitions):
// each value must be an object.
func entries[T any](r *reader, m map[string]any, key, path string, read func(map[string]any, string) T) map[string]T {
	o := r.object(m, key, path)
	if o == nil {
		return nil
	}
	out := make(map[string]T, len(o))
	for id, v := range o {
		e, ok := v.(map[string]any)
		if !ok {
			r.fail(join(path, key)+"."+id, "object")
			continue
		}
		out[id] = read(e, join(path, key)+"."+id)
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (r *reader) playbook(m map[string]any) *Playbook {
	p := &Playbook{
		Type: r.str(m, "type", ""), SpecVersion: r.str(m, "spec_version", ""), ID: r.str(m, "id", ""),
		Name: r.str(m, "name", ""), Description: r.str(m, "description", ""), PlaybookTypes: r.strs(m, "playbook_types", ""),
		CreatedBy: r.str(m, "created_by", ""), Created: r.str(m, "created", ""), Modified: r.str(m, "modified", ""),
		Revoked: r.boolean(m, "revoked", ""), Labels: r.strs(m, "labels", ""), Markings: r.strs(m, "markings", ""),
		WorkflowStart: r.str(m, "workflow_start", ""), WorkflowException: r.str(m, "workflow_exception", ""),
	}
	p.Variables = r.variables(m, "playbook_variables", "")
	p.Workflow = entries(r, m, "workflow", "", r.step)
	p.Agents = entries(r, m, "agent_definitions", "", r.agentTarget)
	p.Targets = entries(r, m, "target_definitions", "", r.agentTarget)
	p.MarkingDefs = entries(r, m, "data_marking_definitions", "", func(e map[string]any, path string) *Marking {
		return &Marking{Type: r.str(e, "type", path), TLPLevel: r.str(e, "tlpv2_level", path)}
	})
	return p
}

func (r *reader) variables(m map[string]any, key, path string) map[string]Variable {
	return entries(r, m, key, path, func(e map[string]any, path string) Variable {
		v := Variable{Type: r.str(e, "type", path), Description: r.str(e, "description", path),
			Constant: r.boolean(e, "constant", path), External: r.boolean(e, "external", path)}
		if x, ok := e["value"]; ok && x != nil {
			s := r.str(e, "value", path)
			v.Value = &s
		}
		return v
	})
}

func (r *reader) agentTarget(e map[string]any, path string) *AgentTarget {
	return &AgentTarget{Type: r.str(e, "type", path), Name: r.str(e, "name", path), Description: r.str(e, "description", path)}
}

func (r *reader) step(e map[string]any, path string) *Step {
	s := &Step{
		Type: r.str(e, "type", path), Name: r.str(e, "name", path), Description: r.str(e, "description", path),
		Owner: r.str(e, "owner", path), OnCompletion: r.str(e, "on_completion", path), OnSuccess: r.str(e, "on_success", path),
		OnFailure: r.str(e, "on_failure", path), Agent: r.str(e, "agent", path), Targets: r.strs(e, "targets", path),
		InArgs: r.strs(e, "in_args", path), OutArgs: r.strs(e, "out_args", path), PlaybookID: r.str(e, "playbook_id", path),
		Condition: r.str(e, "condition", path), OnTrue: r.str(e, "on_true", path), OnFalse: r.str(e, "on_false", path),
		NextSteps: r.strs(e, "next_steps", path), Switch: r.str(e, "switch", path),
	}
	s.StepVariables = r.variables(e, "step_variables", path)
	if cases := r.object(e, "cases", path); cases != nil {
		s.Cases = make(map[string]string, len(cases))
		for k := range cases {
			s.Cases[k] = r.str(cases, k, join(path, "cases"))
		}
	}
	if v, ok := e["commands"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			r.fail(join(path, "commands"), "array")
		}
		for i, x := range list {
			cp := join(path, "commands") + "." + strconv.Itoa(i)
			c, ok := x.(map[string]any)
			if !ok {
				r.fail(cp, "object")
				continue
			}
			s.Commands = append(s.Commands, Command{Type: r.str(c, "type", cp), Description: r.str(c, "description", cp),
				Command: r.str(c, "command", cp), CommandB64: r.str(c, "command_b64", cp)})
		}
	}
	return s
}
