// Package incidents makes one incident the shared workspace of the
// organisations that handle it: the org that reports it, the orgs it
// invites (its provider, those affected) and the CERT it asks for help.
// An incident and what lives in it — timeline entries and comments,
// tasks, evidence files — are shareable objects (category incident)
// written, read and deleted only through the sharing kernel. Participants
// carry response targets whose breaches are shown and notified; flagged
// incidents run the NIS2 and GDPR reporting clocks; every change is
// audited in its transaction, published live after commit and enqueued
// for webhooks and e-mail (internal/notify) in the same transaction.
package incidents

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/notify"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// Limits of what an incident holds.
const (
	MaxTitle       = 200
	MaxDescription = 20_000
	MaxComment     = 10_000
	MaxReview      = 20_000
	MaxEvidence    = 20 << 20 // bytes per file
	MaxFileName    = 200
	MaxEvidenceN   = 100 // files per incident
	MaxTasks       = 200
)

// Categories of incidents, in the order forms offer them.
var Categories = []string{"malware", "phishing", "credential_leak", "data_leak", "ddos", "vuln_exploitation", "outage", "other"}

// Severities, lowest first.
var Severities = []string{"low", "medium", "high", "critical"}

// Statuses, in their order of progress.
var Statuses = []string{"reported", "acknowledged", "investigating", "contained", "resolved", "closed"}

// transitions are the moves of an incident's status: forward (a step may
// be skipped while work goes on), back to investigating when a contained
// or resolved incident flares up again, and closed only from resolved,
// with the review.
var transitions = map[string][]string{
	"reported":      {"acknowledged", "investigating", "contained", "resolved"},
	"acknowledged":  {"investigating", "contained", "resolved"},
	"investigating": {"contained", "resolved"},
	"contained":     {"investigating", "resolved"},
	"resolved":      {"investigating", "closed"},
	"closed":        {},
}

// The event types the capability enqueues for webhooks and e-mail and
// publishes live.
const (
	EventCreated     = "incident.created"
	EventUpdated     = "incident.updated"
	EventComment     = "incident.comment"
	EventParticipant = "incident.participant"
	EventTask        = "incident.task"
	EventBreach      = "incident.breach"
	EventAssistance  = "incident.assistance"
	EventDeadline    = "incident.deadline"
)

// EventTypes lists them (notify.Service.AddEventTypes).
func EventTypes() []string {
	return []string{EventCreated, EventUpdated, EventComment, EventParticipant, EventTask, EventBreach, EventAssistance, EventDeadline}
}

// Service is the incidents capability.
type Service struct {
	DB     *db.DB
	Events *events.Broker
	// Notify, when set, receives every change's event in its transaction.
	Notify *notify.Service
	// Playbooks, when set, is the playbook library runs read (runs.go).
	Playbooks PlaybookSource
	// incidents and what lives in them: every envelope is written, read
	// and deleted through these.
	incidents, entries, tasks, evidence *policy.Kind
	columns                             string
	// resolve names objects of other capabilities for a reader (links to
	// threat intelligence): web.Server.Resolve, set by Register.
	resolve func(ctx context.Context, a policy.Actor, typ string, ids []string) (map[string]web.Ref, error)
}

// New returns the service and registers its kinds with the sharing kernel.
func New(d *db.DB, b *events.Broker, k *policy.Kernel) *Service {
	inc := k.Register(policy.KindSpec{Name: "incident", Table: "incidents", Category: policy.Incident, Search: true})
	s := &Service{DB: d, Events: b, incidents: inc,
		// What lives in an incident is visible only with it and never
		// reaches further (policy.Within), like a forum reply.
		entries:  k.Register(policy.KindSpec{Name: "incident_entry", Table: "incident_entries", Category: policy.Incident, In: inc}),
		tasks:    k.Register(policy.KindSpec{Name: "incident_task", Table: "incident_tasks", Category: policy.Incident, In: inc}),
		evidence: k.Register(policy.KindSpec{Name: "incident_evidence", Table: "incident_evidence", Category: policy.Incident, In: inc}),
	}
	s.columns = `i.title, i.description, i.category, i.severity, i.status, i.exercise, i.nis2, i.gdpr, i.detected_at, i.created_at, i.updated_at,
		i.acknowledged_at, i.contained_at, i.resolved_at, i.closed_at, i.review_happened, i.review_helped, i.review_lessons, COALESCE(i.affected_org, ''), o.name, u.name, ` + inc.Columns("i")
	return s
}

