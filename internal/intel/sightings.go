package intel

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/stix"
)

// SightingInput is a report that an org saw an object ("we saw this").
type SightingInput struct {
	Count       int    `json:"count,omitempty"`      // how often (default 1)
	FirstSeen   string `json:"first_seen,omitempty"` // RFC 3339
	LastSeen    string `json:"last_seen,omitempty"`
	Description string `json:"description,omitempty"`
	TLP         string `json:"tlp,omitempty"` // default AMBER
	// ShareWith is who receives the sighting: "owner" (default: the org
	// that shared the object) or "circle" (the circle the object was
	// shared with).
	ShareWith string `json:"share_with,omitempty"`
	// OnBehalfOf lets a CERT relay a sighting for a member that wants to
	// stay unnamed: recipients see the CERT; the audit trail keeps the
	// org that saw it (an org's id).
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
}

// Org is an organisation as a form names it.
type Org struct{ ID, Name string }

// RelayOrgs lists the orgs a CERT may relay a sighting for: those it
// knows (its agreements' partners and its circles' members), by name.
// Other orgs' actors get none.
func (s *Service) RelayOrgs(ctx context.Context, a policy.Actor) ([]Org, error) {
	h := s.DB.R()
	var kind string
	if err := h.QueryRow(ctx, `SELECT kind FROM orgs WHERE id = ?`, a.OrgID).Scan(&kind); err != nil {
		return nil, fmt.Errorf("load the reporter's org: %w", db.Map(err))
	}
	if kind != "cert" {
		return nil, nil
	}
	v, err := policy.LoadView(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	var ids []any
	seen := map[string]bool{a.OrgID: true}
	add := func(org string) {
		if !seen[org] {
			seen[org] = true
			ids = append(ids, org)
		}
	}
	for org := range v.Partners {
		add(org)
	}
	for _, members := range v.Communities {
		for org := range members {
			add(org)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := h.Query(ctx, `SELECT id, name FROM orgs WHERE id IN (`+db.Placeholders(len(ids))+`) ORDER BY name`, ids...)
	if err != nil {
		return nil, fmt.Errorf("name the orgs to relay for: %w", err)
	}
	return db.Collect(rows, "name the orgs to relay for", func(r db.Scanner) (o Org, err error) { err = r.Scan(&o.ID, &o.Name); return o, err })
}

// IdentityID is the STIX identity that stands for an org of the hub in
// the objects the hub writes for it (a UUIDv5, the same every time).
func IdentityID(org string) string {
	return "identity--" + uuid.NewSHA1(uuid.MustParse("6ba7b811-9dad-11d1-80b4-00c04fd430c8"), []byte("verbund:org:"+org)).String()
}

// Sight records that the actor's org saw the object version id (the
// hub's id): a STIX sighting of it, shared with its owner (or its circle),
// announced live to those who may see the sighting.
func (s *Service) Sight(ctx context.Context, a policy.Actor, id string, in SightingInput) (Object, error) {
	target, err := s.FindByID(ctx, a, id)
	if err != nil {
		return Object{}, err
	}
	if !Sightable(target.Type) {
		return Object{}, fault.BadInput("", "not_sightable", "only indicators, malware and other domain objects can be sighted, not a {type}").With("type", target.Type)
	}
	if in.Count == 0 {
		in.Count = 1
	}
	if in.Count < 0 || in.Count > 999999999 {
		return Object{}, fault.BadInput("count", "bad_count", "the count must be between 1 and 999,999,999")
	}
	if len(in.Description) > 10000 {
		return Object{}, fault.BadInput("description", "description_too_long", "the description is longer than 10,000 characters")
	}
	opts := ImportOptions{TLP: in.TLP, Via: "api", Action: "intel.sighting"}
	switch in.ShareWith {
	case "", "owner":
		if target.Share.Owner == a.OrgID {
			opts.Audience = policy.Audience{Kind: policy.AudOrg}
		} else {
			opts.Audience = policy.Audience{Kind: policy.AudOrgs, Orgs: []string{target.Share.Owner}}
		}
	case "circle":
		if target.Share.Audience.Kind != policy.AudCommunity {
			return Object{}, fault.BadInput("share_with", "not_in_circle", "the object was not shared with a trust circle: report the sighting to its owner")
		}
		opts.Audience = policy.Audience{Kind: policy.AudCommunity, Community: target.Share.Audience.Community}
	default:
		return Object{}, fault.BadInput("share_with", "bad_share_with", `share_with is "owner" or "circle"`)
	}
	if in.OnBehalfOf != "" {
		var kind string
		if err := s.DB.R().QueryRow(ctx, `SELECT kind FROM orgs WHERE id = ?`, a.OrgID).Scan(&kind); err != nil {
			return Object{}, fmt.Errorf("load the reporter's org: %w", db.Map(err))
		}
		if kind != "cert" {
			return Object{}, fault.New(fault.Forbidden, "cert_only", "only a CERT may relay a sighting for another organisation")
		}
		// Only an org the CERT knows (a partner, a fellow circle member):
		// any other answers like one that does not exist, so the relay
		// tells no one which orgs the hub has.
		known, err := s.RelayOrgs(ctx, a)
		if err != nil {
			return Object{}, err
		}
		if !slices.ContainsFunc(known, func(o Org) bool { return o.ID == in.OnBehalfOf }) {
			return Object{}, fault.BadInput("on_behalf_of", "unknown_org", `unknown organisation "{org}"`).With("org", in.OnBehalfOf)
		}
		opts.OnBehalfOf = in.OnBehalfOf
	}
	tlp := max(policy.Amber, target.Share.TLP)
	if in.TLP != "" {
		if tlp, err = policy.ParseTLP(in.TLP); err != nil {
			return Object{}, err
		}
	}
	if tlp < target.Share.TLP {
		// A sighting tells that the object exists and who saw it: it may
		// not reach further than the object (POLICY.md, contributions).
		return Object{}, fault.BadInput("tlp", "tlp_below_object", "a sighting is at least as restricted as what was sighted ({tlp})").With("tlp", target.Share.TLP.String())
	}
	opts.TLP = tlp.Name()
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	me := IdentityID(a.OrgID)
	sighting := map[string]any{"type": "sighting", "spec_version": "2.1", "id": "sighting--" + uuid.NewString(), "created": now, "modified": now,
		"created_by_ref": me, "sighting_of_ref": target.STIXID, "count": in.Count, "object_marking_refs": []string{stix.TLPMarkingID(stixTLP(tlp))}}
	if in.OnBehalfOf == "" {
		sighting["where_sighted_refs"] = []string{me}
	}
	for k, v := range map[string]string{"first_seen": in.FirstSeen, "last_seen": in.LastSeen, "description": strings.TrimSpace(in.Description)} {
		if v != "" {
			sighting[k] = v
		}
	}
	objects := []any{sighting}
	var heldIdentity int
	if err := s.DB.R().QueryRow(ctx, `SELECT COUNT(*) FROM intel_objects WHERE org_id = ? AND stix_id = ?`, a.OrgID, me).Scan(&heldIdentity); err != nil {
		return Object{}, fmt.Errorf("find the reporter's identity: %w", db.Map(err))
	}
	if in.OnBehalfOf == "" && heldIdentity == 0 {
		// The identity the sighting names, so that a client can resolve
		// it: once, the first time the org reports (the same object every
		// time; an org that shared its identity already keeps its own).
		var name string
		var created int64
		if err := s.DB.R().QueryRow(ctx, `SELECT name, created_at FROM orgs WHERE id = ?`, a.OrgID).Scan(&name, &created); err != nil {
			return Object{}, fmt.Errorf("name the reporter's org: %w", db.Map(err))
		}
		at := time.UnixMicro(created).UTC().Format("2006-01-02T15:04:05.000Z")
		objects = append([]any{map[string]any{"type": "identity", "spec_version": "2.1", "id": me, "created": at, "modified": at,
			"name": name, "identity_class": "organization", "object_marking_refs": []string{stix.TLPMarkingID(stixTLP(tlp))}}}, objects...)
	}
	b, err := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + uuid.NewString(), "objects": objects})
	if err != nil {
		return Object{}, fmt.Errorf("encode sighting: %w", err)
	}
	rep, err := s.Import(ctx, a, strings.NewReader(string(b)), opts)
	if err != nil {
		return Object{}, err
	}
	if rep.Rejected > 0 {
		e := rep.Errors[0]
		return Object{}, fault.BadInput(e.Property, "bad_sighting", "the sighting is not valid: {reason}").With("reason", e.Message)
	}
	objs, _, err := s.List(ctx, a, Filter{IDs: []string{sighting["id"].(string)}, All: true, Limit: 1, JSON: true})
	if err != nil || len(objs) == 0 {
		return Object{}, fmt.Errorf("find the new sighting: %w", err)
	}
	return objs[0], nil
}

// stixTLP maps the policy's level to the library's.
func stixTLP(l policy.TLP) stix.TLP {
	if l < policy.Clear || l > policy.Red {
		return 0
	}
	return stix.TLP(int(l) + 1) // #nosec G115 -- 1..5, checked above
}

// Sightable reports whether objects of a type can be sighted: domain
// objects of what can be seen at work (indicators, malware, tools,
// infrastructure, actors, campaigns, attack patterns, observed data, …),
// not relationships, sightings, observables, marking definitions, nor a
// tactic or matrix of ATT&CK's own types.
func Sightable(typ string) bool {
	switch typ {
	case "indicator", "malware", "tool", "infrastructure", "threat-actor", "intrusion-set", "campaign", "attack-pattern",
		"observed-data", "vulnerability", "identity", "location", "incident", "course-of-action", "malware-analysis":
		return true
	}
	return false
}
