// Package policy is the one place that decides who may see or do what in
// verbund: roles, TLP 2.0, audiences, trust circles and data-sharing
// agreements, exactly as docs/POLICY.md (the rule book) defines them.
//
// It offers the rule twice, and a test keeps both in agreement:
//   - Visible builds the SQL predicate that every list, count, search and
//     export appends to its query (so invisible rows never leave the database);
//   - View.CanSee decides for one object in memory (used for live events,
//     where a query per subscriber per event would be too slow).
package policy

import (
	"slices"
	"strings"

	"verbund/internal/fault"
	"verbund/internal/jsonenc"
)

// Role is a user's role in their organisation.
type Role string

const (
	Viewer  Role = "viewer"  // reads
	Auditor Role = "auditor" // reads, and reads the org's audit trail
	Analyst Role = "analyst" // reads, creates, edits
	Admin   Role = "admin"   // analyst + manages people, tokens, agreements, memberships
)

// Roles lists the roles in display order.
func Roles() []Role { return []Role{Admin, Analyst, Viewer, Auditor} }

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(Roles(), r) {
		return r, nil
	}
	return "", fault.BadInput("role", "bad_role", `unknown role "{role}": use admin, analyst, viewer or auditor`).With("role", s)
}

// Scope limits what an API token may do. Sessions have ScopeSession.
type Scope string

const (
	ScopeSession Scope = "session"
	ScopeRead    Scope = "read"
	ScopeWrite   Scope = "write"
)

// Actor is who acts: a signed-in user (via session or token), or the
// operator at the command line (System, with no user).
type Actor struct {
	UserID string
	OrgID  string
	Role   Role
	Scope  Scope
	Via    string // web, api, cli, system
	IP     string
	Name   string
	Lang   string
	Token  string // id of the API token used, if any (audited on writes)
}

// System is the operator acting through the admin CLI or the demo seeder.
func System(via string) Actor { return Actor{Via: via, Role: Admin, Scope: ScopeWrite} }

// IsSystem reports whether the actor is the operator rather than a user.
func (a Actor) IsSystem() bool { return a.UserID == "" }

// CanWrite: analysts and admins, never through a read token.
func (a Actor) CanWrite() bool {
	return (a.Role == Analyst || a.Role == Admin) && a.Scope != ScopeRead
}

// CanAdmin: admins of their own org, never through a read token.
func (a Actor) CanAdmin() bool { return a.Role == Admin && a.Scope != ScopeRead }

// CanAudit: admins and auditors read their org's audit trail.
func (a Actor) CanAudit() bool { return a.Role == Admin || a.Role == Auditor }

// TLP is a Traffic Light Protocol 2.0 level, ordered from least to most
// restrictive so that "allows" is a comparison.
type TLP int

const (
	Clear TLP = iota
	Green
	Amber
	AmberStrict
	Red
)

// Levels lists the TLP levels in order.
func Levels() []TLP { return []TLP{Clear, Green, Amber, AmberStrict, Red} }

var tlpNames = [...]string{"CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"}

// Name is the FIRST name without prefix, e.g. "AMBER+STRICT".
func (t TLP) Name() string {
	if t < Clear || t > Red {
		return "INVALID"
	}
	return tlpNames[t]
}

// String is the label FIRST prescribes, e.g. "TLP:AMBER+STRICT".
func (t TLP) String() string { return "TLP:" + t.Name() }

// Class is the CSS class suffix, e.g. "amber-strict".
func (t TLP) Class() string { return strings.ReplaceAll(strings.ToLower(t.Name()), "+", "-") }

// ParseTLP accepts "AMBER", "tlp:amber", "TLP:AMBER+STRICT", "amber-strict"
// and the TLP 1.0 name WHITE (read as CLEAR).
func ParseTLP(s string) (TLP, error) {
	n := strings.ToUpper(strings.TrimSpace(s))
	n = strings.TrimPrefix(n, "TLP:")
	n = strings.ReplaceAll(n, "_", "+")
	n = strings.ReplaceAll(n, "-", "+")
	if n == "WHITE" {
		return Clear, nil
	}
	for i, name := range tlpNames {
		if n == name {
			return TLP(i), nil
		}
	}
	return 0, fault.BadInput("tlp", "bad_tlp", `unknown TLP level "{tlp}": use CLEAR, GREEN, AMBER, AMBER+STRICT or RED`).With("tlp", s)
}

