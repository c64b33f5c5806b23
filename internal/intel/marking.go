package intel

import (
	"bytes"
	"encoding/json"

	"verbund/internal/policy"
	"verbund/internal/stix"
)

// marked returns an object as the hub hands it out. An object that came
// with no marking at all was given a level here (the importer's, AMBER by
// default); going out unmarked, the next system would take it for
// unrestricted, so the TLP 2.0 marking of its level is added. An object
// that came with markings (a copyright statement, as every ATT&CK object
// has) goes out exactly as it came: exports and TAXII stay lossless, and
// its level is in the hub's answers (the API's tlp) — adding a marking
// would change the version its producer published. Marking definitions
// are left as they are.
func marked(raw []byte, typ string, level policy.TLP) []byte {
	if typ == "marking-definition" || bytes.Contains(raw, []byte(`"object_marking_refs"`)) {
		return raw
	}
	// Most objects come unmarked from tools that leave TLP to the channel:
	// the marking goes in front of the first member, without parsing and
	// writing the whole object again. Only when the object may spell a
	// member name with escapes (\u), and so hide an object_marking_refs
	// from the test above, is it parsed.
	if !bytes.Contains(raw, []byte(`\u`)) {
		body := bytes.TrimLeft(raw, " \t\r\n")
		if len(body) > 1 && body[0] == '{' {
			if rest := bytes.TrimLeft(body[1:], " \t\r\n"); len(rest) > 0 && rest[0] == '"' {
				out := make([]byte, 0, len(raw)+96)
				out = append(out, `{"object_marking_refs":["`...)
				out = append(out, stix.TLPMarkingID(stixTLP(level))...)
				out = append(out, `"],`...)
				return append(out, rest...)
			}
		}
	}
	o, err := stix.ParseObject(raw)
	if err != nil || o.Type() == "marking-definition" || len(o.ObjectMarkingRefs()) > 0 {
		return raw
	}
	if err := o.Set("object_marking_refs", []string{stix.TLPMarkingID(stixTLP(level))}); err != nil {
		return raw
	}
	out, err := json.Marshal(o)
	if err != nil {
		return raw
	}
	return out
}
