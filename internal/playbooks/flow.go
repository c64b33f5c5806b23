package playbooks

import (
	"fmt"
	"html/template"
	"strings"

	"verbund/internal/cacao"
)

// Step is one workflow step as the pages and the API show it, in the
// order a reader follows the flow (from the start, depth first, each
// step's successors in the order of cacao.Step.Next).
type Step struct {
	N           int       `json:"n"` // 1-based place in that order
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Condition   string    `json:"condition,omitempty"`
	Agent       string    `json:"agent,omitempty"`      // the responsible agent's name
	AgentType   string    `json:"agent_type,omitempty"` // organization, individual, group, …
	Manual      bool      `json:"manual"`
	Commands    []Command `json:"commands,omitempty"`
	Next        []Edge    `json:"next"`

	layer, col int
}

// Command is one command of an action step.
type Command struct {
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	Text        string `json:"command,omitempty"`
}

// TypeKey is the catalogue key of the step's type.
func (s Step) TypeKey() string { return TypeKey(s.Type) }

// TypeKey is the catalogue key of a step type (playbooks.step.if_condition).
func TypeKey(typ string) string { return "playbooks.step." + strings.ReplaceAll(typ, "-", "_") }

// Edge is an arrow to the next step: Kind is on_true, on_false,
// next_steps, case:<value>, on_success, on_failure or on_completion.
type Edge struct {
	Kind string `json:"kind"`
	To   string `json:"to"`
	N    int    `json:"n"` // the next step's place
}

// Label is the catalogue key of an edge's kind, "" for the plain
// on_completion and next_steps arrows.
func (e Edge) Label() string {
	switch e.Kind {
	case "on_true", "on_false", "on_success", "on_failure":
		return "playbooks.edge." + e.Kind
	}
	return ""
}

// Case is a switch case's value ("" for other kinds).
func (e Edge) Case() string {
	if c, ok := strings.CutPrefix(e.Kind, "case:"); ok {
		return c
	}
	return ""
}

// Steps lists a playbook's steps in reading order with their layout
// (layer: longest path from the start, ignoring the arrows that go back in
// a loop; column: order of discovery within the layer).
func Steps(pb *cacao.Playbook) []Step {
	order, back := walkOrder(pb)
	place := map[string]int{}
	for i, id := range order {
		place[id] = i + 1
	}
	steps := make([]Step, len(order))
	for i, id := range order {
		st := pb.Workflow[id]
		x := Step{N: i + 1, ID: id, Type: st.Type, Name: st.Name, Description: st.Description, Condition: st.Condition, Manual: st.Manual()}
		if st.Type == cacao.StepSwitchCondition {
			x.Condition = st.Switch
		}
		if ag := pb.Agents[st.Agent]; ag != nil {
			x.Agent, x.AgentType = ag.Name, ag.Type
		}
		for _, c := range st.Commands {
			x.Commands = append(x.Commands, Command{Type: c.Type, Description: c.Description, Text: c.Command})
		}
		x.Next = []Edge{}
		for _, e := range st.Next() {
			x.Next = append(x.Next, Edge{Kind: e.Kind, To: e.To, N: place[e.To]})
		}
		steps[i] = x
	}
	layer, _ := layers(pb, order, back)
	cols := map[int]int{}
	for i := range steps {
		steps[i].layer = layer[steps[i].ID]
		steps[i].col = cols[steps[i].layer]
		cols[steps[i].layer]++
	}
	return steps
}

