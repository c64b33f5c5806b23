package stix

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
)

// DefaultMaxObjectSize is the decoder's default limit on one object's
// JSON. The largest objects of real feeds (reports with long descriptions,
// ATT&CK matrices) stay well below 1 MiB.
const DefaultMaxObjectSize = 4 << 20

// Decoder reads the objects of a bundle, {"type":"bundle","id":…,
// "objects":[…]}, one at a time from a stream, never holding more than
// one object; the bundle's members may come in any order.
//
// Next returns each object in turn. A bad element comes back as an
// *ObjectError with its index and, if it can be read, its id, and the
// stream goes on: an element that is no JSON object, has no string type or
// a property given twice, or is larger than the size limit (it is read
// past, not kept). Anything else ends the stream: broken JSON, a read error
// (returned as it is), or a top-level value that is not a bundle. After the
// last object Next returns io.EOF; problems of the bundle's own members
// that do not stop the stream (a malformed id, a spec_version, which 2.1
// bundles do not have, a member given twice) are then in BundleErr.
// Members other than type, id and objects are skipped.
type Decoder struct {
	r        *streamReader
	max      int
	state    decState
	comma    bool // a ',' must come before the next member or element
	index    int
	bundleID string
	seen     map[string]bool
	problems Errors
	err      error // sticky: the stream has ended
	envelope bool  // a TAXII envelope: objects without the bundle's type
}

type decState uint8

const (
	decStart   decState = iota // before the bundle's '{'
	decMembers                 // reading the bundle's members
	decObjects                 // inside "objects"
	decDone
)

// NewDecoder returns a decoder reading a bundle from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: newStreamReader(r), max: DefaultMaxObjectSize, seen: map[string]bool{}}
}

// SetMaxObjectSize sets the limit on one object's JSON in bytes.
func (d *Decoder) SetMaxObjectSize(n int) { d.max = n }

// SetEnvelope reads a TAXII 2.1 envelope ({"objects":[…],"more":…}), which
// keeps its objects as a bundle does but has no type, instead of a bundle.
func (d *Decoder) SetEnvelope(on bool) { d.envelope = on }

// BundleID is the bundle's id, once the decoder has read it (its place in
// the stream is free, so it may come after the objects).
func (d *Decoder) BundleID() string { return d.bundleID }

// BundleErr reports the problems of the bundle's own members found so far.
func (d *Decoder) BundleErr() error { return d.problems.err() }

// All yields every object, or an *ObjectError for a bad one, and finally
// the error that ends a broken stream; it stops at the end of the bundle.
func (d *Decoder) All() iter.Seq2[*Object, error] {
	return func(yield func(*Object, error) bool) {
		for {
			o, err := d.Next()
			if err == io.EOF {
				return
			}
			var oe *ObjectError
			if !yield(o, err) || (err != nil && !errors.As(err, &oe)) {
				return
			}
		}
	}
}

// Next returns the next object of the bundle, or io.EOF after the last.
func (d *Decoder) Next() (*Object, error) {
	if d.err != nil {
		return nil, d.err
	}
	o, err := d.next()
	if err != nil {
		var oe *ObjectError
		if !errors.As(err, &oe) {
			d.err = err
			d.state = decDone
		}
	}
	return o, err
}

func (d *Decoder) next() (*Object, error) {
	for {
		switch d.state {
		case decStart:
			c, ok := d.r.peek()
			if !ok && d.r.err != io.EOF {
				return nil, d.r.err
			}
			if !ok || c != '{' {
				return nil, newError(CodeNotBundle, "", "the input is not a JSON object")
			}
			d.r.pos++
			d.state = decMembers
		case decMembers:
			end, err := d.item('}')
			if err != nil {
				return nil, err
			}
			if end {
				return nil, d.end()
			}
			if err := d.member(); err != nil {
				return nil, err
			}
		case decObjects:
			end, err := d.item(']')
			if err != nil {
				return nil, err
			}
			if end {
				d.state, d.comma = decMembers, true
				continue
			}
			return d.object()
		case decDone:
			return nil, io.EOF
		}
	}
}

// item reads up to the next member or element: past its ',' if one is
// due, or the closing delimiter, which it reports.
func (d *Decoder) item(closing byte) (end bool, err error) {
	c, ok := d.r.peek()
	if !ok {
		return false, d.wrap(d.r.endErr())
	}
	if c == closing {
		d.r.pos++
		return true, nil
	}
	if d.comma {
		if c != ',' {
			return false, d.syntax("expected ',' or " + string(closing))
		}
		d.r.pos++
	}
	d.comma = true
	return false, nil
}

