package stix

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestTLPObjects(t *testing.T) {
	// The canonical TLP:CLEAR object of STANDARDS.md §2.6.
	want := `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487","created":"2022-10-01T00:00:00.000Z","name":"TLP:CLEAR","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":"clear"}}}`
	if got := string(TLPMarking(TLPClear).Raw()); got != want {
		t.Errorf("TLP:CLEAR\n got %s\nwant %s", got, want)
	}
	s := NewSchemas()
	for l := TLPClear; l <= TLPRed; l++ {
		for _, o := range []*Object{TLPMarking(l), TLP1Marking(l)} {
			if o == nil {
				continue
			}
			if err := Validate(o); err != nil {
				t.Errorf("%s: %v", o.ID(), err)
			}
			if err := s.Validate(o); err != nil {
				t.Errorf("%s: %v", o.ID(), err)
			}
			if got, ok := MarkingTLP(o); !ok || got != l {
				t.Errorf("MarkingTLP(%s) = %v, want %v", o.ID(), got, l)
			}
			// The level is read from the content too, not only the fixed id.
			c := obj(t, string(o.Raw()), `id="marking-definition--00000000-0000-4000-8000-000000000000"`)
			if got, ok := MarkingTLP(c); !ok || got != l {
				t.Errorf("MarkingTLP of a copy of %s = %v", o.ID(), got)
			}
		}
		if TLPMarkingID(l) != TLPMarking(l).ID() {
			t.Errorf("TLPMarkingID(%v)", l)
		}
	}
	if TLP1Marking(TLPAmberStrict) != nil || TLP1Marking(TLPClear).Name() != "TLP:WHITE" {
		t.Error("TLP 1.0 objects: AMBER+STRICT has none, CLEAR is WHITE")
	}
	if l, ok := ParseTLP("white"); !ok || l != TLPClear {
		t.Error("WHITE is CLEAR")
	}
	if l, ok := ParseTLP("TLP:amber+strict"); !ok || l != TLPAmberStrict || l.String() != "TLP:AMBER+STRICT" {
		t.Error("ParseTLP amber+strict")
	}
}

func TestResolveTLP(t *testing.T) {
	statement := obj(t, mdStmt, `id="marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168"`)
	custom := obj(t, string(TLPMarking(TLPRed).Raw()), `id="marking-definition--11111111-1111-4111-8111-111111111111"`)
	embedded := map[string]*Object{statement.ID(): statement, custom.ID(): custom}
	lookup := func(id string) *Object { return embedded[id] }
	green1 := tlp1Objects[TLPGreen].id
	amber2 := TLPMarkingID(TLPAmber)
	unknown := "marking-definition--22222222-2222-4222-8222-222222222222"
	cases := []struct {
		props []string
		want  Markings
	}{
		{nil, Markings{}},
		{[]string{`object_marking_refs=["` + green1 + `"]`}, Markings{TLP: TLPGreen}},
		{[]string{`object_marking_refs=["` + green1 + `","` + amber2 + `"]`}, Markings{TLP: TLPAmber}},
		{[]string{`object_marking_refs=["` + statement.ID() + `","` + unknown + `"]`}, Markings{Other: []string{statement.ID()}, Unknown: []string{unknown}}},
		{[]string{`object_marking_refs=["` + green1 + `"]`, `granular_markings=[{"selectors":["description"],"marking_ref":"` + custom.ID() + `"}]`}, Markings{TLP: TLPRed}},
		{[]string{`object_marking_refs=["` + tlp1Objects[TLPClear].id + `"]`}, Markings{TLP: TLPClear}},
	}
	for _, c := range cases {
		o := obj(t, ind1, c.props...)
		got := ResolveTLP(o, lookup)
		if !reflect.DeepEqual(got, c.want) {
			b, _ := json.Marshal(c.props)
			t.Errorf("%s: got %+v, want %+v", b, got, c.want)
		}
	}
	// Without a lookup, an embedded definition is unknown.
	o := obj(t, ind1, `object_marking_refs=["`+custom.ID()+`"]`)
	if got := ResolveTLP(o, nil); got.TLP != 0 || len(got.Unknown) != 1 {
		t.Errorf("no lookup: %+v", got)
	}
}