// layers places each step on a row: the longest path from the start over
// the forward arrows (the arrows that close a loop left out), where a
// decision's or a parallel step's on_completion also waits for the ends of
// its branches, so that what follows a branching is drawn below all of
// its branches.
//
// The work is linear in steps and arrows, whatever the shape. The
// branchings are taken innermost first (reverse topological order), and a
// step belongs to the first branching whose branches reach it. Each
// branching b gets a join, a row-less point that its branches' dead ends
// lead to and that leads to b's on_completion. A later (outer) branching
// whose walk reaches a step b already took does not walk it again: its
// on_completion waits for b's join instead. So each step is walked once,
// and the arrows added are at most one per step and one per arrow (a
// document that shares one branch among many branchings must not cost
// branchings × ends, as enumerating every branch's ends did).
//
// It also returns the number of arrows it added (the test's measure of
// its work).
func layers(pb *cacao.Playbook, order []string, back map[string]bool) (map[string]int, int) {
	v := len(order)
	index := make(map[string]int, v)
	for i, id := range order {
		index[id] = i
	}
	// Nodes 0..v-1 are the steps, v+b the join of the branching at b.
	succ := make([][]int, 2*v)
	for i, id := range order {
		for _, e := range pb.Workflow[id].Next() {
			if j, ok := index[e.To]; ok && !back[id+"\x00"+e.To] {
				succ[i] = append(succ[i], j)
			}
		}
	}
	// owner[n] is 1 + the index of the branching whose walk took step n,
	// 0 while none has; linked[o] is 1 + the walk that last made its
	// on_completion wait for o's join (so each pair is linked once).
	owner := make([]int, v)
	linked := make([]int, v)
	extra := make([][]int, 2*v)
	var stack []int
	for b := v - 1; b >= 0; b-- {
		st := pb.Workflow[order[b]]
		a, ok := index[st.OnCompletion]
		if st.OnCompletion == "" || !ok {
			continue
		}
		switch st.Type {
		case cacao.StepParallel, cacao.StepIfCondition, cacao.StepSwitchCondition, cacao.StepWhileCondition:
		default:
			continue
		}
		me := b + 1
		extra[v+b] = append(extra[v+b], a)
		take := func(n int) {
			switch o := owner[n]; {
			case n == a || n == b || o == me:
			case o != 0:
				// Inside a branching walked before: wait for its join.
				if linked[o-1] != me {
					linked[o-1] = me
					extra[v+o-1] = append(extra[v+o-1], a)
				}
			default:
				owner[n] = me
				stack = append(stack, n)
			}
		}
		for _, e := range st.Next() {
			if n, ok := index[e.To]; ok && e.Kind != "on_completion" {
				take(n)
			}
		}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if len(succ[n]) == 0 {
				extra[n] = append(extra[n], v+b)
			}
			for _, m := range succ[n] {
				take(m)
			}
		}
	}
	added := 0
	for n, to := range extra {
		succ[n] = append(succ[n], to...)
		added += len(to)
	}
	row := longest(succ, v)
	layer := make(map[string]int, v)
	for i, id := range order {
		layer[id] = row[i]
	}
	return layer, added
}

// longest gives each node the longest path to it, in Kahn's topological
// order: an arrow into a join (a node from v on) adds no row, every other
// arrow one. The added arrows (from or to a join) can close a cycle, when
// branches run into one another's on_completion; the nodes left in one
// then drop the added arrows among themselves and are placed by the
// workflow's own arrows, which never form one (the loops' arrows back are
// left out). So every forward arrow points down.
func longest(succ [][]int, v int) []int {
	in := make([]int, len(succ))
	for _, ms := range succ {
		for _, m := range ms {
			in[m]++
		}
	}
	var queue []int
	for i := range succ {
		if in[i] == 0 {
			queue = append(queue, i)
		}
	}
	row := make([]int, len(succ))
	placed := make([]bool, len(succ))
	dropped := make([]bool, len(succ)) // left in a cycle: its added arrows are dropped
	drain := func() {
		for len(queue) > 0 {
			n := queue[0]
			queue = queue[1:]
			placed[n] = true
			for _, m := range succ[n] {
				if dropped[n] && dropped[m] && (n >= v || m >= v) {
					continue
				}
				step := 1
				if m >= v {
					step = 0
				}
				row[m] = max(row[m], row[n]+step)
				if in[m]--; in[m] == 0 {
					queue = append(queue, m)
				}
			}
		}
	}
	drain()
	var left []int
	for n := range succ {
		if !placed[n] {
			dropped[n] = true
			left = append(left, n)
		}
	}
	for _, n := range left {
		for _, m := range succ[n] {
			if (n >= v || m >= v) && dropped[m] {
				in[m]--
			}
		}
	}
	for _, n := range left {
		if in[n] == 0 {
			queue = append(queue, n)
		}
	}
	drain()
	return row
}

