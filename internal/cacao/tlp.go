package cacao

import (
	"strings"

	"verbund/internal/stix"
)

// TLPMarkingID is the id of a level's CACAO TLP marking: "marking-tlp--"
// with the UUID of the STIX TLP 2.0 marking definition of the same level,
// so a playbook and an indicator marked AMBER carry the same UUID.
func TLPMarkingID(l stix.TLP) string {
	id := stix.TLPMarkingID(l)
	if id == "" {
		return ""
	}
	return "marking-tlp--" + strings.TrimPrefix(id, "marking-definition--")
}

// parseTLPLevel reads tlpv2_level ("TLP:AMBER+STRICT"); only TLP 2.0's
// five labels, exactly as the schema spells them.
func parseTLPLevel(s string) (stix.TLP, bool) {
	if !strings.HasPrefix(s, "TLP:") || s == "TLP:WHITE" {
		return 0, false
	}
	l, ok := stix.ParseTLP(s)
	if !ok || l.String() != s {
		return 0, false
	}
	return l, true
}

// TLP is the playbook's TLP level: the most restrictive TLP marking among
// those its markings property names (among all its TLP definitions when it
// names none), 0 when it has none.
func (p *Playbook) TLP() stix.TLP {
	ids := p.Markings
	if len(ids) == 0 {
		ids = sortedKeys(p.MarkingDefs)
	}
	var level stix.TLP
	for _, id := range ids {
		m := p.MarkingDefs[id]
		if m == nil || m.Type != "marking-tlp" {
			continue
		}
		if l, ok := parseTLPLevel(m.TLPLevel); ok && l > level {
			level = l
		}
	}
	return level
}
