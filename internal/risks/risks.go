// Package risks is the joint risk register and its live risk workshops.
//
// A risk is a shareable object (kind "risk", category risk) written, read
// and deleted only through the sharing kernel. Its owner org keeps the
// risk's own fields (title, description, scores, treatment, review
// cadence, appetite, links, co-owners); every owner — the owner org and
// each co-owner org — has one part of it (what it contributes: its
// description, controls, treatment and due date) and edits only that
// part. The rule is the service's (UpdateRisk), not a handler's.
//
// Scores are likelihood × impact on the owner org's risk matrix
// (risk_matrices, default 5×5 with the catalogue's labels in en and de);
// a risk keeps the size of the matrix it was scored on, and the heatmap
// places risks of other sizes proportionally on the reader's org's
// matrix. Every change is one row per field in the risk's history.
//
// A workshop (kind "risk_workshop", category risk, shared with a trust
// circle) scores a set of risks together: each participant votes
// independently, nobody — the facilitator included — sees another
// person's numbers before the facilitator reveals them (only who has
// voted), then everyone sees spread and median, discusses in the
// workshop's thread, and the facilitator records the agreed score into
// the risk with who took part.
package risks

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// Limits of what a risk holds.
const (
	MaxTitle       = 200
	MaxDescription = 20_000
	MaxControls    = 10_000
	MaxLinks       = 50
	MaxCoOwners    = 20
	MaxComment     = 5_000
	MaxItems       = 50 // risks per workshop
	// DefaultLevels is the default matrix: 5 × 5.
	DefaultLevels = 5
	// DefaultAppetite: scores above it are flagged (5×5: 9 is "possible,
	// moderate"; above that the risk needs treatment).
	DefaultAppetite = 9
	// DefaultReviewDays is the default review cadence.
	DefaultReviewDays = 90
	noDue             = int64(1<<63 - 1) // due_key of a risk without due date
)

// Treatments, in the order forms offer them.
var Treatments = []string{"mitigate", "accept", "transfer", "avoid"}

// LinkTypes are the object types a risk may link to: assets and
// advisories (internal/vulns), incidents, playbooks (by id; the playbook
// library checks them when it exists).
var LinkTypes = []string{"vuln_asset", "vuln_advisory", "incident", "playbook"}

// Service is the risk capability.
type Service struct {
	DB     *db.DB
	Events *events.Broker
	// risks and workshops are its shareable kinds.
	risks, workshops *policy.Kind
	resolve          func(ctx context.Context, a policy.Actor, typ string, ids []string) (map[string]web.Ref, error)
	// Advisory reads an advisory's CVSS score and KEV flag for a reader
	// who may see it (internal/vulns; nil leaves them out).
	Advisory func(ctx context.Context, a policy.Actor, id string) (score float64, kev bool, err error)
	// labels are the default matrix labels per language (from the
	// catalogue, set by Register).
	labels func(lang, key string) string
	now    func() int64
}

// New returns the service and registers its kinds with the sharing kernel.
func New(d *db.DB, b *events.Broker, k *policy.Kernel) *Service {
	return &Service{DB: d, Events: b,
		risks:     k.Register(policy.KindSpec{Name: "risk", Table: "risks", Category: policy.Risk, Search: true}),
		workshops: k.Register(policy.KindSpec{Name: "risk_workshop", Table: "risk_workshops", Category: policy.Risk}),
		now:       db.Now}
}

// KindsOf returns the shareable kinds (benchmarks, tests).
func (s *Service) KindsOf() (risks, workshops *policy.Kind) { return s.risks, s.workshops }

// SetResolver gives the service the hub's way to name objects of other
// capabilities for a reader (links).
func (s *Service) SetResolver(fn func(ctx context.Context, a policy.Actor, typ string, ids []string) (map[string]web.Ref, error)) {
	s.resolve = fn
}

