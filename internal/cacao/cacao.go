// Package cacao reads, checks and writes CACAO 2.0 security playbooks
// (OASIS, STANDARDS.md §4) as a pure library: no database, no verbund
// imports but the STIX library whose TLP 2.0 ids CACAO's TLP markings share.
//
// A Playbook keeps the document exactly as it came (Raw, Encode): extension
// properties, unknown properties, key order and white space all survive a
// round trip. The typed fields are the parts the hub reads (names, the
// workflow graph, agents, targets, variables, markings).
//
// Check validates a document against the official schemas (embedded,
// compiled once by NewValidator) and against the rules the schemas cannot
// express (draft-07 ignores their unevaluatedProperties): every referenced
// step, agent, target and variable exists, the start step exists, every
// step reaches an end, no step is orphaned, ids carry their type's prefix,
// command types come from the vocabulary, TLP markings use the shared ids.
package cacao

import (
	"bytes"
	"fmt"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SpecVersion is the only spec_version this package accepts.
const SpecVersion = "cacao-2.0"

// Step types (CACAO 2.0 §4).
const (
	StepStart           = "start"
	StepEnd             = "end"
	StepAction          = "action"
	StepPlaybookAction  = "playbook-action"
	StepParallel        = "parallel"
	StepIfCondition     = "if-condition"
	StepWhileCondition  = "while-condition"
	StepSwitchCondition = "switch-condition"
)

// CommandManual is the command type of a step for people: a checklist item.
const CommandManual = "manual"

// Playbook is one version of a CACAO playbook: the document as given and
// the fields the hub reads from it.
type Playbook struct {
	raw  []byte
	tree any // the parsed document, for the schema validator

	Type              string                  `json:"type"`
	SpecVersion       string                  `json:"spec_version"`
	ID                string                  `json:"id"`
	Name              string                  `json:"name"`
	Description       string                  `json:"description,omitempty"`
	PlaybookTypes     []string                `json:"playbook_types,omitempty"`
	CreatedBy         string                  `json:"created_by"`
	Created           string                  `json:"created"`
	Modified          string                  `json:"modified"`
	Revoked           bool                    `json:"revoked,omitempty"`
	Labels            []string                `json:"labels,omitempty"`
	Markings          []string                `json:"markings,omitempty"`
	Variables         map[string]Variable     `json:"playbook_variables,omitempty"`
	WorkflowStart     string                  `json:"workflow_start"`
	WorkflowException string                  `json:"workflow_exception,omitempty"`
	Workflow          map[string]*Step        `json:"workflow"`
	Agents            map[string]*AgentTarget `json:"agent_definitions,omitempty"`
	Targets           map[string]*AgentTarget `json:"target_definitions,omitempty"`
	MarkingDefs       map[string]*Marking     `json:"data_marking_definitions,omitempty"`
}

// Step is one workflow step; which fields apply depends on its Type.
type Step struct {
	Type          string              `json:"type"`
	Name          string              `json:"name,omitempty"`
	Description   string              `json:"description,omitempty"`
	Owner         string              `json:"owner,omitempty"`
	OnCompletion  string              `json:"on_completion,omitempty"`
	OnSuccess     string              `json:"on_success,omitempty"`
	OnFailure     string              `json:"on_failure,omitempty"`
	StepVariables map[string]Variable `json:"step_variables,omitempty"`

	// action
	Commands []Command `json:"commands,omitempty"`
	Agent    string    `json:"agent,omitempty"`
	Targets  []string  `json:"targets,omitempty"`
	InArgs   []string  `json:"in_args,omitempty"`
	OutArgs  []string  `json:"out_args,omitempty"`
	// playbook-action
	PlaybookID string `json:"playbook_id,omitempty"`
	// if-condition, while-condition
	Condition string `json:"condition,omitempty"`
	OnTrue    string `json:"on_true,omitempty"`
	OnFalse   string `json:"on_false,omitempty"`
	// parallel
	NextSteps []string `json:"next_steps,omitempty"`
	// switch-condition
	Switch string            `json:"switch,omitempty"`
	Cases  map[string]string `json:"cases,omitempty"`
}

// Command is one command of an action step.
type Command struct {
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	Command     string `json:"command,omitempty"`
	CommandB64  string `json:"command_b64,omitempty"`
}

// AgentTarget is an agent or a target definition (organization, individual,
// group, ssh, …).
type AgentTarget struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Variable is a playbook or step variable.
type Variable struct {
	Type        string  `json:"type"`
	Description string  `json:"description,omitempty"`
	Value       *string `json:"value,omitempty"`
	Constant    bool    `json:"constant,omitempty"`
	External    bool    `json:"external,omitempty"`
}

// Marking is a data marking definition; TLPLevel is set for marking-tlp.
type Marking struct {
	Type     string `json:"type"`
	TLPLevel string `json:"tlpv2_level,omitempty"`
}

// Decode reads a document into a Playbook that keeps it byte for byte. It
// checks only that the document is one JSON object whose known properties
// have their JSON types; Check does the rest.
func Decode(data []byte) (*Playbook, error) {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, &Error{Code: CodeBadJSON, Message: "not a JSON object"}
	}
	tree, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, &Error{Code: CodeBadJSON, Message: "not valid JSON", Err: err}
	}
	m, ok := tree.(map[string]any)
	if !ok {
		return nil, &Error{Code: CodeBadJSON, Message: "not a JSON object"}
	}
	var r reader
	p := r.playbook(m)
	if r.err != nil {
		return nil, r.err
	}
	p.raw, p.tree = bytes.Clone(data), tree
	return p, nil
}

