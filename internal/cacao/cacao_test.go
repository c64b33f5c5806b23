package cacao

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"verbund/internal/stix"
)

func validator(t testing.TB) *Validator {
	t.Helper()
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidPlaybooks(t *testing.T) {
	v := validator(t)
	for _, name := range []string{"ransomware.json", "phishing.json"} {
		t.Run(name, func(t *testing.T) {
			p, err := v.Check(readFile(t, name))
			if err != nil {
				t.Fatalf("valid playbook refused: %v", err)
			}
			if p.Workflow[p.WorkflowStart].Type != StepStart {
				t.Errorf("start step is %q", p.Workflow[p.WorkflowStart].Type)
			}
		})
	}
}

func TestReadsTheRansomwarePlaybook(t *testing.T) {
	p, err := validator(t).Check(readFile(t, "ransomware.json"))
	if err != nil {
		t.Fatal(err)
	}
	if p.TLP() != stix.TLPAmber {
		t.Errorf("TLP = %v, want AMBER", p.TLP())
	}
	if got := p.ModifiedTime().Format("2006-01-02T15:04:05.000Z"); got != "2026-03-09T14:30:00.000Z" {
		t.Errorf("modified = %s", got)
	}
	var manual, decisions, parallel int
	for _, s := range p.Workflow {
		switch {
		case s.Manual():
			manual++
			if a := p.Agents[s.Agent]; a == nil || a.Name == "" {
				t.Errorf("step %q: agent %s not resolved", s.Name, s.Agent)
			}
		case s.Type == StepIfCondition:
			decisions++
			if s.OnTrue == "" || s.OnFalse == "" {
				t.Errorf("decision %q without both branches", s.Name)
			}
		case s.Type == StepParallel:
			parallel++
			if len(s.NextSteps) != 2 {
				t.Errorf("parallel %q has %d branches", s.Name, len(s.NextSteps))
			}
		}
	}
	if manual != 5 || decisions != 1 || parallel != 1 {
		t.Errorf("manual=%d decisions=%d parallel=%d, want 5, 1, 1", manual, decisions, parallel)
	}
}

// TestRoundTripIsLossless: what is decoded is encoded byte for byte,
// extension and unknown properties (and number spellings) included.
func TestRoundTripIsLossless(t *testing.T) {
	v := validator(t)
	for _, name := range []string{"ransomware.json", "phishing.json"} {
		in := readFile(t, name)
		// An unknown property with a spelling that a decode-and-re-encode
		// would lose: a trailing zero and an escaped character.
		in = bytes.Replace(in, []byte(`"type": "playbook",`), []byte(`"type": "playbook", "x_custom": {"n": 1.50, "s": "\u00fc"},`), 1)
		in = bytes.Replace(in, []byte(`"type":"playbook",`), []byte(`"type":"playbook","x_custom":{"n":1.50,"s":"\u00fc"},`), 1)
		p, err := v.Check(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := p.Encode()
		if !bytes.Equal(in, out) {
			t.Fatalf("%s: round trip changed the document", name)
		}
		if !bytes.Contains(out, []byte(`1.50`)) || !bytes.Contains(out, []byte(`\u00fc`)) {
			t.Fatalf("%s: the unknown property's spelling was lost", name)
		}
		if name == "ransomware.json" && !bytes.Contains(out, []byte(`"playbook_extensions"`)) {
			t.Fatal("extension properties lost")
		}
		var enc bytes.Buffer
		e := json.NewEncoder(&enc)
		e.SetEscapeHTML(false)
		err = e.Encode(struct {
			P *Playbook `json:"p"`
		}{p})
		marshalled := enc.Bytes()
		var compact bytes.Buffer
		if err := json.Compact(&compact, in); err != nil {
			t.Fatal(err)
		}
		if err != nil || !bytes.Contains(marshalled, compact.Bytes()) {
			t.Fatalf("MarshalJSON does not embed the document: %v", err)
		}
	}
}

// doc is a playbook as a generic value, to break on purpose.
type doc map[string]any

func load(t *testing.T, name string) doc {
	t.Helper()
	var d doc
	if err := json.Unmarshal(readFile(t, name), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d doc) workflow() map[string]any { return d["workflow"].(map[string]any) }

// step finds a step by its name.
func (d doc) step(t *testing.T, name string) (string, map[string]any) {
	t.Helper()
	for id, s := range d.workflow() {
		if s.(map[string]any)["name"] == name {
			return id, s.(map[string]any)
		}
	}
	t.Fatalf("no step named %q", name)
	return "", nil
}

func TestBrokenPlaybooks(t *testing.T) {
	v := validator(t)
	cases := []struct {
		name   string
		file   string
		break_ func(t *testing.T, d doc)
		code   Code
		field  string // the error names this field or step
	}{
		{"missing step", "ransomware.json", func(t *testing.T, d doc) {
			id, _ := d.step(t, "Ask the CERT for assistance")
			delete(d.workflow(), id)
		}, CodeReference, ".next_steps"},
		{"on_completion to a missing step", "ransomware.json", func(t *testing.T, d doc) {
			_, s := d.step(t, "Isolate affected systems")
			s["on_completion"] = "action--00000000-0000-4000-8000-000000000000"
		}, CodeReference, ".on_completion"},
		{"no reachable end (loop)", "ransomware.json", func(t *testing.T, d doc) {
			restoreID, _ := d.step(t, "Restore from the cloud backup")
			_, rebuild := d.step(t, "Rebuild from offline media")
			_, restore := d.step(t, "Restore from the cloud backup")
			rebuildID, _ := d.step(t, "Rebuild from offline media")
			restore["on_completion"] = rebuildID
			rebuild["on_completion"] = restoreID
		}, CodeNoEnd, "workflow.action--"},
		{"orphan step", "ransomware.json", func(t *testing.T, d doc) {
			d.workflow()["action--11111111-1111-4111-8111-111111111111"] = map[string]any{
				"type": "action", "name": "Forgotten", "agent": firstKey(d["agent_definitions"]),
				"commands":      []any{map[string]any{"type": "manual", "command": "nobody gets here"}},
				"on_completion": firstEnd(d),
			}
		}, CodeOrphan, "workflow.action--11111111-1111-4111-8111-111111111111"},
		{"start is not a start step", "ransomware.json", func(t *testing.T, d doc) {
			id, _ := d.step(t, "Isolate affected systems")
			d["workflow_start"] = id
		}, CodeStart, "workflow_start"},
		{"start step missing", "ransomware.json", func(t *testing.T, d doc) {
			delete(d.workflow(), d["workflow_start"].(string))
		}, CodeStart, "workflow_start"},
		{"bad step id prefix", "ransomware.json", func(t *testing.T, d doc) {
			id, s := d.step(t, "Rebuild from offline media")
			delete(d.workflow(), id)
			newID := "step--" + strings.SplitN(id, "--", 2)[1]
			d.workflow()[newID] = s
			_, cond := d.step(t, "Are the cloud backups intact?")
			cond["on_false"] = newID
		}, CodeBadID, "workflow.step--"},
		{"step type does not match its id", "ransomware.json", func(t *testing.T, d doc) {
			_, s := d.step(t, "Rebuild from offline media")
			s["type"] = "playbook-action"
			s["playbook_id"] = "playbook--22222222-2222-4222-8222-222222222222"
		}, CodeBadID, "workflow.action--"},
		{"bad playbook id", "ransomware.json", func(t *testing.T, d doc) {
			d["id"] = "bundle--" + strings.SplitN(d["id"].(string), "--", 2)[1]
		}, CodeBadID, "id"},
		{"bad agent id", "ransomware.json", func(t *testing.T, d doc) {
			agents := d["agent_definitions"].(map[string]any)
			for id, a := range agents {
				if a.(map[string]any)["type"] == "group" {
					delete(agents, id)
					newID := "organization--" + strings.SplitN(id, "--", 2)[1]
					agents[newID] = a
					_, s := d.step(t, "Rebuild from offline media")
					s["agent"] = newID
				}
			}
		}, CodeBadID, "agent_definitions.organization--"},
		{"unknown agent", "ransomware.json", func(t *testing.T, d doc) {
			_, s := d.step(t, "Restore from the cloud backup")
			s["agent"] = "organization--33333333-3333-4333-8333-333333333333"
		}, CodeReference, ".agent"},
		{"unknown target", "phishing.json", func(t *testing.T, d doc) {
			_, s := d.step(t, "Purge a batch")
			s["targets"] = []any{"ssh--44444444-4444-4444-8444-444444444444"}
		}, CodeReference, ".targets.0"},
		{"unknown variable in out_args", "phishing.json", func(t *testing.T, d doc) {
			_, s := d.step(t, "Fetch verdict")
			s["out_args"] = []any{"__nope__"}
		}, CodeReference, ".out_args.0"},
		{"unknown variable in a condition", "phishing.json", func(t *testing.T, d doc) {
			_, s := d.step(t, "While copies remain")
			s["condition"] = "[x-mailbox:remaining > __missing__:value]"
		}, CodeReference, ".condition"},
		{"unknown case step", "phishing.json", func(t *testing.T, d doc) {
			_, s := d.step(t, "Verdict")
			s["cases"].(map[string]any)["clean"] = "end--55555555-5555-4555-8555-555555555555"
		}, CodeReference, ".cases.clean"},
		{"bad command type", "ransomware.json", func(t *testing.T, d doc) {
			_, s := d.step(t, "Isolate affected systems")
			s["commands"].([]any)[1].(map[string]any)["type"] = "manuall"
		}, CodeCommandType, ".commands.1.type"},
		{"unknown step type", "ransomware.json", func(t *testing.T, d doc) {
			_, s := d.step(t, "Rebuild from offline media")
			s["type"] = "checklist"
		}, CodeStepType, ".type"},
		{"workflow of the wrong type", "ransomware.json", func(t *testing.T, d doc) {
			d["workflow"] = []any{}
		}, CodeBadValue, "workflow"},
		{"step of the wrong JSON type", "ransomware.json", func(t *testing.T, d doc) {
			id, _ := d.step(t, "Rebuild from offline media")
			d.workflow()[id] = "action"
		}, CodeBadValue, "workflow."},
		{"wrong spec_version", "ransomware.json", func(t *testing.T, d doc) {
			d["spec_version"] = "cacao-1.0"
		}, CodeSpecVersion, "spec_version"},
		{"schema: bad timestamp", "ransomware.json", func(t *testing.T, d doc) {
			d["created"] = "yesterday"
		}, CodeSchema, "created"},
		{"modified before created", "ransomware.json", func(t *testing.T, d doc) {
			d["modified"] = "2020-01-01T00:00:00.000Z"
		}, CodeBadOrder, "modified"},
		{"TLP marking with another id", "ransomware.json", func(t *testing.T, d doc) {
			defs := d["data_marking_definitions"].(map[string]any)
			for id, m := range defs {
				m.(map[string]any)["tlpv2_level"] = "TLP:RED"
				_ = id
			}
		}, CodeMarking, "data_marking_definitions.marking-tlp--"},
		{"marking not defined", "ransomware.json", func(t *testing.T, d doc) {
			d["markings"] = []any{"marking-statement--66666666-6666-4666-8666-666666666666"}
		}, CodeReference, "markings.0"},
		{"parallel with one branch", "ransomware.json", func(t *testing.T, d doc) {
			_, s := d.step(t, "Notify in parallel")
			s["next_steps"] = s["next_steps"].([]any)[:1]
		}, CodeMissing, ".next_steps"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := load(t, c.file)
			c.break_(t, d)
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Check(b)
			if err == nil {
				t.Fatalf("accepted: %s", p.Name)
			}
			if p != nil {
				t.Error("a refused document came with a playbook")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not Errors: %v", err, err)
			}
			for _, e := range errs {
				if e.Code == c.code && strings.Contains(e.Field, c.field) {
					return
				}
			}
			t.Fatalf("want %s naming %q, got %v", c.code, c.field, listErrors(errs))
		})
	}
}

func TestInvalidJSON(t *testing.T) {
	v := validator(t)
	for name, in := range map[string]string{
		"truncated":  `{"type":"playbook","spec_version":"cacao-2.0",`,
		"array":      `[{"type":"playbook"}]`,
		"two values": `{"type":"playbook"} {}`,
		"empty":      ``,
		"null":       `null`,
	} {
		_, err := v.Check([]byte(in))
		var errs Errors
		if !errors.As(err, &errs) || errs[0].Code != CodeBadJSON {
			t.Errorf("%s: want %s, got %v", name, CodeBadJSON, err)
		}
	}
}

func TestTLPMarkingIDsAreSTIXs(t *testing.T) {
	for l := stix.TLPClear; l <= stix.TLPRed; l++ {
		want := strings.TrimPrefix(stix.TLPMarkingID(l), "marking-definition--")
		if got := TLPMarkingID(l); got != "marking-tlp--"+want {
			t.Errorf("%v: %s", l, got)
		}
	}
	if TLPMarkingID(stix.TLPAmber) != "marking-tlp--55d920b0-5e8b-4f79-9ee9-91f868d9b421" {
		t.Error("AMBER's id differs from the published TLP 2.0 AMBER marking")
	}
}

func listErrors(es Errors) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString("\n  " + string(e.Code) + " " + e.Error())
	}
	return b.String()
}

func firstKey(m any) string {
	for k := range m.(map[string]any) {
		return k
	}
	return ""
}

func firstEnd(d doc) string {
	for id, s := range d.workflow() {
		if s.(map[string]any)["type"] == "end" {
			return id
		}
	}
	return ""
}
