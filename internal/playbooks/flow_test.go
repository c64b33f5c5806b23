package playbooks

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"verbund/internal/cacao"
)

// fanout builds the shape that made the old layout quadratic: start →
// if_1 … if_k, each with on_true the same parallel step P and
// on_completion the next if (the last one's an end), P fanning out to
// groups parallel steps of m end steps each. Every if's branch reaches all
// groups × m ends.
func fanout(k, groups, m int) *cacao.Playbook {
	id := func(typ string, kind, i int) string {
		return fmt.Sprintf("%s--%08x-0000-4000-8000-%012x", typ, kind, i)
	}
	wf := map[string]*cacao.Step{}
	start, done, p := id("start", 0, 0), id("end", 0, 0), id("parallel", 0, 0)
	ifs := make([]string, k)
	for i := range ifs {
		ifs[i] = id("if-condition", 1, i)
	}
	wf[start] = &cacao.Step{Type: cacao.StepStart, OnCompletion: ifs[0]}
	wf[done] = &cacao.Step{Type: cacao.StepEnd}
	for i, x := range ifs {
		next := done
		if i+1 < k {
			next = ifs[i+1]
		}
		wf[x] = &cacao.Step{Type: cacao.StepIfCondition, Condition: "[x:y = 1]", OnTrue: p, OnCompletion: next}
	}
	par := &cacao.Step{Type: cacao.StepParallel}
	wf[p] = par
	for g := range groups {
		q := id("parallel", 2, g)
		par.NextSteps = append(par.NextSteps, q)
		qs := &cacao.Step{Type: cacao.StepParallel}
		wf[q] = qs
		for j := range m {
			e := id("end", 3+g, j)
			qs.NextSteps = append(qs.NextSteps, e)
			wf[e] = &cacao.Step{Type: cacao.StepEnd}
		}
	}
	return &cacao.Playbook{Type: "playbook", SpecVersion: cacao.SpecVersion, WorkflowStart: start, Workflow: wf}
}

func arrows(pb *cacao.Playbook) int {
	n := 0
	for _, s := range pb.Workflow {
		n += len(s.Next())
	}
	return n
}

// TestLayoutIsLinear: the layout of the fan-out shape adds at most one
// arrow per step and one per arrow (steps + arrows), where walking every
// branch to its ends added k × ends (here 4,000 × 4,000 = 16 million: the
// old code took seconds and gigabytes for this document). Every forward
// arrow still points down.
func TestLayoutIsLinear(t *testing.T) {
	for _, c := range []struct{ k, groups, m int }{{3, 2, 3}, {4000, 40, 100}} {
		pb := fanout(c.k, c.groups, c.m)
		order, back := walkOrder(pb)
		if len(order) != len(pb.Workflow) {
			t.Fatalf("walk reached %d of %d steps", len(order), len(pb.Workflow))
		}
		layer, added := layers(pb, order, back)
		if limit := len(pb.Workflow) + arrows(pb); added > limit {
			t.Errorf("k=%d: the layout added %d arrows for %d steps and %d arrows", c.k, added, len(pb.Workflow), arrows(pb))
		}
		// Every forward arrow goes down, and no row is past the steps.
		for id, s := range pb.Workflow {
			if layer[id] >= len(pb.Workflow) {
				t.Fatalf("k=%d: %s on row %d", c.k, id, layer[id])
			}
			for _, e := range s.Next() {
				if !back[id+"\x00"+e.To] && layer[e.To] <= layer[id] {
					t.Fatalf("k=%d: the arrow %s → %s goes from row %d to %d", c.k, id, e.To, layer[id], layer[e.To])
				}
			}
		}
	}
}

// TestLongChainWalks: a chain as long as a document could make walks
// without recursion (a recursive walk needed one stack frame per step).
func TestLongChainWalks(t *testing.T) {
	wf := map[string]*cacao.Step{}
	const n = 20000
	name := func(i int) string { return fmt.Sprintf("action--%08x-0000-4000-8000-000000000000", i) }
	for i := range n {
		wf[name(i)] = &cacao.Step{Type: cacao.StepAction, OnCompletion: name(i + 1)}
	}
	wf[name(n)] = &cacao.Step{Type: cacao.StepEnd}
	steps := Steps(&cacao.Playbook{WorkflowStart: name(0), Workflow: wf})
	if len(steps) != n+1 || steps[n].layer != n {
		t.Fatalf("%d steps, the last on row %d", len(steps), steps[len(steps)-1].layer)
	}
}

