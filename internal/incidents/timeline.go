package incidents

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Entry is one line of an incident's timeline: a comment someone wrote,
// or what happened (reported, a status change, an invitation, an
// acknowledgement, a task done, a file added), by whom and when. Each is a
// shareable object in its incident (kind "incident_entry").
type Entry struct {
	ID            string       `json:"id"`
	IncidentID    string       `json:"incident_id"`
	Kind          string       `json:"kind"` // comment, reported, status, edited, participant, acknowledged, task, evidence, assistance
	Body          string       `json:"body"`
	Share         policy.Share `json:"sharing"`
	AuthorName    string       `json:"author_name"`
	OrgName       string       `json:"org_name"`
	CreatedAt     int64        `json:"created_at"`
	AudienceNames []string     `json:"-"`
}

// EntryKinds are the kinds of timeline entries besides comments (shown
// with their catalogue text).
var EntryKinds = []string{"reported", "status", "edited", "participant", "acknowledged", "task", "assistance", "declined", "reported_to_authority"}

// NewComment is the input of a comment. Without a level and audience it
// inherits its incident's (policy.Inherit).
type NewComment struct {
	Body string `json:"body"`
	policy.Sharing
}

// inherited is the sharing of a contribution: what the client asked for,
// else its incident's level and audience as seen from the contributor
// (policy.Inherit), without the named orgs and people the contributor's
// agreements no longer reach (an agreement ended since the incident was
// shared): the incident stays as it was, and what is added to it goes to
// whom it still may.
func (s *Service) inherited(ctx context.Context, h db.Handle, a policy.Actor, in policy.Sharing, c policy.Share) (policy.TLP, policy.Audience, error) {
	if in.TLP == "" {
		in.TLP = c.TLP.Name()
	}
	if in.Audience == "" {
		aud := policy.Inherit(c)
		if aud.Kind == policy.AudOrgs || aud.Kind == policy.AudPeople {
			v, err := policy.LoadView(ctx, h, a, db.Now())
			if err != nil {
				return 0, aud, err
			}
			reach := func(org string) bool {
				return org == a.OrgID || c.TLP == policy.Clear || v.Covered(org, policy.Incident, c.TLP)
			}
			aud.Orgs = slices.DeleteFunc(aud.Orgs, func(o string) bool { return !reach(o) })
			var kept []string
			for _, p := range aud.People {
				var org string
				if err := h.QueryRow(ctx, `SELECT org_id FROM users WHERE id = ?`, p).Scan(&org); err == nil && reach(org) {
					kept = append(kept, p)
				}
			}
			aud.People = kept
			if aud.Kind == policy.AudOrgs && len(aud.Orgs) == 0 {
				aud = policy.Audience{Kind: policy.AudOrg}
			}
			if aud.Kind == policy.AudPeople && len(aud.People) == 0 {
				aud.People = []string{a.UserID}
			}
		}
		in = policy.Sharing{TLP: in.TLP, Audience: string(aud.Kind), Community: aud.Community, Orgs: aud.Orgs, People: aud.People}
	}
	tlp, aud, err := in.Parse()
	if err != nil {
		return 0, aud, err
	}
	if aud.Kind != policy.AudCommunity {
		aud.Community = ""
	}
	return tlp, aud, nil
}

// addEntry writes a timeline entry of the actor in incident c (whose
// envelope the caller read), with c's sharing.
func (s *Service) addEntry(ctx context.Context, tx *db.Tx, a policy.Actor, c policy.Share, kind, body string) (policy.Share, error) {
	tlp, aud, err := s.inherited(ctx, tx.Handle, a, policy.Sharing{}, c)
	if err != nil {
		return policy.Share{}, err
	}
	return s.writeEntry(ctx, tx, a, c, kind, body, tlp, aud)
}