// Incident is one incident as a reader sees it.
type Incident struct {
	ID             string       `json:"id"`
	Title          string       `json:"title"`
	Description    string       `json:"description"`
	Category       string       `json:"category"`
	Severity       string       `json:"severity"`
	Status         string       `json:"status"`
	Exercise       bool         `json:"exercise"`
	AffectedOrg    string       `json:"affected_org,omitempty"`
	NIS2           bool         `json:"nis2"`
	GDPR           bool         `json:"gdpr"`
	DetectedAt     int64        `json:"detected_at"`
	CreatedAt      int64        `json:"created_at"`
	UpdatedAt      int64        `json:"updated_at"`
	AcknowledgedAt int64        `json:"acknowledged_at,omitempty"`
	ContainedAt    int64        `json:"contained_at,omitempty"`
	ResolvedAt     int64        `json:"resolved_at,omitempty"`
	ClosedAt       int64        `json:"closed_at,omitempty"`
	Review         *Review      `json:"review,omitempty"`
	Links          []Link       `json:"links,omitempty"`
	Share          policy.Share `json:"sharing"`
	OrgName        string       `json:"org_name"`
	AuthorName     string       `json:"author_name"`
	// NotDeliveredTo: circle members the incident did not reach (answer
	// to a write only).
	NotDeliveredTo []string `json:"not_delivered_to,omitempty"`
	AudienceNames  []string `json:"-"`
}

// Review is the post-incident review a closed incident carries.
type Review struct {
	WhatHappened string `json:"what_happened"`
	WhatHelped   string `json:"what_helped"`
	Lessons      string `json:"lessons_learned"`
}

// NewIncident is the input of a new incident: its text and the sharing
// fields exactly as a forum thread's.
type NewIncident struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Category    string `json:"category"`
	Severity    string `json:"severity"`
	Exercise    bool   `json:"exercise,omitempty"`
	NIS2        bool   `json:"nis2,omitempty"`
	GDPR        bool   `json:"gdpr,omitempty"`
	// DetectedAt is RFC 3339 ("" is now).
	DetectedAt string `json:"detected_at,omitempty"`
	// AffectedOrg makes a CERT's credential or data leak report: it goes
	// TLP:RED to the security contacts of this org alone (LeakAudience),
	// whatever sharing is given, until they widen it.
	AffectedOrg string `json:"affected_org,omitempty"`
	// Links to threat intelligence the reporter may see.
	Links []Link `json:"links,omitempty"`
	policy.Sharing
}

// Update changes an incident; nil fields stay. Status moves the incident
// along its lifecycle (closing takes the Review); the other fields are
// its owner's to edit, and a new Sharing is a new disclosure.
type Update struct {
	Title       *string         `json:"title,omitempty"`
	Description *string         `json:"description,omitempty"`
	Category    *string         `json:"category,omitempty"`
	Severity    *string         `json:"severity,omitempty"`
	Exercise    *bool           `json:"exercise,omitempty"`
	NIS2        *bool           `json:"nis2,omitempty"`
	GDPR        *bool           `json:"gdpr,omitempty"`
	Status      *string         `json:"status,omitempty"`
	Note        string          `json:"note,omitempty"` // said in the timeline with a status change
	Review      *Review         `json:"review,omitempty"`
	Links       *[]Link         `json:"links,omitempty"`
	Sharing     *policy.Sharing `json:"sharing,omitempty"`
}

func touches(id string) []string { return []string{"incident:" + id, "incidents"} }

// pick finds v (trimmed, lower case) in list.
func pick(v string, list []string) (string, bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	return v, slices.Contains(list, v)
}

