package policy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"

	"verbund/internal/db"
	"verbund/internal/fault"
)

// Grant is what one active agreement lets flow between the view's org and a
// partner.
type Grant struct {
	Agreement  string
	Categories Category
	MaxTLP     TLP
	Until      int64 // 0: open-ended
}

// View is a reader's standing at one moment: their org's partners (from
// active agreements) and the trust circles their org is an active member of,
// with those circles' active members. It is the input of CanSee and of the
// write-time check.
type View struct {
	UserID      string
	OrgID       string
	Partners    map[string][]Grant
	Communities map[string]map[string]bool
	At          int64
	Expires     int64 // the view must be reloaded after this time (an agreement ends); 0: never
	// Starts is the first moment after At at which an agreement of the
	// org (active, its parties agreed) starts; 0: none. Until then and
	// Expires the view is the same at every moment, but for writes.
	Starts int64
}

// holds reports whether v, read at v.At, is the view at now too (no
// agreement of the org starts or ends in between).
func (v *View) holds(now int64) bool {
	return v.At <= now && (v.Expires == 0 || now < v.Expires) && (v.Starts == 0 || now < v.Starts)
}

// writersView is the key under which a write transaction remembers an
// org's view (db.Handle.Remember).
type writersView struct{ org string }

// SameReach reports whether v and o let their user see and send the
// same: the same org, partners with the same grants, the same circles.
func (v *View) SameReach(o *View) bool {
	if v.OrgID != o.OrgID || len(v.Partners) != len(o.Partners) || !maps.EqualFunc(v.Communities, o.Communities, maps.Equal) {
		return false
	}
	for org, gs := range v.Partners {
		other, ok := o.Partners[org]
		if !ok || len(gs) != len(other) {
			return false
		}
		for _, g := range gs {
			if !slices.Contains(other, g) {
				return false
			}
		}
	}
	return true
}

// LoadView reads the actor's view at time now. Within a write
// transaction, a view it read before and has not written since is taken
// again while it holds (a reply checks the thread, its channel and its
// audience, each against the writer's view).
func LoadView(ctx context.Context, h db.Handle, a Actor, now int64) (*View, error) {
	if a.OrgID == "" {
		return &View{UserID: a.UserID, At: now, Partners: map[string][]Grant{}, Communities: map[string]map[string]bool{}}, nil
	}
	if kept, ok := h.Recall(writersView{a.OrgID}); ok && kept.(*View).holds(now) {
		v := *kept.(*View) // the maps are shared and never changed after loading
		v.UserID, v.At = a.UserID, now
		return &v, nil
	}
	v, err := loadView(ctx, h, a, now)
	if err != nil {
		return nil, err
	}
	h.Remember(writersView{a.OrgID}, v)
	return v, nil
}