// walkOrder visits the workflow depth first from the start (then the
// exception handler, then anything left) and returns the steps in a
// topological order of the forward arrows (reverse post-order) and the
// arrows that close a loop. The walk keeps its own stack: a chain of
// steps as long as the document allows must not deepen the goroutine's.
func walkOrder(pb *cacao.Playbook) ([]string, map[string]bool) {
	const (
		unseen = iota
		open
		done
	)
	type frame struct {
		id   string
		next []cacao.Edge
		i    int // the successor to look at next, counting down
	}
	state := make(map[string]int, len(pb.Workflow))
	back := map[string]bool{}
	post := make([]string, 0, len(pb.Workflow))
	var stack []frame
	push := func(id string) {
		state[id] = open
		next := pb.Workflow[id].Next()
		stack = append(stack, frame{id: id, next: next, i: len(next) - 1})
	}
	roots := []string{pb.WorkflowStart, pb.WorkflowException}
	roots = append(roots, sortedStepIDs(pb)...)
	for _, r := range roots {
		if pb.Workflow[r] == nil || state[r] != unseen {
			continue
		}
		push(r)
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			// Successors in reverse, so that the reverse post-order reads
			// a decision's true branch before its false branch before
			// what follows it.
			if f.i < 0 {
				state[f.id] = done
				post = append(post, f.id)
				stack = stack[:len(stack)-1]
				continue
			}
			e := f.next[f.i]
			f.i--
			if pb.Workflow[e.To] == nil {
				continue
			}
			switch state[e.To] {
			case unseen:
				push(e.To)
			case open:
				back[f.id+"\x00"+e.To] = true
			}
		}
	}
	order := make([]string, len(post))
	for i, id := range post {
		order[len(post)-1-i] = id
	}
	return order, back
}

// Flow is the SVG of a playbook's workflow with its texts: Title and Desc
// (the SVG's accessible name and description) and, per step type, the
// words that name a step for a screen reader.
type Flow struct {
	Title, Desc string
	// Type names a step type (playbooks.step.<type>); Edge names an
	// edge kind (the catalogue's text of Edge.Label, or "").
	Type func(string) string
	Edge func(Edge) string
	// Responsible is "responsible: {agent}" for a step's aria label.
	Responsible func(string) string
}

// MaxDrawn is the most steps the page draws as a flow. Beyond it the
// drawing would be too wide and tall to follow (and large to send): the
// page shows the step list alone, with a note. Playbooks in practice have
// tens of steps.
const MaxDrawn = 200

// Drawn reports whether the page draws these steps as a flow.
func Drawn(steps []Step) bool { return len(steps) <= MaxDrawn }

// Geometry of the drawing, in SVG user units.
const (
	nodeW, nodeH = 190, 54
	gapX, gapY   = 40, 46
	margin       = 24
)