// TestImportRefusesTheFanOutBeyondTheLimits: the importer's checks
// refuse a workflow beyond cacao.MaxSteps, naming the limit; within the
// limits the adversarial shape is accepted and lays out linearly.
func TestImportRefusesTheFanOutBeyondTheLimits(t *testing.T) {
	v, err := cacao.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	big := fanout(2000, 20, 100)
	var errs cacao.Errors
	if err := v.Validate(big); !errors.As(err, &errs) || errs[0].Code != cacao.CodeLimit {
		t.Fatalf("a workflow of %d steps: %v", len(big.Workflow), err)
	}
	within := fanout(cacao.MaxSteps-3-5-500, 5, 100)
	if len(within.Workflow) != cacao.MaxSteps {
		t.Fatalf("%d steps", len(within.Workflow))
	}
	if errs := cacao.Limits(within); len(errs) > 0 {
		t.Fatalf("within the limits: %v", errs)
	}
	order, back := walkOrder(within)
	if _, added := layers(within, order, back); added > len(within.Workflow)+arrows(within) {
		t.Errorf("the layout added %d arrows", added)
	}
}

// BenchmarkStepsFanOut lays out the fan-out shape at the limits: 492 ifs
// sharing one branch of 500 ends (1,000 steps).
func BenchmarkStepsFanOut(b *testing.B) {
	pb := fanout(cacao.MaxSteps-3-5-500, 5, 100)
	for b.Loop() {
		Steps(pb)
	}
}

// TestLayoutOfAnyShape: on workflows of random shape (loops, shared
// branches, branches running into one another's on_completion, steps
// pointing at themselves) every step gets a row, every forward arrow
// points down and the added arrows stay within steps + arrows.
func TestLayoutOfAnyShape(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{cacao.StepAction, cacao.StepIfCondition, cacao.StepParallel, cacao.StepWhileCondition, cacao.StepSwitchCondition, cacao.StepEnd}
	for range 300 {
		n := 2 + rng.IntN(60)
		name := func(i int) string { return fmt.Sprintf("step-%d", i) }
		pick := func() string { return name(rng.IntN(n)) }
		wf := map[string]*cacao.Step{}
		for i := range n {
			s := &cacao.Step{Type: types[rng.IntN(len(types))]}
			switch s.Type {
			case cacao.StepIfCondition, cacao.StepWhileCondition:
				s.OnTrue, s.OnFalse = pick(), pick()
			case cacao.StepParallel:
				s.NextSteps = []string{pick(), pick(), pick()}
			case cacao.StepSwitchCondition:
				s.Cases = map[string]string{"a": pick(), "b": pick()}
			}
			if s.Type != cacao.StepEnd && rng.IntN(4) > 0 {
				s.OnCompletion = pick()
			}
			wf[name(i)] = s
		}
		pb := &cacao.Playbook{WorkflowStart: name(0), Workflow: wf}
		order, back := walkOrder(pb)
		if len(order) != n {
			t.Fatalf("the walk reached %d of %d steps", len(order), n)
		}
		layer, added := layers(pb, order, back)
		if added > n+arrows(pb) {
			t.Fatalf("added %d arrows for %d steps and %d arrows", added, n, arrows(pb))
		}
		for id, s := range wf {
			for _, e := range s.Next() {
				if !back[id+"\x00"+e.To] && layer[e.To] <= layer[id] {
					t.Fatalf("the arrow %s → %s goes from row %d to %d", id, e.To, layer[id], layer[e.To])
				}
			}
		}
	}
}