// Matrix is an org's risk matrix: its size, its labels per language
// (none: the catalogue's for 5 levels, numbers otherwise) and the
// default appetite of new risks.
type Matrix struct {
	Likelihood int               `json:"likelihood_levels"`
	Impact     int               `json:"impact_levels"`
	Labels     map[string]Labels `json:"labels,omitempty"`
	Appetite   int               `json:"appetite"`
	Default    bool              `json:"default"`
}

// Labels names a matrix's levels in one language, lowest first.
type Labels struct {
	Likelihood []string `json:"likelihood"`
	Impact     []string `json:"impact"`
}

// DefaultMatrix is the matrix of an org that has set none.
func DefaultMatrix() Matrix {
	return Matrix{Likelihood: DefaultLevels, Impact: DefaultLevels, Appetite: DefaultAppetite, Default: true}
}

// Label names level n (1-based) of a dimension ("likelihood" or
// "impact") in lang.
func (s *Service) Label(m Matrix, lang, dim string, n int) string {
	if l, ok := m.Labels[lang]; ok {
		list := l.Likelihood
		if dim == "impact" {
			list = l.Impact
		}
		if n >= 1 && n <= len(list) {
			return list[n-1]
		}
	}
	if _, ok := m.Labels["en"]; ok && lang != "en" {
		return s.Label(m, "en", dim, n)
	}
	size := m.Likelihood
	if dim == "impact" {
		size = m.Impact
	}
	if size == DefaultLevels && s.labels != nil && n >= 1 && n <= DefaultLevels {
		return s.labels(lang, fmt.Sprintf("risks.%s.%d", dim, n))
	}
	return fmt.Sprint(n)
}

// checkMatrix validates a matrix an admin sets.
func checkMatrix(m Matrix) (Matrix, error) {
	if m.Likelihood < 3 || m.Likelihood > 7 || m.Impact < 3 || m.Impact > 7 {
		return m, fault.BadInput("likelihood_levels", "bad_matrix_size", "a risk matrix has 3 to 7 levels of likelihood and of impact")
	}
	if m.Appetite == 0 {
		m.Appetite = DefaultAppetite
	}
	if m.Appetite < 1 || m.Appetite > m.Likelihood*m.Impact {
		return m, fault.BadInput("appetite", "bad_appetite", "the risk appetite is a score from 1 to {max}").With("max", m.Likelihood*m.Impact)
	}
	for lang, l := range m.Labels {
		if lang != "en" && lang != "de" {
			return m, fault.BadInput("labels", "bad_matrix_labels", "labels are given for en and de, one per level, each 1 to 40 characters")
		}
		if len(l.Likelihood) != m.Likelihood || len(l.Impact) != m.Impact {
			return m, fault.BadInput("labels", "bad_matrix_labels", "labels are given for en and de, one per level, each 1 to 40 characters")
		}
		for _, x := range append(slices.Clone(l.Likelihood), l.Impact...) {
			if n := utf8.RuneCountInString(strings.TrimSpace(x)); n == 0 || n > 40 {
				return m, fault.BadInput("labels", "bad_matrix_labels", "labels are given for en and de, one per level, each 1 to 40 characters")
			}
		}
	}
	m.Default = false
	return m, nil
}

// FindMatrix returns the matrix of org (the default if it set none).
func (s *Service) FindMatrix(ctx context.Context, h db.Handle, org string) (Matrix, error) {
	var m Matrix
	var labels string
	err := h.QueryRow(ctx, `SELECT likelihood_levels, impact_levels, labels, appetite FROM risk_matrices WHERE org_id = ?`, org).
		Scan(&m.Likelihood, &m.Impact, &labels, &m.Appetite)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return DefaultMatrix(), nil
		}
		return m, fmt.Errorf("read risk matrix: %w", db.Map(err))
	}
	if labels != "" {
		if err := json.Unmarshal([]byte(labels), &m.Labels); err != nil {
			return m, fmt.Errorf("read risk matrix labels: %w", err)
		}
	}
	return m, nil
}

