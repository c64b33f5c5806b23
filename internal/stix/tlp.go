package stix

import (
	"encoding/json"
	"strings"
)

// TLP is a Traffic Light Protocol 2.0 level, ordered from the least to the
// most restrictive. The zero value means "no TLP". It is the library's own
// type so the package stands alone; callers map it to theirs (verbund's
// policy.TLP has the same five levels in the same order).
type TLP uint8

const (
	TLPClear TLP = iota + 1
	TLPGreen
	TLPAmber
	TLPAmberStrict
	TLPRed
)

var tlpNames = [...]string{TLPClear: "CLEAR", TLPGreen: "GREEN", TLPAmber: "AMBER", TLPAmberStrict: "AMBER+STRICT", TLPRed: "RED"}

// String gives the label, e.g. "TLP:AMBER+STRICT".
func (l TLP) String() string {
	if l < TLPClear || l > TLPRed {
		return "TLP:?"
	}
	return "TLP:" + tlpNames[l]
}

// ParseTLP reads a level as "TLP:AMBER", "amber" or "amber+strict" (any
// case); TLP 1.0's WHITE is read as CLEAR.
func ParseTLP(s string) (TLP, bool) {
	s = strings.ToUpper(strings.TrimPrefix(strings.ToUpper(s), "TLP:"))
	if s == "WHITE" {
		return TLPClear, true
	}
	for l := TLPClear; l <= TLPRed; l++ {
		if tlpNames[l] == s {
			return l, true
		}
	}
	return 0, false
}

// tlp2Extension is the extension-definition of the TLP 2.0 marking objects
// (oasis-open/cti-stix-common-objects).
const tlp2Extension = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

