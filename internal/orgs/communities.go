package orgs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Community is a trust circle.
type Community struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Description     string `json:"description,omitempty"`
	CoordinatorID   string `json:"coordinator_org_id"`
	CoordinatorName string `json:"coordinator_name"`
	CreatedAt       int64  `json:"created_at"`
	// MyStatus is the actor's org's membership: "", pending, active, rejected, left.
	MyStatus string `json:"my_status,omitempty"`
	Members  int    `json:"members,omitempty"` // active members; shown to members only
}

// Member is an org's membership in a community.
type Member struct {
	OrgID       string `json:"org_id"`
	OrgName     string `json:"org_name"`
	OrgKind     string `json:"org_kind"`
	Status      string `json:"status"`
	Message     string `json:"message,omitempty"`
	RequestedAt int64  `json:"requested_at"`
	DecidedAt   int64  `json:"decided_at,omitempty"`
}

// CreateCommunity founds a trust circle with coordinator as its first
// active member, and its forum channel. Org admins found circles that
// their own org coordinates; the operator names any coordinator.
func (s *Service) CreateCommunity(ctx context.Context, a policy.Actor, name, description, coordinator string) (Community, error) {
	if !a.IsSystem() {
		if !a.CanAdmin() {
			return Community{}, fault.New(fault.Forbidden, "admin_required", "only an admin may found a trust circle")
		}
		coordinator = a.OrgID
	}
	name, err := cleanName("name", name)
	if err != nil {
		return Community{}, err
	}
	if len(description) > 2000 {
		return Community{}, fault.BadInput("description", "too_long", "the description is longer than {max} characters").With("max", 2000)
	}
	c := Community{ID: db.NewID(), Name: name, Description: strings.TrimSpace(description), CoordinatorID: coordinator, CreatedAt: db.Now()}
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		err := tx.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, coordinator).Scan(&c.CoordinatorName)
		if errors.Is(err, sql.ErrNoRows) {
			return fault.BadInput("coordinator", "unknown_org", `unknown coordinator organisation "{org}"`).With("org", coordinator)
		}
		if err != nil {
			return fmt.Errorf("find coordinator: %w", db.Map(err))
		}
		if _, err := tx.Exec(ctx, `INSERT INTO communities (id, name, name_key, description, coordinator_org_id, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			c.ID, c.Name, nameKey(c.Name), c.Description, coordinator, c.CreatedAt); err != nil {
			if fault.Is(err, fault.Conflict) {
				return fault.BadInput("name", "name_taken", `a trust circle named "{name}" already exists`).With("name", name)
			}
			return fmt.Errorf("insert community: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO community_members (community_id, org_id, status, requested_at, decided_at) VALUES (?, ?, 'active', ?, ?)`,
			c.ID, coordinator, c.CreatedAt, c.CreatedAt); err != nil {
			return fmt.Errorf("add coordinator: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO channels (id, org_id, community_id, name, description, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			db.NewID(), coordinator, c.ID, "allgemein", "", c.CreatedAt); err != nil {
			return fmt.Errorf("create community channel: %w", err)
		}
		tx.AfterCommit(func() { s.Events.Publish(events.Event{Type: events.PolicyChanged}) })
		return audit.Write(ctx, tx, a, audit.Entry{Action: "community.create", ObjectType: "community", ObjectID: c.ID, Orgs: []string{coordinator},
			Detail: map[string]string{"name": c.Name}})
	})
	return c, err
}

// FindCommunities lists every trust circle with the actor's membership
// status; member counts only for circles the actor's org belongs to.
func (s *Service) FindCommunities(ctx context.Context, a policy.Actor) ([]Community, error) {
	rows, err := s.DB.R().Query(ctx, `SELECT c.id, c.name, c.description, c.coordinator_org_id, o.name, c.created_at, COALESCE(m.status, ''),
		CASE WHEN m.status = 'active' THEN (SELECT COUNT(*) FROM community_members x WHERE x.community_id = c.id AND x.status = 'active') ELSE 0 END
		FROM communities c JOIN orgs o ON o.id = c.coordinator_org_id
		LEFT JOIN community_members m ON m.community_id = c.id AND m.org_id = ?
		ORDER BY c.name_key`, a.OrgID)
	if err != nil {
		return nil, fmt.Errorf("list communities: %w", err)
	}
	return db.Collect(rows, "list communities", func(r db.Scanner) (c Community, err error) {
		err = r.Scan(&c.ID, &c.Name, &c.Description, &c.CoordinatorID, &c.CoordinatorName, &c.CreatedAt, &c.MyStatus, &c.Members)
		return c, err
	})
}