// Risk is one risk as a reader sees it.
type Risk struct {
	ID                 string `json:"id"`
	Title              string `json:"title"`
	Description        string `json:"description"`
	OrgID              string `json:"org_id"`
	OrgName            string `json:"org_name"`
	LikelihoodLevels   int    `json:"likelihood_levels"`
	ImpactLevels       int    `json:"impact_levels"`
	Likelihood         int    `json:"likelihood"`
	Impact             int    `json:"impact"`
	Inherent           int    `json:"inherent_score"`
	ResidualLikelihood int    `json:"residual_likelihood"`
	ResidualImpact     int    `json:"residual_impact"`
	Residual           int    `json:"residual_score"`
	Treatment          string `json:"treatment"`
	Appetite           int    `json:"appetite"`
	AboveAppetite      bool   `json:"above_appetite"`
	ReviewDays         int    `json:"review_days"`
	NextReview         int64  `json:"next_review"`
	ReviewOverdue      bool   `json:"review_overdue"`
	DueAt              int64  `json:"due_at,omitempty"`
	Parts              []Part `json:"parts"`
	Links              []Link `json:"links"`
	// WorkshopScores are scores workshops the reader may see agreed for
	// this risk that its owner org has not applied: an agreement by
	// anyone outside the owner org changes the risk only when the owner
	// org applies it (PATCH apply_workshop).
	WorkshopScores []WorkshopScore `json:"workshop_scores"`
	Version        int             `json:"version"`
	CreatedAt      int64           `json:"created_at"`
	UpdatedAt      int64           `json:"updated_at"`
	UpdatedByName  string          `json:"updated_by_name"`
	Share          policy.Share    `json:"sharing"`
	// NotDeliveredTo lists circle members the risk did not reach because
	// no agreement covers them (answer to a write only).
	NotDeliveredTo []string `json:"not_delivered_to,omitempty"`
	AudienceNames  []string `json:"-"`
	dueKey         int64
}

// Part is one owner's part of a risk.
type Part struct {
	OrgID       string `json:"org_id"`
	OrgName     string `json:"org_name"`
	Description string `json:"description"`
	Controls    string `json:"controls"`
	Treatment   string `json:"treatment"`
	DueAt       int64  `json:"due_at,omitempty"`
	UpdatedAt   int64  `json:"updated_at"`
	// Mine: the reader's org's part (the only one it may edit).
	Mine bool `json:"mine"`
}

// DueDay is the part's due date as a date field holds it.
func (p Part) DueDay() string { return dueText(p.DueAt) }

// Link is a reference from a risk to another object of the hub.
type Link struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	// Name and URL: what the reader may know of it (links to objects the
	// reader may not see are left out).
	Name string `json:"name,omitempty"`
	URL  string `json:"url,omitempty"`
	// CVSS and KEV of an advisory the reader may see.
	CVSS float64 `json:"cvss,omitempty"`
	KEV  bool    `json:"known_exploited,omitempty"`
}

// NewRisk is the input of a new risk.
type NewRisk struct {
	Title              string `json:"title"`
	Description        string `json:"description"`
	Likelihood         int    `json:"likelihood"`
	Impact             int    `json:"impact"`
	ResidualLikelihood int    `json:"residual_likelihood,omitempty"`
	ResidualImpact     int    `json:"residual_impact,omitempty"`
	Treatment          string `json:"treatment"`
	// Controls and Due are the owner org's part.
	Controls   string   `json:"controls,omitempty"`
	Due        string   `json:"due,omitempty"` // YYYY-MM-DD
	ReviewDays int      `json:"review_days,omitempty"`
	Appetite   int      `json:"appetite,omitempty"`
	CoOwners   []string `json:"co_owners,omitempty"` // org ids
	Links      []Link   `json:"links,omitempty"`
	policy.Sharing
}

