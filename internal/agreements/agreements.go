// Package agreements owns data-sharing agreements: bilateral ones between
// two organisations and trust-circle charters that every member accepts.
// An agreement says which categories may flow, up to which TLP level, for
// which purpose, whether personal data is allowed and how long recipients
// may keep it. internal/policy reads the tables this package writes; every
// change here publishes events.PolicyChanged so that open streams re-check
// at once.
package agreements

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Service is the agreements capability.
type Service struct {
	DB     *db.DB
	Events *events.Broker
}

// New returns the service.
func New(d *db.DB, b *events.Broker) *Service { return &Service{DB: d, Events: b} }

// Party is one org's side of an agreement.
type Party struct {
	OrgID      string `json:"org_id"`
	OrgName    string `json:"org_name"`
	AcceptedAt int64  `json:"accepted_at,omitempty"`
}

// Name is what lists and the audit trail call g: its title, else its
// circle's name (a charter) or its parties' names, which read the same in
// every language.
func (g Agreement) Name() string {
	switch {
	case g.Title != "":
		return g.Title
	case g.CommunityName != "":
		return g.CommunityName
	}
	names := make([]string, 0, len(g.Parties))
	for _, p := range g.Parties {
		names = append(names, p.OrgName)
	}
	return strings.Join(names, " ↔ ")
}

// Agreement is an agreement as shown.
type Agreement struct {
	ID            string   `json:"id"`
	Kind          string   `json:"kind"`
	CommunityID   string   `json:"community_id,omitempty"`
	CommunityName string   `json:"community_name,omitempty"`
	ProposerOrg   string   `json:"proposer_org_id"`
	Title         string   `json:"title"`
	Categories    []string `json:"categories"`
	MaxTLP        string   `json:"max_tlp"`
	Purpose       string   `json:"purpose"`
	PersonalData  bool     `json:"personal_data"`
	RetentionDays int      `json:"retention_days"`
	ValidFrom     int64    `json:"valid_from"`
	ValidUntil    int64    `json:"valid_until,omitempty"`
	Status        string   `json:"status"`  // proposed, active, revoked, expired, pending (not yet valid)
	Parties       []Party  `json:"parties"` // a charter's: shown to its circle's active members only
	CreatedAt     int64    `json:"created_at"`

	maxTLP policy.TLP
	// partyOrgs are all parties, for the audit record of a decision,
	// whoever decides (Parties may be hidden from the actor).
	partyOrgs []string
	// Set for the viewer:
	MyAccepted bool `json:"my_accepted"`
	// AwaitsMyOrg: the viewer's org could accept now (an admin of it
	// decides); CanAccept and CanRevoke: the viewer may, being an admin.
	AwaitsMyOrg bool `json:"awaits_my_org"`
	CanAccept   bool `json:"can_accept"`
	CanRevoke   bool `json:"can_revoke"`
	// Ending is what revoking means for the viewer's org now: "revoke"
	// (an agreement in force), "withdraw_proposal" (its own proposal not
	// yet accepted), "decline" (a proposal it received) or
	// "withdraw_acceptance" (a member's acceptance of a charter).
	Ending string `json:"-"`
	// Duplicates (answer to a proposal only) are agreements in force or
	// proposed that the new one repeats (FindDuplicates).
	Duplicates []string `json:"duplicates,omitempty"`
}

// TLP returns the agreement's highest level.
func (g Agreement) TLP() policy.TLP { return g.maxTLP }

// Input proposes an agreement.
type Input struct {
	Kind          string   `json:"kind"`           // bilateral (default) or charter
	Partner       string   `json:"partner_org_id"` // bilateral
	Community     string   `json:"community_id"`   // charter
	Title         string   `json:"title"`
	Categories    []string `json:"categories"`
	MaxTLP        string   `json:"max_tlp"`
	Purpose       string   `json:"purpose"`
	PersonalData  bool     `json:"personal_data"`
	RetentionDays int      `json:"retention_days"`
	ValidFrom     string   `json:"valid_from"`  // YYYY-MM-DD, default today
	ValidUntil    string   `json:"valid_until"` // YYYY-MM-DD, optional
}

