package stix

import "encoding/json"

// Class is the kind of STIX object a type belongs to.
type Class uint8

const (
	ClassCustom Class = iota // a type the specification does not define
	ClassSDO                 // STIX Domain Object
	ClassSRO                 // STIX Relationship Object
	ClassSCO                 // STIX Cyber-observable Object
	ClassSMO                 // STIX Meta Object
	ClassBundle
)

func (c Class) String() string {
	return [...]string{"custom", "SDO", "SRO", "SCO", "SMO", "bundle"}[c]
}

// specTypes are the object types STIX 2.1 defines, with their class and
// the folder of their official schema.
var specTypes = map[string]struct {
	class  Class
	folder string
}{
	"attack-pattern": {ClassSDO, "sdos"}, "campaign": {ClassSDO, "sdos"},
	"course-of-action": {ClassSDO, "sdos"}, "grouping": {ClassSDO, "sdos"},
	"identity": {ClassSDO, "sdos"}, "incident": {ClassSDO, "sdos"},
	"indicator": {ClassSDO, "sdos"}, "infrastructure": {ClassSDO, "sdos"},
	"intrusion-set": {ClassSDO, "sdos"}, "location": {ClassSDO, "sdos"},
	"malware": {ClassSDO, "sdos"}, "malware-analysis": {ClassSDO, "sdos"},
	"note": {ClassSDO, "sdos"}, "observed-data": {ClassSDO, "sdos"},
	"opinion": {ClassSDO, "sdos"}, "report": {ClassSDO, "sdos"},
	"threat-actor": {ClassSDO, "sdos"}, "tool": {ClassSDO, "sdos"},
	"vulnerability": {ClassSDO, "sdos"},

	"relationship": {ClassSRO, "sros"}, "sighting": {ClassSRO, "sros"},

	"artifact": {ClassSCO, "observables"}, "autonomous-system": {ClassSCO, "observables"},
	"directory": {ClassSCO, "observables"}, "domain-name": {ClassSCO, "observables"},
	"email-addr": {ClassSCO, "observables"}, "email-message": {ClassSCO, "observables"},
	"file": {ClassSCO, "observables"}, "ipv4-addr": {ClassSCO, "observables"},
	"ipv6-addr": {ClassSCO, "observables"}, "mac-addr": {ClassSCO, "observables"},
	"mutex": {ClassSCO, "observables"}, "network-traffic": {ClassSCO, "observables"},
	"process": {ClassSCO, "observables"}, "software": {ClassSCO, "observables"},
	"url": {ClassSCO, "observables"}, "user-account": {ClassSCO, "observables"},
	"windows-registry-key": {ClassSCO, "observables"}, "x509-certificate": {ClassSCO, "observables"},

	"marking-definition": {ClassSMO, "common"}, "language-content": {ClassSMO, "common"},
	"extension-definition": {ClassSMO, "common"},

	"bundle": {ClassBundle, "common"},
}

// ClassOf returns the class of a type the specification defines, and
// ClassCustom for any other.
func ClassOf(typ string) Class {
	return specTypes[typ].class
}

// Class returns the object's class. A custom type that declares itself a
// new SDO, SRO or SCO through an extension-definition (extension_type
// "new-sdo" …, §7.3) gets that class.
func (o *Object) Class() Class {
	if c := ClassOf(o.typ); c != ClassCustom {
		return c
	}
	ext, ok := o.Get("extensions")
	if !ok {
		return ClassCustom
	}
	var exts map[string]struct {
		Type string `json:"extension_type"`
	}
	if json.Unmarshal(ext, &exts) != nil {
		return ClassCustom
	}
	for _, e := range exts {
		switch e.Type {
		case "new-sdo":
			return ClassSDO
		case "new-sro":
			return ClassSRO
		case "new-sco":
			return ClassSCO
		}
	}
	return ClassCustom
}