// PartUpdate changes one owner's part; nil fields stay. OrgID, when
// given, names whose part: another org's part is refused.
type PartUpdate struct {
	OrgID       string  `json:"org_id,omitempty"`
	Description *string `json:"description,omitempty"`
	Controls    *string `json:"controls,omitempty"`
	Treatment   *string `json:"treatment,omitempty"`
	Due         *string `json:"due,omitempty"`
}

// RiskUpdate changes a risk; nil fields stay. Every field but Part is the
// owner org's alone.
type RiskUpdate struct {
	Title              *string         `json:"title,omitempty"`
	Description        *string         `json:"description,omitempty"`
	Likelihood         *int            `json:"likelihood,omitempty"`
	Impact             *int            `json:"impact,omitempty"`
	ResidualLikelihood *int            `json:"residual_likelihood,omitempty"`
	ResidualImpact     *int            `json:"residual_impact,omitempty"`
	Treatment          *string         `json:"treatment,omitempty"`
	ReviewDays         *int            `json:"review_days,omitempty"`
	Appetite           *int            `json:"appetite,omitempty"`
	Reviewed           bool            `json:"reviewed,omitempty"` // the review took place now
	CoOwners           *[]string       `json:"co_owners,omitempty"`
	Links              *[]Link         `json:"links,omitempty"`
	Sharing            *policy.Sharing `json:"sharing,omitempty"`
	Part               *PartUpdate     `json:"part,omitempty"`
	// ApplyWorkshop makes a workshop's agreed score the risk's residual
	// likelihood and impact (the owner org's action).
	ApplyWorkshop *string `json:"apply_workshop,omitempty"`
}

// WorkshopScore is the score a workshop agreed for a risk, not yet
// applied to it.
type WorkshopScore struct {
	WorkshopID    string `json:"workshop_id"`
	WorkshopTitle string `json:"workshop_title"`
	Likelihood    int    `json:"likelihood"`
	Impact        int    `json:"impact"`
	Score         int    `json:"score"`
	At            int64  `json:"at"`
	ByName        string `json:"by_name"`
}

// ownerFields reports whether u changes anything but the actor's part.
func (u RiskUpdate) ownerFields() bool {
	return u.Title != nil || u.Description != nil || u.Likelihood != nil || u.Impact != nil || u.ResidualLikelihood != nil ||
		u.ResidualImpact != nil || u.Treatment != nil || u.ReviewDays != nil || u.Appetite != nil || u.Reviewed ||
		u.CoOwners != nil || u.Links != nil || u.Sharing != nil || u.ApplyWorkshop != nil
}

// HistoryFields are the fields a risk's history names.
var HistoryFields = []string{"created", "title", "description", "likelihood", "impact", "residual_likelihood", "residual_impact", "treatment",
	"review_days", "appetite", "reviewed", "sharing", "co_owners", "links", "part.description", "part.controls", "part.treatment", "part.due", "workshop"}

// Change is one entry of a risk's history.
type Change struct {
	At       int64  `json:"at"`
	UserName string `json:"user_name"`
	OrgName  string `json:"org_name"`
	Field    string `json:"field"`
	Old      string `json:"old"`
	New      string `json:"new"`
	// Note names the workshop and who took part, for a reader who may
	// see the workshop (WorkshopID); another reader sees InWorkshop only.
	Note       string `json:"note,omitempty"`
	WorkshopID string `json:"workshop_id,omitempty"`
	InWorkshop bool   `json:"in_workshop,omitempty"`
}

func checkTitle(t string) (string, error) {
	t = strings.TrimSpace(t)
	if t == "" || utf8.RuneCountInString(t) > MaxTitle {
		return "", fault.BadInput("title", "bad_risk_title", "the title must have 1 to {max} characters").With("max", MaxTitle)
	}
	return t, nil
}