// cleanText trims v; ok is false when it is empty but required or
// longer than maxN characters.
func cleanText(v string, required bool, maxN int) (string, bool) {
	v = strings.TrimSpace(strings.ReplaceAll(v, "\r\n", "\n"))
	return v, !(required && v == "") && utf8.RuneCountInString(v) <= maxN
}

func checkTitle(v string) (string, error) {
	t, ok := cleanText(v, true, MaxTitle)
	if !ok {
		return "", fault.BadInput("title", "bad_incident_title", "the title must have 1 to {max} characters").With("max", MaxTitle)
	}
	return t, nil
}

func checkDescription(v string) (string, error) {
	t, ok := cleanText(v, false, MaxDescription)
	if !ok {
		return "", fault.BadInput("description", "bad_incident_description", "the description is longer than {max} characters").With("max", MaxDescription)
	}
	return t, nil
}

func checkCategory(v string) (string, error) {
	c, ok := pick(v, Categories)
	if !ok {
		return "", fault.BadInput("category", "bad_incident_category", `unknown category "{value}": use one of {list}`).With("value", c).With("list", strings.Join(Categories, ", "))
	}
	return c, nil
}

func checkSeverity(v string) (string, error) {
	c, ok := pick(v, Severities)
	if !ok {
		return "", fault.BadInput("severity", "bad_incident_severity", `unknown severity "{value}": use one of {list}`).With("value", c).With("list", strings.Join(Severities, ", "))
	}
	return c, nil
}

func badFilter(field, v string, list []string) error {
	return fault.BadInput(field, "bad_filter", `"{value}" is not a {field} here: use one of {list}`).With("value", v).With("field", field).With("list", strings.Join(list, ", "))
}

func parseTime(field, v string) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return db.Now(), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t.UnixMicro(), nil
		}
	}
	return 0, fault.BadInput(field, "bad_incident_time", `"{value}" is not a time: write it as 2026-12-02T08:30:00Z`).With("value", v)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CreateIncident reports a new incident of the actor's org: its envelope
// is checked against the agreements before anything is written, the
// reporting org becomes its first participant, and the first timeline
// entry says who reported it.
func (s *Service) CreateIncident(ctx context.Context, a policy.Actor, in NewIncident) (Incident, error) {
	if !a.CanWrite() {
		return Incident{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	var inc Incident
	var err error
	if inc.Title, err = checkTitle(in.Title); err != nil {
		return inc, err
	}
	if inc.Description, err = checkDescription(in.Description); err != nil {
		return inc, err
	}
	if inc.Category, err = checkCategory(in.Category); err != nil {
		return inc, err
	}
	if inc.Severity, err = checkSeverity(in.Severity); err != nil {
		return inc, err
	}
	if inc.DetectedAt, err = parseTime("detected_at", in.DetectedAt); err != nil {
		return inc, err
	}
	if inc.DetectedAt > db.Now()+int64(time.Minute/time.Microsecond) {
		return inc, fault.BadInput("detected_at", "detected_in_future", "the incident cannot have been detected in the future")
	}
	if inc.Links, err = s.checkLinks(ctx, a, in.Links); err != nil {
		return inc, err
	}
	tlp, aud, err := in.Sharing.Parse()
	if err != nil {
		return inc, err
	}
	if aud.Kind == "" {
		aud.Kind = policy.AudOrg
	}
	if aud.Kind != policy.AudCommunity {
		aud.Community = ""
	}
	inc.Status, inc.Exercise, inc.NIS2, inc.GDPR, inc.AffectedOrg = "reported", in.Exercise, in.NIS2, in.GDPR, strings.TrimSpace(in.AffectedOrg)
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		if inc.AffectedOrg != "" {
			if tlp, aud, err = s.leakAudience(ctx, tx.Handle, a, inc.Category, inc.AffectedOrg); err != nil {
				return err
			}
		}
		sh := s.incidents.Envelope(a, tlp, aud)
		d, err := s.incidents.Disclose(ctx, tx, a, sh)
		if err != nil {
			return err
		}
		inc.ID, inc.Share, inc.CreatedAt, inc.UpdatedAt, inc.NotDeliveredTo = sh.ID, d.Share, sh.CreatedAt, sh.CreatedAt, d.Uncovered
		if _, err := tx.Exec(ctx, `INSERT INTO incidents (id, org_id, title, description, category, severity, status, exercise, nis2, gdpr, detected_at, created_at, updated_at, affected_org)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, inc.ID, a.OrgID, inc.Title, inc.Description, inc.Category, inc.Severity, inc.Status,
			b2i(inc.Exercise), b2i(inc.NIS2), b2i(inc.GDPR), inc.DetectedAt, inc.CreatedAt, inc.UpdatedAt, nullable(inc.AffectedOrg)); err != nil {
			return fmt.Errorf("insert incident: %w", db.Map(err))
		}
		if _, err := tx.Exec(ctx, `INSERT INTO incident_participants (incident_id, org_id, role, invited_at, invited_by, acknowledged_at, acknowledged_by, last_update_at)
			VALUES (?, ?, 'reporter', ?, ?, ?, ?, ?)`, inc.ID, a.OrgID, inc.CreatedAt, a.UserID, inc.CreatedAt, a.UserID, inc.CreatedAt); err != nil {
			return fmt.Errorf("insert reporter: %w", db.Map(err))
		}
		if err := s.incidents.Index(ctx, tx, inc.ID, inc.Title, inc.Description); err != nil {
			return err
		}
		if err := saveLinks(ctx, tx, inc.ID, inc.Links); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT o.name, u.name FROM orgs o, users u WHERE o.id = ? AND u.id = ?`, a.OrgID, a.UserID).Scan(&inc.OrgName, &inc.AuthorName); err != nil {
			return fmt.Errorf("name reporter: %w", db.Map(err))
		}
		if _, err := s.addEntry(ctx, tx, a, inc.Share, "reported", inc.Title); err != nil {
			return err
		}
		if inc.AffectedOrg != "" {
			if _, err := s.addParticipant(ctx, tx, a, &inc, inc.AffectedOrg, "affected", 0, 0, 0); err != nil {
				return err
			}
		}
		if err := s.emit(ctx, tx, a.UserID, EventCreated, inc, nil, inc.Title); err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "incident.create", ObjectType: "incident", ObjectID: inc.ID,
			Detail: d.Detail(), Touches: touches(inc.ID)})
	})
	return inc, err
}

