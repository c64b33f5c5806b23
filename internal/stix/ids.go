package stix

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/google/uuid"
)

// scoNamespace is the UUIDv5 namespace of deterministic SCO ids (§2.9).
var scoNamespace = uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")

// ParseID splits an identifier <type>--<UUID> and checks both parts: the
// type as the specification's type names are formed, the UUID as RFC 4122
// (version 1–5, variant 10), like common/identifier.json.
func ParseID(id string) (typ string, u uuid.UUID, err error) {
	typ, rest, ok := strings.Cut(id, "--")
	if !ok {
		return "", uuid.Nil, newError(CodeBadID, "", "identifier "+quote(id)+" is not <type>--<UUID>")
	}
	if !ValidType(typ) {
		return "", uuid.Nil, newError(CodeBadID, "", "identifier "+quote(id)+" has a malformed type")
	}
	if len(rest) != 36 {
		return "", uuid.Nil, newError(CodeBadID, "", "identifier "+quote(id)+" has a malformed UUID")
	}
	u, err = uuid.Parse(rest)
	if err != nil || u.Version() < 1 || u.Version() > 5 || u.Variant() != uuid.RFC4122 {
		return "", uuid.Nil, newError(CodeBadID, "", "identifier "+quote(id)+" has no RFC 4122 UUID")
	}
	return typ, u, nil
}

// ValidType reports whether typ is formed as STIX type names are: 3 to 250
// characters of a-z, 0-9 and '-', starting with a letter, not ending with
// '-' and without "--" (§3.1; the schema's ^([a-z][a-z0-9]*)+(-[a-z0-9]+)*\-?$
// is looser about the end, the prose is not).
func ValidType(typ string) bool {
	if len(typ) < 3 || len(typ) > 250 || typ[0] < 'a' || typ[0] > 'z' || typ[len(typ)-1] == '-' {
		return false
	}
	for i := 0; i < len(typ); i++ {
		c := typ[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && typ[i-1] != '-':
		default:
			return false
		}
	}
	return true
}

// NewID returns a fresh identifier with a random (version 4) UUID, as SDOs,
// SROs, SMOs and bundles should have.
func NewID(typ string) string {
	return typ + "--" + uuid.NewString()
}

// scoIDProperties lists each SCO type's ID contributing properties (STIX
// 2.1 §6, "ID Contributing Properties" of every object). Process has none:
// its ids are random.
var scoIDProperties = map[string][]string{
	"artifact":             {"hashes", "payload_bin"},
	"autonomous-system":    {"number"},
	"directory":            {"path"},
	"domain-name":          {"value"},
	"email-addr":           {"value"},
	"email-message":        {"from_ref", "subject", "body"},
	"file":                 {"hashes", "name", "extensions", "parent_directory_ref"},
	"ipv4-addr":            {"value"},
	"ipv6-addr":            {"value"},
	"mac-addr":             {"value"},
	"mutex":                {"name"},
	"network-traffic":      {"start", "end", "src_ref", "dst_ref", "src_port", "dst_port", "protocols", "extensions"},
	"process":              {},
	"software":             {"name", "cpe", "swid", "vendor", "version"},
	"url":                  {"value"},
	"user-account":         {"account_type", "user_id", "account_login"},
	"windows-registry-key": {"key", "values"},
	"x509-certificate":     {"hashes", "serial_number"},
}

// SCOIDProperties returns the ID contributing properties of an SCO type the
// specification defines.
func SCOIDProperties(typ string) ([]string, bool) {
	p, ok := scoIDProperties[typ]
	return append([]string(nil), p...), ok
}

// preferredHashes is the order in which one hash of a hashes dictionary is
// chosen to contribute to an id; failing all, the first in the object.
// This is what the python stix2 library does, so ids agree with it.
var preferredHashes = []string{"MD5", "SHA-1", "SHA-256", "SHA-512"}

// SCOID computes an SCO's deterministic id: a UUIDv5 in the SCO namespace
// over the RFC 8785 form of its ID contributing properties (§2.9). It fails
// with CodeNoIDProps for a type without a list (process, custom types) or
// an object with none of its properties; such an SCO gets NewID instead.
func SCOID(o *Object) (string, error) {
	props, ok := scoIDProperties[o.typ]
	if !ok || len(props) == 0 {
		return "", newError(CodeNoIDProps, "", "type "+quote(o.typ)+" has no ID contributing properties")
	}
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for _, p := range props {
		v, ok := o.Get(p)
		if !ok {
			continue
		}
		if p == "hashes" {
			h, err := oneHash(v)
			if err != nil {
				return "", err
			}
			v = h
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		k, _ := json.Marshal(p)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	if n == 0 {
		return "", newError(CodeNoIDProps, "", "none of the ID contributing properties of "+quote(o.typ)+" is present")
	}
	canon, err := Canonicalize(b.Bytes())
	if err != nil {
		return "", &Error{Code: CodeBadValue, Message: "cannot canonicalize ID contributing properties", Err: err}
	}
	return o.typ + "--" + uuid.NewSHA1(scoNamespace, canon).String(), nil
}

func oneHash(v json.RawMessage) (json.RawMessage, error) {
	h, err := parseObjectMembers(v)
	if err != nil || len(h) == 0 {
		return nil, newError(CodeBadValue, "hashes", "not a non-empty dictionary")
	}
	pick := h[0]
	for _, want := range preferredHashes {
		if i := indexMember(h, want); i >= 0 {
			pick = h[i]
			break
		}
	}
	k, _ := json.Marshal(pick.name)
	return json.RawMessage("{" + string(k) + ":" + string(pick.value) + "}"), nil
}

func indexMember(ms []member, name string) int {
	for i, m := range ms {
		if m.name == name {
			return i
		}
	}
	return -1
}

// parseObjectMembers splits a nested JSON object (valid JSON) into its
// members in order.
func parseObjectMembers(v json.RawMessage) ([]member, error) {
	o := &Object{raw: v}
	if err := o.split(); err != nil {
		return nil, err
	}
	return o.members, nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