func checkText(field, t string, limit int) (string, error) {
	t = strings.TrimSpace(strings.ReplaceAll(t, "\r\n", "\n"))
	if utf8.RuneCountInString(t) > limit {
		return "", fault.BadInput(field, "risk_text_too_long", "{field} is longer than {max} characters").With("field", field).With("max", limit)
	}
	return t, nil
}

func checkTreatment(t string) (string, error) {
	t = strings.ToLower(strings.TrimSpace(t))
	if slices.Contains(Treatments, t) {
		return t, nil
	}
	return "", fault.BadInput("treatment", "bad_treatment", `unknown treatment "{treatment}": use mitigate, accept, transfer or avoid`).With("treatment", t)
}

// checkLevel reads a level of a dimension of size n.
func checkLevel(field string, v, n int) error {
	if v < 1 || v > n {
		return fault.BadInput(field, "bad_level", "{field} must be a level from 1 to {max}").With("field", field).With("max", n)
	}
	return nil
}

// parseDue reads a due date (YYYY-MM-DD, the display zone's day; "" none).
func parseDue(field, s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	t, err := time.ParseInLocation("2006-01-02", s, web.Zone())
	if err != nil {
		return 0, fault.BadInput(field, "bad_due_date", `"{value}" is not a date: write YYYY-MM-DD`).With("value", s)
	}
	return t.UnixMicro(), nil
}

// dueText is a due date as the history and forms write it.
func dueText(us int64) string {
	if us == 0 {
		return ""
	}
	return time.UnixMicro(us).In(web.Zone()).Format("2006-01-02")
}

func checkReviewDays(n int) error {
	if n < 1 || n > 3650 {
		return fault.BadInput("review_days", "bad_review_days", "the review cadence is 1 to 3650 days")
	}
	return nil
}

func checkAppetite(n, levelsL, levelsI int) error {
	if n < 1 || n > levelsL*levelsI {
		return fault.BadInput("appetite", "bad_appetite", "the risk appetite is a score from 1 to {max}").With("max", levelsL*levelsI)
	}
	return nil
}

// checkLinks refuses link types a risk does not link to and objects the
// writer cannot see (answered alike for objects that do not exist).
// Playbook links are kept as ids (the playbook library checks them).
func (s *Service) checkLinks(ctx context.Context, a policy.Actor, in []Link) ([]Link, error) {
	if len(in) > MaxLinks {
		return nil, fault.BadInput("links", "too_many_risk_links", "a risk has at most {max} links").With("max", MaxLinks)
	}
	var out []Link
	byType := map[string][]string{}
	for _, l := range in {
		l.Type, l.ID = strings.TrimSpace(l.Type), strings.TrimSpace(l.ID)
		if !slices.Contains(LinkTypes, l.Type) {
			return nil, fault.BadInput("links", "bad_risk_link_type", `risks cannot link to objects of type "{type}": use one of {types}`).With("type", l.Type).With("types", strings.Join(LinkTypes, ", "))
		}
		if l.ID == "" || len(l.ID) > 100 || !web.ValidText(l.ID) {
			return nil, fault.BadInput("links", "risk_link_unknown", `there is no {type} "{id}" that you can see`).With("type", l.Type).With("id", l.ID)
		}
		if !slices.ContainsFunc(out, func(o Link) bool { return o.Type == l.Type && o.ID == l.ID }) {
			out = append(out, Link{Type: l.Type, ID: l.ID})
			if l.Type != "playbook" {
				byType[l.Type] = append(byType[l.Type], l.ID)
			}
		}
	}
	if s.resolve == nil {
		return out, nil
	}
	for typ, ids := range byType {
		refs, err := s.resolve(ctx, a, typ, ids)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if _, ok := refs[id]; !ok {
				return nil, fault.BadInput("links", "risk_link_unknown", `there is no {type} "{id}" that you can see`).With("type", typ).With("id", id)
			}
		}
	}
	return out, nil
}