type parsed struct {
	cats        policy.Category
	tlp         policy.TLP
	from, until int64
}

// Validate checks the fields of a proposal that need no lookup (the
// partner and the circle are checked when it is proposed), and that it
// says its purpose: partners agree to a use of the data (GDPR art. 5(1)(b)).
// The form, the API and the CLI require it; Propose itself still accepts
// an empty purpose from in-process callers (the load generator's world).
func (in Input) Validate() error {
	if _, err := parseInput(in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Purpose) == "" {
		return fault.BadInput("purpose", "purpose_missing", "say for which purpose the data may be used")
	}
	return nil
}

func parseInput(in Input) (parsed, error) {
	var p parsed
	var err error
	if p.cats, err = policy.ParseCategories(in.Categories); err != nil {
		return p, err
	}
	if p.tlp, err = policy.ParseTLP(in.MaxTLP); err != nil {
		return p, err
	}
	if in.RetentionDays < 1 || in.RetentionDays > 3650 {
		return p, fault.BadInput("retention_days", "bad_retention", "retention must be 1 to {max} days").With("max", 3650)
	}
	if len(in.Title) > 200 {
		return p, fault.BadInput("title", "too_long", "the title is longer than {max} characters").With("max", 200)
	}
	if len(in.Purpose) > 2000 {
		return p, fault.BadInput("purpose", "too_long", "the purpose is longer than {max} characters").With("max", 2000)
	}
	p.from = db.Now()
	if in.ValidFrom != "" {
		t, err := time.Parse("2006-01-02", in.ValidFrom)
		if err != nil {
			return p, fault.BadInput("valid_from", "bad_date", "{field} must be a date like 2026-12-31").WithKey("field", "valid from", "agreement.valid_from")
		}
		p.from = t.UnixMicro()
	}
	if in.ValidUntil != "" {
		t, err := time.Parse("2006-01-02", in.ValidUntil)
		if err != nil {
			return p, fault.BadInput("valid_until", "bad_date", "{field} must be a date like 2026-12-31").WithKey("field", "valid until", "agreement.valid_until")
		}
		p.until = t.Add(24 * time.Hour).UnixMicro() // through the end of that day
		if p.until <= p.from {
			return p, fault.BadInput("valid_until", "bad_period", "valid until must be after valid from")
		}
	}
	return p, nil
}

