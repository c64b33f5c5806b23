package stix

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The lexer follows the token rules of STIXPattern.g4 (cti-stix2-json-schemas,
// pattern_grammar): longest match, keywords before identifiers, and the
// t'…', h'…', b'…' literals winning over a one-letter identifier.

type tokKind uint8

const (
	tEOF tokKind = iota
	tLBrack
	tRBrack
	tLParen
	tRParen
	tColon
	tDot
	tComma
	tAsterisk
	tEQ
	tNEQ
	tLT
	tLE
	tGT
	tGE
	tIdent       // IdentifierWithoutHyphen: property names and object types
	tIdentHyphen // IdentifierWithHyphen: object types only
	tString
	tInt      // IntPosLiteral, with an optional '+'
	tIntNeg   // IntNegLiteral
	tFloat    // FloatPosLiteral
	tFloatNeg // FloatNegLiteral
	tBool
	tTimestamp
	tHex
	tBinary
	// keywords
	tAND
	tOR
	tNOT
	tFOLLOWEDBY
	tLIKE
	tMATCHES
	tISSUPERSET
	tISSUBSET
	tEXISTS
	tLAST
	tIN
	tSTART
	tSTOP
	tSECONDS
	tWITHIN
	tREPEATS
	tTIMES
)

var keywords = map[string]tokKind{
	"AND": tAND, "OR": tOR, "NOT": tNOT, "FOLLOWEDBY": tFOLLOWEDBY,
	"LIKE": tLIKE, "MATCHES": tMATCHES, "ISSUPERSET": tISSUPERSET,
	"ISSUBSET": tISSUBSET, "EXISTS": tEXISTS, "LAST": tLAST, "IN": tIN,
	"START": tSTART, "STOP": tSTOP, "SECONDS": tSECONDS, "WITHIN": tWITHIN,
	"REPEATS": tREPEATS, "TIMES": tTIMES,
}

var tokNames = [...]string{
	tEOF: "end of pattern", tLBrack: "'['", tRBrack: "']'", tLParen: "'('",
	tRParen: "')'", tColon: "':'", tDot: "'.'", tComma: "','", tAsterisk: "'*'",
	tEQ: "'='", tNEQ: "'!='", tLT: "'<'", tLE: "'<='", tGT: "'>'", tGE: "'>='",
	tIdent: "identifier", tIdentHyphen: "identifier with hyphen",
	tString: "string", tInt: "integer", tIntNeg: "negative integer",
	tFloat: "float", tFloatNeg: "negative float", tBool: "boolean",
	tTimestamp: "timestamp", tHex: "hex literal", tBinary: "binary literal",
}

func (k tokKind) String() string {
	if int(k) < len(tokNames) && tokNames[k] != "" {
		return tokNames[k]
	}
	for w, kk := range keywords {
		if kk == k {
			return w
		}
	}
	return fmt.Sprintf("token %d", k)
}

type token struct {
	kind tokKind
	pos  int    // byte offset in the pattern
	text string // the lexeme as written
	val  string // strings: unescaped content; t'', h'', b'': the part between the quotes
}

// PatternError is a syntax or semantic error in a pattern, at a byte offset.
type PatternError struct {
	Pos int
	Msg string
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("pattern: at offset %d: %s", e.Pos, e.Msg)
}

func lexError(pos int, format string, args ...any) *PatternError {
	return &PatternError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// lex splits a whole pattern into tokens. Patterns are short, so one slice
// is simpler than a pull lexer and lets the parser look ahead freely.
func lex(src string) ([]token, error) {
	toks := make([]token, 0, len(src)/4+2)
	i := 0
	for {
		i = skipSpace(src, i)
		if i >= len(src) {
			toks = append(toks, token{kind: tEOF, pos: i})
			return toks, nil
		}
		t, next, err := lexOne(src, i)
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		i = next
	}
}

// skipSpace skips the grammar's whitespace set and both comment forms.
func skipSpace(src string, i int) int {
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f':
			i++
		case c == '/' && strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return i // an unclosed comment is '/' '*': the lexer rejects it
			}
			i += 2 + end + 2
		case c == '/' && strings.HasPrefix(src[i:], "//"):
			end := strings.IndexAny(src[i:], "\r\n")
			if end < 0 {
				return len(src)
			}
			i += end
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(src[i:])
			if !isUnicodeSpace(r) {
				return i
			}
			i += n
		default:
			return i
		}
	}
	return i
}

