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

// Assistance is a request for a CERT's help with an incident: an item of
// the CERT's inbox until it accepts, declines (with a reason) or forwards
// it to another CERT.
type Assistance struct {
	ID            string `json:"id"`
	IncidentID    string `json:"incident_id"`
	IncidentTitle string `json:"incident_title"`
	Severity      string `json:"severity"`
	Category      string `json:"category"`
	FromOrg       string `json:"from_org"`
	FromOrgName   string `json:"from_org_name"`
	CertOrg       string `json:"cert_org"`
	CertOrgName   string `json:"cert_org_name"`
	Message       string `json:"message,omitempty"`
	Status        string `json:"status"`
	Reason        string `json:"reason,omitempty"`
	CreatedAt     int64  `json:"created_at"`
	DecidedAt     int64  `json:"decided_at,omitempty"`
}

// AssistanceRequest is the input of requestAssistance.
type AssistanceRequest struct {
	CertOrg string `json:"cert_org"`
	Message string `json:"message,omitempty"`
}

// Decision is a CERT's answer to a request: accept, decline (reason
// required) or forward (to another CERT).
type Decision struct {
	Action string `json:"action"`
	Reason string `json:"reason,omitempty"`
	To     string `json:"to,omitempty"`
}

// certOrg checks that org is a CERT and names it.
func certOrg(ctx context.Context, h db.Handle, org string) (string, error) {
	var name, kind string
	err := h.QueryRow(ctx, `SELECT name, kind FROM orgs WHERE id = ?`, org).Scan(&name, &kind)
	if errors.Is(err, sql.ErrNoRows) || err == nil && kind != "cert" {
		return "", fault.BadInput("cert_org", "not_a_cert", "choose a CERT to ask for assistance")
	}
	if err != nil {
		return "", fmt.Errorf("load CERT: %w", db.Map(err))
	}
	return name, nil
}

