package stix

import (
	"strconv"
	"strings"
	"time"
)

// Pattern is a parsed STIX pattern. Its String form re-parses to a pattern
// with the same String form; parentheses are kept as written, so the
// structure the author chose survives.
type Pattern struct {
	Root ObservationExpr
}

func (p *Pattern) String() string {
	var b strings.Builder
	p.Root.write(&b)
	return b.String()
}

// LogicOp joins two expressions.
type LogicOp uint8

const (
	And LogicOp = iota + 1
	Or
	FollowedBy // observation expressions only
)

func (op LogicOp) String() string {
	switch op {
	case And:
		return "AND"
	case Or:
		return "OR"
	case FollowedBy:
		return "FOLLOWEDBY"
	}
	return "?"
}

// ObservationExpr is one of *Observation, *ObservationGroup,
// *ObservationBinary and *Qualified.
type ObservationExpr interface {
	write(b *strings.Builder)
	observation()
}

// Observation is an observation expression in square brackets.
type Observation struct {
	Expr ComparisonExpr
}

// ObservationGroup is an observation expression in parentheses.
type ObservationGroup struct {
	Expr ObservationExpr
}

// ObservationBinary joins two observation expressions with AND, OR or
// FOLLOWEDBY. Chains are left-associative: a AND b AND c is (a AND b) AND c.
type ObservationBinary struct {
	Op          LogicOp
	Left, Right ObservationExpr
}

// Qualified is an observation expression with one qualifier. Several
// qualifiers nest: the innermost was written first.
type Qualified struct {
	Expr      ObservationExpr
	Qualifier Qualifier
}

func (*Observation) observation()       {}
func (*ObservationGroup) observation()  {}
func (*ObservationBinary) observation() {}
func (*Qualified) observation()         {}

func (o *Observation) write(b *strings.Builder) {
	b.WriteByte('[')
	o.Expr.write(b)
	b.WriteByte(']')
}

func (g *ObservationGroup) write(b *strings.Builder) {
	b.WriteByte('(')
	g.Expr.write(b)
	b.WriteByte(')')
}

func (o *ObservationBinary) write(b *strings.Builder) {
	o.Left.write(b)
	b.WriteByte(' ')
	b.WriteString(o.Op.String())
	b.WriteByte(' ')
	o.Right.write(b)
}

func (q *Qualified) write(b *strings.Builder) {
	q.Expr.write(b)
	b.WriteByte(' ')
	q.Qualifier.write(b)
}

// QualifierKind names a qualifier.
type QualifierKind uint8

const (
	Within    QualifierKind = iota + 1 // WITHIN n SECONDS
	Repeats                            // REPEATS n TIMES
	StartStop                          // START t'…' STOP t'…'
)

// Qualifier restricts when or how often an observation must match.
type Qualifier struct {
	Kind QualifierKind
	// Value is the number of WITHIN (an int or float constant) or REPEATS
	// (an int constant).
	Value Constant
	// Start and Stop are START/STOP's timestamps.
	Start, Stop Constant
}

func (q Qualifier) write(b *strings.Builder) {
	switch q.Kind {
	case Within:
		b.WriteString("WITHIN ")
		q.Value.write(b)
		b.WriteString(" SECONDS")
	case Repeats:
		b.WriteString("REPEATS ")
		q.Value.write(b)
		b.WriteString(" TIMES")
	case StartStop:
		b.WriteString("START ")
		q.Start.write(b)
		b.WriteString(" STOP ")
		q.Stop.write(b)
	}
}

// ComparisonExpr is one of *Comparison, *ComparisonGroup and
// *ComparisonBinary.
type ComparisonExpr interface {
	write(b *strings.Builder)
	comparison()
}

// ComparisonGroup is a comparison expression in parentheses.
type ComparisonGroup struct {
	Expr ComparisonExpr
}

// ComparisonBinary joins two comparison expressions with AND or OR.
type ComparisonBinary struct {
	Op          LogicOp
	Left, Right ComparisonExpr
}

// CompOp is a comparison operator.
type CompOp uint8

const (
	OpEQ CompOp = iota + 1
	OpNEQ
	OpGT
	OpLT
	OpGE
	OpLE
	OpIn
	OpLike
	OpMatches
	OpIsSubset
	OpIsSuperset
	OpExists
)

var compOpNames = [...]string{
	OpEQ: "=", OpNEQ: "!=", OpGT: ">", OpLT: "<", OpGE: ">=", OpLE: "<=",
	OpIn: "IN", OpLike: "LIKE", OpMatches: "MATCHES", OpIsSubset: "ISSUBSET",
	OpIsSuperset: "ISSUPERSET", OpExists: "EXISTS",
}

func (op CompOp) String() string {
	if int(op) < len(compOpNames) {
		return compOpNames[op]
	}
	return "?"
}