// Category is one kind of shared data, as a bit so that an agreement's set
// of categories is one integer both engines can test with &.
type Category int

const (
	Incident Category = 1 << iota
	Indicator
	Vulnerability
	Log
	Risk
	Exercise
	Knowledge
)

// AllCategories is the set of every category.
const AllCategories = Incident | Indicator | Vulnerability | Log | Risk | Exercise | Knowledge

var categoryNames = []struct {
	c    Category
	name string
}{
	{Incident, "incident"}, {Indicator, "indicator"}, {Vulnerability, "vulnerability"},
	{Log, "log"}, {Risk, "risk"}, {Exercise, "exercise"}, {Knowledge, "knowledge"},
}

// Name returns the category's name for a single category.
func (c Category) Name() string {
	for _, n := range categoryNames {
		if n.c == c {
			return n.name
		}
	}
	return "invalid"
}

// Names lists the names of the categories in the set c.
func (c Category) Names() []string {
	var out []string
	for _, n := range categoryNames {
		if c&n.c != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// Has reports whether the set c includes every category of k.
func (c Category) Has(k Category) bool { return k != 0 && c&k == k }

// CategoryList lists every single category.
func CategoryList() []Category {
	out := make([]Category, len(categoryNames))
	for i, n := range categoryNames {
		out[i] = n.c
	}
	return out
}

// ParseCategory parses one category name (plural accepted).
func ParseCategory(s string) (Category, error) {
	n := strings.ToLower(strings.TrimSpace(s))
	for _, c := range categoryNames {
		if n == c.name || n == c.name+"s" || (c.c == Vulnerability && n == "vulnerabilities") {
			return c.c, nil
		}
	}
	return 0, fault.BadInput("categories", "bad_category",
		`unknown category "{category}": use incident, indicator, vulnerability, log, risk, exercise or knowledge`).With("category", s)
}

// ParseCategories parses a comma separated list; "all" means every category.
func ParseCategories(list []string) (Category, error) {
	var set Category
	for _, item := range list {
		for _, s := range strings.Split(item, ",") {
			if strings.TrimSpace(s) == "" {
				continue
			}
			if strings.EqualFold(strings.TrimSpace(s), "all") {
				set |= AllCategories
				continue
			}
			c, err := ParseCategory(s)
			if err != nil {
				return 0, err
			}
			set |= c
		}
	}
	if set == 0 {
		return 0, fault.BadInput("categories", "categories_missing", "name at least one category")
	}
	return set, nil
}

// AudienceKind says who an object is meant for.
type AudienceKind string

const (
	AudOrg       AudienceKind = "org"       // the owner org only
	AudCommunity AudienceKind = "community" // members of one trust circle
	AudOrgs      AudienceKind = "orgs"      // named orgs
	AudPeople    AudienceKind = "people"    // named people
)

// Audience is an object's intended recipients.
type Audience struct {
	Kind      AudienceKind `json:"kind"`
	Community string       `json:"community,omitempty"`
	Orgs      []string     `json:"orgs,omitempty"`
	People    []string     `json:"people,omitempty"`
}

// Share is the sharing envelope every shareable object carries.
type Share struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"`
	Owner     string   `json:"owner"`
	Author    string   `json:"author"`
	Category  Category `json:"category"`
	TLP       TLP      `json:"tlp"`
	Audience  Audience `json:"audience"`
	CreatedAt int64    `json:"created_at"`
	// Container is the object this one belongs to (a post's thread), so
	// that lists of containers can count what each reader may see of
	// their contents (Reader.Tally); "" for none.
	Container string `json:"container,omitempty"`
}

// ValidateAudience applies the TLP table of POLICY.md: which audience kinds a
// level allows. The owner org alone is always allowed below RED (it is
// narrower than any other audience).
func ValidateAudience(l TLP, a Audience) error {
	if l < Clear || l > Red {
		return fault.BadInput("tlp", "bad_tlp", `unknown TLP level "{tlp}"`).With("tlp", int(l))
	}
	switch a.Kind {
	case AudOrg:
		if l == Red {
			return fault.BadInput("audience", "red_needs_people", "TLP:RED is for named people only: choose the people who may read it")
		}
	case AudCommunity:
		if a.Community == "" {
			return fault.BadInput("audience", "community_missing", "choose the trust circle that may read it")
		}
		if l >= AmberStrict {
			return fault.BadInput("audience", "tlp_audience_mismatch",
				"{tlp} may not go to a whole trust circle: name the organisations or people").With("tlp", l.String())
		}
	case AudOrgs:
		if len(a.Orgs) == 0 {
			return fault.BadInput("audience", "orgs_missing", "name at least one organisation")
		}
		if l == Red {
			return fault.BadInput("audience", "red_needs_people", "TLP:RED is for named people only: choose the people who may read it")
		}
	case AudPeople:
		if len(a.People) == 0 {
			return fault.BadInput("audience", "people_missing", "name at least one person")
		}
	default:
		return fault.BadInput("audience", "bad_audience", `unknown audience "{audience}": use org, community, orgs or people`).With("audience", string(a.Kind))
	}
	return nil
}

// MarshalJSON writes a level as its FIRST label ("TLP:AMBER"), the form
// every API answer uses.
func (t TLP) MarshalJSON() ([]byte, error) {
	if t < Clear || t > Red {
		return nil, fault.New(fault.Internal, "bad_tlp", `unknown TLP level "{tlp}"`).With("tlp", int(t))
	}
	return []byte(`"` + t.String() + `"`), nil
}

// UnmarshalJSON reads any form ParseTLP accepts.
func (t *TLP) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	l, err := ParseTLP(s)
	if err != nil {
		return err
	}
	*t = l
	return nil
}

