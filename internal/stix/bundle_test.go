package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

const ind1 = `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z","x_custom":{"nested":[1,2.50,"x"]}}`
const ind2 = `{"type":"indicator","spec_version":"2.1","id":"indicator--9e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":"[domain-name:value = 'example.com']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"}`

type decoded struct {
	ids    []string
	bad    []*ObjectError
	fatal  error
	bundle string
}

func decodeAll(t *testing.T, r io.Reader, max int) decoded {
	t.Helper()
	d := NewDecoder(r)
	if max > 0 {
		d.SetMaxObjectSize(max)
	}
	var out decoded
	for o, err := range d.All() {
		var oe *ObjectError
		switch {
		case errors.As(err, &oe):
			out.bad = append(out.bad, oe)
		case err != nil:
			out.fatal = err
		default:
			out.ids = append(out.ids, o.ID())
		}
	}
	out.bundle = d.BundleID()
	return out
}

func TestDecoderKeyOrder(t *testing.T) {
	id1 := "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	id2 := "indicator--9e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	bid := "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d"
	for _, src := range []string{
		`{"type":"bundle","id":"` + bid + `","objects":[` + ind1 + `,` + ind2 + `]}`,
		`{"objects":[` + ind1 + `,` + ind2 + `],"id":"` + bid + `","type":"bundle"}`,
		` { "id" : "` + bid + `" ,"objects" : [ ` + ind1 + ` ,` + "\n" + ind2 + ` ] , "type":"bundle" } ` + "\n",
	} {
		// One byte at a time: the decoder must not depend on read sizes.
		got := decodeAll(t, iotest.OneByteReader(strings.NewReader(src)), 0)
		if got.fatal != nil || len(got.bad) != 0 {
			t.Fatalf("%s: fatal %v, bad %v", src, got.fatal, got.bad)
		}
		if !reflect.DeepEqual(got.ids, []string{id1, id2}) || got.bundle != bid {
			t.Errorf("%s: ids %v bundle %s", src, got.ids, got.bundle)
		}
	}
}

func TestDecoderBadObjectsGoOn(t *testing.T) {
	src := `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[` +
		ind1 + `, 42, {"id":"x--1","no":"type"}, {"type":"a","type":"b","id":"dup--1"}, "s", null, [], ` + ind2 + `]}`
	got := decodeAll(t, strings.NewReader(src), 0)
	if got.fatal != nil {
		t.Fatal(got.fatal)
	}
	if len(got.ids) != 2 {
		t.Errorf("good objects: %v", got.ids)
	}
	wantIdx := []int{1, 2, 3, 4, 5, 6}
	if len(got.bad) != len(wantIdx) {
		t.Fatalf("bad objects: %v", got.bad)
	}
	for i, oe := range got.bad {
		if oe.Index != wantIdx[i] {
			t.Errorf("bad object %d has index %d, want %d", i, oe.Index, wantIdx[i])
		}
	}
	if got.bad[1].ID != "x--1" || got.bad[2].ID != "dup--1" {
		t.Errorf("ids of bad objects: %q %q", got.bad[1].ID, got.bad[2].ID)
	}
}

