package live

import (
	"testing"

	"verbund/internal/events"
	"verbund/internal/policy"
)

// Every restriction an event names applies: the object must be visible,
// and the reader among its orgs, roles and people.
func TestDeliverableAppliesEveryRestriction(t *testing.T) {
	v := &policy.View{UserID: "u1", OrgID: "o1", Partners: map[string][]policy.Grant{}, Communities: map[string]map[string]bool{}}
	own := &policy.Share{ID: "s", Owner: "o1", Category: policy.Knowledge, TLP: policy.Amber, Audience: policy.Audience{Kind: policy.AudOrg}}
	other := &policy.Share{ID: "x", Owner: "o2", Category: policy.Knowledge, TLP: policy.Amber, Audience: policy.Audience{Kind: policy.AudOrg}}
	for _, c := range []struct {
		name string
		e    events.Event
		role policy.Role
		want bool
	}{
		{"no object, no orgs", events.Event{Type: "t"}, policy.Admin, false},
		{"org", events.Event{Type: "t", Orgs: []string{"o1"}}, policy.Viewer, true},
		{"other org", events.Event{Type: "t", Orgs: []string{"o2"}}, policy.Viewer, false},
		{"org and role", events.Event{Type: "t", Orgs: []string{"o1"}, Roles: []policy.Role{policy.Admin}}, policy.Viewer, false},
		{"org and person", events.Event{Type: "t", Orgs: []string{"o1"}, Users: []string{"u1"}}, policy.Viewer, true},
		{"org and another person", events.Event{Type: "t", Orgs: []string{"o1"}, Users: []string{"u2"}}, policy.Viewer, false},
		{"visible object", events.Event{Type: "t", Share: own}, policy.Viewer, true},
		{"hidden object", events.Event{Type: "t", Share: other}, policy.Viewer, false},
		{"hidden object to the reader's org", events.Event{Type: "t", Share: other, Orgs: []string{"o1"}}, policy.Admin, false},
		{"visible object, admins only", events.Event{Type: "t", Share: own, Orgs: []string{"o1"}, Roles: []policy.Role{policy.Admin}}, policy.Viewer, false},
		{"visible object, admins", events.Event{Type: "t", Share: own, Orgs: []string{"o1"}, Roles: []policy.Role{policy.Admin}}, policy.Admin, true},
		{"visible object, another person", events.Event{Type: "t", Share: own, Users: []string{"u2"}}, policy.Admin, false},
	} {
		if got := deliverable(v, c.role, c.e); got != c.want {
			t.Errorf("%s: deliverable = %v, want %v", c.name, got, c.want)
		}
	}
}
