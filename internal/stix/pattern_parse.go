package stix

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxPatternDepth bounds the nesting of brackets and parentheses, so a
// hostile pattern cannot exhaust the stack of the recursive descent.
const MaxPatternDepth = 100

// ParsePattern parses a STIX 2.1 pattern (pattern_type "stix"). Beyond the
// grammar (STIXPattern.g4) it rejects what the specification forbids and
// the grammar lets through, as the OASIS validator does:
//   - a qualifier twice on the same expression (WITHIN … WITHIN …),
//   - WITHIN 0 SECONDS and REPEATS 0 TIMES (both must be positive),
//   - START not before STOP,
//   - a hash of a known algorithm with the wrong length or non-hex digits
//     (file:hashes.'SHA-256' = 'f00').
//
// The OASIS validator lets a duplicate qualifier through when the expression
// is in parentheses; ParsePattern does not, because the duplicate is just
// as meaningless there.
func ParsePattern(src string) (*Pattern, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if p.peek().kind == tEOF {
		return nil, lexError(0, "empty pattern")
	}
	root, err := p.observationExprs()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, "AND, OR, FOLLOWEDBY, a qualifier or the end")
	}
	return &Pattern{Root: root}, nil
}

type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) accept(k tokKind) bool {
	if p.peek().kind == k {
		p.i++
		return true
	}
	return false
}

func (p *parser) expect(k tokKind, what string) (token, error) {
	t := p.next()
	if t.kind != k {
		return t, p.unexpected(t, what)
	}
	return t, nil
}

func (p *parser) unexpected(t token, want string) error {
	got := t.kind.String()
	if t.kind != tEOF {
		got = fmt.Sprintf("%q", t.text)
	}
	return lexError(t.pos, "expected %s, found %s", want, got)
}

func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > MaxPatternDepth {
		return lexError(t.pos, "nested deeper than %d levels", MaxPatternDepth)
	}
	return nil
}

// observationExprs: FOLLOWEDBY binds loosest, then OR, then AND.
func (p *parser) observationExprs() (ObservationExpr, error) {
	return p.obsBinary(FollowedBy)
}

func (p *parser) obsBinary(level LogicOp) (ObservationExpr, error) {
	operand := func() (ObservationExpr, error) {
		switch level {
		case FollowedBy:
			return p.obsBinary(Or)
		case Or:
			return p.obsBinary(And)
		}
		return p.obsQualified()
	}
	tk := tAND
	switch level {
	case FollowedBy:
		tk = tFOLLOWEDBY
	case Or:
		tk = tOR
	}
	left, err := operand()
	if err != nil {
		return nil, err
	}
	for p.accept(tk) {
		right, err := operand()
		if err != nil {
			return nil, err
		}
		left = &ObservationBinary{Op: level, Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) obsQualified() (ObservationExpr, error) {
	var expr ObservationExpr
	t := p.next()
	switch t.kind {
	case tLBrack:
		if err := p.enter(t); err != nil {
			return nil, err
		}
		c, err := p.comparisonExpr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRBrack, "']' or AND/OR"); err != nil {
			return nil, err
		}
		p.depth--
		expr = &Observation{Expr: c}
	case tLParen:
		if err := p.enter(t); err != nil {
			return nil, err
		}
		inner, err := p.observationExprs()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, "')' or AND/OR/FOLLOWEDBY"); err != nil {
			return nil, err
		}
		p.depth--
		expr = &ObservationGroup{Expr: inner}
	default:
		return nil, p.unexpected(t, "'[' or '('")
	}
	var seen [StartStop + 1]bool
	for {
		t := p.peek()
		var q Qualifier
		var err error
		switch t.kind {
		case tWITHIN:
			q, err = p.within()
		case tREPEATS:
			q, err = p.repeats()
		case tSTART:
			q, err = p.startStop()
		case tSTOP:
			return nil, lexError(t.pos, "STOP without START")
		default:
			return expr, nil
		}
		if err != nil {
			return nil, err
		}
		if seen[q.Kind] {
			return nil, lexError(t.pos, "%s qualifier given twice for one expression", t.text)
		}
		seen[q.Kind] = true
		expr = &Qualified{Expr: expr, Qualifier: q}
	}
}

func (p *parser) within() (Qualifier, error) {
	p.next()
	t := p.next()
	var c Constant
	switch t.kind {
	case tInt:
		n, err := parseInt(t)
		if err != nil {
			return Qualifier{}, err
		}
		c = Constant{Kind: ConstInt, Text: t.text, Int: n}
		if n == 0 {
			return Qualifier{}, lexError(t.pos, "WITHIN needs a positive number of seconds")
		}
	case tFloat:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return Qualifier{}, lexError(t.pos, "bad number %q", t.text)
		}
		if f == 0 {
			return Qualifier{}, lexError(t.pos, "WITHIN needs a positive number of seconds")
		}
		c = Constant{Kind: ConstFloat, Text: t.text, Float: f}
	default:
		return Qualifier{}, p.unexpected(t, "a positive number after WITHIN")
	}
	if _, err := p.expect(tSECONDS, "SECONDS"); err != nil {
		return Qualifier{}, err
	}
	return Qualifier{Kind: Within, Value: c}, nil
}

