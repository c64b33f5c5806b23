// Package orgs owns organisations and trust circles (communities): who is
// on the hub, which circles exist, who coordinates them, and who is a
// member. Orgs ask to join a circle; the coordinator's admins decide.
package orgs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// orgKinds are the kinds of organisation.
var orgKinds = []string{"company", "provider", "cert", "isac"}

// Org is an organisation on the hub.
type Org struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Kind            string `json:"kind"`
	SecurityContact string `json:"security_contact,omitempty"`
	CreatedAt       int64  `json:"created_at"`
}

// Service is the orgs capability.
type Service struct {
	DB     *db.DB
	Events *events.Broker
}

// New returns the service.
func New(d *db.DB, b *events.Broker) *Service { return &Service{DB: d, Events: b} }

// nameKey makes names unique regardless of case and spacing.
func nameKey(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

func cleanName(field, s string) (string, error) {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" || len(s) > 200 {
		return "", fault.BadInput(field, "bad_name", "the name must have 1 to {max} characters").With("max", 200)
	}
	return s, nil
}

// CreateOrg registers an organisation (hub operator only: CLI or demo). It
// also creates the org's internal forum channel.
func (s *Service) CreateOrg(ctx context.Context, a policy.Actor, name, kind, contact string) (Org, error) {
	if !a.IsSystem() {
		return Org{}, fault.New(fault.Forbidden, "operator_only", "organisations are registered by the hub operator")
	}
	name, err := cleanName("name", name)
	if err != nil {
		return Org{}, err
	}
	kind = strings.ToLower(strings.TrimSpace(kind))
	if !slices.Contains(orgKinds, kind) {
		return Org{}, fault.BadInput("kind", "bad_kind", `unknown kind "{kind}": use company, provider, cert or isac`).With("kind", kind)
	}
	o := Org{ID: db.NewID(), Name: name, Kind: kind, SecurityContact: strings.TrimSpace(contact), CreatedAt: db.Now()}
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO orgs (id, name, name_key, kind, security_contact, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			o.ID, o.Name, nameKey(o.Name), o.Kind, o.SecurityContact, o.CreatedAt); err != nil {
			if fault.Is(err, fault.Conflict) {
				return fault.BadInput("name", "name_taken", `an organisation named "{name}" already exists`).With("name", name)
			}
			return fmt.Errorf("insert org: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO channels (id, org_id, name, description, created_at) VALUES (?, ?, ?, ?, ?)`,
			db.NewID(), o.ID, "intern", "", o.CreatedAt); err != nil {
			return fmt.Errorf("create org channel: %w", err)
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "org.create", ObjectType: "org", ObjectID: o.ID, Orgs: []string{o.ID},
			Detail: map[string]string{"name": o.Name, "kind": o.Kind}, Touches: audit.Nothing()})
	})
	return o, err
}

// UpdateOrg changes the actor's own org (admins): its security contact.
func (s *Service) UpdateOrg(ctx context.Context, a policy.Actor, id, contact string) (Org, error) {
	if id != a.OrgID && !a.IsSystem() {
		return Org{}, fault.ErrNotFound
	}
	if !a.CanAdmin() {
		return Org{}, fault.New(fault.Forbidden, "admin_required", "only an admin of your organisation may change it")
	}
	contact = strings.TrimSpace(contact)
	if len(contact) > 300 {
		return Org{}, fault.BadInput("security_contact", "too_long", "the security contact is longer than {max} characters").With("max", 300)
	}
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE orgs SET security_contact = ? WHERE id = ?`, contact, id)
		if err != nil {
			return fmt.Errorf("update org: %w", err)
		}
		if n, err := db.Affected(res); err != nil {
			return fmt.Errorf("update org: %w", err)
		} else if n != 1 {
			return fault.ErrNotFound
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "org.update", ObjectType: "org", ObjectID: id, Orgs: []string{id},
			Detail: map[string]string{"security_contact": contact}, Touches: audit.Nothing()})
	})
	if err != nil {
		return Org{}, err
	}
	return s.FindOrgByID(ctx, id)
}

// FindOrgs lists every organisation: the hub's directory is visible to all
// signed-in users (names and kinds only), so that partners can be named in
// agreements and audiences.
func (s *Service) FindOrgs(ctx context.Context) ([]Org, error) {
	rows, err := s.DB.R().Query(ctx, `SELECT id, name, kind, security_contact, created_at FROM orgs ORDER BY name_key`)
	if err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	return db.Collect(rows, "list orgs", func(r db.Scanner) (o Org, err error) {
		err = r.Scan(&o.ID, &o.Name, &o.Kind, &o.SecurityContact, &o.CreatedAt)
		return o, err
	})
}

// FindOrgByID returns one organisation.
func (s *Service) FindOrgByID(ctx context.Context, id string) (Org, error) {
	var o Org
	err := s.DB.R().QueryRow(ctx, `SELECT id, name, kind, security_contact, created_at FROM orgs WHERE id = ?`, id).
		Scan(&o.ID, &o.Name, &o.Kind, &o.SecurityContact, &o.CreatedAt)
	return o, db.NotFound(err, "get org")
}

// FindOrgByRef resolves an org by id or by name (CLI and forms).
func (s *Service) FindOrgByRef(ctx context.Context, ref string) (Org, error) {
	var o Org
	err := s.DB.R().QueryRow(ctx, `SELECT id, name, kind, security_contact, created_at FROM orgs WHERE id = ? OR name_key = ?`, ref, nameKey(ref)).
		Scan(&o.ID, &o.Name, &o.Kind, &o.SecurityContact, &o.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return o, fault.BadInput("org", "unknown_org", `no organisation named "{org}"`).With("org", ref)
	}
	if err != nil {
		return o, fmt.Errorf("find org: %w", db.Map(err))
	}
	return o, nil
}

// FindAdminNames names the active admins of the actor's own org: pages say
// who can do what the actor's role may not (accept an agreement, ask to
// join a circle).
func (s *Service) FindAdminNames(ctx context.Context, a policy.Actor) ([]string, error) {
	rows, err := s.DB.R().Query(ctx, `SELECT name FROM users WHERE org_id = ? AND role = 'admin' AND disabled = 0 ORDER BY name`, a.OrgID)
	if err != nil {
		return nil, fmt.Errorf("admins: %w", err)
	}
	return db.Collect(rows, "admins", func(r db.Scanner) (n string, err error) {
		err = r.Scan(&n)
		return n, err
	})
}
