package policy

import (
	"context"
	"fmt"
	"strings"

	"verbund/internal/db"
)

// Sharing is the level and audience a client asks for, in a form or in the
// JSON of a create or edit request. Owner and author are not part of it:
// they always come from the actor.
type Sharing struct {
	TLP       string   `json:"tlp"`
	Audience  string   `json:"audience"` // org, community, orgs, people; "" for the capability's default
	Community string   `json:"community_id,omitempty"`
	Orgs      []string `json:"orgs,omitempty"`
	People    []string `json:"people,omitempty"`
}

// Parse reads the level and the audience. An empty audience kind stays
// empty, for the capability to choose its default; the rule book's checks
// come with Kind.Disclose.
func (in Sharing) Parse() (TLP, Audience, error) {
	tlp, err := ParseTLP(in.TLP)
	if err != nil {
		return 0, Audience{}, err
	}
	aud := Audience{Kind: AudienceKind(strings.ToLower(strings.TrimSpace(in.Audience))), Community: in.Community, Orgs: in.Orgs, People: in.People}
	return tlp, aud, nil
}

// ImportSharing reads the options of a bulk import of standard documents
// (CSAF advisories, CACAO playbooks): least is the level a document
// marked less strictly, or not at all, is raised to (-1 for "" : keep the
// document's own), and the audience of new objects is in's (its TLP is
// ignored), the importer's org when it names none.
func ImportSharing(least string, in Sharing) (TLP, Audience, error) {
	aud := Audience{Kind: AudienceKind(strings.ToLower(strings.TrimSpace(in.Audience))), Community: in.Community, Orgs: in.Orgs, People: in.People}
	if aud.Kind == "" {
		aud.Kind = AudOrg
	}
	if least == "" {
		return -1, aud, nil
	}
	l, err := ParseTLP(least)
	if err != nil {
		return 0, aud, err
	}
	return l, aud, nil
}

// SharingOf is the input that asks for exactly s's level and audience.
func SharingOf(s Share) Sharing {
	return Sharing{TLP: s.TLP.Name(), Audience: string(s.Audience.Kind), Community: s.Audience.Community,
		Orgs: s.Audience.Orgs, People: s.Audience.People}
}

// Option is an org or a person a form may offer as a recipient.
type Option struct{ ID, Name string }

// Choices are the orgs and people a form may offer for an audience.
type Choices struct {
	Orgs   []Option // other orgs
	People []Option // people, "Name (Org)"
}

// AudienceChoices lists whom the actor may name in an audience: inside
// trust circle community, its active member orgs other than the actor's and
// the people of every member; outside a circle, the people of the actor's
// own org.
func AudienceChoices(ctx context.Context, h db.Handle, a Actor, community string) (Choices, error) {
	var c Choices
	orgQ := db.Q(`SELECT o.id, o.name FROM orgs o WHERE o.id = ?`, a.OrgID)
	if community != "" {
		orgQ = db.Q(`SELECT o.id, o.name FROM community_members m JOIN orgs o ON o.id = m.org_id
			WHERE m.community_id = ? AND m.status = 'active' ORDER BY o.name_key`, community)
	}
	orgs, err := options(ctx, h, orgQ, "audience orgs")
	if err != nil || len(orgs) == 0 {
		return c, err
	}
	ids := make([]any, len(orgs))
	for i, o := range orgs {
		ids[i] = o.ID
		if o.ID != a.OrgID {
			c.Orgs = append(c.Orgs, o)
		}
	}
	c.People, err = options(ctx, h, db.Q(`SELECT u.id, u.name || ' (' || o.name || ')' FROM users u JOIN orgs o ON o.id = u.org_id
		WHERE u.disabled = 0 AND u.org_id IN (`+db.Placeholders(len(ids))+`) ORDER BY o.name_key, u.name`, ids...), "audience people")
	return c, err
}

// AudienceNames names the orgs or people of a named audience, so that every
// reader of an object knows who else received it (as TLP expects). Callers
// pass the audience of an object the reader may see.
func AudienceNames(ctx context.Context, h db.Handle, aud Audience) ([]string, error) {
	var text string
	var ids []string
	switch aud.Kind {
	case AudOrgs:
		text, ids = `SELECT id, name FROM orgs WHERE id IN (%s) ORDER BY name_key`, aud.Orgs
	case AudPeople:
		text, ids = `SELECT u.id, u.name || ' (' || o.name || ')' FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id IN (%s) ORDER BY o.name_key, u.name`, aud.People
	}
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	opts, err := options(ctx, h, db.Q(fmt.Sprintf(text, db.Placeholders(len(ids))), args...), "audience names")
	names := make([]string, len(opts))
	for i, o := range opts {
		names[i] = o.Name
	}
	return names, err
}

// AudienceNamesWithCircle is AudienceNames that also names a trust
// circle audience by the circle's name (the pages of incidents, articles
// and risks show it; the forum shows the channel instead).
func AudienceNamesWithCircle(ctx context.Context, h db.Handle, aud Audience) ([]string, error) {
	if aud.Kind != AudCommunity {
		return AudienceNames(ctx, h, aud)
	}
	var name string
	if err := h.QueryRow(ctx, `SELECT name FROM communities WHERE id = ?`, aud.Community).Scan(&name); err != nil {
		return nil, db.NotFound(err, "name trust circle")
	}
	return []string{name}, nil
}

func options(ctx context.Context, h db.Handle, q *db.Query, what string) ([]Option, error) {
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return db.Collect(rows, what, func(r db.Scanner) (o Option, err error) {
		err = r.Scan(&o.ID, &o.Name)
		return o, err
	})
}