// RequestAssistance sends an incident of the actor's org to a CERT it has
// an agreement with: the incident's audience is widened to the CERT
// (checked and audited) and the request lands in the CERT's inbox.
func (s *Service) RequestAssistance(ctx context.Context, a policy.Actor, incidentID string, in AssistanceRequest) (Assistance, error) {
	if !a.CanWrite() {
		return Assistance{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	msg, ok := cleanText(in.Message, false, MaxComment)
	if !ok {
		return Assistance{}, fault.BadInput("message", "assistance_message_too_long", "the message is longer than {max} characters").With("max", MaxComment)
	}
	var as Assistance
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		inc, err := s.load(ctx, tx.Handle, r, incidentID)
		if err != nil {
			return err
		}
		if inc.Share.Owner != a.OrgID {
			return fault.New(fault.Forbidden, "not_owner", "only the organisation that shared it may change or delete it")
		}
		name, err := certOrg(ctx, tx.Handle, in.CertOrg)
		if err != nil {
			return err
		}
		var open int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM incident_assistance WHERE incident_id = ? AND cert_org = ? AND status IN ('pending', 'accepted')`, incidentID, in.CertOrg).Scan(&open); err != nil {
			return fmt.Errorf("open requests: %w", db.Map(err))
		}
		if open > 0 {
			return fault.New(fault.Conflict, "assistance_open", "{org} has this incident already").With("org", name)
		}
		detail, err := s.widen(ctx, tx, a, &inc, in.CertOrg, nil)
		if err != nil {
			return err
		}
		as, err = s.addRequest(ctx, tx, a, inc, in.CertOrg, name, msg, detail != nil)
		if err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "incident.assistance.request", ObjectType: "incident", ObjectID: incidentID,
			Orgs: []string{inc.Share.Owner, in.CertOrg}, Detail: map[string]any{"cert": in.CertOrg, "request": as.ID, "sharing": detail}, Touches: touches(incidentID)})
	})
	return as, err
}

// widened says the request put the CERT into the incident's audience.
func (s *Service) addRequest(ctx context.Context, tx *db.Tx, a policy.Actor, inc Incident, cert, certName, msg string, widened bool) (Assistance, error) {
	as := Assistance{ID: db.NewID(), IncidentID: inc.ID, IncidentTitle: inc.Title, Severity: inc.Severity, Category: inc.Category,
		FromOrg: inc.Share.Owner, FromOrgName: inc.OrgName, CertOrg: cert, CertOrgName: certName, Message: msg, Status: "pending", CreatedAt: db.Now()}
	if _, err := tx.Exec(ctx, `INSERT INTO incident_assistance (id, incident_id, from_org, cert_org, message, status, created_at, created_by, widened) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
		as.ID, inc.ID, as.FromOrg, cert, msg, as.CreatedAt, a.UserID, b2i(widened)); err != nil {
		return as, fmt.Errorf("insert request: %w", db.Map(err))
	}
	if _, err := s.addEntry(ctx, tx, a, inc.Share, "assistance", certName); err != nil {
		return as, err
	}
	return as, s.emit(ctx, tx, a.UserID, EventAssistance, inc, nil, certName)
}

// FindCertInbox lists the requests for assistance sent to the actor's
// org, newest first (status "" is the pending ones; "all" every one):
// only those whose incident the reader may see.
func (s *Service) FindCertInbox(ctx context.Context, a policy.Actor, status string) ([]Assistance, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT x.id, x.incident_id, i.title, i.severity, i.category, x.from_org, fo.name, x.cert_org, co.name, x.message, x.status, x.reason, x.created_at, x.decided_at FROM `).
		Append(r.From(s.incidents, "i")).
		Add(` JOIN incident_assistance x ON x.incident_id = i.id JOIN orgs fo ON fo.id = x.from_org JOIN orgs co ON co.id = x.cert_org WHERE x.cert_org = ?`, a.OrgID)
	switch status {
	case "", "pending":
		q.Add(` AND x.status = 'pending'`)
	case "all":
	default:
		list := []string{"pending", "accepted", "declined", "forwarded", "all"}
		st, ok := pick(status, list)
		if !ok {
			return nil, badFilter("status", st, list)
		}
		q.Add(` AND x.status = ?`, st)
	}
	q.Add(` ORDER BY x.created_at DESC LIMIT 200`)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list inbox: %w", err)
	}
	return db.Collect(rows, "list inbox", func(sc db.Scanner) (x Assistance, err error) {
		err = sc.Scan(&x.ID, &x.IncidentID, &x.IncidentTitle, &x.Severity, &x.Category, &x.FromOrg, &x.FromOrgName, &x.CertOrg, &x.CertOrgName,
			&x.Message, &x.Status, &x.Reason, &x.CreatedAt, &x.DecidedAt)
		return x, err
	})
}

// DecideAssistance is a CERT's answer to a request in its inbox: accept
// (the CERT becomes the incident's coordinator, acknowledged now),
// decline with a reason, or forward to another CERT the reporting org
// has an agreement with (widened in the reporter's name, as the CERT was
// asked to find help).
func (s *Service) DecideAssistance(ctx context.Context, a policy.Actor, requestID string, d Decision) (Assistance, error) {
	if !a.CanWrite() {
		return Assistance{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	action, ok := pick(d.Action, []string{"accept", "decline", "forward"})
	if !ok {
		return Assistance{}, fault.BadInput("action", "bad_decision", `unknown answer "{value}": use accept, decline or forward`).With("value", action)
	}
	reason, ok := cleanText(d.Reason, action == "decline", MaxComment)
	if !ok {
		return Assistance{}, fault.BadInput("reason", "reason_missing", "say why in up to {max} characters").With("max", MaxComment)
	}
	var out Assistance
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		var incidentID, status string
		var widened int
		err := tx.QueryRow(ctx, `SELECT incident_id, status, widened FROM incident_assistance WHERE id = ? AND cert_org = ?`, requestID, a.OrgID).Scan(&incidentID, &status, &widened)
		if err != nil {
			return db.NotFound(err, "load request")
		}
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		inc, err := s.load(ctx, tx.Handle, r, incidentID)
		if err != nil {
			return err
		}
		if status != "pending" {
			return fault.New(fault.Conflict, "request_decided", "this request has been answered already ({status})").With("status", status)
		}
		newStatus := map[string]string{"accept": "accepted", "decline": "declined", "forward": "forwarded"}[action]
		if _, err := tx.Exec(ctx, `UPDATE incident_assistance SET status = ?, reason = ?, decided_at = ?, decided_by = ? WHERE id = ?`,
			newStatus, reason, db.Now(), a.UserID, requestID); err != nil {
			return fmt.Errorf("decide request: %w", db.Map(err))
		}
		detail := map[string]any{"request": requestID, "decision": newStatus, "reason": reason}
		var certName string
		if err := tx.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, a.OrgID).Scan(&certName); err != nil {
			return fmt.Errorf("name org: %w", db.Map(err))
		}
		orgs := []string{inc.Share.Owner}
		switch action {
		case "accept":
			if role, err := s.roleOf(ctx, tx.Handle, incidentID, a.OrgID); err != nil {
				return err
			} else if role != "" {
				if _, err := tx.Exec(ctx, `UPDATE incident_participants SET role = 'coordinator', acknowledged_at = CASE WHEN acknowledged_at = 0 THEN ? ELSE acknowledged_at END WHERE incident_id = ? AND org_id = ?`,
					db.Now(), incidentID, a.OrgID); err != nil {
					return fmt.Errorf("make coordinator: %w", db.Map(err))
				}
				if err := s.emit(ctx, tx, a.UserID, EventParticipant, inc, nil, certName+" (coordinator)"); err != nil {
					return err
				}
			} else if _, err := s.addParticipant(ctx, tx, a, &inc, a.OrgID, "coordinator", 0, 0, db.Now()); err != nil {
				return err
			}
		case "decline":
			if _, err := s.addEntry(ctx, tx, a, inc.Share, "declined", certName+": "+reason); err != nil {
				return err
			}
			if err := s.emit(ctx, tx, a.UserID, EventAssistance, inc, nil, certName+": "+reason); err != nil {
				return err
			}
			if detail["sharing"], err = s.dropOut(ctx, tx, inc, a.OrgID, widened == 1); err != nil {
				return err
			}
		case "forward":
			to := strings.TrimSpace(d.To)
			if to == a.OrgID {
				return fault.BadInput("to", "not_a_cert", "choose a CERT to ask for assistance")
			}
			toName, err := certOrg(ctx, tx.Handle, to)
			if err != nil {
				return err
			}
			actor, err := s.onBehalf(ctx, tx.Handle, a, inc, true)
			if err != nil {
				return err
			}
			sharing, err := s.widen(ctx, tx, actor, &inc, to, nil)
			if err != nil {
				return err
			}
			next, err := s.addRequest(ctx, tx, a, inc, to, toName, reason, sharing != nil)
			if err != nil {
				return err
			}
			detail["to"], detail["next_request"], detail["sharing"] = to, next.ID, sharing
			orgs = append(orgs, to)
			if detail["left"], err = s.dropOut(ctx, tx, inc, a.OrgID, widened == 1); err != nil {
				return err
			}
		}
		list, err := s.inboxItem(ctx, tx.Handle, requestID)
		if err != nil {
			return err
		}
		out = list
		return audit.Write(ctx, tx, a, audit.Entry{Action: "incident.assistance.decide", ObjectType: "incident", ObjectID: incidentID,
			Orgs: orgs, Detail: detail, Touches: touches(incidentID)})
	})
	return out, err
}

func (s *Service) inboxItem(ctx context.Context, h db.Handle, id string) (Assistance, error) {
	var x Assistance
	err := h.QueryRow(ctx, `SELECT x.id, x.incident_id, i.title, i.severity, i.category, x.from_org, fo.name, x.cert_org, co.name, x.message, x.status, x.reason, x.created_at, x.decided_at
		FROM incident_assistance x JOIN incidents i ON i.id = x.incident_id JOIN orgs fo ON fo.id = x.from_org JOIN orgs co ON co.id = x.cert_org WHERE x.id = ?`, id).
		Scan(&x.ID, &x.IncidentID, &x.IncidentTitle, &x.Severity, &x.Category, &x.FromOrg, &x.FromOrgName, &x.CertOrg, &x.CertOrgName,
			&x.Message, &x.Status, &x.Reason, &x.CreatedAt, &x.DecidedAt)
	return x, db.NotFound(err, "load request")
}

// FindCERTs lists the CERTs the actor's org may ask for assistance: those
// its agreements cover for incidents.
func (s *Service) FindCERTs(ctx context.Context, a policy.Actor) ([]policy.Option, error) {
	h := s.DB.R()
	v, err := policy.LoadView(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	rows, err := h.Query(ctx, `SELECT id, name FROM orgs WHERE kind = 'cert' AND id <> ? ORDER BY name_key`, a.OrgID)
	if err != nil {
		return nil, fmt.Errorf("list CERTs: %w", err)
	}
	all, err := db.Collect(rows, "list CERTs", func(sc db.Scanner) (o policy.Option, err error) { err = sc.Scan(&o.ID, &o.Name); return o, err })
	if err != nil {
		return nil, err
	}
	var out []policy.Option
	for _, o := range all {
		if v.Covered(o.ID, policy.Incident, policy.Green) {
			out = append(out, o)
		}
	}
	return out, nil
}

// dropOut takes a CERT that declined or forwarded a request out of the
// incident's audience again when the request was all that put it there
// (a named org, not a participant): it has read the incident, but what
// is added later is no longer its business (new-user review: a CERT that
// declined went on seeing every comment). In the owner's name, as the
// request widened it; nil when nothing changed.
//
// widened is the request's own record of having put the CERT there: a
// CERT the owner had named before stays (re-check review: one decline
// undid the owner's sharing).
func (s *Service) dropOut(ctx context.Context, tx *db.Tx, inc Incident, org string, widened bool) (map[string]any, error) {
	if !widened {
		return nil, nil
	}
	role, err := s.roleOf(ctx, tx.Handle, inc.ID, org)
	if err != nil || role != "" {
		return nil, err
	}
	cur, ok, err := policy.LoadShare(ctx, tx.Handle, inc.ID)
	if err != nil || !ok || cur.Audience.Kind != policy.AudOrgs || !slices.Contains(cur.Audience.Orgs, org) {
		return nil, err
	}
	aud := cur.Audience
	aud.Orgs = slices.DeleteFunc(slices.Clone(aud.Orgs), func(o string) bool { return o == org })
	if len(aud.Orgs) == 0 {
		aud = policy.Audience{Kind: policy.AudOrg}
	}
	owner := policy.Actor{OrgID: cur.Owner, UserID: cur.Author, Role: policy.Analyst}
	d, err := s.incidents.Reshare(ctx, tx, owner, inc.ID, cur.TLP, aud)
	if err != nil {
		return nil, err
	}
	return d.Detail(), nil
}