// load reads one incident the reader of r may see (else not found).
func (s *Service) load(ctx context.Context, h db.Handle, r *policy.Reader, id string) (Incident, error) {
	q := db.Q(`SELECT `+s.columns+` FROM `).Append(r.From(s.incidents, "i")).
		Add(` JOIN orgs o ON o.id = i.org_id JOIN users u ON u.id = i_s.author_id WHERE i.id = ?`, id)
	inc, err := scanIncident(s.incidents, h.SelectRow(ctx, q))
	if err != nil {
		return inc, db.NotFound(err, "load incident")
	}
	shares := []*policy.Share{&inc.Share}
	if err := r.Audiences(ctx, h, shares); err != nil {
		return inc, err
	}
	inc.AudienceNames, err = policy.AudienceNamesWithCircle(ctx, h, inc.Share.Audience)
	return inc, err
}

func scanIncident(k *policy.Kind, sc db.Scanner) (Incident, error) {
	var inc Incident
	var ex, nis2, gdpr int
	var rv Review
	err := sc.Scan(k.Dest(&inc.Share, []any{&inc.Title, &inc.Description, &inc.Category, &inc.Severity, &inc.Status, &ex, &nis2, &gdpr,
		&inc.DetectedAt, &inc.CreatedAt, &inc.UpdatedAt, &inc.AcknowledgedAt, &inc.ContainedAt, &inc.ResolvedAt, &inc.ClosedAt,
		&rv.WhatHappened, &rv.WhatHelped, &rv.Lessons, &inc.AffectedOrg, &inc.OrgName, &inc.AuthorName})...)
	inc.ID, inc.Exercise, inc.NIS2, inc.GDPR = inc.Share.ID, ex == 1, nis2 == 1, gdpr == 1
	if rv != (Review{}) {
		inc.Review = &rv
	}
	return inc, err
}