func (p *parser) repeats() (Qualifier, error) {
	p.next()
	t := p.next()
	if t.kind != tInt {
		return Qualifier{}, p.unexpected(t, "a positive integer after REPEATS")
	}
	n, err := parseInt(t)
	if err != nil {
		return Qualifier{}, err
	}
	if n == 0 {
		return Qualifier{}, lexError(t.pos, "REPEATS needs a positive count")
	}
	if _, err := p.expect(tTIMES, "TIMES"); err != nil {
		return Qualifier{}, err
	}
	return Qualifier{Kind: Repeats, Value: Constant{Kind: ConstInt, Text: t.text, Int: n}}, nil
}

func (p *parser) startStop() (Qualifier, error) {
	p.next()
	start, err := p.expect(tTimestamp, "a timestamp t'…' after START")
	if err != nil {
		return Qualifier{}, err
	}
	if _, err := p.expect(tSTOP, "STOP"); err != nil {
		return Qualifier{}, err
	}
	stop, err := p.expect(tTimestamp, "a timestamp t'…' after STOP")
	if err != nil {
		return Qualifier{}, err
	}
	q := Qualifier{Kind: StartStop, Start: timestampConst(start), Stop: timestampConst(stop)}
	if !q.Stop.Time.After(q.Start.Time) {
		return Qualifier{}, lexError(stop.pos, "STOP must be later than START")
	}
	return q, nil
}

func timestampConst(t token) Constant {
	check := t.val
	if check[17:19] == "60" { // a leap second, as the grammar allows
		check = check[:17] + "59" + check[19:]
	}
	tm, _ := time.Parse(time.RFC3339Nano, check) // the lexer checked it
	return Constant{Kind: ConstTimestamp, Text: t.val, Time: tm}
}

func parseInt(t token) (int64, error) {
	n, err := strconv.ParseInt(t.text, 10, 64)
	if err != nil {
		return 0, lexError(t.pos, "integer %s out of range", t.text)
	}
	return n, nil
}