func (s *Service) writeEntry(ctx context.Context, tx *db.Tx, a policy.Actor, c policy.Share, kind, body string, tlp policy.TLP, aud policy.Audience) (policy.Share, error) {
	sh := s.entries.Envelope(a, tlp, aud)
	sh.Container = c.ID
	d, err := s.entries.Disclose(ctx, tx, a, sh)
	if err != nil {
		return sh, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO incident_entries (id, incident_id, org_id, author_id, kind, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		sh.ID, c.ID, a.OrgID, a.UserID, kind, body, sh.CreatedAt); err != nil {
		return sh, fmt.Errorf("insert timeline entry: %w", db.Map(err))
	}
	return d.Share, s.touchParticipant(ctx, tx, c.ID, a.OrgID, sh.CreatedAt)
}

// touchParticipant records that org gave an update on the incident (its
// "update every N hours" target counts from the last one).
func (s *Service) touchParticipant(ctx context.Context, tx *db.Tx, incident, org string, at int64) error {
	if _, err := tx.Exec(ctx, `UPDATE incident_participants SET last_update_at = ? WHERE incident_id = ? AND org_id = ?`, at, incident, org); err != nil {
		return fmt.Errorf("record update: %w", db.Map(err))
	}
	return nil
}

// CreateComment adds a comment to an incident the actor may see: the
// people of every org that works on it talk in one place.
func (s *Service) CreateComment(ctx context.Context, a policy.Actor, incidentID string, in NewComment) (Entry, error) {
	if !a.CanWrite() {
		return Entry{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	body := strings.TrimSpace(strings.ReplaceAll(in.Body, "\r\n", "\n"))
	if body == "" {
		return Entry{}, fault.BadInput("body", "incident_comment_missing", "write a comment")
	}
	if utf8.RuneCountInString(body) > MaxComment {
		return Entry{}, fault.BadInput("body", "incident_comment_too_long", "the comment is longer than {max} characters").With("max", MaxComment)
	}
	var e Entry
	// A short write, the commonest during an incident: committed together
	// with others waiting (db.GroupTx).
	err := s.DB.GroupTx(ctx, func(tx *db.Tx) error {
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
		tlp, aud, err := s.inherited(ctx, tx.Handle, a, in.Sharing, inc.Share)
		if err != nil {
			return err
		}
		sh, err := s.writeEntry(ctx, tx, a, inc.Share, "comment", body, tlp, aud)
		if err != nil {
			return err
		}
		e = Entry{ID: sh.ID, IncidentID: incidentID, Kind: "comment", Body: body, Share: sh, AuthorName: a.Name, CreatedAt: sh.CreatedAt}
		if err := tx.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, a.OrgID).Scan(&e.OrgName); err != nil {
			return fmt.Errorf("name org: %w", db.Map(err))
		}
		if err := s.emit(ctx, tx, a.UserID, EventComment, inc, &sh, body); err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "incident.comment", ObjectType: "incident_entry", ObjectID: sh.ID,
			Orgs: []string{inc.Share.Owner}, Detail: map[string]any{"incident": incidentID, "tlp": sh.TLP.String(), "audience": sh.Audience.Kind}, Touches: touches(incidentID)})
	})
	return e, err
}

// FindTimeline lists the entries of an incident the reader may see (else
// not found), oldest first: those the reader may see.
func (s *Service) FindTimeline(ctx context.Context, a policy.Actor, incidentID string) ([]Entry, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, err
	}
	if _, err := r.Envelope(ctx, h, s.incidents, incidentID); err != nil {
		return nil, err
	}
	q := db.Q(`SELECT e.kind, e.body, u.name, o.name, `+s.entries.Columns("e")+` FROM `).Append(r.FromIn(s.entries, "e", "ei")).
		Add(` JOIN users u ON u.id = e.author_id JOIN orgs o ON o.id = e.org_id WHERE e.incident_id = ? ORDER BY e.id LIMIT 1000`, incidentID)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list timeline: %w", err)
	}
	out, err := db.Collect(rows, "list timeline", func(sc db.Scanner) (Entry, error) {
		var e Entry
		err := sc.Scan(s.entries.Dest(&e.Share, []any{&e.Kind, &e.Body, &e.AuthorName, &e.OrgName})...)
		e.ID, e.IncidentID, e.CreatedAt = e.Share.ID, incidentID, e.Share.CreatedAt
		return e, err
	})
	if err != nil {
		return nil, err
	}
	shares := make([]*policy.Share, len(out))
	for i := range out {
		shares[i] = &out[i].Share
	}
	if err := r.Audiences(ctx, h, shares); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Share.TLP > policy.Clear && out[i].Share.Audience.Kind == policy.AudPeople {
			if out[i].AudienceNames, err = policy.AudienceNamesWithCircle(ctx, h, out[i].Share.Audience); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// writable refuses a change to a closed incident's tasks, files and
// comments: closing with the review ends the record (a 409 that says so,
// not a silent change to a finished incident).
func writable(inc Incident) error {
	if inc.Status == "closed" {
		return fault.New(fault.Conflict, "incident_closed", "the incident is closed: its tasks, files and comments stay as they are")
	}
	return nil
}
