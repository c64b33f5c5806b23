package cacao

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestLimits: a workflow of more than MaxSteps steps, or a step listing
// more than MaxStepRefs branches, is refused with CodeLimit and a message
// naming the limit, before the schema and the rest run.
func TestLimits(t *testing.T) {
	v := validator(t)
	grow := func(t *testing.T, d doc, n int) {
		_, s := d.step(t, "Notify in parallel")
		branches := s["next_steps"].([]any)
		for i := range n {
			id := fmt.Sprintf("end--%08x-0000-4000-8000-000000000000", i)
			d.workflow()[id] = map[string]any{"type": "end"}
			branches = append(branches, id)
		}
		s["next_steps"] = branches
	}
	for _, c := range []struct {
		name  string
		grow  int
		field string
		limit int
	}{
		{"too many steps", MaxSteps, "workflow", MaxSteps},
		{"too many branches", MaxStepRefs, "workflow.parallel--", MaxStepRefs},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := load(t, "ransomware.json")
			grow(t, d, c.grow)
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Check(b)
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("accepted or not Errors: %v", err)
			}
			e := errs[0]
			if e.Code != CodeLimit || !strings.HasPrefix(e.Field, c.field) || !strings.Contains(e.Message, fmt.Sprintf("at most %d", c.limit)) {
				t.Fatalf("want %s at %s naming %d, got %v", CodeLimit, c.field, c.limit, listErrors(errs))
			}
		})
	}
	// At the limits the document passes.
	d := load(t, "ransomware.json")
	_, s := d.step(t, "Notify in parallel")
	grow(t, d, MaxStepRefs-len(s["next_steps"].([]any)))
	b, _ := json.Marshal(d)
	if _, err := v.Check(b); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
}

// TestDeepNesting: a 4 MiB document of nested arrays or objects (in an
// extension property, which the schema lets through) is refused as bad
// JSON by the decoder's depth limit (10,000), not walked to its bottom;
// one nested as deep as the decoder allows is checked without trouble.
func TestDeepNesting(t *testing.T) {
	v := validator(t)
	const size = 4 << 20
	deep := func(open, close string, depth int) []byte {
		return []byte(`{"type":"playbook","spec_version":"cacao-2.0","x_deep":` +
			strings.Repeat(open, depth) + `1` + strings.Repeat(close, depth) + `}`)
	}
	for _, c := range [][2]string{{`[`, `]`}, {`{"a":`, `}`}} {
		doc := deep(c[0], c[1], size/(len(c[0])+len(c[1])))
		_, err := v.Check(doc)
		var errs Errors
		if !errors.As(err, &errs) || errs[0].Code != CodeBadJSON || !strings.Contains(err.Error(), "depth") {
			t.Fatalf("%d bytes of %s: %v", len(doc), c[0], err)
		}
		if _, err := v.Check(deep(c[0], c[1], 9000)); err == nil || strings.Contains(err.Error(), "depth") {
			t.Fatalf("9,000 deep: %v", err)
		}
	}
}