// MarshalJSON writes a single category as its name ("knowledge") and a
// set as a list of names.
func (c Category) MarshalJSON() ([]byte, error) {
	names := c.Names()
	if len(names) == 1 {
		return []byte(`"` + names[0] + `"`), nil
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + n + `"`)
	}
	b.WriteByte(']')
	return []byte(b.String()), nil
}

// UnmarshalJSON reads a name or a list of names.
func (c *Category) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, "[") {
		s = strings.Trim(s, "[]")
	}
	var parts []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.Trim(strings.TrimSpace(p), `"`); p != "" {
			parts = append(parts, p)
		}
	}
	set, err := ParseCategories(parts)
	if err != nil {
		return err
	}
	*c = set
	return nil
}

// AppendJSON appends the envelope as encoding/json writes it (package
// jsonenc: pages of objects append their envelopes this way).
func (s *Share) AppendJSON(b []byte) ([]byte, error) {
	b = jsonenc.String(jsonenc.Field(append(b, '{'), "id", true), s.ID)
	b = jsonenc.String(jsonenc.Field(b, "kind", false), s.Kind)
	b = jsonenc.String(jsonenc.Field(b, "owner", false), s.Owner)
	b = jsonenc.String(jsonenc.Field(b, "author", false), s.Author)
	c, err := s.Category.MarshalJSON()
	if err != nil {
		return b, err
	}
	b = append(jsonenc.Field(b, "category", false), c...)
	t, err := s.TLP.MarshalJSON()
	if err != nil {
		return b, err
	}
	b = append(jsonenc.Field(b, "tlp", false), t...)
	b = jsonenc.Field(b, "audience", false)
	b = jsonenc.String(jsonenc.Field(append(b, '{'), "kind", true), string(s.Audience.Kind))
	if s.Audience.Community != "" {
		b = jsonenc.String(jsonenc.Field(b, "community", false), s.Audience.Community)
	}
	if len(s.Audience.Orgs) > 0 {
		b = jsonenc.Strings(jsonenc.Field(b, "orgs", false), s.Audience.Orgs)
	}
	if len(s.Audience.People) > 0 {
		b = jsonenc.Strings(jsonenc.Field(b, "people", false), s.Audience.People)
	}
	b = jsonenc.Int(jsonenc.Field(append(b, '}'), "created_at", false), s.CreatedAt)
	if s.Container != "" {
		b = jsonenc.String(jsonenc.Field(b, "container", false), s.Container)
	}
	return append(b, '}'), nil
}
