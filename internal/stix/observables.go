package stix

import (
	"net/netip"
	"strings"
)

// ObservableKind classifies the value of an Observable for lookups.
type ObservableKind string

const (
	KindIPv4   ObservableKind = "ipv4"
	KindIPv6   ObservableKind = "ipv6"
	KindCIDR   ObservableKind = "cidr" // an IPv4 or IPv6 prefix
	KindDomain ObservableKind = "domain"
	KindURL    ObservableKind = "url"
	KindEmail  ObservableKind = "email"
	KindHash   ObservableKind = "hash"
	KindMAC    ObservableKind = "mac"
	KindOther  ObservableKind = "other" // any other string property
)

// Observable is one simple value a pattern looks for: Type:Path = 'Value'
// (or one member of an IN set, or an address ISSUBSET a CIDR).
//
// Sufficient says whether an observation matching this comparison alone
// makes the whole pattern match. The rule: OR keeps it (either side is
// enough); AND and FOLLOWEDBY clear it on both sides (the other side must
// match too); a START/STOP window and REPEATS n>1 clear it (one sighting at
// an arbitrary time is not enough); WITHIN keeps it (one observation is
// always within any window of itself). So [ipv4-addr:value = '1.2.3.4' OR
// ipv4-addr:value = '5.6.7.8'] gives two sufficient observables, while
// [file:hashes.MD5 = '…' AND file:size = 10] gives an insufficient one: a
// lookup for the hash alone would only be a partial match. Negated
// comparisons and non-string constants are left out; values are as
// written (no case folding or address normalisation).
type Observable struct {
	Type       string         // object type, e.g. ipv4-addr
	Path       string         // property path, e.g. value, hashes.'SHA-256', dst_ref.value
	Op         CompOp         // OpEQ (also for IN members) or OpIsSubset
	Value      string         // the constant as written
	Kind       ObservableKind // what Value is, as far as type and path tell
	HashAlgo   string         // the algorithm, for KindHash
	Sufficient bool
}

// Observables returns the simple observables of the pattern, in the order
// they appear, each (type, path, op, value) once.
func (p *Pattern) Observables() []Observable {
	c := &collector{seen: map[[4]string]int{}}
	c.obs(p.Root, true)
	return c.out
}

type collector struct {
	out  []Observable
	seen map[[4]string]int
}

func (c *collector) obs(e ObservationExpr, suff bool) {
	switch e := e.(type) {
	case *Observation:
		c.comp(e.Expr, suff)
	case *ObservationGroup:
		c.obs(e.Expr, suff)
	case *ObservationBinary:
		if e.Op != Or {
			suff = false
		}
		c.obs(e.Left, suff)
		c.obs(e.Right, suff)
	case *Qualified:
		switch e.Qualifier.Kind {
		case StartStop:
			suff = false
		case Repeats:
			suff = suff && e.Qualifier.Value.Int <= 1
		}
		c.obs(e.Expr, suff)
	}
}

func (c *collector) comp(e ComparisonExpr, suff bool) {
	switch e := e.(type) {
	case *ComparisonGroup:
		c.comp(e.Expr, suff)
	case *ComparisonBinary:
		if e.Op != Or {
			suff = false
		}
		c.comp(e.Left, suff)
		c.comp(e.Right, suff)
	case *Comparison:
		if e.Negated {
			return
		}
		switch e.Op {
		case OpEQ:
			c.add(e.Path, OpEQ, e.Value, suff)
		case OpIn:
			for _, v := range e.Set {
				c.add(e.Path, OpEQ, v, suff)
			}
		case OpIsSubset:
			c.add(e.Path, OpIsSubset, e.Value, suff)
		}
	}
}

func (c *collector) add(path ObjectPath, op CompOp, v Constant, suff bool) {
	if v.Kind != ConstString {
		return
	}
	o := Observable{Type: path.ObjectType, Path: path.Property(), Op: op, Value: v.Text, Sufficient: suff}
	o.Kind, o.HashAlgo = classify(path, v.Text)
	if op == OpIsSubset && o.Kind != KindCIDR {
		return // only an address within a prefix is a lookup value
	}
	key := [4]string{o.Type, o.Path, op.String(), o.Value}
	if i, ok := c.seen[key]; ok {
		c.out[i].Sufficient = c.out[i].Sufficient || suff
		return
	}
	c.seen[key] = len(c.out)
	c.out = append(c.out, o)
}

// emailRefs are the email-message references that point at email-addr
// objects, so their .value is an address.
var emailRefs = map[string]bool{"from_ref": true, "sender_ref": true, "to_refs": true, "cc_refs": true, "bcc_refs": true}

func classify(path ObjectPath, v string) (ObservableKind, string) {
	steps := path.Steps
	n := len(steps)
	last := steps[n-1]
	if n >= 2 && !last.IsIndex && strings.HasSuffix(steps[n-2].Key, "hashes") {
		return KindHash, last.Key
	}
	if last.Key != "value" {
		return KindOther, ""
	}
	if n == 1 {
		switch path.ObjectType {
		case "ipv4-addr", "ipv6-addr":
			return addrKind(v), ""
		case "domain-name":
			return KindDomain, ""
		case "url":
			return KindURL, ""
		case "email-addr":
			return KindEmail, ""
		case "mac-addr":
			return KindMAC, ""
		}
		return KindOther, ""
	}
	// A value reached through a reference (dst_ref.value,
	// resolves_to_refs[*].value): the referenced type is not written in the
	// pattern, so addresses are recognised by their form.
	ref := steps[n-2]
	if ref.IsIndex && n >= 3 {
		ref = steps[n-3]
	}
	if !strings.HasSuffix(ref.Key, "_ref") && !strings.HasSuffix(ref.Key, "_refs") {
		return KindOther, ""
	}
	if path.ObjectType == "email-message" && emailRefs[ref.Key] {
		return KindEmail, ""
	}
	return addrKind(v), ""
}

func addrKind(v string) ObservableKind {
	if strings.Contains(v, "/") {
		if _, err := netip.ParsePrefix(v); err == nil {
			return KindCIDR
		}
		return KindOther
	}
	a, err := netip.ParseAddr(v)
	switch {
	case err != nil:
		return KindOther
	case a.Is4():
		return KindIPv4
	}
	return KindIPv6
}
