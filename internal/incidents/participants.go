package incidents

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Roles of a participating org.
var Roles = []string{"reporter", "affected", "responder", "coordinator"}

// Participant is an org working on an incident, with its response
// targets and how it kept them.
type Participant struct {
	OrgID          string `json:"org_id"`
	OrgName        string `json:"org_name"`
	Role           string `json:"role"`
	AckMinutes     int    `json:"ack_minutes,omitempty"`
	UpdateHours    int    `json:"update_hours,omitempty"`
	InvitedAt      int64  `json:"invited_at"`
	AcknowledgedAt int64  `json:"acknowledged_at,omitempty"`
	LastUpdateAt   int64  `json:"last_update_at,omitempty"`
	// AckDue and UpdateDue are when the targets fall due (0: no target or
	// met); AckBreached and UpdateBreached say a target was missed.
	AckDue         int64 `json:"ack_due,omitempty"`
	AckBreached    bool  `json:"ack_breached"`
	UpdateDue      int64 `json:"update_due,omitempty"`
	UpdateBreached bool  `json:"update_breached"`
}

// Invitation is the input of inviteParticipant.
type Invitation struct {
	OrgID       string `json:"org_id"`
	Role        string `json:"role"`
	AckMinutes  int    `json:"ack_minutes,omitempty"`
	UpdateHours int    `json:"update_hours,omitempty"`
	// People of the invited org to name when the incident goes to named
	// people (TLP:RED): an org cannot be added to such an audience.
	People []string `json:"people,omitempty"`
}

// judge fills the participant's target state at now (the incident's
// status ends the update target once it is resolved).
func (p *Participant) judge(status string, now int64) {
	const minute, hour = int64(60_000_000), int64(3_600_000_000)
	if p.AckMinutes > 0 {
		p.AckDue = p.InvitedAt + int64(p.AckMinutes)*minute
		p.AckBreached = (p.AcknowledgedAt == 0 && now > p.AckDue) || p.AcknowledgedAt > p.AckDue
		if p.AcknowledgedAt != 0 {
			p.AckDue = 0
		}
	}
	if p.UpdateHours > 0 && p.AcknowledgedAt != 0 && status != "resolved" && status != "closed" {
		last := max(p.LastUpdateAt, p.AcknowledgedAt)
		p.UpdateDue = last + int64(p.UpdateHours)*hour
		p.UpdateBreached = now > p.UpdateDue
	}
}

func (s *Service) participants(ctx context.Context, h db.Handle, incident, status string) ([]Participant, error) {
	rows, err := h.Query(ctx, `SELECT p.org_id, o.name, p.role, p.ack_minutes, p.update_hours, p.invited_at, p.acknowledged_at, p.last_update_at
		FROM incident_participants p JOIN orgs o ON o.id = p.org_id WHERE p.incident_id = ? ORDER BY p.invited_at, o.name_key`, incident)
	if err != nil {
		return nil, fmt.Errorf("list participants: %w", err)
	}
	now := db.Now()
	return db.Collect(rows, "list participants", func(sc db.Scanner) (p Participant, err error) {
		err = sc.Scan(&p.OrgID, &p.OrgName, &p.Role, &p.AckMinutes, &p.UpdateHours, &p.InvitedAt, &p.AcknowledgedAt, &p.LastUpdateAt)
		p.judge(status, now)
		return p, err
	})
}

// FindParticipants lists the orgs working on an incident the reader may
// see (else not found).
func (s *Service) FindParticipants(ctx context.Context, a policy.Actor, incidentID string) ([]Participant, error) {
	inc, err := s.FindIncidentByID(ctx, a, incidentID)
	if err != nil {
		return nil, err
	}
	return s.participants(ctx, s.DB.R(), inc.ID, inc.Status)
}

// roleOf is org's role in the incident ("" if it takes no part).
func (s *Service) roleOf(ctx context.Context, h db.Handle, incident, org string) (string, error) {
	var role string
	err := h.QueryRow(ctx, `SELECT role FROM incident_participants WHERE incident_id = ? AND org_id = ?`, incident, org).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("participant role: %w", db.Map(err))
	}
	return role, nil
}