// FindIncidentByID returns an incident the actor may see, else not found.
func (s *Service) FindIncidentByID(ctx context.Context, a policy.Actor, id string) (Incident, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return Incident{}, err
	}
	inc, err := s.load(ctx, h, r, id)
	if err != nil {
		return inc, err
	}
	inc.Links, err = s.links(ctx, h, a, id)
	return inc, err
}

// ListFilter narrows the incident list.
type ListFilter struct {
	Status, Severity, Category string
	Open                       bool   // not resolved or closed
	After                      string // the last id of the previous page
	Limit                      int
}

// FindIncidents lists the incidents the actor may see, newest first.
func (s *Service) FindIncidents(ctx context.Context, a policy.Actor, f ListFilter) ([]Incident, string, error) {
	h := s.DB.R()
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return nil, "", err
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	q := db.Q(`SELECT ` + s.columns + ` FROM `).Append(r.From(s.incidents, "i")).
		Add(` JOIN orgs o ON o.id = i.org_id JOIN users u ON u.id = i_s.author_id WHERE 1 = 1`)
	for _, c := range []struct {
		col, v string
		list   []string
	}{{"i.status", f.Status, Statuses}, {"i.severity", f.Severity, Severities}, {"i.category", f.Category, Categories}} {
		if c.v == "" {
			continue
		}
		v, ok := pick(c.v, c.list)
		if !ok {
			return nil, "", badFilter(strings.TrimPrefix(c.col, "i."), v, c.list)
		}
		q.Add(` AND `+c.col+` = ?`, v)
	}
	if f.Open {
		q.Add(` AND i.status NOT IN ('resolved', 'closed')`)
	}
	if f.After != "" {
		q.Add(` AND i.id < ?`, f.After)
	}
	q.Add(` ORDER BY i.id DESC LIMIT ?`, f.Limit+1)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("list incidents: %w", err)
	}
	out, err := db.Collect(rows, "list incidents", func(sc db.Scanner) (Incident, error) { return scanIncident(s.incidents, sc) })
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > f.Limit {
		out, next = out[:f.Limit], out[f.Limit-1].ID
	}
	shares := make([]*policy.Share, len(out))
	for i := range out {
		shares[i] = &out[i].Share
	}
	if err := r.Audiences(ctx, h, shares); err != nil {
		return nil, "", err
	}
	for i := range out {
		if out[i].AudienceNames, err = policy.AudienceNamesWithCircle(ctx, h, out[i].Share.Audience); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

// UpdateIncident edits an incident or moves its status. The owner's
// analysts edit; a status move is also open to the analysts of a
// participating coordinator or responder (they work the incident). Every
// move is a timeline entry with who and when; closing needs the review.
func (s *Service) UpdateIncident(ctx context.Context, a policy.Actor, id string, up Update) (Incident, error) {
	if !a.CanWrite() {
		return Incident{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	// New links are checked before the transaction: naming them reads
	// through the pool (another capability's objects), and a write that
	// asks the pool for a second connection while it holds one waits for
	// itself when the pool is small.
	var links, shown []Link
	if up.Links != nil {
		var err error
		if links, err = s.checkLinks(ctx, a, *up.Links); err != nil {
			return Incident{}, err
		}
		if shown, err = s.links(ctx, s.DB.R(), a, id); err != nil {
			return Incident{}, err
		}
	}
	var out Incident
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		r, err := policy.NewReader(ctx, tx.Handle, a, db.Now())
		if err != nil {
			return err
		}
		inc, err := s.load(ctx, tx.Handle, r, id)
		if err != nil {
			return err
		}
		edits := up.Title != nil || up.Description != nil || up.Category != nil || up.Severity != nil || up.Exercise != nil ||
			up.NIS2 != nil || up.GDPR != nil || up.Sharing != nil || up.Links != nil
		// The org a leak report names may widen it (and only that): in
		// the reporting CERT's name, checked against its agreements.
		sharer := a
		if up.Sharing != nil && inc.AffectedOrg == a.OrgID && inc.Share.Owner != a.OrgID {
			sharer.OrgID, sharer.Role = inc.Share.Owner, policy.Analyst
			if edits = up.Title != nil || up.Description != nil || up.Category != nil || up.Severity != nil || up.Exercise != nil || up.NIS2 != nil || up.GDPR != nil || up.Links != nil; edits {
				return fault.New(fault.Forbidden, "not_owner", "only the organisation that shared it may change or delete it")
			}
		}
		if edits {
			if _, err := s.incidents.Authorize(ctx, tx, a, id); err != nil {
				return err
			}
		}
		detail := map[string]any{}
		now := db.Now()
		// set changes one column; the first failure is kept for after the
		// checks (a later check must not hide it).
		var setErr error
		set := func(col string, v any) {
			// The audit trail says that a text changed, not what it says
			// now: its readers are the owner org's auditors, not the
			// incident's (attack review: a TLP:RED description showed in
			// the audit of people it was not shared with).
			if col == "title" || col == "description" {
				detail[col] = "changed"
			} else {
				detail[col] = v
			}
			if _, e := tx.Exec(ctx, `UPDATE incidents SET `+col+` = ? WHERE id = ?`, v, id); e != nil && setErr == nil {
				setErr = fmt.Errorf("update incident %s: %w", col, db.Map(e))
			}
		}
		// Only what changes is written, audited and said in the timeline
		// (the edit form sends every field).
		for _, f := range []struct {
			col   string
			in    *string
			cur   *string
			check func(string) (string, error)
		}{{"title", up.Title, &inc.Title, checkTitle}, {"description", up.Description, &inc.Description, checkDescription},
			{"category", up.Category, &inc.Category, checkCategory}, {"severity", up.Severity, &inc.Severity, checkSeverity}} {
			if f.in == nil {
				continue
			}
			v, err := f.check(*f.in)
			if err != nil {
				return err
			}
			if v != *f.cur {
				*f.cur = v
				set(f.col, v)
			}
		}
		for _, f := range []struct {
			col string
			v   *bool
			dst *bool
		}{{"exercise", up.Exercise, &inc.Exercise}, {"nis2", up.NIS2, &inc.NIS2}, {"gdpr", up.GDPR, &inc.GDPR}} {
			if f.v != nil && *f.v != *f.dst {
				*f.dst = *f.v
				set(f.col, b2i(*f.v))
			}
		}
		if setErr != nil {
			return setErr
		}
		if up.Links != nil {
			hidden, err := s.hiddenLinks(ctx, tx.Handle, id, shown)
			if err != nil {
				return err
			}
			for _, l := range hidden {
				if !slices.ContainsFunc(links, func(x Link) bool { return x.ID == l.ID }) {
					links = append(links, l)
				}
			}
			changed, err := linksChanged(ctx, tx.Handle, id, links)
			if err != nil {
				return err
			}
			if changed {
				if err := saveLinks(ctx, tx, id, links); err != nil {
					return err
				}
				detail["links"] = len(links)
			}
		}
		var disclosure map[string]any
		if up.Sharing != nil {
			tlp, aud, err := up.Sharing.Parse()
			if err != nil {
				return err
			}
			if aud.Kind != policy.AudCommunity {
				aud.Community = ""
			}
			if sharer.OrgID != a.OrgID {
				if err := s.checkLeakWidening(ctx, tx.Handle, a, id, tlp, aud); err != nil {
					return err
				}
			}
			d, err := s.incidents.Reshare(ctx, tx, sharer, id, tlp, aud)
			if err != nil {
				return err
			}
			inc.Share, inc.NotDeliveredTo, disclosure = d.Share, d.Uncovered, d.Detail()
			disclosure["by_org"] = a.OrgID
		}
		from := inc.Status
		if up.Status != nil && *up.Status != inc.Status {
			if err := s.move(ctx, tx, a, &inc, *up.Status, up.Review, now); err != nil {
				return err
			}
			detail["status"] = map[string]string{"from": from, "to": inc.Status}
		}
		if len(detail) == 0 && disclosure == nil {
			out = inc
			return nil // nothing changed: nothing to audit
		}
		if inc.Share.Owner == a.OrgID && len(detail) > 0 && detail["status"] == nil {
			// An edit is a timeline entry too (what changed, not how).
			keys := make([]string, 0, len(detail))
			for k := range detail {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if _, err := s.addEntry(ctx, tx, a, inc.Share, "edited", strings.Join(keys, ", ")); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE incidents SET updated_at = ? WHERE id = ?`, now, id); err != nil {
			return fmt.Errorf("touch incident: %w", db.Map(err))
		}
		if err := s.touchParticipant(ctx, tx, id, a.OrgID, now); err != nil {
			return err
		}
		if up.Title != nil || up.Description != nil {
			if err := s.incidents.Index(ctx, tx, id, inc.Title, inc.Description); err != nil {
				return err
			}
		}
		inc.UpdatedAt = now
		summary := inc.Status
		if from != inc.Status {
			summary = from + " → " + inc.Status
		}
		if err := s.emit(ctx, tx, a.UserID, EventUpdated, inc, nil, summary); err != nil {
			return err
		}
		if disclosure != nil {
			detail["sharing"] = disclosure
		}
		out = inc
		return audit.Write(ctx, tx, a, audit.Entry{Action: "incident.update", ObjectType: "incident", ObjectID: id,
			Orgs: []string{inc.Share.Owner}, Detail: detail, Touches: touches(id)})
	})
	return out, err
}

// move changes the status of inc (its row and the timeline): a legal move
// by an actor who may move it, the review when closing.
func (s *Service) move(ctx context.Context, tx *db.Tx, a policy.Actor, inc *Incident, to string, rv *Review, now int64) error {
	to = strings.ToLower(strings.TrimSpace(to))
	if !slices.Contains(Statuses, to) {
		return fault.BadInput("status", "bad_status", `unknown status "{status}": use one of {list}`).With("status", to).With("list", strings.Join(Statuses, ", "))
	}
	if !slices.Contains(transitions[inc.Status], to) {
		return fault.New(fault.Conflict, "bad_transition", "an incident cannot go from {from} to {to}").With("from", inc.Status).With("to", to)
	}
	if inc.Share.Owner != a.OrgID {
		role, err := s.roleOf(ctx, tx.Handle, inc.ID, a.OrgID)
		if err != nil {
			return err
		}
		if role != "coordinator" && role != "responder" {
			return fault.New(fault.Forbidden, "not_responder", "only the reporting organisation, its coordinator and its responders may change the status")
		}
		// Resolving ends the response clocks of every party (the round
		// checks open incidents only): the owner's or the coordinator's
		// call, not a responder's (re-check review: a responder resolved
		// before acknowledging and its own breach was never told).
		if to == "resolved" && role != "coordinator" {
			return fault.New(fault.Forbidden, "coordinator_resolves", "only the reporting organisation and the incident's coordinator mark it resolved")
		}
	}
	if to == "closed" && inc.Share.Owner != a.OrgID {
		// Closing ends the incident for good and writes its review: the
		// reporting org's word (attack review: a responder closed the
		// owner's incident and its NIS2 reminders stopped).
		return fault.New(fault.Forbidden, "owner_closes", "only the reporting organisation closes the incident and writes its review")
	}
	if to == "closed" {
		if rv == nil {
			return fault.BadInput("review", "review_required", "closing an incident needs its review: what happened, what helped, lessons learned")
		}
		var ok [3]bool
		rv.WhatHappened, ok[0] = cleanText(rv.WhatHappened, true, MaxReview)
		rv.WhatHelped, ok[1] = cleanText(rv.WhatHelped, false, MaxReview)
		rv.Lessons, ok[2] = cleanText(rv.Lessons, true, MaxReview)
		if ok != [3]bool{true, true, true} {
			return fault.BadInput("review", "review_missing", "the review needs what happened and the lessons learned, each up to {max} characters").With("max", MaxReview)
		}
		if _, err := tx.Exec(ctx, `UPDATE incidents SET review_happened = ?, review_helped = ?, review_lessons = ? WHERE id = ?`,
			rv.WhatHappened, rv.WhatHelped, rv.Lessons, inc.ID); err != nil {
			return fmt.Errorf("save review: %w", db.Map(err))
		}
		inc.Review = rv
	}
	// The first time a stage is reached (or passed) is its time: the
	// figures count from it.
	stamp := map[string]*int64{"acknowledged": &inc.AcknowledgedAt, "contained": &inc.ContainedAt, "resolved": &inc.ResolvedAt, "closed": &inc.ClosedAt}
	idx := slices.Index(Statuses, to)
	for _, st := range Statuses[1 : idx+1] {
		if p := stamp[st]; p != nil && *p == 0 && st != "investigating" {
			*p = now
			if _, err := tx.Exec(ctx, `UPDATE incidents SET `+st+`_at = ? WHERE id = ?`, now, inc.ID); err != nil {
				return fmt.Errorf("stamp %s: %w", st, db.Map(err))
			}
		}
	}
	from := inc.Status
	inc.Status = to
	if _, err := tx.Exec(ctx, `UPDATE incidents SET status = ? WHERE id = ?`, to, inc.ID); err != nil {
		return fmt.Errorf("move incident: %w", db.Map(err))
	}
	_, err := s.addEntry(ctx, tx, a, inc.Share, "status", from+" → "+to)
	return err
}

// emit tells of a change: live after commit to readers who may see it
// (the contribution's envelope with its incident's, when it is about
// one), and for webhooks and e-mail in this transaction with the same
// envelope, so every recipient is judged by the rule book.
//
// by is the person whose change it is ("" for the clock's round): they
// get no mail of their own change.
func (s *Service) emit(ctx context.Context, tx *db.Tx, by, typ string, inc Incident, contribution *policy.Share, summary string) error {
	share := inc.Share
	if contribution != nil {
		share = *contribution
	}
	if s.Notify != nil {
		sev, _ := notify.ParseSeverity(inc.Severity)
		data := map[string]any{"id": inc.ID, "title": inc.Title, "path": "/incidents/" + inc.ID, "status": inc.Status, "severity": inc.Severity}
		if summary != "" {
			data["summary"] = clip(summary, 200)
		}
		if inc.Exercise {
			data["exercise"] = true
		}
		if err := s.Notify.Enqueue(ctx, tx, notify.Event{Type: typ, Share: share, Severity: sev, Data: data, By: by}); err != nil {
			return err
		}
	}
	if s.Events != nil {
		ev := events.Event{Type: typ, Topics: []string{"incident:" + inc.ID, "incidents"}, Data: map[string]string{"id": inc.ID}}
		sh, container := share, inc.Share
		ev.Share = &sh
		if contribution != nil {
			// A contribution's event names it (and its incident): what
			// reaches a stream is exactly what its reader may see.
			ev.Container = &container
			ev.Data = map[string]string{"id": contribution.ID, "incident": inc.ID}
		}
		tx.AfterCommit(func() { s.Events.Publish(ev) })
	}
	return nil
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// DeleteIncident withdraws an incident of the actor's org with everything
// that lives in it.
func (s *Service) DeleteIncident(ctx context.Context, a policy.Actor, id string) error {
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := s.incidents.Authorize(ctx, tx, a, id); err != nil {
			return err
		}
		// A playbook run's rows first: its steps name the incident's tasks.
		for _, q := range []string{
			`DELETE FROM playbook_run_deviations WHERE run_id IN (SELECT id FROM playbook_runs WHERE incident_id = ?)`,
			`DELETE FROM playbook_run_steps WHERE run_id IN (SELECT id FROM playbook_runs WHERE incident_id = ?)`,
			`DELETE FROM playbook_runs WHERE incident_id = ?`,
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return fmt.Errorf("delete playbook runs: %w", db.Map(err))
			}
		}
		for _, t := range []string{"incident_entries", "incident_tasks", "incident_evidence", "incident_participants", "incident_links", "incident_assistance", "incident_clocks"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE incident_id = ?`, id); err != nil {
				return fmt.Errorf("delete %s: %w", t, db.Map(err))
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM incidents WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete incident: %w", db.Map(err))
		}
		if err := s.incidents.Withdraw(ctx, tx, a, id); err != nil {
			return err
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "incident.delete", ObjectType: "incident", ObjectID: id, Touches: touches(id)})
	})
}
