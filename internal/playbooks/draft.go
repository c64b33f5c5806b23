package playbooks

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"verbund/internal/cacao"
	"verbund/internal/fault"
	"verbund/internal/stix"
)

// A Draft is the editor's model of a playbook of manual steps, the common
// case the issue asks an editor for: a sequence of blocks, each an action
// (a step for people: name, description, the responsible party, one
// instruction per line), a decision (a question with the actions if yes
// and if no) or parallel branches (each a sequence of actions). Parties
// are the organisations, groups (roles) and people responsible. ToCACAO
// writes it as a valid CACAO 2.0 playbook; DraftOf reads a playbook of
// that shape back (the editor's own, or one written the same way).
type Draft struct {
	ID        string // the hub's id of the playbook edited ("" for a new one)
	CACAOID   string
	Created   string // the first version's created ("" for a new one)
	Modified  string // the version edited
	Name      string
	Desc      string
	TLP       string // a new playbook's TLP level
	Community string // a new playbook's trust circle ("" for the org)
	Parties   []Party
	Blocks    []Block

	// words names a place in the editor (catalogue key and arguments) in
	// the page's language for Check's messages; nil: English.
	words func(key string, args ...any) string

	// prev is the stored document of the version edited: a new version
	// is it with the editor's parts changed (merge).
	prev map[string]any
}

// Party is one responsible party (an agent of type organization, group or
// individual).
type Party struct {
	ID, Kind, Name string
}

// PartyKinds are the agent types a party may have (playbooks.party.<kind>).
var PartyKinds = []string{"organization", "group", "individual"}

// Block is one element of the sequence: Kind action, decision or parallel.
type Block struct {
	Kind     string // action, decision, parallel
	ID       string // the step's CACAO id (the action's, the if-condition's, the parallel step's)
	Action   Action // an action block's action; a decision's and a parallel step's Name is the block's name
	Yes, No  []Action
	Branches [][]Action
}

// KindKey is the catalogue key of the block's kind.
func (b Block) KindKey() string { return "playbooks.editor.kind_" + b.Kind }

// Action is a manual step.
type Action struct {
	ID, Name, Desc string
	Party          int    // index into Draft.Parties (-1: none chosen)
	Commands       string // one instruction per line
}

// limits of a draft (a form is not an import: a few hundred steps at most).
const (
	maxBlocks  = 100
	maxInBlock = 50
	maxParties = 50
)