// onBehalf is who widens an incident's audience: its owner's analyst, or
// the analyst of its coordinating org acting for the owner. Widening is a
// new disclosure of the owner's data (POLICY.md "Who may act"), so it is
// checked against the owner's agreements; a coordinator may do it because
// the owner asked it to coordinate (it accepted the request for
// assistance). The audit record names both.
func (s *Service) onBehalf(ctx context.Context, h db.Handle, a policy.Actor, inc Incident, asCERT bool) (policy.Actor, error) {
	if inc.Share.Owner == a.OrgID {
		return a, nil
	}
	role, err := s.roleOf(ctx, h, inc.ID, a.OrgID)
	if err != nil {
		return a, err
	}
	if role != "coordinator" && !asCERT {
		return a, fault.New(fault.Forbidden, "not_coordinator", "only the reporting organisation and the incident's coordinator may invite")
	}
	d := a
	d.OrgID = inc.Share.Owner
	d.Role = policy.Analyst
	return d, nil
}

// widen makes the incident reach org (and people of it for a named
// audience), as the owner's act through actor (see onBehalf), and checks
// that an agreement covers the flow. It returns the disclosure's detail,
// nil when org already sees the incident.
func (s *Service) widen(ctx context.Context, tx *db.Tx, actor policy.Actor, inc *Incident, org string, people []string) (map[string]any, error) {
	v, err := policy.LoadView(ctx, tx.Handle, policy.Actor{OrgID: inc.Share.Owner, UserID: inc.Share.Author}, db.Now())
	if err != nil {
		return nil, err
	}
	if org == inc.Share.Owner {
		return nil, nil
	}
	var name string
	if err := tx.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, org).Scan(&name); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fault.BadInput("org_id", "no_agreement", "{org} has no agreement with the reporting organisation that covers incidents at {tlp}").With("org", org).With("tlp", inc.Share.TLP.String())
		}
		return nil, fmt.Errorf("name org: %w", db.Map(err))
	}
	if inc.Share.TLP > policy.Clear && !v.Covered(org, policy.Incident, inc.Share.TLP) {
		return nil, fault.BadInput("org_id", "no_agreement", "{org} has no agreement with the reporting organisation that covers incidents at {tlp}").With("org", name).With("tlp", inc.Share.TLP.String())
	}
	aud := inc.Share.Audience
	switch {
	case inc.Share.TLP == policy.Clear:
		return nil, nil
	case aud.Kind == policy.AudOrg:
		aud = policy.Audience{Kind: policy.AudOrgs, Orgs: []string{org}}
	case aud.Kind == policy.AudOrgs:
		if slices.Contains(aud.Orgs, org) {
			return nil, nil
		}
		aud.Orgs = append(slices.Clone(aud.Orgs), org)
	case aud.Kind == policy.AudCommunity:
		if m := v.Communities[aud.Community]; m[org] && inc.Share.TLP < policy.AmberStrict {
			return nil, nil
		}
		return nil, fault.BadInput("org_id", "audience_circle", "the incident goes to a trust circle {org} is not a member of: share it with named organisations first").With("org", name)
	case aud.Kind == policy.AudPeople:
		if len(people) == 0 {
			return nil, fault.BadInput("people", "invite_needs_people", "the incident goes to named people: name the people of {org} who may read it").With("org", name)
		}
		for _, p := range people {
			var porg string
			if err := tx.QueryRow(ctx, `SELECT org_id FROM users WHERE id = ?`, p).Scan(&porg); err != nil || porg != org {
				return nil, fault.BadInput("people", "person_not_in_org", "name people of {org}").With("org", name)
			}
		}
		aud.People = append(slices.Clone(aud.People), people...)
	}
	d, err := s.incidents.Reshare(ctx, tx, actor, inc.ID, inc.Share.TLP, aud)
	if err != nil {
		return nil, err
	}
	old := inc.Share
	inc.Share = d.Share
	if err := s.widenHistory(ctx, tx, actor, old, d.Share); err != nil {
		return nil, err
	}
	return d.Detail(), nil
}