// SVG draws the steps top to bottom: start and end as rounded pills,
// actions as boxes, decisions (if, while, switch) as diamonds, parallel
// steps as bars, each a link to its entry in the step list (#step-N) and
// labelled with its number, type, name and responsible agent; arrows
// carry their branch's name (yes/no, a case, success/failure). The steps
// are links for the pointer only (tabindex -1): the keyboard's way
// through the flow is the step list beside it, which names the same steps
// in the same order.
func (f Flow) SVG(steps []Step) template.HTML {
	g := layout(steps)
	pos, w, h := g.pos, g.w, g.h
	var b strings.Builder
	esc := template.HTMLEscapeString
	fmt.Fprintf(&b, `<svg class="playbook-flow" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="group" aria-labelledby="flow-title" aria-describedby="flow-desc" font-family="system-ui, sans-serif">`, w, h, w, h)
	fmt.Fprintf(&b, `<title id="flow-title">%s</title><desc id="flow-desc">%s</desc>`, esc(f.Title), esc(f.Desc))
	b.WriteString(`<defs><marker id="flow-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555f6d"/></marker></defs>`)
	// Arrows first, so that the steps are drawn over them.
	b.WriteString(`<g class="flow-edges" aria-hidden="true" fill="none" stroke="#555f6d" stroke-width="1.5">`)
	for _, a := range g.arrows {
		cls, dash := "flow-edge"+a.class, ""
		if a.e.Kind == "on_false" || a.e.Kind == "on_failure" {
			cls, dash = cls+" flow-edge-alt", ` stroke-dasharray="5 4"`
		}
		fmt.Fprintf(&b, `<path class="%s"%s d="%s" marker-end="url(#flow-arrow)"/>`, cls, dash, a.d())
		if label := f.Edge(a.e); label != "" {
			fmt.Fprintf(&b, `<text class="flow-edge-label" x="%d" y="%d" text-anchor="middle" fill="#1f2933" stroke="#ffffff" stroke-width="3" paint-order="stroke" font-size="11">%s</text>`, a.lx, a.ly, esc(clip(label, 18)))
		}
	}
	b.WriteString(`</g><g class="flow-steps" role="list" font-size="12">`)
	for i := range steps {
		s := &steps[i]
		x, y := pos(s)
		name := s.Name
		if name == "" {
			name = f.Type(s.Type)
		}
		label := fmt.Sprintf("%d. %s: %s", s.N, f.Type(s.Type), name)
		if s.Agent != "" {
			label += ", " + f.Responsible(s.Agent)
		}
		fmt.Fprintf(&b, `<a href="#step-%d" tabindex="-1" class="flow-node flow-%s" role="listitem" aria-label="%s" data-step="%d"><title>%s</title>`, s.N, esc(s.Type), esc(label), s.N, esc(label))
		cx, cy := x+nodeW/2, y+nodeH/2
		// Presentation attributes, not style: the pages' CSP allows no
		// inline styles.
		fill, stroke := "#ffffff", "#3e4c59"
		switch s.Type {
		case cacao.StepStart, cacao.StepEnd:
			fill, stroke = "#e3f4e8", "#2f6f44"
		case cacao.StepIfCondition, cacao.StepWhileCondition, cacao.StepSwitchCondition:
			fill, stroke = "#fff4d6", "#8a5a00"
		case cacao.StepParallel:
			fill, stroke = "#e4ecf7", "#2c4f80"
		}
		fmt.Fprintf(&b, `<g fill="%s" stroke="%s" stroke-width="1.5">`, fill, stroke)
		switch s.Type {
		case cacao.StepStart, cacao.StepEnd:
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="%d"/>`, x+10, y+8, nodeW-20, nodeH-16, (nodeH-16)/2)
		case cacao.StepIfCondition, cacao.StepWhileCondition, cacao.StepSwitchCondition:
			fmt.Fprintf(&b, `<polygon points="%d,%d %d,%d %d,%d %d,%d"/>`, cx, y, x+nodeW, cy, cx, y+nodeH, x, cy)
		case cacao.StepParallel:
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="4"/>`, x, y+12, nodeW, nodeH-24)
		default:
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="6"/>`, x, y, nodeW, nodeH)
		}
		b.WriteString(`</g>`)
		text := clip(fmt.Sprintf("%d. %s", s.N, name), 26)
		if s.Agent != "" && s.Type == cacao.StepAction {
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#1f2933">%s</text>`, cx, cy-4, esc(text))
			fmt.Fprintf(&b, `<text class="flow-agent" x="%d" y="%d" text-anchor="middle" fill="#52606d" font-size="11">%s</text>`, cx, cy+13, esc(clip(s.Agent, 28)))
		} else {
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#1f2933">%s</text>`, cx, cy+5, esc(clip(text, 22)))
		}
		b.WriteString(`</a>`)
	}
	b.WriteString(`</g></svg>`)
	return template.HTML(b.String()) // #nosec G203 -- every text is escaped above
}

// point is a place in the drawing.
type point struct{ x, y int }

// arrow is one drawn edge: a cubic curve (curve true: from, two control
// points, to) or a polyline through pts, and its label's place.
type arrow struct {
	e      Edge
	class  string
	curve  bool
	pts    []point
	lx, ly int
}

func (a arrow) d() string {
	var b strings.Builder
	fmt.Fprintf(&b, "M%d,%d", a.pts[0].x, a.pts[0].y)
	if a.curve {
		fmt.Fprintf(&b, " C%d,%d %d,%d %d,%d", a.pts[1].x, a.pts[1].y, a.pts[2].x, a.pts[2].y, a.pts[3].x, a.pts[3].y)
		return b.String()
	}
	for _, p := range a.pts[1:] {
		fmt.Fprintf(&b, " L%d,%d", p.x, p.y)
	}
	return b.String()
}

// geometry is the drawing's layout: where each step is, its size and the
// arrows.
type geometry struct {
	pos    func(*Step) (x, y int)
	w, h   int
	arrows []arrow
}