// comparisonExpr: OR binds looser than AND.
func (p *parser) comparisonExpr() (ComparisonExpr, error) {
	left, err := p.comparisonAnd()
	if err != nil {
		return nil, err
	}
	for p.accept(tOR) {
		right, err := p.comparisonAnd()
		if err != nil {
			return nil, err
		}
		left = &ComparisonBinary{Op: Or, Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) comparisonAnd() (ComparisonExpr, error) {
	left, err := p.propTest()
	if err != nil {
		return nil, err
	}
	for p.accept(tAND) {
		right, err := p.propTest()
		if err != nil {
			return nil, err
		}
		left = &ComparisonBinary{Op: And, Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) propTest() (ComparisonExpr, error) {
	t := p.peek()
	switch t.kind {
	case tLParen:
		p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		inner, err := p.comparisonExpr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, "')' or AND/OR"); err != nil {
			return nil, err
		}
		p.depth--
		return &ComparisonGroup{Expr: inner}, nil
	case tNOT, tEXISTS:
		neg := p.accept(tNOT)
		if _, err := p.expect(tEXISTS, "EXISTS after NOT"); err != nil {
			return nil, err
		}
		path, err := p.objectPath()
		if err != nil {
			return nil, err
		}
		return &Comparison{Path: path, Negated: neg, Op: OpExists}, nil
	}
	path, err := p.objectPath()
	if err != nil {
		return nil, err
	}
	c := &Comparison{Path: path, Negated: p.accept(tNOT)}
	op := p.next()
	switch op.kind {
	case tEQ, tNEQ:
		c.Op = tokOps[op.kind]
		c.Value, err = p.constant(true)
	case tGT, tLT, tGE, tLE:
		c.Op = tokOps[op.kind]
		c.Value, err = p.constant(false)
	case tIN:
		c.Op = OpIn
		c.Set, err = p.set()
	case tLIKE, tMATCHES, tISSUBSET, tISSUPERSET:
		c.Op = tokOps[op.kind]
		var s token
		s, err = p.expect(tString, "a string after "+op.text)
		c.Value = Constant{Kind: ConstString, Text: s.val}
	default:
		return nil, p.unexpected(op, "a comparison operator")
	}
	if err != nil {
		return nil, err
	}
	if err := checkHash(c, op.pos); err != nil {
		return nil, err
	}
	return c, nil
}

var tokOps = [...]CompOp{
	tEQ: OpEQ, tNEQ: OpNEQ, tGT: OpGT, tLT: OpLT, tGE: OpGE, tLE: OpLE,
	tLIKE: OpLike, tMATCHES: OpMatches, tISSUBSET: OpIsSubset, tISSUPERSET: OpIsSuperset,
}

func (p *parser) set() ([]Constant, error) {
	if _, err := p.expect(tLParen, "'(' after IN"); err != nil {
		return nil, err
	}
	set := []Constant{}
	if p.accept(tRParen) {
		return set, nil
	}
	for {
		c, err := p.constant(true)
		if err != nil {
			return nil, err
		}
		set = append(set, c)
		if p.accept(tRParen) {
			return set, nil
		}
		if _, err := p.expect(tComma, "',' or ')'"); err != nil {
			return nil, err
		}
	}
}

// constant reads a primitiveLiteral (withBool) or an orderableLiteral.
func (p *parser) constant(withBool bool) (Constant, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return Constant{Kind: ConstString, Text: t.val}, nil
	case tInt, tIntNeg:
		n, err := parseInt(t)
		return Constant{Kind: ConstInt, Text: t.text, Int: n}, err
	case tFloat, tFloatNeg:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return Constant{}, lexError(t.pos, "bad number %q", t.text)
		}
		return Constant{Kind: ConstFloat, Text: t.text, Float: f}, nil
	case tTimestamp:
		return timestampConst(t), nil
	case tHex:
		return Constant{Kind: ConstHex, Text: t.val}, nil
	case tBinary:
		return Constant{Kind: ConstBinary, Text: t.val}, nil
	case tBool:
		if withBool {
			return Constant{Kind: ConstBool, Text: t.text, Bool: t.text == "true"}, nil
		}
		return Constant{}, lexError(t.pos, "a boolean cannot be ordered")
	}
	return Constant{}, p.unexpected(t, "a constant")
}

func (p *parser) objectPath() (ObjectPath, error) {
	t := p.next()
	if t.kind != tIdent && t.kind != tIdentHyphen {
		return ObjectPath{}, p.unexpected(t, "an object path (type:property)")
	}
	path := ObjectPath{ObjectType: t.text}
	if _, err := p.expect(tColon, "':' after the object type"); err != nil {
		return ObjectPath{}, err
	}
	first := p.next()
	switch first.kind {
	case tIdent:
		path.Steps = append(path.Steps, PathStep{Key: first.text})
	case tString:
		path.Steps = append(path.Steps, PathStep{Key: first.val})
	default:
		return ObjectPath{}, p.unexpected(first, "a property name (quote names with hyphens)")
	}
	for {
		switch p.peek().kind {
		case tDot:
			p.next()
			k := p.next()
			switch k.kind {
			case tIdent:
				path.Steps = append(path.Steps, PathStep{Key: k.text})
			case tString:
				path.Steps = append(path.Steps, PathStep{Key: k.val})
			default:
				return ObjectPath{}, p.unexpected(k, "a property name after '.' (quote names with hyphens)")
			}
		case tLBrack:
			p.next()
			k := p.next()
			switch k.kind {
			case tAsterisk:
				path.Steps = append(path.Steps, PathStep{IsIndex: true, Any: true})
			case tInt, tIntNeg:
				n, err := parseInt(k)
				if err != nil {
					return ObjectPath{}, err
				}
				path.Steps = append(path.Steps, PathStep{IsIndex: true, Index: n})
			default:
				return ObjectPath{}, p.unexpected(k, "an index or '*'")
			}
			if _, err := p.expect(tRBrack, "']' after the index"); err != nil {
				return ObjectPath{}, err
			}
		default:
			return path, nil
		}
	}
}

// hashLengths gives the hex length of hash algorithms whose values have a
// fixed form, keyed by the name upper-cased without hyphens (the open
// vocabulary writes "SHA-256", producers also "sha256").
var hashLengths = map[string]int{
	"MD5": 32, "SHA1": 40, "SHA224": 56, "SHA256": 64, "SHA384": 96, "SHA512": 128,
	"SHA3224": 56, "SHA3256": 64, "SHA3384": 96, "SHA3512": 128, "RIPEMD160": 40,
	"WHIRLPOOL": 128,
}

func normHashName(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", ""))
}

// checkHash rejects an equality against a malformed hash value: such a
// comparison can never match, which is almost always a producer's mistake.
func checkHash(c *Comparison, pos int) error {
	if c.Op != OpEQ && c.Op != OpNEQ {
		return nil
	}
	n := len(c.Path.Steps)
	if n < 2 || c.Value.Kind != ConstString || !strings.HasSuffix(c.Path.Steps[n-2].Key, "hashes") || c.Path.Steps[n-1].IsIndex {
		return nil
	}
	algo := c.Path.Steps[n-1].Key
	if !validHash(algo, c.Value.Text) {
		return lexError(pos, "%q is not a valid %s hash", c.Value.Text, algo)
	}
	return nil
}

// validHash reports whether v can be a value of hash algorithm algo; it
// knows the fixed-length hex algorithms and lets others through.
func validHash(algo, v string) bool {
	want, ok := hashLengths[normHashName(algo)]
	if !ok {
		return true
	}
	if len(v) != want {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !isHexDigit(v[i]) {
			return false
		}
	}
	return true
}