// Propose creates an agreement on behalf of the actor's org (admins). A
// bilateral agreement waits for the partner's acceptance; a charter is
// founded by the circle's coordinator and accepted by each member.
//
// The operator (CLI) may instead create it already accepted by every party
// (acceptAll): both orgs of a bilateral agreement, or all current members
// of the circle for a charter; with the CLI, Input.Partner and the
// proposing org come from --between/--and.
func (s *Service) Propose(ctx context.Context, a policy.Actor, proposer string, in Input) (Agreement, error) {
	acceptAll := a.IsSystem()
	if !acceptAll {
		if !a.CanAdmin() {
			return Agreement{}, fault.New(fault.Forbidden, "admin_required", "only an admin may propose agreements")
		}
		proposer = a.OrgID
	}
	p, err := parseInput(in)
	if err != nil {
		return Agreement{}, err
	}
	kind := strings.ToLower(strings.TrimSpace(in.Kind))
	if kind == "" {
		kind = "bilateral"
	}
	id := db.NewID()
	now := db.Now()
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		var parties []string
		var community any
		status := "proposed"
		switch kind {
		case "bilateral":
			if in.Partner == "" || in.Partner == proposer {
				return fault.BadInput("partner_org_id", "partner_missing", "name the partner organisation (not your own)")
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM orgs WHERE id = ?`, in.Partner).Scan(&n); err != nil {
				return fmt.Errorf("find partner: %w", db.Map(err))
			}
			if n != 1 {
				return fault.BadInput("partner_org_id", "unknown_org", `unknown partner organisation "{org}"`).With("org", in.Partner)
			}
			parties = []string{proposer, in.Partner}
			if acceptAll {
				status = "active"
			}
		case "charter":
			var coord string
			err := tx.QueryRow(ctx, `SELECT coordinator_org_id FROM communities WHERE id = ?`, in.Community).Scan(&coord)
			if errors.Is(err, sql.ErrNoRows) {
				return fault.BadInput("community_id", "unknown_community", `unknown trust circle "{community}"`).With("community", in.Community)
			}
			if err != nil {
				return fmt.Errorf("find trust circle: %w", db.Map(err))
			}
			if !acceptAll && coord != proposer {
				return fault.New(fault.Forbidden, "coordinator_only", "only the coordinator of a trust circle may propose its charter")
			}
			proposer = coord
			community = in.Community
			status = "active" // a charter is in force between those members who accepted it
			parties = []string{coord}
			if acceptAll {
				members, err := activeMembers(ctx, tx.Handle, in.Community)
				if err != nil {
					return err
				}
				parties = members
			}
		default:
			return fault.BadInput("kind", "bad_kind", `unknown kind "{kind}": use bilateral or charter`).With("kind", kind)
		}
		var until any
		if p.until != 0 {
			until = p.until
		}
		if _, err := tx.Exec(ctx, `INSERT INTO agreements (id, kind, community_id, proposer_org, title, categories, max_tlp, purpose, personal_data, retention_days, valid_from, valid_until, status, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, kind, community, proposer, strings.TrimSpace(in.Title), int(p.cats), int(p.tlp), strings.TrimSpace(in.Purpose), b2i(in.PersonalData),
			in.RetentionDays, p.from, until, status, now); err != nil {
			return fmt.Errorf("insert agreement: %w", err)
		}
		for _, org := range parties {
			var accepted any
			if acceptAll || org == proposer {
				accepted = now
			}
			if _, err := tx.Exec(ctx, `INSERT INTO agreement_parties (agreement_id, org_id, accepted_at, accepted_by) VALUES (?, ?, ?, ?)`,
				id, org, accepted, a.UserID); err != nil {
				return fmt.Errorf("insert party: %w", err)
			}
		}
		if kind == "bilateral" && !acceptAll {
			parties = append(parties[:1:1], in.Partner)
		}
		tx.AfterCommit(func() {
			s.Events.Publish(events.Event{Type: events.PolicyChanged})
			s.Events.Publish(events.Event{Type: "agreement.proposed", Orgs: parties, Data: map[string]string{"id": id}})
		})
		return audit.Write(ctx, tx, a, audit.Entry{Action: "agreement.propose", ObjectType: "agreement", ObjectID: id, Orgs: parties,
			Detail: map[string]any{"kind": kind, "categories": p.cats.Names(), "max_tlp": p.tlp.String(), "retention_days": in.RetentionDays,
				"personal_data": in.PersonalData, "accepted_by_all": acceptAll}})
	})
	if err != nil {
		return Agreement{}, err
	}
	return s.load(ctx, s.DB.R(), a, id)
}