// newID is a fresh CACAO id of a type.
func newID(typ string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%s--%x-%x-%x-%x-%x", typ, b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// identityOf is a stable STIX identity id for an org (a name-based UUID of
// its hub id): created_by of the playbooks it writes.
func identityOf(orgID string) string {
	h := sha256.Sum256([]byte("verbund-org:" + orgID))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("identity--%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// Check names the first thing a draft lacks (fault with the form field).
func (d *Draft) Check() error {
	if strings.TrimSpace(d.Name) == "" {
		return fault.BadInput("name", "playbook_name_missing", "give the playbook a name")
	}
	if len(d.Blocks) == 0 {
		return fault.BadInput("blocks", "playbook_no_steps", "add at least one step")
	}
	for i, p := range d.Parties {
		if strings.TrimSpace(p.Name) == "" || !slices.Contains(PartyKinds, p.Kind) {
			return fault.BadInput(fmt.Sprintf("party.%d.name", i), "playbook_party_unnamed", "name each responsible party and choose its kind")
		}
	}
	words := d.words
	if words == nil {
		words = func(key string, args ...any) string {
			if len(args) == 2 {
				return englishPlace[key] + fmt.Sprint(args[1])
			}
			return englishPlace[key]
		}
	}
	// place is the step at a form field's path as the editor numbers it:
	// "3", "3 · If yes · 1", "3 · Branch 2 · 1".
	place := func(prefix string) string {
		parts := strings.Split(prefix, ".")
		num := func(i int) int { n, _ := strconv.Atoi(parts[i]); return n + 1 }
		out := strconv.Itoa(num(1))
		switch {
		case len(parts) == 4 && parts[2] == "yes":
			out += " · " + words("playbooks.editor.if_yes") + " · " + strconv.Itoa(num(3))
		case len(parts) == 4 && parts[2] == "no":
			out += " · " + words("playbooks.editor.if_no") + " · " + strconv.Itoa(num(3))
		case len(parts) == 5 && parts[2] == "b":
			out += " · " + words("playbooks.editor.branch", "n", num(3)) + " · " + strconv.Itoa(num(4))
		}
		return out
	}
	action := func(prefix string, a Action) error {
		switch {
		case strings.TrimSpace(a.Name) == "":
			return fault.BadInput(prefix+".name", "playbook_step_unnamed", "name step {step}").With("step", place(prefix))
		case a.Party < 0 || a.Party >= len(d.Parties):
			return fault.BadInput(prefix+".party", "playbook_step_unassigned", "choose who is responsible for step {step}").With("step", place(prefix))
		case len(lines(a.Commands)) == 0:
			return fault.BadInput(prefix+".cmds", "playbook_step_empty", "write at least one instruction for step {step}").With("step", place(prefix))
		}
		return nil
	}
	for i, b := range d.Blocks {
		p := "step." + strconv.Itoa(i)
		switch b.Kind {
		case "action":
			if err := action(p, b.Action); err != nil {
				return err
			}
		case "decision":
			if strings.TrimSpace(b.Action.Name) == "" {
				return fault.BadInput(p+".name", "playbook_step_unnamed", "name step {step}").With("step", place(p))
			}
			if len(b.Yes) == 0 {
				return fault.BadInput(p+".yes", "playbook_decision_empty", "a decision needs at least one step if the answer is yes")
			}
			for j, a := range b.Yes {
				if err := action(fmt.Sprintf("%s.yes.%d", p, j), a); err != nil {
					return err
				}
			}
			for j, a := range b.No {
				if err := action(fmt.Sprintf("%s.no.%d", p, j), a); err != nil {
					return err
				}
			}
		case "parallel":
			if strings.TrimSpace(b.Action.Name) == "" {
				return fault.BadInput(p+".name", "playbook_step_unnamed", "name step {step}").With("step", place(p))
			}
			if len(b.Branches) < 2 {
				return fault.BadInput(p+".b", "playbook_parallel_short", "parallel steps need at least two branches")
			}
			for k, br := range b.Branches {
				if len(br) == 0 {
					return fault.BadInput(fmt.Sprintf("%s.b.%d", p, k), "playbook_branch_empty", "each branch needs at least one step")
				}
				for j, a := range br {
					if err := action(fmt.Sprintf("%s.b.%d.%d", p, k, j), a); err != nil {
						return err
					}
				}
			}
		default:
			return fault.BadInput(p+".kind", "playbook_step_kind", "a step is an action, a decision or parallel branches")
		}
	}
	return nil
}

// englishPlace is the English of the editor's words for a place (a
// draft checked outside a page).
var englishPlace = map[string]string{"playbooks.editor.if_yes": "If yes", "playbooks.editor.if_no": "If no", "playbooks.editor.branch": "Branch "}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// ToCACAO writes the draft as a CACAO 2.0 playbook of org's, modified now
// (after the version edited). The caller checks it with the importer.
func (d *Draft) ToCACAO(orgID string, now time.Time) ([]byte, error) {
	if err := d.Check(); err != nil {
		return nil, err
	}
	modified := now.UTC().Truncate(time.Millisecond)
	if prev := (&cacao.Playbook{Modified: d.Modified}).ModifiedTime(); !prev.IsZero() && !modified.After(prev) {
		modified = prev.Add(time.Millisecond)
	}
	stamp := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z") }
	if d.CACAOID == "" {
		d.CACAOID = newID("playbook")
	}
	created := d.Created
	if created == "" {
		created = stamp(modified)
	}
	agents := map[string]any{}
	for i := range d.Parties {
		p := &d.Parties[i]
		if !strings.HasPrefix(p.ID, p.Kind+"--") {
			p.ID = newID(p.Kind)
		}
		agents[p.ID] = map[string]any{"type": p.Kind, "name": strings.TrimSpace(p.Name)}
	}
	workflow := map[string]any{}
	ensure := func(id *string, typ string) string {
		if !strings.HasPrefix(*id, typ+"--") || workflow[*id] != nil {
			*id = newID(typ)
		}
		return *id
	}
	end := func() string {
		id := newID("end")
		workflow[id] = map[string]any{"type": "end"}
		return id
	}
	// chain writes actions one after the other, the last leading to next;
	// it returns the first step's id.
	chain := func(as []Action, next string) string {
		for i := len(as) - 1; i >= 0; i-- {
			a := &as[i]
			id := ensure(&a.ID, "action")
			var cmds []map[string]any
			for _, l := range lines(a.Commands) {
				cmds = append(cmds, map[string]any{"type": cacao.CommandManual, "command": l})
			}
			step := map[string]any{"type": "action", "name": strings.TrimSpace(a.Name), "agent": d.Parties[a.Party].ID, "commands": cmds, "on_completion": next}
			if desc := strings.TrimSpace(a.Desc); desc != "" {
				step["description"] = desc
			}
			workflow[id] = step
			next = id
		}
		return next
	}
	next := end()
	for i := len(d.Blocks) - 1; i >= 0; i-- {
		b := &d.Blocks[i]
		switch b.Kind {
		case "action":
			next = chain([]Action{b.Action}, next)
			b.Action.ID = next
		case "decision":
			id := ensure(&b.ID, "if-condition")
			step := map[string]any{"type": "if-condition", "name": strings.TrimSpace(b.Action.Name),
				"condition": "[x-verbund-decision:answer = 'yes']", "on_true": chain(b.Yes, end()), "on_completion": next}
			if len(b.No) > 0 {
				step["on_false"] = chain(b.No, end())
			}
			if desc := strings.TrimSpace(b.Action.Desc); desc != "" {
				step["description"] = desc
			}
			workflow[id] = step
			next = id
		case "parallel":
			id := ensure(&b.ID, "parallel")
			var branches []string
			for k := range b.Branches {
				branches = append(branches, chain(b.Branches[k], end()))
			}
			step := map[string]any{"type": "parallel", "name": strings.TrimSpace(b.Action.Name), "next_steps": branches, "on_completion": next}
			if desc := strings.TrimSpace(b.Action.Desc); desc != "" {
				step["description"] = desc
			}
			workflow[id] = step
			next = id
		}
	}
	start := newID("start")
	workflow[start] = map[string]any{"type": "start", "on_completion": next}
	doc := map[string]any{
		"type": "playbook", "spec_version": cacao.SpecVersion, "id": d.CACAOID, "name": strings.TrimSpace(d.Name),
		"playbook_types": []string{"remediation"}, "created_by": identityOf(orgID), "created": created, "modified": stamp(modified),
		"workflow_start": start, "workflow": workflow, "agent_definitions": agents,
	}
	if desc := strings.TrimSpace(d.Desc); desc != "" {
		doc["description"] = desc
	}
	if d.prev != nil {
		return json.MarshalIndent(merge(d.prev, doc), "", "  ")
	}
	if l, ok := stix.ParseTLP(d.TLP); ok && d.ID == "" {
		id := cacao.TLPMarkingID(l)
		doc["markings"] = []string{id}
		doc["data_marking_definitions"] = map[string]any{id: map[string]any{"type": "marking-tlp", "id": id, "created_by": identityOf(orgID),
			"created": "2022-10-01T00:00:00.000Z", "tlpv2_level": l.String()}}
	}
	return json.MarshalIndent(doc, "", "  ")
}

// DraftOf reads a playbook of manual steps back into a draft: from the
// start, actions one after the other, decisions whose branches are chains
// of actions each ending, parallel steps whose branches are such chains;
// every action manual with an organisation, group or individual as agent.
// ok is false for any other shape (the editor then says it cannot edit it).
func DraftOf(pb *cacao.Playbook) (Draft, bool) {
	d, why := draftOf(pb)
	return d, why == ""
}

// draftOf is DraftOf naming what the editor cannot show ("" if nothing):
// the first step it cannot read, or a step it never reaches.
func draftOf(pb *cacao.Playbook) (Draft, string) {
	reached := map[string]bool{}
	// culprit is the step inside a branch the editor could not read (the
	// branching is named when it is "").
	culprit := ""
	bad := func(id string) string {
		if culprit != "" {
			id = culprit
		}
		s := pb.Workflow[id]
		if s == nil {
			return "workflow " + id
		}
		what := strings.TrimSpace(s.Type + " " + quoteName(s.Name))
		if s.Type == cacao.StepAction && !s.Manual() {
			what += " (commands not manual)"
		}
		return what
	}
	d := Draft{CACAOID: pb.ID, Created: pb.Created, Modified: pb.Modified, Name: pb.Name, Desc: pb.Description}
	party := map[string]int{}
	for _, id := range sortedKeys(pb.Agents) {
		a := pb.Agents[id]
		if a == nil || !slices.Contains(PartyKinds, a.Type) {
			continue
		}
		party[id] = len(d.Parties)
		d.Parties = append(d.Parties, Party{ID: id, Kind: a.Type, Name: a.Name})
	}
	action := func(id string) (Action, bool) {
		s := pb.Workflow[id]
		if s == nil {
			return Action{}, false
		}
		p, ok := party[s.Agent]
		if !s.Manual() || !ok || s.OnSuccess != "" || s.OnFailure != "" {
			culprit = id
			return Action{}, false
		}
		reached[id] = true
		var cmds []string
		for _, c := range s.Commands {
			cmds = append(cmds, c.Command)
		}
		return Action{ID: id, Name: s.Name, Desc: s.Description, Party: p, Commands: strings.Join(cmds, "\n")}, true
	}
	// branch reads a chain of actions that ends in an end step.
	branch := func(id string) ([]Action, bool) {
		var out []Action
		for n := 0; n < maxInBlock; n++ {
			s := pb.Workflow[id]
			if s == nil {
				return nil, false
			}
			if s.Type != cacao.StepEnd && s.Type != cacao.StepAction {
				culprit = id
				return nil, false
			}
			if s.Type == cacao.StepEnd {
				reached[id] = true
				return out, true
			}
			a, ok := action(id)
			if !ok {
				return nil, false
			}
			out = append(out, a)
			id = s.OnCompletion
		}
		return nil, false
	}
	start := pb.Workflow[pb.WorkflowStart]
	if start == nil || start.Type != cacao.StepStart {
		return d, "workflow_start"
	}
	reached[pb.WorkflowStart] = true
	id := start.OnCompletion
	for n := 0; n < maxBlocks; n++ {
		s := pb.Workflow[id]
		if s == nil {
			return d, bad(id)
		}
		switch s.Type {
		case cacao.StepEnd:
			reached[id] = true
			if len(d.Blocks) == 0 {
				return d, bad(id)
			}
			return d, uneditable(pb, reached)
		case cacao.StepAction:
			a, ok := action(id)
			if !ok {
				return d, bad(id)
			}
			d.Blocks = append(d.Blocks, Block{Kind: "action", ID: id, Action: a})
		case cacao.StepIfCondition:
			if s.OnSuccess != "" || s.OnFailure != "" {
				return d, bad(id)
			}
			yes, ok := branch(s.OnTrue)
			if !ok {
				return d, bad(id)
			}
			var no []Action
			if s.OnFalse != "" {
				if no, ok = branch(s.OnFalse); !ok {
					return d, bad(id)
				}
			}
			reached[id] = true
			d.Blocks = append(d.Blocks, Block{Kind: "decision", ID: id, Action: Action{Name: s.Name, Desc: s.Description}, Yes: yes, No: no})
		case cacao.StepParallel:
			if s.OnSuccess != "" || s.OnFailure != "" {
				return d, bad(id)
			}
			b := Block{Kind: "parallel", ID: id, Action: Action{Name: s.Name, Desc: s.Description}}
			for _, n := range s.NextSteps {
				br, ok := branch(n)
				if !ok {
					return d, bad(id)
				}
				b.Branches = append(b.Branches, br)
			}
			reached[id] = true
			d.Blocks = append(d.Blocks, b)
		default:
			return d, bad(id)
		}
		id = s.OnCompletion
	}
	return d, "workflow"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
