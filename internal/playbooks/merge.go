package playbooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"verbund/internal/cacao"
)

// The editor shows only part of a playbook: names, descriptions, parties,
// instructions and the shape of the flow. A new version of a playbook the
// editor opened therefore starts from the stored document and takes only
// those parts from the draft (merge), so that what the editor does not
// show (playbook_types, labels, conditions, names of start and end steps,
// extension properties, markings, targets, …) is kept as it was.

// editorKeys are the step properties the editor writes, by step type; a
// stored step keeps every other property.
var editorKeys = map[string][]string{
	cacao.StepAction:      {"name", "description", "agent", "commands", "on_completion"},
	cacao.StepIfCondition: {"name", "description", "on_true", "on_false", "on_completion"},
	cacao.StepParallel:    {"name", "description", "next_steps", "on_completion"},
	cacao.StepStart:       {"on_completion"},
	cacao.StepEnd:         {},
}

// decodeTree decodes a JSON document keeping numbers as written.
func decodeTree(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode the stored playbook: %w", err)
	}
	return m, nil
}

// merge returns prev (the stored document) with the parts the editor
// writes taken from gen (the draft written as CACAO). The start and the
// end steps of gen take the ids of the stored ones in the same place, so
// that an unchanged draft gives back the stored workflow.
func merge(prev, gen map[string]any) map[string]any {
	out := prev
	for _, k := range []string{"name", "modified"} {
		out[k] = gen[k]
	}
	setOrDelete(out, gen, "description")

	// agents: the parties as the draft has them, every other agent kept.
	agents, _ := out["agent_definitions"].(map[string]any)
	if agents == nil {
		agents = map[string]any{}
	}
	genAgents, _ := gen["agent_definitions"].(map[string]any)
	for id, v := range agents {
		m, _ := v.(map[string]any)
		if t, _ := m["type"].(string); slices.Contains(PartyKinds, t) && genAgents[id] == nil {
			delete(agents, id)
		}
	}
	for id, v := range genAgents {
		g := v.(map[string]any)
		if m, ok := agents[id].(map[string]any); ok {
			m["type"], m["name"] = g["type"], g["name"]
			continue
		}
		agents[id] = g
	}
	out["agent_definitions"] = agents

	prevWF, _ := prev["workflow"].(map[string]any)
	genWF := gen["workflow"].(map[string]any)
	rename := map[string]string{}
	if s, _ := prev["workflow_start"].(string); s != "" && stepType(prevWF[s]) == cacao.StepStart {
		rename[gen["workflow_start"].(string)] = s
	}
	// An end of gen takes the id of the end the stored step at the same
	// place led to.
	used := map[string]bool{}
	for _, id := range sortedKeys(genWF) {
		g := genWF[id].(map[string]any)
		old, _ := prevWF[id].(map[string]any)
		if old == nil {
			continue
		}
		for _, ref := range refs(g) {
			if stepType(genWF[ref.to]) != cacao.StepEnd {
				continue
			}
			was := refAt(old, ref.key, ref.i)
			if stepType(prevWF[was]) == cacao.StepEnd && !used[was] && genWF[was] == nil {
				used[was] = true
				rename[ref.to] = was
			}
		}
	}
	re := func(id string) string {
		if n, ok := rename[id]; ok {
			return n
		}
		return id
	}
	wf := map[string]any{}
	for id, v := range genWF {
		g := v.(map[string]any)
		for _, k := range []string{"on_completion", "on_true", "on_false"} {
			if s, ok := g[k].(string); ok {
				g[k] = re(s)
			}
		}
		if ns, ok := g["next_steps"].([]string); ok {
			for i := range ns {
				ns[i] = re(ns[i])
			}
		}
		id = re(id)
		old, _ := prevWF[id].(map[string]any)
		if old == nil || stepType(old) != g["type"] {
			wf[id] = g
			continue
		}
		for _, k := range editorKeys[stepType(old)] {
			if k == "commands" {
				old[k] = mergeCommands(old[k], g[k])
				continue
			}
			setOrDelete(old, g, k)
		}
		wf[id] = old
	}
	out["workflow"] = wf
	out["workflow_start"] = re(gen["workflow_start"].(string))
	return out
}

// mergeCommands keeps a stored command (with its description and other
// properties) where the instruction is unchanged.
func mergeCommands(prev, gen any) any {
	old, _ := prev.([]any)
	cmds, _ := gen.([]map[string]any)
	out := make([]any, len(cmds))
	for i, c := range cmds {
		out[i] = c
		if i < len(old) {
			if m, ok := old[i].(map[string]any); ok && m["type"] == cacao.CommandManual && m["command"] == c["command"] {
				out[i] = m
			}
		}
	}
	return out
}

func setOrDelete(dst, src map[string]any, k string) {
	if v, ok := src[k]; ok {
		dst[k] = v
	} else {
		delete(dst, k)
	}
}

func stepType(v any) string {
	m, _ := v.(map[string]any)
	t, _ := m["type"].(string)
	return t
}

type stepRef struct {
	key string
	i   int
	to  string
}

// refs lists the steps a generated step leads to.
func refs(g map[string]any) []stepRef {
	var out []stepRef
	for _, k := range []string{"on_true", "on_false", "on_completion"} {
		if s, ok := g[k].(string); ok {
			out = append(out, stepRef{key: k, to: s})
		}
	}
	if ns, ok := g["next_steps"].([]string); ok {
		for i, s := range ns {
			out = append(out, stepRef{key: "next_steps", i: i, to: s})
		}
	}
	return out
}

// refAt is the step a stored step names at key (next_steps: the i-th).
func refAt(m map[string]any, key string, i int) string {
	if key == "next_steps" {
		ns, _ := m[key].([]any)
		if i < len(ns) {
			s, _ := ns[i].(string)
			return s
		}
		return ""
	}
	s, _ := m[key].(string)
	return s
}

// uneditable names what of a playbook the editor cannot show ("" if it
// can show all of it).
func uneditable(pb *cacao.Playbook, reached map[string]bool) string {
	if pb.WorkflowException != "" {
		return "workflow_exception"
	}
	for _, id := range sortedKeys(pb.Workflow) {
		if !reached[id] {
			s := pb.Workflow[id]
			return strings.TrimSpace(fmt.Sprintf("%s %s", s.Type, quoteName(s.Name)))
		}
	}
	return ""
}

func quoteName(n string) string {
	if n == "" {
		return ""
	}
	return "“" + n + "”"
}