// Raw is the document as it was decoded (the caller must not change it).
func (p *Playbook) Raw() []byte { return p.raw }

// Encode gives the document back byte for byte.
func (p *Playbook) Encode() []byte { return bytes.Clone(p.raw) }

// MarshalJSON writes the document as it was decoded, so a Playbook inside
// another JSON value stays lossless too.
func (p *Playbook) MarshalJSON() ([]byte, error) { return p.Encode(), nil }

// ModifiedTime is the version's modified timestamp (zero if malformed;
// Check refuses such a document).
func (p *Playbook) ModifiedTime() time.Time { return parseTime(p.Modified) }

// CreatedTime is the created timestamp.
func (p *Playbook) CreatedTime() time.Time { return parseTime(p.Created) }

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// Step returns the step with this id, or nil.
func (p *Playbook) Step(id string) *Step { return p.Workflow[id] }

// Next lists a step's successors in a stable order: on_true, on_false,
// next_steps, the cases (sorted by case), on_success, on_failure,
// on_completion.
func (s *Step) Next() []Edge {
	var out []Edge
	add := func(kind, to string) {
		if to != "" {
			out = append(out, Edge{Kind: kind, To: to})
		}
	}
	add("on_true", s.OnTrue)
	add("on_false", s.OnFalse)
	for _, n := range s.NextSteps {
		add("next_steps", n)
	}
	for _, c := range sortedKeys(s.Cases) {
		add("case:"+c, s.Cases[c])
	}
	add("on_success", s.OnSuccess)
	add("on_failure", s.OnFailure)
	add("on_completion", s.OnCompletion)
	return out
}

// Edge is one arrow of the workflow graph: Kind is the property that names
// the next step ("on_true", "next_steps", "case:<value>", …).
type Edge struct {
	Kind string
	To   string
}

// Manual reports whether every command of an action step is manual: a step
// for people.
func (s *Step) Manual() bool {
	if s.Type != StepAction || len(s.Commands) == 0 {
		return false
	}
	for _, c := range s.Commands {
		if c.Type != CommandManual {
			return false
		}
	}
	return true
}

func (e *Error) Error() string {
	msg := "cacao: "
	if e.Field != "" {
		msg += e.Field + ": "
	}
	msg += e.Message
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem Check found, in document order as far as the
// checks allow.
type Errors []*Error

func (es Errors) Error() string {
	switch len(es) {
	case 0:
		return "cacao: no errors"
	case 1:
		return es[0].Error()
	}
	return fmt.Sprintf("%s (and %d more)", es[0].Error(), len(es)-1)
}

// Error is one problem. Field names the property at fault as a dotted path
// (a step as "workflow.<step id>", its property after another dot), so a
// report can point at it.
type Error struct {
	Code    Code
	Field   string
	Message string
	Err     error
}

// Code names a kind of problem; codes are stable.
type Code string

const (
	CodeBadJSON     Code = "cacao_bad_json"     // not JSON, or not one JSON object
	CodeBadValue    Code = "cacao_bad_value"    // a known property of the wrong JSON type
	CodeSchema      Code = "cacao_schema"       // the official schema rejects the document
	CodeSpecVersion Code = "cacao_spec_version" // spec_version is not cacao-2.0
	CodeBadID       Code = "cacao_bad_id"       // an id without its type's prefix or UUID
	CodeMissing     Code = "cacao_missing"      // a required property is absent
	CodeReference   Code = "cacao_reference"    // a reference to a step, agent, target, variable or marking that does not exist
	CodeStart       Code = "cacao_start"        // workflow_start missing or not a start step
	CodeStepType    Code = "cacao_step_type"    // a step of an unknown type, or of the wrong type for its place
	CodeNoEnd       Code = "cacao_no_end"       // a step from which no end step is reachable
	CodeOrphan      Code = "cacao_orphan"       // a step no path from the start reaches
	CodeCommandType Code = "cacao_command_type" // a command type outside the vocabulary
	CodeBadOrder    Code = "cacao_bad_order"    // modified before created
	CodeMarking     Code = "cacao_marking"      // a TLP marking with a level or id that does not fit
	CodeLimit       Code = "cacao_limit"        // more steps, or more references in one step, than MaxSteps or MaxStepRefs allow
)