// Accept records the actor's org's acceptance. For a bilateral agreement
// the partner's acceptance makes it active; for a charter, any active
// member of the circle may accept.
func (s *Service) Accept(ctx context.Context, a policy.Actor, id string) (Agreement, error) {
	refused := fault.New(fault.Conflict, "cannot_accept", "this agreement cannot be accepted by your organisation now (already accepted, revoked or expired)")
	return s.decide(ctx, a, id, "accept", func(g Agreement) bool { return g.CanAccept }, refused, func(tx *db.Tx, g Agreement) (string, error) {
		now := db.Now()
		if g.Kind == "charter" {
			if _, err := tx.Exec(ctx, `DELETE FROM agreement_parties WHERE agreement_id = ? AND org_id = ?`, id, a.OrgID); err != nil {
				return "", fmt.Errorf("clear party: %w", err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO agreement_parties (agreement_id, org_id, accepted_at, accepted_by) VALUES (?, ?, ?, ?)`, id, a.OrgID, now, a.UserID); err != nil {
				return "", fmt.Errorf("accept charter: %w", err)
			}
			return "agreement.accept", nil
		}
		if _, err := tx.Exec(ctx, `UPDATE agreement_parties SET accepted_at = ?, accepted_by = ? WHERE agreement_id = ? AND org_id = ?`, now, a.UserID, id, a.OrgID); err != nil {
			return "", fmt.Errorf("accept: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE agreements SET status = 'active' WHERE id = ? AND status = 'proposed'
			AND NOT EXISTS (SELECT 1 FROM agreement_parties p WHERE p.agreement_id = agreements.id AND p.accepted_at IS NULL)`, id); err != nil {
			return "", fmt.Errorf("activate: %w", err)
		}
		return "agreement.accept", nil
	})
}

// Revoke ends an agreement at once. Either party may revoke a bilateral
// agreement; the coordinator revokes a charter as a whole, a member
// withdraws its own acceptance.
func (s *Service) Revoke(ctx context.Context, a policy.Actor, id string) (Agreement, error) {
	refused := fault.New(fault.Conflict, "cannot_revoke", "your organisation cannot revoke this agreement (not a party, or already revoked)")
	return s.decide(ctx, a, id, "revoke", func(g Agreement) bool { return g.CanRevoke }, refused, func(tx *db.Tx, g Agreement) (string, error) {
		if g.Kind == "charter" && g.ProposerOrg != a.OrgID && !a.IsSystem() {
			if _, err := tx.Exec(ctx, `DELETE FROM agreement_parties WHERE agreement_id = ? AND org_id = ?`, id, a.OrgID); err != nil {
				return "", fmt.Errorf("withdraw: %w", err)
			}
			return "agreement.withdraw", nil
		}
		if _, err := tx.Exec(ctx, `UPDATE agreements SET status = 'revoked', revoked_at = ?, revoked_by_org = ? WHERE id = ?`, db.Now(), a.OrgID, id); err != nil {
			return "", fmt.Errorf("revoke: %w", err)
		}
		// The trail says what it meant: a proposal withdrawn or declined
		// never applied.
		switch g.Ending {
		case "withdraw_proposal", "decline":
			return "agreement." + g.Ending, nil
		}
		return "agreement.revoke", nil
	})
}

// decide runs one decision of the actor's org on agreement id, in one
// transaction: only admins decide; the agreement must be visible (else
// not found) and allow the decision (else refused); apply changes it and
// names the audited action. Every decision is audited for all parties and
// tells open streams that policy changed.
func (s *Service) decide(ctx context.Context, a policy.Actor, id, verb string, allowed func(Agreement) bool, refused *fault.Error,
	apply func(tx *db.Tx, g Agreement) (action string, err error)) (Agreement, error) {
	if !a.CanAdmin() {
		return Agreement{}, fault.New(fault.Forbidden, "admin_required", "only an admin may {verb} agreements").With("verb", verb)
	}
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		g, err := s.load(ctx, tx.Handle, a, id)
		if err != nil {
			return err
		}
		if !allowed(g) {
			return refused
		}
		action, err := apply(tx, g)
		if err != nil {
			return err
		}
		tx.AfterCommit(func() { s.Events.Publish(events.Event{Type: events.PolicyChanged}) })
		return audit.Write(ctx, tx, a, audit.Entry{Action: action, ObjectType: "agreement", ObjectID: id, Orgs: partyIDs(g)})
	})
	if err != nil {
		return Agreement{}, err
	}
	return s.load(ctx, s.DB.R(), a, id)
}

