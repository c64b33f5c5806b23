package stix

import (
	"bufio"
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

// wsSlack is how much whitespace before a value the size limit tolerates.
const wsSlack = 64 << 10

// Decoder reads the objects of a bundle, {"type":"bundle","id":…,
// "objects":[…]}, one at a time from a stream, never holding more than
// one object; the bundle's members may come in any order.
//
// Next returns each object in turn. A bad element (not a JSON object, no
// string type, a property given twice) comes back as an *ObjectError with
// its index and, if it can be read, its id; the stream goes on. Anything
// else ends the stream: broken JSON, a read error, an object larger than
// the limit (the JSON decoder cannot skip it without reading it), or a
// top-level value that is not a bundle. After the last object Next returns
// io.EOF; problems with the bundle's own members that do not stop the
// stream (a malformed id, a spec_version, which 2.1 bundles do not have)
// are then in BundleErr.
type Decoder struct {
	dec      *json.Decoder
	in       *limitReader
	max      int64
	state    decState
	index    int
	bundleID string
	sawType  bool
	problems Errors
	err      error // sticky: the stream has ended
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
	in := &limitReader{r: r}
	return &Decoder{dec: json.NewDecoder(in), in: in, max: DefaultMaxObjectSize}
}

// SetMaxObjectSize sets the limit on one object's JSON in bytes.
func (d *Decoder) SetMaxObjectSize(n int64) { d.max = n }

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
			tok, err := d.token()
			if err != nil {
				var e *Error
				if errors.As(err, &e) && e.Code == CodeBadJSON {
					return nil, &Error{Code: CodeNotBundle, Message: "the input is not a JSON object", Err: err}
				}
				return nil, err
			}
			if tok != json.Delim('{') {
				return nil, newError(CodeNotBundle, "", "the input is not a JSON object")
			}
			d.state = decMembers
		case decMembers:
			if !d.more() {
				return nil, d.end()
			}
			tok, err := d.token()
			if err != nil {
				return nil, err
			}
			if err := d.member(tok.(string)); err != nil {
				return nil, err
			}
		case decObjects:
			if !d.more() {
				if err := d.delim(']'); err != nil {
					return nil, err
				}
				d.state = decMembers
				continue
			}
			return d.object()
		case decDone:
			return nil, io.EOF
		}
	}
}

func (d *Decoder) member(name string) error {
	switch name {
	case "objects":
		tok, err := d.token()
		if err != nil {
			return err
		}
		if tok != json.Delim('[') {
			return newError(CodeNotBundle, "objects", "not a list")
		}
		d.state = decObjects
		return nil
	case "type":
		var typ string
		if err := d.value(&typ); err != nil {
			return err
		}
		if typ != "bundle" {
			return newError(CodeNotBundle, "type", "is "+quote(typ)+", not \"bundle\"")
		}
		d.sawType = true
	case "id":
		if err := d.value(&d.bundleID); err != nil {
			return err
		}
		if typ, _, err := ParseID(d.bundleID); err != nil || typ != "bundle" {
			d.problems = append(d.problems, newError(CodeBadID, "id", "not a bundle identifier"))
		}
	case "spec_version":
		d.problems = append(d.problems, newError(CodeNotAllowed, "spec_version", "a STIX 2.1 bundle has no spec_version"))
		fallthrough
	default:
		var skip json.RawMessage
		return d.value(&skip)
	}
	return nil
}

// end reads the bundle's '}' and checks nothing but whitespace follows.
func (d *Decoder) end() error {
	if err := d.delim('}'); err != nil {
		return err
	}
	if !d.sawType {
		return newError(CodeNotBundle, "type", "missing")
	}
	d.arm()
	if _, err := d.dec.Token(); err != io.EOF {
		if err == nil {
			return newError(CodeBadJSON, "", "data after the bundle")
		}
		return d.wrap(err)
	}
	d.state = decDone
	return io.EOF
}

func (d *Decoder) object() (*Object, error) {
	i := d.index
	d.index++
	var raw json.RawMessage
	if err := d.value(&raw); err != nil {
		return nil, fmt.Errorf("object %d: %w", i, err)
	}
	o, err := parseObject(raw)
	if err != nil {
		return nil, &ObjectError{Index: i, ID: guessID(raw), Err: err}
	}
	return o, nil
}

// token and value read with the size limit armed from the current
// position, so no single token or value can make the decoder buffer more
// than the limit.
func (d *Decoder) token() (json.Token, error) {
	d.arm()
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.wrap(err)
	}
	return tok, nil
}

func (d *Decoder) more() bool {
	d.arm()
	return d.dec.More()
}

// delim reads the closing delimiter More announced; More also says false
// on a read error, which the token read brings to light.
func (d *Decoder) delim(want json.Delim) error {
	tok, err := d.token()
	if err != nil {
		return err
	}
	if tok != want {
		return newError(CodeBadJSON, "", "expected "+want.String())
	}
	return nil
}

func (d *Decoder) value(v any) error {
	d.arm()
	if err := d.dec.Decode(v); err != nil {
		return d.wrap(err)
	}
	if raw, ok := v.(*json.RawMessage); ok && int64(len(*raw)) > d.max {
		return d.tooLarge()
	}
	return nil
}

func (d *Decoder) arm() { d.in.limit = d.dec.InputOffset() + d.max + wsSlack }

func (d *Decoder) wrap(err error) error {
	var ue *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errLimit):
		return d.tooLarge()
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Code: CodeBadJSON, Message: "the bundle ends early", Err: err}
	case errors.As(err, &ue):
		return &Error{Code: CodeBadJSON, Property: ue.Field, Message: "wrong JSON type", Err: err}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &Error{Code: CodeBadJSON, Message: "broken JSON at byte " + strconv.FormatInt(se.Offset, 10), Err: err}
	}
	return err // a read error: the caller's, unchanged
}

func (d *Decoder) tooLarge() error {
	return newError(CodeTooLarge, "", "larger than "+strconv.FormatInt(d.max, 10)+" bytes")
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

var errLimit = errors.New("stix: size limit reached")

// limitReader stops handing bytes to the JSON decoder past limit (a stream
// offset), so one oversized value cannot grow the decoder's buffer without
// bound.
type limitReader struct {
	r     io.Reader
	n     int64 // bytes handed out so far
	limit int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	room := l.limit - l.n
	if room <= 0 {
		return 0, errLimit
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	return n, err
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
		e.w.WriteString(`,"objects":[`)
	} else {
		e.w.WriteByte(',')
	}
	e.n++
	_, e.err = e.w.Write(o.raw)
	return e.err
}

func (e *Encoder) head() {
	e.w.WriteString(`{"type":"bundle","id":`)
	e.w.WriteString(quote(e.id))
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
		e.w.WriteString("}")
	} else {
		e.w.WriteString("]}")
	}
	e.err = e.w.Flush()
	return e.err
}