func (d *Decoder) member() error {
	raw, err := d.value()
	if err != nil {
		return err
	}
	name, ok := rawString(raw)
	if !ok {
		return d.syntax("expected a property name")
	}
	if c, ok := d.r.peek(); !ok || c != ':' {
		return d.syntax("expected ':'")
	}
	d.r.pos++
	if d.seen[name] {
		d.problems = append(d.problems, newError(CodeBadJSON, name, "given twice"))
	}
	d.seen[name] = true
	if name == "objects" {
		if c, ok := d.r.peek(); !ok || c != '[' {
			return newError(CodeNotBundle, "objects", "not a list")
		}
		d.r.pos++
		d.state, d.comma = decObjects, false
		return nil
	}
	raw, err = d.value()
	if err != nil {
		return err
	}
	switch name {
	case "type":
		if typ, ok := rawString(raw); !ok || typ != "bundle" {
			return newError(CodeNotBundle, "type", "is "+string(raw)+", not \"bundle\"")
		}
	case "id":
		d.bundleID, _ = rawString(raw)
		if typ, _, err := ParseID(d.bundleID); err != nil || typ != "bundle" {
			d.problems = append(d.problems, newError(CodeBadID, "id", "not a bundle identifier"))
		}
	case "spec_version":
		d.problems = append(d.problems, newError(CodeNotAllowed, "spec_version", "a STIX 2.1 bundle has no spec_version"))
	}
	return nil
}

// value reads one complete, valid JSON value of the bundle's own.
func (d *Decoder) value() ([]byte, error) {
	at := d.r.offset()
	raw, err := d.r.scanValue(d.max)
	if err == errTooBig {
		return nil, newError(CodeTooLarge, "", "a member of the bundle is larger than "+strconv.Itoa(d.max)+" bytes")
	}
	if err != nil {
		return nil, d.wrap(err)
	}
	if err := checkJSON(raw); err != nil {
		return nil, &Error{Code: CodeBadJSON, Message: "broken JSON after byte " + strconv.FormatInt(at, 10), Err: err}
	}
	return raw, nil
}

// end checks that nothing but whitespace follows the bundle.
func (d *Decoder) end() error {
	if _, ok := d.r.peek(); ok {
		return d.syntax("data after the bundle")
	}
	if d.r.err != io.EOF {
		return d.r.err
	}
	if !d.seen["type"] && !d.envelope {
		return newError(CodeNotBundle, "type", "missing")
	}
	d.state = decDone
	return io.EOF
}

func (d *Decoder) object() (*Object, error) {
	i := d.index
	d.index++
	at := d.r.offset()
	raw, err := d.r.scanValue(d.max)
	if err == errTooBig {
		return nil, &ObjectError{Index: i, Err: newError(CodeTooLarge, "", "larger than "+strconv.Itoa(d.max)+" bytes")}
	}
	if err != nil {
		err = d.wrap(err)
		if e, ok := err.(*Error); ok {
			e.Message = "object " + strconv.Itoa(i) + ": " + e.Message
			return nil, e
		}
		return nil, fmt.Errorf("stix: object %d: %w", i, err)
	}
	data := bytes.Clone(raw)
	if err := checkJSON(data); err != nil {
		return nil, &Error{Code: CodeBadJSON, Message: "object " + strconv.Itoa(i) + ": broken JSON after byte " + strconv.FormatInt(at, 10), Err: err}
	}
	o, err := parseObject(data)
	if err != nil {
		return nil, &ObjectError{Index: i, ID: guessID(data), Err: err}
	}
	return o, nil
}

func (d *Decoder) syntax(msg string) error {
	return newError(CodeBadJSON, "", msg+" at byte "+strconv.FormatInt(d.r.offset(), 10))
}

func (d *Decoder) wrap(err error) error {
	if err == io.ErrUnexpectedEOF {
		return &Error{Code: CodeBadJSON, Message: "the bundle ends early", Err: err}
	}
	return err // a read error: the caller's, unchanged
}

// guessID reads the id of an element that is no valid object, for the
// report.
func guessID(raw []byte) string {
	var probe struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return ""
	}
	s, _ := probe.ID.(string)
	return s
}

// Encoder writes a bundle object by object, never holding more than one.
// Close finishes the bundle; without it the output is not valid JSON.
type Encoder struct {
	w      *bufio.Writer
	id     string
	n      int
	err    error
	closed bool
}

// NewEncoder returns an encoder writing a bundle with the given id (a new
// random one if id is "").
func NewEncoder(w io.Writer, id string) *Encoder {
	if id == "" {
		id = NewID("bundle")
	}
	return &Encoder{w: bufio.NewWriterSize(w, 64<<10), id: id}
}

// ID is the bundle's id.
func (e *Encoder) ID() string { return e.id }

// Encode appends an object to the bundle.
func (e *Encoder) Encode(o *Object) error {
	if e.closed {
		return errors.New("stix: encode after close")
	}
	if e.err != nil {
		return e.err
	}
	if e.n == 0 {
		e.head()
		_, _ = e.w.WriteString(`,"objects":[`) // a write error shows at the next Write or Flush
	} else {
		_ = e.w.WriteByte(',')
	}
	e.n++
	_, e.err = e.w.Write(o.raw)
	return e.err
}

func (e *Encoder) head() {
	_, _ = e.w.WriteString(`{"type":"bundle","id":`) // errors show at Flush
	_, _ = e.w.WriteString(quote(e.id))
}

// Close ends the bundle and flushes it. An empty bundle has no "objects"
// (the schema wants at least one if the list is there).
func (e *Encoder) Close() error {
	if e.closed {
		return e.err
	}
	e.closed = true
	if e.err != nil {
		return e.err
	}
	if e.n == 0 {
		e.head()
		_, _ = e.w.WriteString("}") // errors show at Flush
	} else {
		_, _ = e.w.WriteString("]}")
	}
	e.err = e.w.Flush()
	return e.err
}