// FindCommunityByID returns one circle as ListCommunities shows it.
func (s *Service) FindCommunityByID(ctx context.Context, a policy.Actor, id string) (Community, error) {
	cs, err := s.FindCommunities(ctx, a)
	if err != nil {
		return Community{}, err
	}
	for _, c := range cs {
		if c.ID == id {
			return c, nil
		}
	}
	return Community{}, fault.ErrNotFound
}

// FindCommunityByRef resolves a circle by id or name (CLI).
func (s *Service) FindCommunityByRef(ctx context.Context, ref string) (Community, error) {
	var c Community
	err := s.DB.R().QueryRow(ctx, `SELECT c.id, c.name, c.description, c.coordinator_org_id, o.name, c.created_at
		FROM communities c JOIN orgs o ON o.id = c.coordinator_org_id WHERE c.id = ? OR c.name_key = ?`, ref, nameKey(ref)).
		Scan(&c.ID, &c.Name, &c.Description, &c.CoordinatorID, &c.CoordinatorName, &c.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fault.BadInput("community", "unknown_community", `no trust circle named "{community}"`).With("community", ref)
	}
	if err != nil {
		return c, fmt.Errorf("find community: %w", db.Map(err))
	}
	return c, nil
}

// FindMembers lists a circle's memberships. Members see active members; the
// coordinator's admins, who decide on them, also see requests with their
// messages (a request is addressed to them, like its live notice).
// Non-members get not found.
func (s *Service) FindMembers(ctx context.Context, a policy.Actor, id string) ([]Member, error) {
	c, err := s.FindCommunityByID(ctx, a, id)
	if err != nil {
		return nil, err
	}
	coordinator := c.CoordinatorID == a.OrgID && a.Role == policy.Admin
	if c.MyStatus != "active" && !a.IsSystem() {
		return nil, fault.ErrNotFound
	}
	q := `SELECT m.org_id, o.name, o.kind, m.status, m.message, m.requested_at, COALESCE(m.decided_at, 0)
		FROM community_members m JOIN orgs o ON o.id = m.org_id WHERE m.community_id = ?`
	if !coordinator && !a.IsSystem() {
		q += ` AND m.status = 'active'`
	}
	rows, err := s.DB.R().Query(ctx, q+` ORDER BY m.status, o.name_key`, id)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	return db.Collect(rows, "list members", func(r db.Scanner) (m Member, err error) {
		err = r.Scan(&m.OrgID, &m.OrgName, &m.OrgKind, &m.Status, &m.Message, &m.RequestedAt, &m.DecidedAt)
		return m, err
	})
}

// RequestJoin asks to join a circle on behalf of the actor's org (admins).
func (s *Service) RequestJoin(ctx context.Context, a policy.Actor, id, message string) error {
	if len(message) > 1000 {
		return fault.BadInput("message", "too_long", "the message is longer than {max} characters").With("max", 1000)
	}
	c, err := s.FindCommunityByID(ctx, a, id)
	if err != nil {
		return err
	}
	if c.MyStatus == "active" || c.MyStatus == "pending" {
		return fault.New(fault.Conflict, "already_requested", "your organisation is already a member or has asked to join")
	}
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		now := db.Now()
		if _, err := tx.Exec(ctx, `DELETE FROM community_members WHERE community_id = ? AND org_id = ?`, id, a.OrgID); err != nil {
			return fmt.Errorf("clear old membership: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO community_members (community_id, org_id, status, message, requested_at) VALUES (?, ?, 'pending', ?, ?)`,
			id, a.OrgID, strings.TrimSpace(message), now); err != nil {
			return fmt.Errorf("request join: %w", err)
		}
		tx.AfterCommit(func() {
			// For the coordinator's admins, who decide (and alone see
			// requests: FindMembers).
			s.Events.Publish(events.Event{Type: "community.join_requested", Orgs: []string{c.CoordinatorID}, Roles: []policy.Role{policy.Admin},
				Data: map[string]string{"community": id}})
		})
		return audit.Write(ctx, tx, a, audit.Entry{Action: "community.join_request", ObjectType: "community", ObjectID: id,
			Orgs: []string{c.CoordinatorID}})
	})
}