// layout places the steps (each layer centred) and routes the arrows. An
// arrow to the next layer is a curve; one that skips layers is a curve if
// no step lies in its way, else it runs in a lane beside the steps it
// passes (right of every step of the layers it spans, each such arrow in
// its own lane, 4 apart), so that it never crosses a step it does not connect:
// "3 → 6" must not read as "5 → 6". A loop back goes around the right of
// both steps.
func layout(steps []Step) geometry {
	byID := map[string]*Step{}
	layers, width := 0, 0
	for i := range steps {
		byID[steps[i].ID] = &steps[i]
		layers = max(layers, steps[i].layer+1)
		width = max(width, steps[i].col+1)
	}
	w := 2*margin + width*nodeW + (width-1)*gapX
	h := 2*margin + layers*nodeH + (layers-1)*gapY
	if len(steps) == 0 {
		w, h = 2*margin+nodeW, 2*margin+nodeH
	}
	perLayer := map[int]int{}
	byLayer := map[int][]*Step{}
	for i := range steps {
		perLayer[steps[i].layer]++
		byLayer[steps[i].layer] = append(byLayer[steps[i].layer], &steps[i])
	}
	pos := func(s *Step) (x, y int) {
		n := perLayer[s.layer]
		rowW := n*nodeW + (n-1)*gapX
		x0 := (w - rowW) / 2
		return x0 + s.col*(nodeW+gapX), margin + s.layer*(nodeH+gapY)
	}
	g := geometry{pos: pos, w: w, h: h}
	lanes := 0
	extra := 0
	for i := range steps {
		s := &steps[i]
		x1, y1 := pos(s)
		for _, e := range s.Next {
			t := byID[e.To]
			if t == nil {
				continue
			}
			x2, y2 := pos(t)
			sx, sy := x1+nodeW/2, y1+nodeH
			tx, ty := x2+nodeW/2, y2
			switch {
			case ty > sy && !blocked(byLayer, pos, s, t):
				g.arrows = append(g.arrows, arrow{e: e, curve: true,
					pts: []point{{sx, sy}, {sx, sy + gapY/2}, {tx, ty - gapY/2}, {tx, ty}}, lx: (sx + tx) / 2, ly: (sy + ty) / 2})
			case ty > sy:
				// Down into the gap below s, right to a lane beside every
				// step of the layers between, down to the gap above t and
				// into t: the gaps and the lane hold no step.
				lane := 0
				for l := s.layer + 1; l < t.layer; l++ {
					for _, o := range byLayer[l] {
						ox, _ := pos(o)
						lane = max(lane, ox+nodeW)
					}
				}
				lanes++
				k := (lanes - 1) % 4
				lane = max(lane, sx, tx) + gapX/2 + k*6
				extra = max(extra, lane+margin-w)
				fy, gy := sy+gapY/4+k*4, ty-gapY/4-k*4
				g.arrows = append(g.arrows, arrow{e: e, class: " flow-edge-lane",
					pts: []point{{sx, sy}, {sx, fy}, {lane, fy}, {lane, gy}, {tx, gy}, {tx, ty}}, lx: lane, ly: (fy + gy) / 2})
			default:
				rx := max(x1, x2) + nodeW + gapX/2
				g.arrows = append(g.arrows, arrow{e: e, class: " flow-edge-back", curve: true,
					pts: []point{{x1 + nodeW, y1 + nodeH/2}, {rx, y1 + nodeH/2}, {rx, y2 + nodeH/2}, {x2 + nodeW, y2 + nodeH/2}}, lx: rx, ly: (y1+y2)/2 + nodeH/2})
				extra = max(extra, rx+margin-w)
			}
		}
	}
	g.w += extra
	return g
}

// blocked reports whether a step of a layer between s's and t's lies
// within the columns the curve from s to t sweeps.
func blocked(byLayer map[int][]*Step, pos func(*Step) (int, int), s, t *Step) bool {
	x1, _ := pos(s)
	x2, _ := pos(t)
	lo, hi := min(x1, x2)+nodeW/2, max(x1, x2)+nodeW/2
	for l := s.layer + 1; l < t.layer; l++ {
		for _, o := range byLayer[l] {
			ox, _ := pos(o)
			if ox-gapX/2 <= hi && ox+nodeW+gapX/2 >= lo {
				return true
			}
		}
	}
	return false
}

// clip shortens a text for a box (the full text is in the step's title
// and the step list).
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
