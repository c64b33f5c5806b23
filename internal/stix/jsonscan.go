package stix

import (
	"bytes"
	"errors"
	"io"
	"strconv"
)

// A small single-pass JSON reader for the bundle decoder. encoding/json's
// Decoder scans every object twice (readValue, then skip for a
// json.RawMessage) with its table-driven scanner; that capped decoding at
// about 100,000 small objects/s. Here a value's end is found by a cheap
// scan of strings and brackets, and the complete value is then checked by
// checkJSON, a plain recursive descent over the bytes. FuzzCheckJSON holds
// checkJSON to json.Valid.

// maxJSONDepth matches encoding/json's nesting limit.
const maxJSONDepth = 10000

// checkJSON reports whether d is exactly one valid JSON value (with
// surrounding whitespace), as json.Valid does.
func checkJSON(d []byte) error {
	c := jsonChecker{d: d}
	c.ws()
	if err := c.value(0); err != nil {
		return err
	}
	c.ws()
	if c.i != len(d) {
		return c.fail("data after the value")
	}
	return nil
}

type jsonChecker struct {
	d []byte
	i int
}

func (c *jsonChecker) fail(msg string) error {
	return errors.New("invalid JSON at byte " + strconv.Itoa(c.i) + ": " + msg)
}

func (c *jsonChecker) ws() {
	for c.i < len(c.d) {
		switch c.d[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

func (c *jsonChecker) value(depth int) error {
	if c.i >= len(c.d) {
		return c.fail("unexpected end")
	}
	switch ch := c.d[c.i]; {
	case ch == '"':
		return c.str()
	case ch == '{':
		return c.object(depth + 1)
	case ch == '[':
		return c.array(depth + 1)
	case ch == '-' || isDigit(ch):
		return c.number()
	case ch == 't':
		return c.lit("true")
	case ch == 'f':
		return c.lit("false")
	case ch == 'n':
		return c.lit("null")
	}
	return c.fail("unexpected character")
}

func (c *jsonChecker) lit(s string) error {
	if len(c.d)-c.i < len(s) || string(c.d[c.i:c.i+len(s)]) != s {
		return c.fail("bad literal")
	}
	c.i += len(s)
	return nil
}

func (c *jsonChecker) object(depth int) error {
	if depth > maxJSONDepth {
		return c.fail("nested too deeply")
	}
	c.i++
	c.ws()
	if c.i < len(c.d) && c.d[c.i] == '}' {
		c.i++
		return nil
	}
	for {
		if c.i >= len(c.d) || c.d[c.i] != '"' {
			return c.fail("expected a property name")
		}
		if err := c.str(); err != nil {
			return err
		}
		c.ws()
		if c.i >= len(c.d) || c.d[c.i] != ':' {
			return c.fail("expected ':'")
		}
		c.i++
		c.ws()
		if err := c.value(depth); err != nil {
			return err
		}
		c.ws()
		if c.i >= len(c.d) {
			return c.fail("unexpected end")
		}
		switch c.d[c.i] {
		case ',':
			c.i++
			c.ws()
		case '}':
			c.i++
			return nil
		default:
			return c.fail("expected ',' or '}'")
		}
	}
}

func (c *jsonChecker) array(depth int) error {
	if depth > maxJSONDepth {
		return c.fail("nested too deeply")
	}
	c.i++
	c.ws()
	if c.i < len(c.d) && c.d[c.i] == ']' {
		c.i++
		return nil
	}
	for {
		if err := c.value(depth); err != nil {
			return err
		}
		c.ws()
		if c.i >= len(c.d) {
			return c.fail("unexpected end")
		}
		switch c.d[c.i] {
		case ',':
			c.i++
			c.ws()
		case ']':
			c.i++
			return nil
		default:
			return c.fail("expected ',' or ']'")
		}
	}
}

func (c *jsonChecker) str() error {
	c.i++ // opening quote
	for c.i < len(c.d) {
		ch := c.d[c.i]
		switch {
		case ch == '"':
			c.i++
			return nil
		case ch == '\\':
			c.i++
			if c.i >= len(c.d) {
				return c.fail("unexpected end")
			}
			switch c.d[c.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				c.i++
			case 'u':
				if len(c.d)-c.i < 5 {
					return c.fail("short \\u escape")
				}
				for k := 1; k <= 4; k++ {
					if !isHexDigit(c.d[c.i+k]) {
						return c.fail("bad \\u escape")
					}
				}
				c.i += 5
			default:
				return c.fail("bad escape")
			}
		case ch < 0x20:
			return c.fail("control character in string")
		default:
			c.i++
		}
	}
	return c.fail("unterminated string")
}

func (c *jsonChecker) number() error {
	d := c.d
	if d[c.i] == '-' {
		c.i++
	}
	switch {
	case c.i < len(d) && d[c.i] == '0':
		c.i++
	case c.i < len(d) && d[c.i] >= '1' && d[c.i] <= '9':
		for c.i < len(d) && isDigit(d[c.i]) {
			c.i++
		}
	default:
		return c.fail("bad number")
	}
	if c.i < len(d) && d[c.i] == '.' {
		c.i++
		if c.i >= len(d) || !isDigit(d[c.i]) {
			return c.fail("bad number")
		}
		for c.i < len(d) && isDigit(d[c.i]) {
			c.i++
		}
	}
	if c.i < len(d) && (d[c.i] == 'e' || d[c.i] == 'E') {
		c.i++
		if c.i < len(d) && (d[c.i] == '+' || d[c.i] == '-') {
			c.i++
		}
		if c.i >= len(d) || !isDigit(d[c.i]) {
			return c.fail("bad number")
		}
		for c.i < len(d) && isDigit(d[c.i]) {
			c.i++
		}
	}
	return nil
}

// streamReader buffers a stream for the decoder and finds where values
// end without holding more than one value (plus one read) in memory.
type streamReader struct {
	src      io.Reader
	buf      []byte
	pos, end int   // unread data is buf[pos:end]
	off      int64 // stream offset of buf[0]
	err      error // the error that ended reading (io.EOF at the end)
}

func newStreamReader(r io.Reader) *streamReader {
	return &streamReader{src: r, buf: make([]byte, 64<<10)}
}

// offset is the stream offset of the next unread byte.
func (r *streamReader) offset() int64 { return r.off + int64(r.pos) }

// fill reads more data, moving unread data to the front and growing the
// buffer when it is full. It reports whether any data came.
func (r *streamReader) fill() bool {
	if r.err != nil {
		return false
	}
	if r.pos > 0 {
		copy(r.buf, r.buf[r.pos:r.end])
		r.end -= r.pos
		r.off += int64(r.pos)
		r.pos = 0
	}
	if r.end == len(r.buf) {
		r.buf = append(r.buf, make([]byte, len(r.buf))...)
	}
	for tries := 0; tries < 100; tries++ {
		n, err := r.src.Read(r.buf[r.end:])
		r.end += n
		if err != nil {
			r.err = err
		}
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
	r.err = io.ErrNoProgress
	return false
}

// peek skips whitespace and returns the next byte, or false at the end of
// the data.
func (r *streamReader) peek() (byte, bool) {
	for {
		for r.pos < r.end {
			switch c := r.buf[r.pos]; c {
			case ' ', '\t', '\n', '\r':
				r.pos++
			default:
				return c, true
			}
		}
		if !r.fill() {
			return 0, false
		}
	}
}

var errTooBig = errors.New("value too large")

// scanValue finds the end of the value starting at the next non-space
// byte and returns its bytes, which alias the buffer until the next read.
// It checks only strings and bracket nesting, which is enough to find the
// end of valid JSON; checkJSON checks the rest. A value longer than limit
// is read to its end and dropped: errTooBig.
func (r *streamReader) scanValue(limit int) ([]byte, error) {
	c, ok := r.peek()
	if !ok {
		return nil, r.endErr()
	}
	start := r.pos
	i := start
	depth := 0
	inStr, esc := false, false
	scalar := c != '"' && c != '{' && c != '['
	skipping := false
	for {
		if i >= r.end {
			rel := i - start
			if skipping { // drop what was scanned: the value is lost anyway
				start, rel = i, 0
			}
			r.pos = start
			more := r.fill()
			start = r.pos
			i = start + rel
			if !more {
				if scalar && r.err == io.EOF && !skipping {
					r.pos = i
					return r.buf[start:i], nil
				}
				return nil, r.endErr()
			}
			continue
		}
		if inStr && !skipping {
			// The bulk of STIX is strings: jump to the next quote and see
			// whether an odd number of backslashes escapes it. Counting
			// back stops at the opening quote at the latest, and the
			// buffer holds the whole value so far.
			j := bytes.IndexByte(r.buf[i:r.end], '"')
			if j < 0 {
				i = r.end
				if i-start > limit {
					// From here the slow path skips; it needs to know
					// whether the data so far ends inside an escape.
					skipping = true
					for k := i - 1; r.buf[k] == '\\'; k-- {
						esc = !esc
					}
				}
				continue
			}
			q := i + j
			n := 0
			for k := q - 1; r.buf[k] == '\\'; k-- {
				n++
			}
			i = q + 1
			if n%2 == 0 {
				inStr = false
				if depth == 0 {
					return r.done(start, i, skipping)
				}
			}
			if i-start > limit {
				skipping = true
			}
			continue
		}
		ch := r.buf[i]
		i++
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case ch == '\\':
				esc = true
			case ch == '"':
				inStr = false
				if depth == 0 {
					return r.done(start, i, skipping)
				}
			}
		case scalar:
			switch ch {
			case ',', ']', '}', ' ', '\t', '\n', '\r', '"', '{', '[', ':':
				return r.done(start, i-1, skipping)
			}
		case ch == '"':
			inStr = true
		case ch == '{' || ch == '[':
			depth++
		case ch == '}' || ch == ']':
			depth--
			if depth <= 0 {
				return r.done(start, i, skipping)
			}
		}
		if !skipping && i-start > limit {
			skipping = true
		}
	}
}

func (r *streamReader) done(start, end int, skipped bool) ([]byte, error) {
	r.pos = end
	if skipped {
		return nil, errTooBig
	}
	return r.buf[start:end], nil
}

func (r *streamReader) endErr() error {
	if r.err == nil || r.err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return r.err
}