// loadView reads the actor's view at time now from the database.
func loadView(ctx context.Context, h db.Handle, a Actor, now int64) (*View, error) {
	v := &View{UserID: a.UserID, OrgID: a.OrgID, At: now,
		Partners: map[string][]Grant{}, Communities: map[string]map[string]bool{}}
	// One statement, so one round trip (a write loads the writer's view
	// in its transaction) and one snapshot: the org's circles with their
	// active members (kind 0), then its agreements (kind 1), those yet to
	// start too, for v.Starts.
	type row struct {
		kind            int
		a, b, community string
		g               Grant
		from            int64
	}
	var all []row
	err := h.ScanRows(ctx, `SELECT 0, m2.community_id, m2.org_id, 0, 0, 0, '', 0
		FROM community_members m1
		JOIN community_members m2 ON m2.community_id = m1.community_id AND m2.status = 'active'
		WHERE m1.org_id = ? AND m1.status = 'active'
		UNION ALL
		SELECT 1, other.org_id, ag.id, ag.categories, ag.max_tlp, COALESCE(ag.valid_until, 0), COALESCE(ag.community_id, ''), ag.valid_from
		FROM agreement_parties me
		JOIN agreements ag ON ag.id = me.agreement_id
		JOIN agreement_parties other ON other.agreement_id = ag.id AND other.org_id <> me.org_id AND other.accepted_at IS NOT NULL
		WHERE me.org_id = ? AND me.accepted_at IS NOT NULL AND ag.status = 'active'
		  AND (ag.valid_until IS NULL OR ag.valid_until > ?)`, []any{a.OrgID, a.OrgID, now}, func(r db.Scanner) error {
		var x row
		if err := r.Scan(&x.kind, &x.a, &x.b, &x.g.Categories, &x.g.MaxTLP, &x.g.Until, &x.community, &x.from); err != nil {
			return err
		}
		all = append(all, x)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load view: %w", db.Map(err))
	}
	// Memberships first: a charter's grant needs both orgs in its circle.
	for _, x := range all {
		if x.kind != 0 {
			continue
		}
		if v.Communities[x.a] == nil {
			v.Communities[x.a] = map[string]bool{}
		}
		v.Communities[x.a][x.b] = true
	}
	for _, x := range all {
		if x.kind != 1 {
			continue
		}
		other, g := x.a, x.g
		g.Agreement = x.b
		if x.from > now {
			if v.Starts == 0 || x.from < v.Starts {
				v.Starts = x.from
			}
			continue
		}
		if x.community != "" && !(v.Communities[x.community][a.OrgID] && v.Communities[x.community][other]) {
			continue // a charter covers only active members of its circle
		}
		v.Partners[other] = append(v.Partners[other], g)
		if g.Until != 0 && (v.Expires == 0 || g.Until < v.Expires) {
			v.Expires = g.Until
		}
	}
	return v, nil
}

// CheckShare is the write-time rule (POLICY.md "Who may act"): the audience
// must suit the TLP level, every named recipient must exist, and every
// recipient org other than the owner must be covered by an active agreement
// for the share's category and level. The error names the first recipient
// that is not covered and what is missing. It saves nothing (Kind.Disclose
// checks and saves); forms call it to say who would receive an object.
//
// A trust circle audience is the exception: its recipients are the members
// the circle's rules cover. Members without a covering agreement (say, a
// new member that has not yet accepted the charter) do not receive the
// object and are returned in uncovered; they do not block everyone else.
// See docs/SECURITY.md.
func CheckShare(ctx context.Context, h db.Handle, a Actor, s Share, now int64) (uncovered []string, err error) {
	v, err := LoadView(ctx, h, a, now)
	if err != nil {
		return nil, err
	}
	return checkShare(ctx, h, a, v, s)
}

// checkShare is CheckShare with the actor's view already loaded.
func checkShare(ctx context.Context, h db.Handle, a Actor, v *View, s Share) (uncovered []string, err error) {
	if s.Owner != a.OrgID || s.Owner == "" {
		return nil, fault.New(fault.Forbidden, "not_owner", "you can share only on behalf of your own organisation")
	}
	if s.Category == 0 || s.Category&(s.Category-1) != 0 || !AllCategories.Has(s.Category) {
		return nil, fault.BadInput("category", "bad_category", "an object has exactly one category").With("category", int(s.Category))
	}
	if err := ValidateAudience(s.TLP, s.Audience); err != nil {
		return nil, err
	}
	var recipients []string
	switch s.Audience.Kind {
	case AudCommunity:
		members, ok := v.Communities[s.Audience.Community]
		if !ok || !members[s.Owner] {
			return nil, fault.BadInput("audience", "not_a_member", "your organisation is not an active member of that trust circle")
		}
		for o := range members {
			if o != s.Owner {
				recipients = append(recipients, o)
			}
		}
		slices.Sort(recipients)
	case AudOrgs:
		for _, o := range s.Audience.Orgs {
			var id string
			if err := h.QueryRow(ctx, `SELECT id FROM orgs WHERE id = ?`, o).Scan(&id); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return nil, fault.BadInput("audience", "unknown_org", `unknown organisation "{org}" in the audience`).With("org", o)
				}
				return nil, fmt.Errorf("check audience org: %w", db.Map(err))
			}
			if o != s.Owner {
				recipients = append(recipients, o)
			}
		}
	case AudPeople:
		for _, p := range s.Audience.People {
			var org string
			var disabled int
			err := h.QueryRow(ctx, `SELECT org_id, disabled FROM users WHERE id = ?`, p).Scan(&org, &disabled)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("check audience person: %w", db.Map(err))
			}
			// A person the writer cannot know (not of an org it may
			// address, or deactivated elsewhere) answers exactly as one
			// who does not exist: the answer must not tell a writer which
			// ids are people of other orgs, nor their state.
			if err != nil || !v.Knows(org) || disabled != 0 && org != a.OrgID {
				return nil, UnknownPerson(p)
			}
			if disabled != 0 {
				return nil, fault.BadInput("audience", "person_disabled", "a person in the audience has been deactivated")
			}
			if org != s.Owner && !slices.Contains(recipients, org) {
				recipients = append(recipients, org)
			}
		}
	}
	if s.TLP == Clear {
		return nil, nil // TLP:CLEAR has no limit (POLICY.md rule 2)
	}
	for _, r := range recipients {
		if v.Covered(r, s.Category, s.TLP) {
			continue
		}
		if s.Audience.Kind == AudCommunity {
			uncovered = append(uncovered, r)
			continue
		}
		var name string
		if err := h.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, r).Scan(&name); err != nil {
			return nil, fmt.Errorf("name uncovered org: %w", db.Map(err))
		}
		what := fmt.Sprintf("category %s at %s", s.Category.Name(), s.TLP)
		if v.coversCategory(r, s.Category) {
			what = fmt.Sprintf("level %s for category %s", s.TLP, s.Category.Name())
		}
		e := fault.New(fault.Forbidden, "agreement_missing", "no active data-sharing agreement with {org} covers {what}: agree on one first, or narrow the audience or the level").
			With("org", name).With("what", what).WithKey("category", s.Category.Name(), "category."+s.Category.Name()).With("tlp", s.TLP.String())
		e.Field = "audience"
		return nil, e
	}
	return uncovered, nil
}