// visibleSQL: an agreement is visible to its parties and, for a charter,
// to the members (active or pending) of its circle.
const visibleSQL = `(EXISTS (SELECT 1 FROM agreement_parties vp WHERE vp.agreement_id = g.id AND vp.org_id = ?)
	OR (g.community_id IS NOT NULL AND EXISTS (SELECT 1 FROM community_members vm WHERE vm.community_id = g.community_id AND vm.org_id = ? AND vm.status IN ('active','pending'))))`

const selectSQL = `SELECT g.id, g.kind, COALESCE(g.community_id, ''), COALESCE(c.name, ''), g.proposer_org, g.title, g.categories, g.max_tlp, g.purpose,
	g.personal_data, g.retention_days, g.valid_from, COALESCE(g.valid_until, 0), g.status, g.created_at
	FROM agreements g LEFT JOIN communities c ON c.id = g.community_id`

// FindAgreements lists the agreements visible to the actor's org, optionally of one
// circle.
func (s *Service) FindAgreements(ctx context.Context, a policy.Actor, community string) ([]Agreement, error) {
	q := selectSQL + ` WHERE ` + visibleSQL
	args := []any{a.OrgID, a.OrgID}
	if community != "" {
		q += ` AND g.community_id = ?`
		args = append(args, community)
	}
	rows, err := s.DB.R().Query(ctx, q+` ORDER BY g.created_at DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("list agreements: %w", err)
	}
	out, err := db.Collect(rows, "list agreements", scan)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if err := s.complete(ctx, s.DB.R(), a, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FindAgreementByID returns one agreement, or not found when the actor's org is neither
// a party nor a member of the charter's circle.
func (s *Service) FindAgreementByID(ctx context.Context, a policy.Actor, id string) (Agreement, error) {
	return s.load(ctx, s.DB.R(), a, id)
}

func (s *Service) load(ctx context.Context, h db.Handle, a policy.Actor, id string) (Agreement, error) {
	q := selectSQL + ` WHERE g.id = ?`
	args := []any{id}
	if !a.IsSystem() {
		q += ` AND ` + visibleSQL
		args = append(args, a.OrgID, a.OrgID)
	}
	g, err := scan(h.QueryRow(ctx, q, args...))
	if err != nil {
		return g, db.NotFound(err, "load agreement")
	}
	return g, s.complete(ctx, h, a, &g)
}

func scan(r db.Scanner) (Agreement, error) {
	var g Agreement
	var cats, tlp, pd int
	err := r.Scan(&g.ID, &g.Kind, &g.CommunityID, &g.CommunityName, &g.ProposerOrg, &g.Title, &cats, &tlp, &g.Purpose, &pd,
		&g.RetentionDays, &g.ValidFrom, &g.ValidUntil, &g.Status, &g.CreatedAt)
	g.Categories, g.maxTLP, g.PersonalData = policy.Category(cats).Names(), policy.TLP(tlp), pd != 0
	g.MaxTLP = g.maxTLP.String()
	return g, err
}

// complete loads the parties and works out status and what the actor may do.
func (s *Service) complete(ctx context.Context, h db.Handle, a policy.Actor, g *Agreement) error {
	rows, err := h.Query(ctx, `SELECT p.org_id, o.name, COALESCE(p.accepted_at, 0) FROM agreement_parties p JOIN orgs o ON o.id = p.org_id
		WHERE p.agreement_id = ? ORDER BY o.name_key`, g.ID)
	if err != nil {
		return fmt.Errorf("load parties: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p Party
		if err := rows.Scan(&p.OrgID, &p.OrgName, &p.AcceptedAt); err != nil {
			return fmt.Errorf("scan party: %w", err)
		}
		g.Parties = append(g.Parties, p)
		g.partyOrgs = append(g.partyOrgs, p.OrgID)
		if p.OrgID == a.OrgID && p.AcceptedAt != 0 {
			g.MyAccepted = true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load parties: %w", db.Map(err))
	}
	now := db.Now()
	switch {
	case g.Status == "revoked":
	case g.ValidUntil != 0 && g.ValidUntil <= now:
		g.Status = "expired"
	case g.Status == "active" && g.ValidFrom > now:
		g.Status = "pending"
	}
	live := g.Status != "revoked" && g.Status != "expired"
	isParty := slices.Contains(g.partyOrgs, a.OrgID)
	var mayRevoke bool
	g.Ending = "revoke"
	if g.Kind == "charter" {
		var member int
		if err := h.QueryRow(ctx, `SELECT COUNT(*) FROM community_members WHERE community_id = ? AND org_id = ? AND status = 'active'`,
			g.CommunityID, a.OrgID).Scan(&member); err != nil {
			return fmt.Errorf("load membership: %w", db.Map(err))
		}
		g.AwaitsMyOrg = live && member == 1 && !g.MyAccepted
		mayRevoke = live && (g.ProposerOrg == a.OrgID || g.MyAccepted)
		if g.ProposerOrg != a.OrgID {
			g.Ending = "withdraw_acceptance"
		}
		// Who accepted a charter says who is in the circle: that is for
		// its members. An org that asked to join (or left) reads the
		// terms it would accept, not the member list (SECURITY.md).
		if member != 1 && !a.IsSystem() {
			g.Parties = []Party{}
		}
	} else {
		g.AwaitsMyOrg = live && isParty && !g.MyAccepted
		mayRevoke = live && isParty
		if g.Status == "proposed" {
			g.Ending = "decline"
			if g.ProposerOrg == a.OrgID {
				g.Ending = "withdraw_proposal"
			}
		}
	}
	if a.IsSystem() {
		mayRevoke, g.Ending = live, "revoke"
	}
	// Only admins decide (POLICY.md "Manage agreements"); the flags say
	// what this caller may do, not what its organisation could.
	decides := a.IsSystem() || a.CanAdmin()
	g.CanAccept = decides && g.AwaitsMyOrg
	g.CanRevoke = decides && mayRevoke
	return nil
}

// Flow is what may flow between the actor's org and one partner.
type Flow struct {
	OrgID      string          `json:"org_id"`
	OrgName    string          `json:"org_name"`
	Categories []CategoryLevel `json:"categories"`
}

// CategoryLevel is the highest TLP level allowed for one category.
type CategoryLevel struct {
	Category string `json:"category"`
	MaxTLP   string `json:"max_tlp"`
	level    policy.TLP
}

// Level returns the level (for templates).
func (c CategoryLevel) Level() policy.TLP { return c.level }

// FindFlows answers "what may flow to whom" for the actor's org now, from
// exactly the data policy uses.
func (s *Service) FindFlows(ctx context.Context, a policy.Actor) ([]Flow, error) {
	v, err := policy.LoadView(ctx, s.DB.R(), a, db.Now())
	if err != nil {
		return nil, fmt.Errorf("flows: %w", err)
	}
	var out []Flow
	for org, grants := range v.Partners {
		f := Flow{OrgID: org}
		// An org without a row keeps an empty name; orgs are not deleted.
		if err := s.DB.R().QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, org).Scan(&f.OrgName); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("flows: partner name: %w", db.Map(err))
		}
		for _, c := range policy.CategoryList() {
			best := policy.TLP(-1)
			for _, g := range grants {
				if g.Categories&c != 0 && g.MaxTLP > best {
					best = g.MaxTLP
				}
			}
			if best >= 0 {
				f.Categories = append(f.Categories, CategoryLevel{Category: c.Name(), MaxTLP: best.String(), level: best})
			}
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OrgName < out[j].OrgName })
	return out, nil
}

func activeMembers(ctx context.Context, h db.Handle, community string) ([]string, error) {
	rows, err := h.Query(ctx, `SELECT org_id FROM community_members WHERE community_id = ? AND status = 'active' ORDER BY org_id`, community)
	if err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	return db.Collect(rows, "members", func(r db.Scanner) (o string, err error) {
		err = r.Scan(&o)
		return o, err
	})
}

func partyIDs(g Agreement) []string {
	return append([]string{g.ProposerOrg}, g.partyOrgs...)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