func TestDecoderFatal(t *testing.T) {
	cases := map[string]Code{
		``:                               CodeNotBundle,
		`   `:                            CodeNotBundle,
		`[]`:                             CodeNotBundle,
		`{"type":"indicator"}`:           CodeNotBundle,
		`{"id":"bundle--x"}`:             CodeNotBundle, // no type
		`{"type":"bundle","objects":{}}`: CodeNotBundle,
		`{"type":"bundle","objects":[` + ind1 + `,{"type":"x"`:    CodeBadJSON,
		`{"type":"bundle","objects":[` + ind1 + ` ` + ind2 + `]}`: CodeBadJSON,
		`{"type":"bundle","objects":[` + ind1 + `]`:               CodeBadJSON,
		`{"type":"bundle","objects":[]} {}`:                       CodeBadJSON,
		`{"type":"bundle","objects":[{"type":"x",}]}`:             CodeBadJSON,
	}
	for src, code := range cases {
		got := decodeAll(t, strings.NewReader(src), 0)
		var e *Error
		if !errors.As(got.fatal, &e) || e.Code != code {
			t.Errorf("%q: fatal = %v, want code %s", src, got.fatal, code)
		}
	}
	// A read error is passed on unchanged.
	boom := errors.New("boom")
	got := decodeAll(t, io.MultiReader(strings.NewReader(`{"type":"bundle","objects":[`+ind1), iotest.ErrReader(boom)), 0)
	if !errors.Is(got.fatal, boom) || len(got.ids) != 1 {
		t.Errorf("read error: %v, ids %v", got.fatal, got.ids)
	}
}

func TestDecoderSizeLimit(t *testing.T) {
	big := `{"type":"note","id":"note--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","content":"` + strings.Repeat("a", 200<<10) + `"}`
	src := `{"type":"bundle","objects":[` + ind1 + `,` + big + `,` + ind2 + `]}`
	// The oversized object is reported and read past; the stream goes on.
	got := decodeAll(t, iotest.HalfReader(strings.NewReader(src)), 100<<10)
	if got.fatal != nil || len(got.ids) != 2 || len(got.bad) != 1 {
		t.Fatalf("fatal %v, ids %v, bad %v", got.fatal, got.ids, got.bad)
	}
	var e *Error
	if oe := got.bad[0]; oe.Index != 1 || !errors.As(oe, &e) || e.Code != CodeTooLarge {
		t.Errorf("bad object: %v", oe)
	}
	// A hostile value without end is skipped in constant memory up to the
	// end of the stream, which then ends early.
	huge := io.MultiReader(strings.NewReader(`{"type":"bundle","objects":[{"type":"x","a":"`), io.LimitReader(endlessA{}, 50<<20))
	d := NewDecoder(huge)
	d.SetMaxObjectSize(1 << 20)
	if _, err := d.Next(); !errors.As(err, &e) || e.Code != CodeBadJSON || !strings.Contains(err.Error(), "object 0: the bundle ends early") {
		t.Fatalf("endless object: %v", err)
	}
	if len(d.r.buf) > 4<<20 {
		t.Errorf("the decoder buffered %d bytes for a 1 MiB limit", len(d.r.buf))
	}
	// Within the limit all is well.
	got = decodeAll(t, strings.NewReader(src), 300<<10)
	if got.fatal != nil || len(got.ids) != 3 {
		t.Fatalf("fatal %v, ids %v", got.fatal, got.ids)
	}
}