// crossings lists the arrows of a drawing that pass through a step they
// do not connect (the loops back left out: they go around the right).
func crossings(steps []Step) []string {
	g := layout(steps)
	var out []string
	inside := func(px, py float64, from, to string) string {
		for i := range steps {
			o := &steps[i]
			if o.ID == from || o.ID == to {
				continue
			}
			x, y := g.pos(o)
			if px > float64(x) && px < float64(x+nodeW) && py > float64(y) && py < float64(y+nodeH) {
				return o.ID
			}
		}
		return ""
	}
	for _, a := range g.arrows {
		if a.class == " flow-edge-back" {
			continue
		}
		var from string
		for i := range steps {
			for _, e := range steps[i].Next {
				if e == a.e {
					from = steps[i].ID
				}
			}
		}
		var pts [][2]float64
		if a.curve {
			p := a.pts
			for k := 0; k <= 200; k++ {
				t := float64(k) / 200
				u := 1 - t
				bx := u*u*u*float64(p[0].x) + 3*u*u*t*float64(p[1].x) + 3*u*t*t*float64(p[2].x) + t*t*t*float64(p[3].x)
				by := u*u*u*float64(p[0].y) + 3*u*u*t*float64(p[1].y) + 3*u*t*t*float64(p[2].y) + t*t*t*float64(p[3].y)
				pts = append(pts, [2]float64{bx, by})
			}
		} else {
			for j := 1; j < len(a.pts); j++ {
				for k := 0; k <= 100; k++ {
					t := float64(k) / 100
					pts = append(pts, [2]float64{float64(a.pts[j-1].x) + t*float64(a.pts[j].x-a.pts[j-1].x), float64(a.pts[j-1].y) + t*float64(a.pts[j].y-a.pts[j-1].y)})
				}
			}
		}
		for _, p := range pts {
			if o := inside(p[0], p[1], from, a.e.To); o != "" {
				out = append(out, fmt.Sprintf("%s → %s through %s", from, a.e.To, o))
				break
			}
		}
	}
	return out
}

// TestArrowsPassNoStep: the "weiter" arrow of a decision with a yes
// branch only (start → action → if (yes: action → end) → action → end)
// skips the branch's steps and must not run through them; nor may any
// arrow of a workflow of random shape.
func TestArrowsPassNoStep(t *testing.T) {
	wf := map[string]*cacao.Step{
		"start":  {Type: cacao.StepStart, OnCompletion: "a1"},
		"a1":     {Type: cacao.StepAction, OnCompletion: "if"},
		"if":     {Type: cacao.StepIfCondition, Condition: "[x:y = 1]", OnTrue: "a-yes", OnCompletion: "a-next"},
		"a-yes":  {Type: cacao.StepAction, OnCompletion: "e-yes"},
		"e-yes":  {Type: cacao.StepEnd},
		"a-next": {Type: cacao.StepAction, OnCompletion: "end"},
		"end":    {Type: cacao.StepEnd},
	}
	steps := Steps(&cacao.Playbook{WorkflowStart: "start", Workflow: wf})
	if c := crossings(steps); len(c) > 0 {
		t.Fatalf("arrows through steps: %v", c)
	}
	if svg := string((Flow{Type: func(s string) string { return s }, Edge: func(Edge) string { return "" }, Responsible: func(s string) string { return s }}).SVG(steps)); !strings.Contains(svg, "flow-edge-lane") {
		t.Errorf("the arrow past the yes branch is not in a lane: %s", svg)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	types := []string{cacao.StepAction, cacao.StepIfCondition, cacao.StepParallel, cacao.StepEnd}
	for range 300 {
		n := 2 + rng.IntN(40)
		name := func(i int) string { return fmt.Sprintf("step-%d", i) }
		pick := func() string { return name(rng.IntN(n)) }
		wf := map[string]*cacao.Step{}
		for i := range n {
			s := &cacao.Step{Type: types[rng.IntN(len(types))]}
			switch s.Type {
			case cacao.StepIfCondition:
				s.OnTrue, s.OnFalse = pick(), pick()
			case cacao.StepParallel:
				s.NextSteps = []string{pick(), pick()}
			}
			if s.Type != cacao.StepEnd && rng.IntN(4) > 0 {
				s.OnCompletion = pick()
			}
			wf[name(i)] = s
		}
		steps := Steps(&cacao.Playbook{WorkflowStart: name(0), Workflow: wf})
		if c := crossings(steps); len(c) > 0 {
			t.Fatalf("arrows through steps: %v", c)
		}
	}
}