// Knows reports whether the view's org may address the people of org: its
// own, the orgs that share an active trust circle with it (its directory)
// and the partners of its active agreements. Write errors about a person
// of any other org answer as for a person who does not exist.
func (v *View) Knows(org string) bool {
	if org == v.OrgID || len(v.Partners[org]) > 0 {
		return true
	}
	for _, members := range v.Communities {
		if members[org] {
			return true
		}
	}
	return false
}

// UnknownPerson is the answer for a named person who does not exist or whom
// the writer cannot know (View.Knows): the same for both.
func UnknownPerson(id string) *fault.Error {
	return fault.BadInput("audience", "unknown_person", `unknown person "{person}" in the audience`).With("person", id)
}

func (v *View) coversCategory(other string, k Category) bool {
	for _, g := range v.Partners[other] {
		if g.Categories&k != 0 {
			return true
		}
	}
	return false
}

// SeesShare reports whether the view may see the shared object id now;
// an object in a container (an incident's task, a thread's reply) only
// when it may see the container too (POLICY rule 5, as Kind.Authorize):
// a container narrowed since its contents were shared hides them.
// An object that no longer exists is not seen.
func (v *View) SeesShare(ctx context.Context, h db.Handle, id string) (bool, error) {
	s, ok, err := LoadShare(ctx, h, id)
	if err != nil || !ok || !v.CanSee(s) {
		return false, err
	}
	if s.Container != "" {
		return v.SeesShare(ctx, h, s.Container)
	}
	return true, nil
}

// LoadShare reads the envelope id with its audience lists and its
// container, unchecked (ok is false when there is none): for judging
// another reader than the one asking, e.g. the recipients of a
// notification.
func LoadShare(ctx context.Context, h db.Handle, id string) (s Share, ok bool, err error) {
	err = h.QueryRow(ctx, `SELECT id, kind, owner_org_id, author_id, category, tlp, audience, COALESCE(community_id, ''), created_at, COALESCE(container_id, '')
		FROM shares WHERE id = ?`, id).Scan(&s.ID, &s.Kind, &s.Owner, &s.Author, &s.Category, &s.TLP, &s.Audience.Kind, &s.Audience.Community, &s.CreatedAt, &s.Container)
	if errors.Is(err, sql.ErrNoRows) {
		return s, false, nil
	}
	if err != nil {
		return s, false, fmt.Errorf("load an envelope: %w", err)
	}
	if err := fillAudience(ctx, h, []*Share{&s}, false); err != nil {
		return s, false, err
	}
	return s, true, nil
}