func TestDecoderBundleProblems(t *testing.T) {
	d := NewDecoder(strings.NewReader(`{"type":"bundle","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","spec_version":"2.1","objects":[` + ind1 + `]}`))
	n := 0
	for _, err := range d.All() {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	var es Errors
	if !errors.As(d.BundleErr(), &es) || len(es) != 2 || n != 1 {
		t.Errorf("BundleErr = %v after %d objects", d.BundleErr(), n)
	}
}

func TestEncoderRoundTrip(t *testing.T) {
	src := `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[` + ind1 + `,` + ind2 + `]}`
	d := NewDecoder(strings.NewReader(src))
	var buf bytes.Buffer
	enc := NewEncoder(&buf, "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d")
	for o, err := range d.All() {
		if err != nil {
			t.Fatal(err)
		}
		if err := enc.Encode(o); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.String() != src {
		t.Errorf("round trip changed the bundle:\n%s\n%s", src, buf.String())
	}
	var empty bytes.Buffer
	e := NewEncoder(&empty, "")
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(empty.Bytes(), &v); err != nil || v["type"] != "bundle" || v["id"] != e.ID() {
		t.Errorf("empty bundle %s: %v", empty.String(), err)
	}
}

func TestObjectLossless(t *testing.T) {
	o, err := ParseObject([]byte(ind1))
	if err != nil {
		t.Fatal(err)
	}
	if string(o.Raw()) != ind1 {
		t.Errorf("Raw changed the object")
	}
	b, _ := json.Marshal(o)
	if string(b) != ind1 {
		t.Errorf("Marshal changed the object:\n%s", b)
	}
	if o.Pattern() != "[ipv4-addr:value = '198.51.100.1']" || o.PatternType() != "stix" || o.ValidFrom().IsZero() {
		t.Errorf("accessors: %q %q %v", o.Pattern(), o.PatternType(), o.ValidFrom())
	}
	if err := o.Set("confidence", 80); err != nil {
		t.Fatal(err)
	}
	if err := o.Set("x_custom", json.RawMessage(`"replaced"`)); err != nil {
		t.Fatal(err)
	}
	if c, ok := o.Confidence(); !ok || c != 80 || o.String("x_custom") != "replaced" {
		t.Errorf("after Set: %s", o.Raw())
	}
	if err := o.Delete("x_custom"); err != nil || o.Has("x_custom") {
		t.Errorf("Delete: %v %s", err, o.Raw())
	}
	var names []string
	for n := range o.Members() {
		names = append(names, n)
	}
	want := []string{"type", "spec_version", "id", "created", "modified", "pattern", "pattern_type", "valid_from", "confidence"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("member order %v", names)
	}
	for _, bad := range []string{`[]`, `{"a":1}`, `{"type":1}`, `{"type":"x","type":"y"}`, `{"type":"x"`, `{"type":"x"} x`} {
		if _, err := ParseObject([]byte(bad)); err == nil {
			t.Errorf("ParseObject(%s) succeeded", bad)
		}
	}
	// Escaped names and values are read as JSON reads them.
	o, err = ParseObject([]byte(`{"type":"x-a","na\u006de":"\u00e9t\u00e9","labels":["a","b"]}`))
	if err != nil || o.Name() != "été" || len(o.Labels()) != 2 {
		t.Errorf("escapes: %v %q %v", err, o.Name(), o.Labels())
	}
}

// FuzzCheckJSON holds the decoder's JSON checker to encoding/json's.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{ind1, `[1,-0.5e+3,true,null,"\u00e9\n"]`, `{"a":{}}`, `01`, `1.`, `"\x"`, `[1,]`, "\"\t\"", `{"a" 1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := checkJSON([]byte(s)) == nil, json.Valid([]byte(s)); got != want {
			t.Fatalf("checkJSON(%q) = %v, json.Valid = %v", s, got, want)
		}
	})
}

func FuzzDecoder(f *testing.F) {
	f.Add(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[` + ind1 + `,` + ind2 + `]}`)
	f.Add(`{"objects":[1,{"type":"x"},[],{"type":"y","type":"z"}],"type":"bundle"}`)
	f.Add(`{"type":"bundle","objects":[{"type":"x","a":"\u0041\\","b":{"c":[{}]}}]}`)
	f.Fuzz(func(t *testing.T, src string) {
		d := NewDecoder(strings.NewReader(src))
		d.SetMaxObjectSize(1 << 12)
		var objs []*Object
		for o, err := range d.All() {
			if err == nil {
				objs = append(objs, o)
			}
		}
		for _, o := range objs {
			// Every object handed out is valid JSON and re-parses to itself.
			if !json.Valid(o.Raw()) {
				t.Fatalf("invalid JSON out of %q: %s", src, o.Raw())
			}
			p, err := ParseObject(o.Raw())
			if err != nil || !bytes.Equal(p.Raw(), o.Raw()) || p.Type() != o.Type() || p.ID() != o.ID() {
				t.Fatalf("object does not re-parse: %s: %v", o.Raw(), err)
			}
			_ = Validate(o)
		}
	})
}

type endlessA struct{}

func (endlessA) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}
