package bench

import (
	"testing"

	"verbund/internal/cacao"
)

// TestSyntheticPlaybooksAreValid: the benchmark imports valid playbooks
// (a refused one would make it measure the refusal path).
func TestSyntheticPlaybooksAreValid(t *testing.T) {
	v, err := cacao.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, i := range []int{0, 1, 999, 123456} {
		p, err := v.Check(SyntheticPlaybook(i))
		if err != nil {
			t.Fatalf("playbook %d: %v", i, err)
		}
		if ids[p.ID] || len(p.Workflow) != 14 {
			t.Fatalf("playbook %d: id %s again or %d steps", i, p.ID, len(p.Workflow))
		}
		ids[p.ID] = true
	}
}