// tlpObjects are the TLP 2.0 marking definitions, byte for byte as
// published (STANDARDS.md §2.6): emit these, never copies with other ids.
var tlpObjects = [...]struct{ id, json string }{
	TLPClear:       tlp2("94868c89-83c2-464b-929b-a1a8aa3c8487", "CLEAR"),
	TLPGreen:       tlp2("bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "GREEN"),
	TLPAmber:       tlp2("55d920b0-5e8b-4f79-9ee9-91f868d9b421", "AMBER"),
	TLPAmberStrict: tlp2("939a9414-2ddd-4d32-a0cd-375ea402b003", "AMBER+STRICT"),
	TLPRed:         tlp2("e828b379-4e03-4974-9ac4-e53a884c97c1", "RED"),
}

func tlp2(uuid, label string) struct{ id, json string } {
	id := "marking-definition--" + uuid
	return struct{ id, json string }{id, `{"type":"marking-definition","spec_version":"2.1","id":"` + id +
		`","created":"2022-10-01T00:00:00.000Z","name":"TLP:` + label + `","extensions":{"` + tlp2Extension +
		`":{"extension_type":"property-extension","tlp_2_0":"` + strings.ToLower(label) + `"}}}`}
}

// tlp1Objects are the TLP 1.0 marking definitions of STIX 2.1 §7.2.1.4,
// which producers must use rather than create their own. WHITE is CLEAR;
// AMBER+STRICT has no TLP 1.0 form.
var tlp1Objects = [...]struct{ id, json string }{
	TLPClear: tlp1("613f2e26-407d-48c7-9eca-b8e91df99dc9", "WHITE"),
	TLPGreen: tlp1("34098fce-860f-48ae-8e50-ebd3cc5e41da", "GREEN"),
	TLPAmber: tlp1("f88d31f6-486f-44da-b317-01333bde0b82", "AMBER"),
	TLPRed:   tlp1("5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "RED"),
}

func tlp1(uuid, label string) struct{ id, json string } {
	id := "marking-definition--" + uuid
	return struct{ id, json string }{id, `{"type":"marking-definition","spec_version":"2.1","id":"` + id +
		`","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","name":"TLP:` + label +
		`","definition":{"tlp":"` + strings.ToLower(label) + `"}}`}
}

// TLPMarkingID is the id of a level's TLP 2.0 marking definition.
func TLPMarkingID(l TLP) string {
	if l < TLPClear || l > TLPRed {
		return ""
	}
	return tlpObjects[l].id
}

// TLPMarking returns a level's TLP 2.0 marking-definition object (a fresh
// copy: the caller may change it), or nil for no level.
func TLPMarking(l TLP) *Object {
	if l < TLPClear || l > TLPRed {
		return nil
	}
	o, _ := parseObject([]byte(tlpObjects[l].json))
	return o
}

// TLP1Marking returns a level's TLP 1.0 marking-definition object, or nil
// (AMBER+STRICT has none).
func TLP1Marking(l TLP) *Object {
	if l < TLPClear || l > TLPRed || tlp1Objects[l].id == "" {
		return nil
	}
	o, _ := parseObject([]byte(tlp1Objects[l].json))
	return o
}

// markingIDTLP knows the level of the nine fixed marking-definition ids.
func markingIDTLP(id string) (TLP, bool) {
	for l := TLPClear; l <= TLPRed; l++ {
		if tlpObjects[l].id == id || tlp1Objects[l].id == id && id != "" {
			return l, true
		}
	}
	return 0, false
}

// MarkingTLP reads the TLP level a marking-definition object stands for:
// one of the fixed ids, or a definition of type "tlp" (TLP 1.0 form) or
// with the TLP 2.0 extension. Other markings (statements …) give false.
func MarkingTLP(md *Object) (TLP, bool) {
	if l, ok := markingIDTLP(md.id); ok {
		return l, true
	}
	if md.typ != "marking-definition" {
		return 0, false
	}
	if md.String("definition_type") == "tlp" {
		var def struct {
			TLP string `json:"tlp"`
		}
		if v, ok := md.Get("definition"); ok && json.Unmarshal(v, &def) == nil {
			return ParseTLP(def.TLP)
		}
	}
	if v, ok := md.Get("extensions"); ok {
		var exts map[string]struct {
			TLP string `json:"tlp_2_0"`
		}
		if json.Unmarshal(v, &exts) == nil && exts[tlp2Extension].TLP != "" {
			return ParseTLP(exts[tlp2Extension].TLP)
		}
	}
	return 0, false
}

// Markings is what an object's marking references say about its TLP.
type Markings struct {
	// TLP is the most restrictive level among the references, 0 if none
	// names a TLP level.
	TLP TLP
	// Unknown are references neither to a fixed TLP marking nor to a
	// marking definition the lookup knew: the caller decides whether to
	// refuse the object or apply a default.
	Unknown []string
	// Other are references to known marking definitions that are not TLP
	// (statements, copyright, custom markings).
	Other []string
}

// ResolveTLP finds the TLP of an object from its object_marking_refs and
// the marking_refs of its granular_markings (a part marked RED makes the
// whole object RED for sharing: it is shared as a whole). The most
// restrictive level wins. lookup, which may be nil, resolves other marking
// definitions, e.g. those embedded in the same bundle.
func ResolveTLP(o *Object, lookup func(id string) *Object) Markings {
	refs := o.ObjectMarkingRefs()
	for _, gm := range o.GranularMarkings() {
		if gm.MarkingRef != "" {
			refs = append(refs, gm.MarkingRef)
		}
	}
	var m Markings
	seen := map[string]bool{}
	for _, ref := range refs {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		l, ok := markingIDTLP(ref)
		if !ok && lookup != nil {
			if md := lookup(ref); md != nil {
				if l, ok = MarkingTLP(md); !ok {
					m.Other = append(m.Other, ref)
					continue
				}
			}
		}
		if !ok {
			m.Unknown = append(m.Unknown, ref)
			continue
		}
		m.TLP = max(m.TLP, l)
	}
	return m
}