// widenHistory lets the owner's own history follow its incident: what
// the owner's people wrote with the incident's audience (the default of a
// contribution) is reshared to the new one, so an invited org sees how
// the incident came about. Contributions of other orgs keep the audience
// their authors gave them: widening those is their disclosure, not the
// owner's.
func (s *Service) widenHistory(ctx context.Context, tx *db.Tx, actor policy.Actor, old, now policy.Share) error {
	from, to := policy.Inherit(old), policy.Inherit(now)
	r, err := policy.NewReader(ctx, tx.Handle, actor, db.Now())
	if err != nil {
		return err
	}
	for _, k := range []*policy.Kind{s.entries, s.tasks, s.evidence} {
		rows, err := tx.Query(ctx, `SELECT id FROM `+k.Table()+` WHERE incident_id = ? AND org_id = ?`, old.ID, old.Owner)
		if err != nil {
			return fmt.Errorf("history: %w", db.Map(err))
		}
		ids, err := db.Collect(rows, "history", func(sc db.Scanner) (id string, err error) { err = sc.Scan(&id); return id, err })
		if err != nil {
			return err
		}
		for _, id := range ids {
			sh, err := r.Envelope(ctx, tx.Handle, k, id)
			if fault.Is(err, fault.NotFound) {
				continue // RED to others: not the actor's to move
			}
			if err != nil {
				return err
			}
			if sh.TLP != old.TLP || !sameAudience(sh.Audience, from) {
				continue // made stricter on purpose: stays so
			}
			if _, err := k.Reshare(ctx, tx, actor, id, now.TLP, to); err != nil {
				return err
			}
		}
	}
	return nil
}

func sameAudience(a, b policy.Audience) bool {
	set := func(xs []string) string { c := slices.Clone(xs); slices.Sort(c); return strings.Join(c, ",") }
	return a.Kind == b.Kind && a.Community == b.Community && set(a.Orgs) == set(b.Orgs) && set(a.People) == set(b.People)
}

// InviteParticipant adds an org to an incident with a role and response
// targets. The owner's analysts invite, and so does the coordinator's;
// the org must have an agreement with the owner that covers incidents at
// the incident's level (else no_agreement), and the incident's audience
// is widened to it (checked and audited as a new disclosure).
func (s *Service) InviteParticipant(ctx context.Context, a policy.Actor, incidentID string, in Invitation) (Participant, error) {
	if !a.CanWrite() {
		return Participant{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	role, ok := pick(in.Role, Roles)
	if !ok {
		return Participant{}, fault.BadInput("role", "bad_participant_role", `unknown role "{value}": use one of {list}`).With("value", role).With("list", strings.Join(Roles, ", "))
	}
	var err error
	if in.AckMinutes < 0 || in.AckMinutes > 60*24*30 || in.UpdateHours < 0 || in.UpdateHours > 24*90 {
		return Participant{}, fault.BadInput("ack_minutes", "bad_target", "response targets are 0 to 43200 minutes to acknowledge and 0 to 2160 hours between updates")
	}
	in.OrgID = strings.TrimSpace(in.OrgID)
	var p Participant
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		inc, err := s.load(ctx, tx.Handle, r, incidentID)
		if err != nil {
			return err
		}
		if inc.Status == "closed" {
			return fault.New(fault.Conflict, "incident_closed", "the incident is closed")
		}
		actor, err := s.onBehalf(ctx, tx.Handle, a, inc, false)
		if err != nil {
			return err
		}
		if in.OrgID == inc.Share.Owner {
			return fault.New(fault.Conflict, "already_participant", "this organisation already takes part")
		}
		if cur, err := s.roleOf(ctx, tx.Handle, incidentID, in.OrgID); err != nil {
			return err
		} else if cur != "" {
			return fault.New(fault.Conflict, "already_participant", "this organisation already takes part")
		}
		detail, err := s.widen(ctx, tx, actor, &inc, in.OrgID, in.People)
		if err != nil {
			return err
		}
		p, err = s.addParticipant(ctx, tx, a, &inc, in.OrgID, role, in.AckMinutes, in.UpdateHours, 0)
		if err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "incident.participant.invite", ObjectType: "incident", ObjectID: incidentID,
			Orgs: []string{inc.Share.Owner, in.OrgID}, Detail: map[string]any{"org": in.OrgID, "role": role, "ack_minutes": in.AckMinutes,
				"update_hours": in.UpdateHours, "on_behalf_of": actor.OrgID, "sharing": detail}, Touches: touches(incidentID)})
	})
	return p, err
}