// Comparison tests one property: Path Op Value, Path IN Set, or EXISTS Path.
type Comparison struct {
	Path    ObjectPath
	Negated bool // NOT before the operator
	Op      CompOp
	Value   Constant   // all operators but IN and EXISTS
	Set     []Constant // IN
}

func (*Comparison) comparison()       {}
func (*ComparisonGroup) comparison()  {}
func (*ComparisonBinary) comparison() {}

func (c *Comparison) write(b *strings.Builder) {
	if c.Op == OpExists {
		if c.Negated {
			b.WriteString("NOT ")
		}
		b.WriteString("EXISTS ")
		c.Path.write(b)
		return
	}
	c.Path.write(b)
	b.WriteByte(' ')
	if c.Negated {
		b.WriteString("NOT ")
	}
	b.WriteString(c.Op.String())
	b.WriteByte(' ')
	if c.Op == OpIn {
		b.WriteByte('(')
		for i, v := range c.Set {
			if i > 0 {
				b.WriteString(", ")
			}
			v.write(b)
		}
		b.WriteByte(')')
		return
	}
	c.Value.write(b)
}

func (g *ComparisonGroup) write(b *strings.Builder) {
	b.WriteByte('(')
	g.Expr.write(b)
	b.WriteByte(')')
}

func (c *ComparisonBinary) write(b *strings.Builder) {
	c.Left.write(b)
	b.WriteByte(' ')
	b.WriteString(c.Op.String())
	b.WriteByte(' ')
	c.Right.write(b)
}

// ObjectPath is objtype:step.step[n]…; the first step is always a key.
type ObjectPath struct {
	ObjectType string
	Steps      []PathStep
}

// PathStep is a property name or dictionary key, a list index, or [*].
type PathStep struct {
	Key   string // a property name or dictionary key; "" for index steps
	Index int64  // list index, when IsIndex
	// IsIndex marks [n] and [*] steps; Any marks [*].
	IsIndex, Any bool
}

func (p ObjectPath) String() string {
	var b strings.Builder
	p.write(&b)
	return b.String()
}

// Property is the path without its object type, as written in a pattern:
// hashes.'SHA-256', sections[*].entropy.
func (p ObjectPath) Property() string {
	var b strings.Builder
	p.writeSteps(&b)
	return b.String()
}

func (p ObjectPath) write(b *strings.Builder) {
	b.WriteString(p.ObjectType)
	b.WriteByte(':')
	p.writeSteps(b)
}

func (p ObjectPath) writeSteps(b *strings.Builder) {
	for i, s := range p.Steps {
		switch {
		case s.Any:
			b.WriteString("[*]")
		case s.IsIndex:
			b.WriteByte('[')
			b.WriteString(strconv.FormatInt(s.Index, 10))
			b.WriteByte(']')
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			writeKey(b, s.Key)
		}
	}
}

// writeKey writes a path key bare when the lexer would read it back as a
// plain identifier, and quoted otherwise (hyphens, keywords, true/false).
func writeKey(b *strings.Builder, k string) {
	if plainIdent(k) {
		b.WriteString(k)
		return
	}
	writeQuoted(b, k)
}

func plainIdent(k string) bool {
	if k == "" || !isIdentStart(k[0]) {
		return false
	}
	for i := 1; i < len(k); i++ {
		if !isIdentPart(k[i]) {
			return false
		}
	}
	if _, kw := keywords[k]; kw {
		return false
	}
	return k != "true" && k != "false"
}

func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
}

// ConstKind is the type of a constant.
type ConstKind uint8

const (
	ConstString ConstKind = iota + 1
	ConstInt
	ConstFloat
	ConstBool
	ConstTimestamp
	ConstHex
	ConstBinary
)

// Constant is a literal of a pattern. Text is its value as text: a string's
// content (unescaped), a number as written, "true"/"false", or what stands
// between the quotes of t'…', h'…' and b'…'. The typed fields hold the
// parsed value for the kinds that have one.
type Constant struct {
	Kind  ConstKind
	Text  string
	Int   int64     // ConstInt
	Float float64   // ConstFloat
	Bool  bool      // ConstBool
	Time  time.Time // ConstTimestamp
}

func (c Constant) String() string {
	var b strings.Builder
	c.write(&b)
	return b.String()
}

func (c Constant) write(b *strings.Builder) {
	switch c.Kind {
	case ConstString:
		writeQuoted(b, c.Text)
	case ConstTimestamp:
		b.WriteString("t'" + c.Text + "'")
	case ConstHex:
		b.WriteString("h'" + c.Text + "'")
	case ConstBinary:
		b.WriteString("b'" + c.Text + "'")
	default:
		b.WriteString(c.Text)
	}
}