func isUnicodeSpace(r rune) bool {
	switch r {
	case 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

func lexOne(src string, i int) (token, int, error) {
	c := src[i]
	single := func(k tokKind) (token, int, error) {
		return token{kind: k, pos: i, text: src[i : i+1]}, i + 1, nil
	}
	double := func(k tokKind) (token, int, error) {
		return token{kind: k, pos: i, text: src[i : i+2]}, i + 2, nil
	}
	next := byte(0)
	if i+1 < len(src) {
		next = src[i+1]
	}
	switch c {
	case '[':
		return single(tLBrack)
	case ']':
		return single(tRBrack)
	case '(':
		return single(tLParen)
	case ')':
		return single(tRParen)
	case ':':
		return single(tColon)
	case ',':
		return single(tComma)
	case '*':
		return single(tAsterisk)
	case '=':
		if next == '=' {
			return double(tEQ)
		}
		return single(tEQ)
	case '!':
		if next == '=' {
			return double(tNEQ)
		}
	case '<':
		switch next {
		case '=':
			return double(tLE)
		case '>':
			return double(tNEQ)
		}
		return single(tLT)
	case '>':
		if next == '=' {
			return double(tGE)
		}
		return single(tGT)
	case '\'':
		return lexString(src, i)
	case '.':
		if isDigit(next) {
			return lexNumber(src, i)
		}
		return single(tDot)
	case '+', '-':
		if isDigit(next) || next == '.' {
			return lexNumber(src, i)
		}
	}
	if isDigit(c) {
		return lexNumber(src, i)
	}
	if isIdentStart(c) {
		if next == '\'' && (c == 't' || c == 'h' || c == 'b') {
			return lexPrefixed(src, i)
		}
		return lexIdent(src, i)
	}
	r, _ := utf8.DecodeRuneInString(src[i:])
	return token{}, 0, lexError(i, "unexpected character %q", r)
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }
func isHexDigit(c byte) bool   { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

func lexIdent(src string, i int) (token, int, error) {
	j := i + 1
	hyphen := false
	for j < len(src) && (isIdentPart(src[j]) || src[j] == '-') {
		hyphen = hyphen || src[j] == '-'
		j++
	}
	word := src[i:j]
	t := token{kind: tIdent, pos: i, text: word}
	switch {
	case hyphen:
		t.kind = tIdentHyphen
	case word == "true" || word == "false":
		t.kind = tBool
	default:
		if k, ok := keywords[word]; ok {
			t.kind = k
		}
	}
	return t, j, nil
}

// lexNumber reads IntPos/IntNeg/FloatPos/FloatNeg literals. A leading zero
// followed by more digits is no integer in the grammar ('0' | [1-9][0-9]*);
// it could only lex as two integers in a row, which no rule accepts, so it
// is rejected here with a clearer message.
func lexNumber(src string, i int) (token, int, error) {
	j := i
	neg := false
	if src[j] == '+' || src[j] == '-' {
		neg = src[j] == '-'
		j++
	}
	digits := j
	for j < len(src) && isDigit(src[j]) {
		j++
	}
	intPart := src[digits:j]
	if j+1 < len(src) && src[j] == '.' && isDigit(src[j+1]) {
		j++
		for j < len(src) && isDigit(src[j]) {
			j++
		}
		k := tFloat
		if neg {
			k = tFloatNeg
		}
		return token{kind: k, pos: i, text: src[i:j]}, j, nil
	}
	if intPart == "" {
		return token{}, 0, lexError(i, "malformed number")
	}
	if len(intPart) > 1 && intPart[0] == '0' {
		return token{}, 0, lexError(i, "integer %q has a leading zero", src[i:j])
	}
	k := tInt
	if neg {
		k = tIntNeg
	}
	return token{kind: k, pos: i, text: src[i:j]}, j, nil
}

// lexString reads '…' where only \' and \\ are escapes.
func lexString(src string, i int) (token, int, error) {
	var b strings.Builder
	j := i + 1
	start := j
	for j < len(src) {
		switch src[j] {
		case '\'':
			b.WriteString(src[start:j])
			return token{kind: tString, pos: i, text: src[i : j+1], val: b.String()}, j + 1, nil
		case '\\':
			if j+1 < len(src) && (src[j+1] == '\'' || src[j+1] == '\\') {
				b.WriteString(src[start:j])
				b.WriteByte(src[j+1])
				j += 2
				start = j
				continue
			}
			return token{}, 0, lexError(j, "invalid escape in string: only \\' and \\\\ are allowed")
		}
		j++
	}
	return token{}, 0, lexError(i, "unterminated string")
}

// lexPrefixed reads t'…', h'…' and b'…'.
func lexPrefixed(src string, i int) (token, int, error) {
	end := strings.IndexByte(src[i+2:], '\'')
	if end < 0 {
		return token{}, 0, lexError(i, "unterminated %c'…' literal", src[i])
	}
	body := src[i+2 : i+2+end]
	next := i + 2 + end + 1
	t := token{pos: i, text: src[i:next], val: body}
	switch src[i] {
	case 't':
		if err := checkPatternTimestamp(body); err != nil {
			return token{}, 0, lexError(i, "invalid timestamp %q: %v", body, err)
		}
		t.kind = tTimestamp
	case 'h':
		if len(body)%2 != 0 {
			return token{}, 0, lexError(i, "hex literal needs an even number of digits")
		}
		for k := 0; k < len(body); k++ {
			if !isHexDigit(body[k]) {
				return token{}, 0, lexError(i, "invalid hex digit %q", body[k])
			}
		}
		t.kind = tHex
	case 'b':
		if !isBase64(body) {
			return token{}, 0, lexError(i, "invalid base64 in binary literal")
		}
		t.kind = tBinary
	}
	return t, next, nil
}

// isBase64 follows the grammar's BinaryLiteral: one or more groups of four,
// the last of which may end in "=" or "==".
func isBase64(s string) bool {
	if len(s) == 0 || len(s)%4 != 0 {
		return false
	}
	body := strings.TrimSuffix(strings.TrimSuffix(s, "="), "=")
	for k := 0; k < len(body); k++ {
		c := body[k]
		letter := c|0x20 >= 'a' && c|0x20 <= 'z'
		if !letter && !isDigit(c) && c != '+' && c != '/' {
			return false
		}
	}
	return true
}

// checkPatternTimestamp applies the grammar's TimestampLiteral shape
// (YYYY-MM-DDTHH:MM:SS[.s+]Z) and then checks the date is real. The grammar
// allows second 60 (a leap second), which time.Parse does not.
func checkPatternTimestamp(s string) error {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return fmt.Errorf("want YYYY-MM-DDTHH:MM:SS[.fraction]Z")
	}
	for _, k := range []int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if !isDigit(s[k]) {
			return fmt.Errorf("want YYYY-MM-DDTHH:MM:SS[.fraction]Z")
		}
	}
	if rest := s[19 : len(s)-1]; rest != "" {
		if rest[0] != '.' || len(rest) < 2 {
			return fmt.Errorf("malformed fraction")
		}
		for k := 1; k < len(rest); k++ {
			if !isDigit(rest[k]) {
				return fmt.Errorf("malformed fraction")
			}
		}
	}
	check := s
	if s[17:19] == "60" {
		check = s[:17] + "59" + s[19:]
	}
	if _, err := time.Parse(time.RFC3339Nano, check); err != nil {
		return err
	}
	return nil
}