// addParticipant writes the participant row, its timeline entry and its
// event (acknowledged: when it takes part at once, as a CERT that accepts).
func (s *Service) addParticipant(ctx context.Context, tx *db.Tx, a policy.Actor, inc *Incident, org, role string, ackMin, updHours int, acknowledged int64) (Participant, error) {
	now := db.Now()
	var ackBy any
	if acknowledged != 0 {
		ackBy = a.UserID
	}
	if _, err := tx.Exec(ctx, `INSERT INTO incident_participants (incident_id, org_id, role, ack_minutes, update_hours, invited_at, invited_by, acknowledged_at, acknowledged_by, last_update_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, inc.ID, org, role, ackMin, updHours, now, a.UserID, acknowledged, ackBy, acknowledged); err != nil {
		return Participant{}, fmt.Errorf("insert participant: %w", db.Map(err))
	}
	p := Participant{OrgID: org, Role: role, AckMinutes: ackMin, UpdateHours: updHours, InvitedAt: now, AcknowledgedAt: acknowledged, LastUpdateAt: acknowledged}
	if err := tx.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, org).Scan(&p.OrgName); err != nil {
		return p, fmt.Errorf("name org: %w", db.Map(err))
	}
	p.judge(inc.Status, now)
	if _, err := s.addEntry(ctx, tx, a, inc.Share, "participant", p.OrgName); err != nil {
		return p, err
	}
	return p, s.emit(ctx, tx, a.UserID, EventParticipant, *inc, nil, p.OrgName+" ("+role+")")
}

// Acknowledge records that the actor's org has taken note of an incident
// it was invited to: its acknowledgement target is met (or missed) now.
func (s *Service) Acknowledge(ctx context.Context, a policy.Actor, incidentID string) (Participant, error) {
	if !a.CanWrite() {
		return Participant{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	var p Participant
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		inc, err := s.load(ctx, tx.Handle, r, incidentID)
		if err != nil {
			return err
		}
		if err := writable(inc); err != nil {
			return err
		}
		now := db.Now()
		res, err := tx.Exec(ctx, `UPDATE incident_participants SET acknowledged_at = ?, acknowledged_by = ?, last_update_at = ? WHERE incident_id = ? AND org_id = ? AND acknowledged_at = 0`,
			now, a.UserID, now, incidentID, a.OrgID)
		if err != nil {
			return fmt.Errorf("acknowledge: %w", db.Map(err))
		}
		if n, err := db.Affected(res); err != nil {
			return err
		} else if n == 0 {
			return fault.New(fault.Conflict, "not_invited", "your organisation was not invited to this incident or has acknowledged it already")
		}
		ps, err := s.participants(ctx, tx.Handle, incidentID, inc.Status)
		if err != nil {
			return err
		}
		for _, x := range ps {
			if x.OrgID == a.OrgID {
				p = x
			}
		}
		if _, err := s.addEntry(ctx, tx, a, inc.Share, "acknowledged", p.OrgName); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, a.UserID, EventParticipant, inc, nil, p.OrgName+" acknowledged"); err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "incident.participant.acknowledge", ObjectType: "incident", ObjectID: incidentID,
			Orgs: []string{inc.Share.Owner}, Detail: map[string]any{"breached": p.AckBreached}, Touches: touches(incidentID)})
	})
	return p, err
}