// Decide approves or rejects a join request (admins of the coordinator).
func (s *Service) Decide(ctx context.Context, a policy.Actor, id, org string, approve bool) error {
	c, err := s.FindCommunityByID(ctx, a, id)
	if err != nil {
		return err
	}
	if c.CoordinatorID != a.OrgID && !a.IsSystem() {
		return fault.ErrNotFound
	}
	if !a.CanAdmin() {
		return fault.New(fault.Forbidden, "admin_required", "only an admin of the coordinator may decide")
	}
	status := "rejected"
	if approve {
		status = "active"
	}
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE community_members SET status = ?, decided_at = ? WHERE community_id = ? AND org_id = ? AND status = 'pending'`,
			status, db.Now(), id, org)
		if err != nil {
			return fmt.Errorf("decide: %w", err)
		}
		if n, err := db.Affected(res); err != nil {
			return fmt.Errorf("decide: %w", err)
		} else if n != 1 {
			return fault.ErrNotFound
		}
		tx.AfterCommit(func() {
			s.Events.Publish(events.Event{Type: events.PolicyChanged})
			s.Events.Publish(events.Event{Type: "community.decided", Orgs: []string{org}, Data: map[string]string{"community": id, "status": status}})
		})
		return audit.Write(ctx, tx, a, audit.Entry{Action: "community.join_" + map[bool]string{true: "approve", false: "reject"}[approve],
			ObjectType: "community", ObjectID: id, Orgs: []string{org}, Detail: map[string]string{"org": org}})
	})
}

// AddMember makes org an active member at once (operator, CLI).
func (s *Service) AddMember(ctx context.Context, a policy.Actor, id, org string) error {
	if !a.IsSystem() {
		return fault.New(fault.Forbidden, "operator_only", "members join by request and approval")
	}
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		now := db.Now()
		if _, err := tx.Exec(ctx, `DELETE FROM community_members WHERE community_id = ? AND org_id = ?`, id, org); err != nil {
			return fmt.Errorf("clear membership: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO community_members (community_id, org_id, status, requested_at, decided_at) VALUES (?, ?, 'active', ?, ?)`,
			id, org, now, now); err != nil {
			return fmt.Errorf("add member: %w", err)
		}
		tx.AfterCommit(func() { s.Events.Publish(events.Event{Type: events.PolicyChanged}) })
		return audit.Write(ctx, tx, a, audit.Entry{Action: "community.member_add", ObjectType: "community", ObjectID: id, Orgs: []string{org},
			Detail: map[string]string{"org": org}})
	})
}

// Leave ends a membership: the member's admins leave, the coordinator's
// admins remove. Effective at once, on open live streams too.
func (s *Service) Leave(ctx context.Context, a policy.Actor, id, org string) error {
	c, err := s.FindCommunityByID(ctx, a, id)
	if err != nil {
		return err
	}
	if !a.IsSystem() && org != a.OrgID && c.CoordinatorID != a.OrgID {
		return fault.ErrNotFound
	}
	if !a.CanAdmin() {
		return fault.New(fault.Forbidden, "admin_required", "only an admin may end a membership")
	}
	if org == c.CoordinatorID {
		return fault.New(fault.Conflict, "coordinator_stays", "the coordinator cannot leave its own trust circle")
	}
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE community_members SET status = 'left', decided_at = ? WHERE community_id = ? AND org_id = ? AND status IN ('active','pending')`,
			db.Now(), id, org)
		if err != nil {
			return fmt.Errorf("leave: %w", err)
		}
		if n, err := db.Affected(res); err != nil {
			return fmt.Errorf("leave: %w", err)
		} else if n != 1 {
			return fault.ErrNotFound
		}
		// Leaving ends the org's acceptance of the circle's charters: an
		// org that comes back accepts them anew, under the terms then in
		// force, instead of being covered again at once by a decision made
		// for an earlier membership.
		rows, err := tx.Query(ctx, `SELECT agreement_id FROM agreement_parties WHERE org_id = ?
			AND agreement_id IN (SELECT id FROM agreements WHERE community_id = ? AND kind = 'charter') ORDER BY agreement_id`, org, id)
		if err != nil {
			return fmt.Errorf("find charter acceptances: %w", err)
		}
		charters, err := db.Collect(rows, "find charter acceptances", func(r db.Scanner) (g string, err error) {
			err = r.Scan(&g)
			return g, err
		})
		if err != nil {
			return err
		}
		if len(charters) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM agreement_parties WHERE org_id = ?
				AND agreement_id IN (SELECT id FROM agreements WHERE community_id = ? AND kind = 'charter')`, org, id); err != nil {
				return fmt.Errorf("end charter acceptance: %w", err)
			}
		}
		tx.AfterCommit(func() { s.Events.Publish(events.Event{Type: events.PolicyChanged}) })
		return audit.Write(ctx, tx, a, audit.Entry{Action: "community.leave", ObjectType: "community", ObjectID: id,
			Orgs: []string{org, c.CoordinatorID}, Detail: map[string]any{"org": org, "charters_no_longer_accepted": charters}})
	})
}
