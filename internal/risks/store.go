package risks

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// envelope builds a risk's envelope from the client's sharing: without an
// audience, a risk named for a trust circle goes to the circle (up to
// AMBER) and any other stays in the org.
func (s *Service) envelope(k *policy.Kind, a policy.Actor, in policy.Sharing) (policy.Share, error) {
	tlp, aud, err := in.Parse()
	if err != nil {
		return policy.Share{}, err
	}
	if aud.Kind == "" {
		aud.Kind = policy.AudOrg
		if aud.Community != "" && tlp <= policy.Amber {
			aud.Kind = policy.AudCommunity
		}
	}
	if aud.Kind != policy.AudCommunity {
		aud.Community = ""
	}
	return k.Envelope(a, tlp, aud), nil
}

// touches is what a change to a risk touches, for the read cache.
func touches(id string) []string { return []string{"risk:" + id, "risks"} }

// checkCoOwners reads the co-owner orgs of a risk with envelope sh: each
// an existing org other than the owner that may read the risk as an org
// (its envelope reaches the org as a whole: a circle or named orgs, with
// an agreement covering the risk category) — a co-owner that could not
// read the risk could not edit its part either.
func (s *Service) checkCoOwners(ctx context.Context, h db.Handle, sh policy.Share, in []string) ([]string, error) {
	var out []string
	for _, o := range in {
		o = strings.TrimSpace(o)
		if o == "" || o == sh.Owner || slices.Contains(out, o) {
			continue
		}
		out = append(out, o)
	}
	if len(out) > MaxCoOwners {
		return nil, fault.BadInput("co_owners", "too_many_co_owners", "a risk has at most {max} co-owners").With("max", MaxCoOwners)
	}
	now := s.now()
	for _, o := range out {
		var name string
		if err := h.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, o).Scan(&name); err != nil {
			return nil, fault.BadInput("co_owners", "co_owner_cannot_see", `the organisation "{org}" cannot read this risk: share it with its trust circle or name it, under an agreement that covers risks`).With("org", o)
		}
		// The org as a whole: a reader id that is no person's (ids are
		// UUIDs), so named people do not make an org a co-owner.
		v, err := policy.LoadView(ctx, h, policy.Actor{OrgID: o, UserID: "org:" + o, Role: policy.Analyst}, now)
		if err != nil {
			return nil, err
		}
		if !v.CanSee(sh) {
			return nil, fault.BadInput("co_owners", "co_owner_cannot_see", `the organisation "{org}" cannot read this risk: share it with its trust circle or name it, under an agreement that covers risks`).With("org", name)
		}
	}
	return out, nil
}

// history writes one entry of a risk's history.
func history(ctx context.Context, tx *db.Tx, a policy.Actor, id string, at int64, field, old, new, note string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO risk_history (id, risk_id, at, user_id, org_id, field, old_value, new_value, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		db.NewID(), id, at, a.UserID, a.OrgID, field, old, new, note); err != nil {
		return fmt.Errorf("write risk history: %w", err)
	}
	return nil
}

// CreateRisk writes a new risk with the owner's part, the co-owners'
// (empty) parts and its links, and indexes its text: one transaction,
// its envelope checked against the agreements before anything is written.
func (s *Service) CreateRisk(ctx context.Context, a policy.Actor, in NewRisk) (Risk, error) {
	if !a.CanWrite() {
		return Risk{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	title, err := checkTitle(in.Title)
	if err != nil {
		return Risk{}, err
	}
	desc, err := checkText("description", in.Description, MaxDescription)
	if err != nil {
		return Risk{}, err
	}
	controls, err := checkText("controls", in.Controls, MaxControls)
	if err != nil {
		return Risk{}, err
	}
	treatment, err := checkTreatment(in.Treatment)
	if err != nil {
		return Risk{}, err
	}
	due, err := parseDue("due", in.Due)
	if err != nil {
		return Risk{}, err
	}
	m, err := s.FindMatrix(ctx, s.DB.R(), a.OrgID)
	if err != nil {
		return Risk{}, err
	}
	if in.ResidualLikelihood == 0 {
		in.ResidualLikelihood = in.Likelihood
	}
	if in.ResidualImpact == 0 {
		in.ResidualImpact = in.Impact
	}
	for _, c := range []struct {
		f    string
		v, n int
	}{{"likelihood", in.Likelihood, m.Likelihood}, {"impact", in.Impact, m.Impact},
		{"residual_likelihood", in.ResidualLikelihood, m.Likelihood}, {"residual_impact", in.ResidualImpact, m.Impact}} {
		if err := checkLevel(c.f, c.v, c.n); err != nil {
			return Risk{}, err
		}
	}
	if in.ReviewDays == 0 {
		in.ReviewDays = DefaultReviewDays
	}
	if err := checkReviewDays(in.ReviewDays); err != nil {
		return Risk{}, err
	}
	if in.Appetite == 0 {
		in.Appetite = m.Appetite
	}
	if err := checkAppetite(in.Appetite, m.Likelihood, m.Impact); err != nil {
		return Risk{}, err
	}
	links, err := s.checkLinks(ctx, a, in.Links)
	if err != nil {
		return Risk{}, err
	}
	sh, err := s.envelope(s.risks, a, in.Sharing)
	if err != nil {
		return Risk{}, err
	}
	now := sh.CreatedAt
	r := Risk{ID: sh.ID, Title: title, Description: desc, OrgID: a.OrgID, LikelihoodLevels: m.Likelihood, ImpactLevels: m.Impact,
		Likelihood: in.Likelihood, Impact: in.Impact, ResidualLikelihood: in.ResidualLikelihood, ResidualImpact: in.ResidualImpact,
		Treatment: treatment, Appetite: in.Appetite, ReviewDays: in.ReviewDays, NextReview: now + int64(in.ReviewDays)*86_400_000_000,
		DueAt: due, Version: 1, CreatedAt: now, UpdatedAt: now, Share: sh}
	r.score()
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		d, err := s.risks.Disclose(ctx, tx, a, sh)
		if err != nil {
			return err
		}
		r.NotDeliveredTo = d.Uncovered
		co, err := s.checkCoOwners(ctx, tx.Handle, sh, in.CoOwners)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO risks (id, org_id, title, description, likelihood_levels, impact_levels, likelihood, impact, inherent_score,
			residual_likelihood, residual_impact, residual_score, treatment, appetite, review_days, next_review, due_at, due_key, version, created_at, updated_at, updated_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
			r.ID, a.OrgID, title, desc, r.LikelihoodLevels, r.ImpactLevels, r.Likelihood, r.Impact, r.Inherent,
			r.ResidualLikelihood, r.ResidualImpact, r.Residual, treatment, r.Appetite, r.ReviewDays, r.NextReview, due, dueKey(due), now, now, a.UserID); err != nil {
			return fmt.Errorf("insert risk: %w", db.Map(err))
		}
		values := []any{r.ID, a.OrgID, "", controls, treatment, due, now, a.UserID}
		for _, o := range co {
			values = append(values, r.ID, o, "", "", treatment, 0, now, a.UserID)
		}
		if err := tx.InsertMany(ctx, `risk_parts (risk_id, org_id, description, controls, treatment, due_at, updated_at, updated_by)`, 8, values); err != nil {
			return fmt.Errorf("insert risk parts: %w", db.Map(err))
		}
		if err := saveLinks(ctx, tx, r.ID, links); err != nil {
			return err
		}
		if err := s.risks.Index(ctx, tx, r.ID, title, desc); err != nil {
			return err
		}
		if err := history(ctx, tx, a, r.ID, now, "created", "", title, ""); err != nil {
			return err
		}
		tx.AfterCommit(func() { s.publish("risks.risk", sh, r.ID) })
		detail := d.Detail()
		detail["inherent"], detail["residual"], detail["co_owners"] = r.Inherent, r.Residual, co
		return audit.Write(ctx, tx, a, audit.Entry{Action: "risks.risk.create", ObjectType: "risk", ObjectID: r.ID, Detail: detail, Touches: touches(r.ID)})
	})
	if err != nil {
		return Risk{}, err
	}
	out, err := s.FindRiskByID(ctx, a, r.ID)
	out.NotDeliveredTo = r.NotDeliveredTo
	return out, err
}

func dueKey(due int64) int64 {
	if due == 0 {
		return noDue
	}
	return due
}

// score computes the scores and flags of r.
func (r *Risk) score() {
	r.Inherent = r.Likelihood * r.Impact
	r.Residual = r.ResidualLikelihood * r.ResidualImpact
	r.AboveAppetite = r.Residual > r.Appetite
}

func saveLinks(ctx context.Context, tx *db.Tx, id string, links []Link) error {
	if _, err := tx.Exec(ctx, `DELETE FROM risk_links WHERE risk_id = ?`, id); err != nil {
		return fmt.Errorf("clear risk links: %w", err)
	}
	values := make([]any, 0, 3*len(links))
	for _, l := range links {
		values = append(values, id, l.Type, l.ID)
	}
	return tx.InsertMany(ctx, `risk_links (risk_id, target_type, target_id)`, 3, values)
}

// publish announces a change of a risk on live streams, only to readers
// who may see it.
func (s *Service) publish(typ string, sh policy.Share, id string) {
	if s.Events == nil {
		return
	}
	s.Events.Publish(events.Event{Type: typ, Share: &sh, Topics: []string{"risks", "risk:" + id}, Data: map[string]string{"id": id}})
}

// UpdateRisk changes a risk. The risk's own fields are its owner org's
// (its writers, through the kernel's Authorize); each owner — the owner
// org and every co-owner — changes only its own part (u.Part): a part of
// another org is refused with risk_part_not_yours (403), a change of the
// risk's own fields by a co-owner with risk_owner_only (403); a reader
// who does not see the risk gets not found. Every changed field is a row
// of the risk's history; nothing is written when a check fails.
func (s *Service) UpdateRisk(ctx context.Context, a policy.Actor, id string, u RiskUpdate) (Risk, error) {
	// New links are checked before the transaction: naming them reads
	// other capabilities' objects through the pool, and a write that asks
	// the pool for a second connection while it holds one waits for
	// itself when the pool is small.
	var le linkEdit
	if u.Links != nil {
		var err error
		if le.want, err = s.checkLinks(ctx, a, *u.Links); err != nil {
			return Risk{}, err
		}
		// What the editor is shown now (named the same way): a link
		// added after this is kept as one they did not see.
		if le.shown, err = s.links(ctx, s.DB.R(), a, id, false); err != nil {
			return Risk{}, err
		}
	}
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		r, err := policy.NewReader(ctx, tx.Handle, a, s.now())
		if err != nil {
			return err
		}
		sh, err := r.Envelope(ctx, tx.Handle, s.risks, id)
		if err != nil {
			return err
		}
		if !a.CanWrite() {
			return fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
		}
		cur, err := s.current(ctx, tx.Handle, id)
		if err != nil {
			return err
		}
		parts, err := s.parts(ctx, tx.Handle, a, id)
		if err != nil {
			return err
		}
		owners := map[string]bool{}
		for _, p := range parts {
			owners[p.OrgID] = true
		}
		if u.Part != nil && u.Part.OrgID != "" && u.Part.OrgID != a.OrgID {
			return fault.New(fault.Forbidden, "risk_part_not_yours", "each owner edits only its own part of a risk: this part belongs to another organisation")
		}
		if u.ownerFields() && sh.Owner != a.OrgID {
			return fault.New(fault.Forbidden, "risk_owner_only", "only the organisation that owns the risk changes its title, scores, treatment and sharing; co-owners edit their own part")
		}
		if u.Part != nil && !owners[a.OrgID] {
			return fault.New(fault.Forbidden, "risk_not_owner", "your organisation owns no part of this risk")
		}
		now := s.now()
		ch := &changes{ctx: ctx, tx: tx, a: a, id: id, at: now}
		next := cur
		if u.ownerFields() {
			if _, err := s.risks.Authorize(ctx, tx, a, id); err != nil {
				return err
			}
			if err := s.applyOwner(ctx, tx, a, &next, sh, u, le, ch); err != nil {
				return err
			}
		}
		if u.Part != nil {
			if err := s.applyPart(ctx, tx, a, id, *u.Part, ch); err != nil {
				return err
			}
		}
		if ch.err != nil {
			return ch.err
		}
		if len(ch.fields) == 0 && ch.reshare == nil {
			return nil
		}
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MIN(due_at), 0) FROM risk_parts WHERE risk_id = ? AND due_at > 0`, id).Scan(&next.DueAt); err != nil {
			return fmt.Errorf("risk due date: %w", db.Map(err))
		}
		next.score()
		next.Version = cur.Version + 1
		if _, err := tx.Exec(ctx, `UPDATE risks SET title = ?, description = ?, likelihood = ?, impact = ?, inherent_score = ?, residual_likelihood = ?, residual_impact = ?,
			residual_score = ?, treatment = ?, appetite = ?, review_days = ?, next_review = ?, due_at = ?, due_key = ?, version = ?, updated_at = ?, updated_by = ? WHERE id = ?`,
			next.Title, next.Description, next.Likelihood, next.Impact, next.Inherent, next.ResidualLikelihood, next.ResidualImpact, next.Residual,
			next.Treatment, next.Appetite, next.ReviewDays, next.NextReview, next.DueAt, dueKey(next.DueAt), next.Version, now, a.UserID, id); err != nil {
			return fmt.Errorf("update risk: %w", db.Map(err))
		}
		if next.Title != cur.Title || next.Description != cur.Description {
			if err := s.risks.Index(ctx, tx, id, next.Title, next.Description); err != nil {
				return err
			}
		}
		pub := sh
		detail := map[string]any{"fields": ch.fields, "version": next.Version}
		if u.ApplyWorkshop != nil {
			detail["workshop"] = *u.ApplyWorkshop
		}
		action := "risks.risk.edit"
		if ch.reshare != nil {
			for k, v := range ch.reshare.Detail() {
				detail[k] = v
			}
			pub, action = ch.reshare.Share, "risks.risk.reshare"
		} else if u.Part != nil && !u.ownerFields() {
			action = "risks.risk.part"
		}
		tx.AfterCommit(func() { s.publish("risks.risk.updated", pub, id) })
		return audit.Write(ctx, tx, a, audit.Entry{Action: action, ObjectType: "risk", ObjectID: id, Detail: detail, Touches: touches(id)})
	})
	if err != nil {
		return Risk{}, err
	}
	return s.FindRiskByID(ctx, a, id)
}

// changes collects the fields an update changes and writes each into the
// history; the first error stays.
type changes struct {
	ctx     context.Context
	tx      *db.Tx
	a       policy.Actor
	id      string
	at      int64
	fields  []string
	reshare *policy.Disclosure
	err     error
}

func (c *changes) add(field, old, new, note string) {
	if c.err != nil || old == new {
		return
	}
	c.fields = append(c.fields, field)
	c.err = history(c.ctx, c.tx, c.a, c.id, c.at, field, old, new, note)
}

func itoa(n int) string { return strconv.Itoa(n) }

// linkEdit is an edit's new links, checked (checkLinks), and the links the
// editor was shown before it, both read before the edit's transaction.
type linkEdit struct{ want, shown []Link }

// applyOwner applies the owner's fields of u to next.
func (s *Service) applyOwner(ctx context.Context, tx *db.Tx, a policy.Actor, next *Risk, sh policy.Share, u RiskUpdate, le linkEdit, ch *changes) error {
	cur := *next
	var err error
	if u.Title != nil {
		if next.Title, err = checkTitle(*u.Title); err != nil {
			return err
		}
	}
	if u.Description != nil {
		if next.Description, err = checkText("description", *u.Description, MaxDescription); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		in   *int
		to   *int
		n    int
	}{{"likelihood", u.Likelihood, &next.Likelihood, next.LikelihoodLevels}, {"impact", u.Impact, &next.Impact, next.ImpactLevels},
		{"residual_likelihood", u.ResidualLikelihood, &next.ResidualLikelihood, next.LikelihoodLevels},
		{"residual_impact", u.ResidualImpact, &next.ResidualImpact, next.ImpactLevels}} {
		if f.in == nil {
			continue
		}
		if err := checkLevel(f.name, *f.in, f.n); err != nil {
			return err
		}
		*f.to = *f.in
	}
	if u.Treatment != nil {
		if next.Treatment, err = checkTreatment(*u.Treatment); err != nil {
			return err
		}
	}
	if u.ReviewDays != nil {
		if err := checkReviewDays(*u.ReviewDays); err != nil {
			return err
		}
		next.ReviewDays = *u.ReviewDays
	}
	if u.Appetite != nil {
		if err := checkAppetite(*u.Appetite, next.LikelihoodLevels, next.ImpactLevels); err != nil {
			return err
		}
		next.Appetite = *u.Appetite
	}
	if u.Reviewed {
		next.NextReview = ch.at + int64(next.ReviewDays)*86_400_000_000
	} else if next.ReviewDays != cur.ReviewDays {
		next.NextReview = cur.NextReview + int64(next.ReviewDays-cur.ReviewDays)*86_400_000_000
	}
	note := ""
	if u.ApplyWorkshop != nil {
		ws, err := s.workshopScores(ctx, tx.Handle, a, next.ID, *u.ApplyWorkshop)
		if err != nil {
			return err
		}
		if len(ws) == 0 {
			return fault.BadInput("apply_workshop", "workshop_score_unknown", "no workshop you can see has an agreed score for this risk that is not yet applied")
		}
		next.ResidualLikelihood, next.ResidualImpact, note = ws[0].Likelihood, ws[0].Impact, workshopNote(ws[0].WorkshopID)
	}
	ch.add("title", cur.Title, next.Title, "")
	ch.add("description", cur.Description, next.Description, "")
	ch.add("likelihood", itoa(cur.Likelihood), itoa(next.Likelihood), "")
	ch.add("impact", itoa(cur.Impact), itoa(next.Impact), "")
	ch.add("residual_likelihood", itoa(cur.ResidualLikelihood), itoa(next.ResidualLikelihood), note)
	ch.add("residual_impact", itoa(cur.ResidualImpact), itoa(next.ResidualImpact), note)
	if note != "" && cur.ResidualLikelihood == next.ResidualLikelihood && cur.ResidualImpact == next.ResidualImpact {
		// The same score: the entry still records that it was applied.
		ch.add("workshop", "", fmt.Sprintf("%d×%d", next.ResidualLikelihood, next.ResidualImpact), note)
	}
	ch.add("treatment", cur.Treatment, next.Treatment, "")
	ch.add("review_days", itoa(cur.ReviewDays), itoa(next.ReviewDays), "")
	ch.add("appetite", itoa(cur.Appetite), itoa(next.Appetite), "")
	if u.Reviewed {
		ch.add("reviewed", dueText(cur.NextReview), dueText(next.NextReview), "")
	}
	if u.Sharing != nil {
		ns, err := s.envelope(s.risks, a, *u.Sharing)
		if err != nil {
			return err
		}
		if ns.TLP != sh.TLP || fmt.Sprint(ns.Audience) != fmt.Sprint(sh.Audience) {
			d, err := s.risks.Reshare(ctx, tx, a, next.ID, ns.TLP, ns.Audience)
			if err != nil {
				return err
			}
			ch.reshare = &d
			ch.add("sharing", sharingText(sh), sharingText(d.Share), "")
			sh = d.Share
		}
	}
	if u.CoOwners != nil || ch.reshare != nil {
		if err := s.saveCoOwners(ctx, tx, a, next.ID, sh, u.CoOwners, next.Treatment, ch); err != nil {
			return err
		}
	}
	if u.Links != nil {
		// Links the editor cannot see stay: an edit replaces what its
		// editor was shown.
		all, err := s.allLinks(ctx, tx.Handle, next.ID)
		if err != nil {
			return err
		}
		same := func(l Link) func(Link) bool { return func(x Link) bool { return x.Type == l.Type && x.ID == l.ID } }
		var seen []Link
		keep := slices.Clone(le.want)
		for _, l := range all {
			if slices.ContainsFunc(le.shown, same(l)) {
				seen = append(seen, l)
			} else if !slices.ContainsFunc(keep, same(l)) {
				keep = append(keep, l)
			}
		}
		// The same links again write nothing (and so need no record).
		if linkText(keep) != linkText(all) {
			if err := saveLinks(ctx, tx, next.ID, keep); err != nil {
				return err
			}
		}
		ch.add("links", linkText(seen), linkText(le.want), "")
	}
	return nil
}

func sharingText(sh policy.Share) string {
	out := sh.TLP.String() + " " + string(sh.Audience.Kind)
	if sh.Audience.Community != "" {
		out += " " + sh.Audience.Community
	}
	return out
}

func linkText(ls []Link) string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Type+":"+l.ID)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// saveCoOwners sets the co-owners (want nil: keep them, checking that
// each still reads the risk after a reshare). A removed co-owner's part
// goes; a new one's starts empty.
func (s *Service) saveCoOwners(ctx context.Context, tx *db.Tx, a policy.Actor, id string, sh policy.Share, want *[]string, treatment string, ch *changes) error {
	rows, err := tx.Query(ctx, `SELECT org_id FROM risk_parts WHERE risk_id = ? AND org_id <> ? ORDER BY org_id`, id, sh.Owner)
	if err != nil {
		return fmt.Errorf("read co-owners: %w", err)
	}
	have, err := db.Collect(rows, "read co-owners", func(sc db.Scanner) (o string, err error) { err = sc.Scan(&o); return o, err })
	if err != nil {
		return err
	}
	list := have
	if want != nil {
		list = *want
	}
	co, err := s.checkCoOwners(ctx, tx.Handle, sh, list)
	if err != nil {
		return err
	}
	slices.Sort(co)
	for _, o := range have {
		if !slices.Contains(co, o) {
			if _, err := tx.Exec(ctx, `DELETE FROM risk_parts WHERE risk_id = ? AND org_id = ?`, id, o); err != nil {
				return fmt.Errorf("remove co-owner: %w", err)
			}
		}
	}
	for _, o := range co {
		if !slices.Contains(have, o) {
			if _, err := tx.Exec(ctx, `INSERT INTO risk_parts (risk_id, org_id, description, controls, treatment, due_at, updated_at, updated_by) VALUES (?, ?, '', '', ?, 0, ?, ?)`,
				id, o, treatment, ch.at, a.UserID); err != nil {
				return fmt.Errorf("add co-owner: %w", db.Map(err))
			}
		}
	}
	ch.add("co_owners", strings.Join(have, ", "), strings.Join(co, ", "), "")
	return nil
}

// applyPart changes the actor's org's part.
func (s *Service) applyPart(ctx context.Context, tx *db.Tx, a policy.Actor, id string, u PartUpdate, ch *changes) error {
	var p Part
	if err := tx.QueryRow(ctx, `SELECT description, controls, treatment, due_at FROM risk_parts WHERE risk_id = ? AND org_id = ?`, id, a.OrgID).
		Scan(&p.Description, &p.Controls, &p.Treatment, &p.DueAt); err != nil {
		return db.NotFound(err, "load risk part")
	}
	next := p
	var err error
	if u.Description != nil {
		if next.Description, err = checkText("part.description", *u.Description, MaxDescription); err != nil {
			return err
		}
	}
	if u.Controls != nil {
		if next.Controls, err = checkText("part.controls", *u.Controls, MaxControls); err != nil {
			return err
		}
	}
	if u.Treatment != nil {
		if next.Treatment, err = checkTreatment(*u.Treatment); err != nil {
			return err
		}
	}
	if u.Due != nil {
		if next.DueAt, err = parseDue("part.due", *u.Due); err != nil {
			return err
		}
	}
	if next == p {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE risk_parts SET description = ?, controls = ?, treatment = ?, due_at = ?, updated_at = ?, updated_by = ? WHERE risk_id = ? AND org_id = ?`,
		next.Description, next.Controls, next.Treatment, next.DueAt, ch.at, a.UserID, id, a.OrgID); err != nil {
		return fmt.Errorf("update risk part: %w", db.Map(err))
	}
	ch.add("part.description", p.Description, next.Description, "")
	ch.add("part.controls", p.Controls, next.Controls, "")
	ch.add("part.treatment", p.Treatment, next.Treatment, "")
	ch.add("part.due", dueText(p.DueAt), dueText(next.DueAt), "")
	return nil
}

// current reads a risk's own columns (callers have checked visibility).
func (s *Service) current(ctx context.Context, h db.Handle, id string) (Risk, error) {
	var r Risk
	err := h.QueryRow(ctx, `SELECT id, org_id, title, description, likelihood_levels, impact_levels, likelihood, impact, residual_likelihood, residual_impact,
		treatment, appetite, review_days, next_review, due_at, version, created_at FROM risks WHERE id = ?`, id).
		Scan(&r.ID, &r.OrgID, &r.Title, &r.Description, &r.LikelihoodLevels, &r.ImpactLevels, &r.Likelihood, &r.Impact, &r.ResidualLikelihood,
			&r.ResidualImpact, &r.Treatment, &r.Appetite, &r.ReviewDays, &r.NextReview, &r.DueAt, &r.Version, &r.CreatedAt)
	r.score()
	return r, db.NotFound(err, "load risk")
}

// columns are what lists and pages read of a risk (with s.risks.Columns).
const columns = `r.title, r.description, r.org_id, o.name, r.likelihood_levels, r.impact_levels, r.likelihood, r.impact, r.residual_likelihood,
	r.residual_impact, r.treatment, r.appetite, r.review_days, r.next_review, r.due_at, r.due_key, r.version, r.updated_at, u.name, `

func (s *Service) scan(sc db.Scanner, now int64) (Risk, error) {
	var r Risk
	dest := []any{&r.Title, &r.Description, &r.OrgID, &r.OrgName, &r.LikelihoodLevels, &r.ImpactLevels, &r.Likelihood, &r.Impact,
		&r.ResidualLikelihood, &r.ResidualImpact, &r.Treatment, &r.Appetite, &r.ReviewDays, &r.NextReview, &r.DueAt, &r.dueKey, &r.Version,
		&r.UpdatedAt, &r.UpdatedByName}
	err := sc.Scan(s.risks.Dest(&r.Share, dest)...)
	r.ID, r.CreatedAt = r.Share.ID, r.Share.CreatedAt
	r.score()
	r.ReviewOverdue = r.NextReview < now
	r.Parts, r.Links, r.WorkshopScores = []Part{}, []Link{}, []WorkshopScore{}
	return r, err
}

func (s *Service) from(q *db.Query) *db.Query {
	return db.Q(`SELECT ` + columns + s.risks.Columns("r") + ` FROM `).Append(q).
		Add(` JOIN orgs o ON o.id = r.org_id JOIN users u ON u.id = r.updated_by`)
}

// FindRiskByID returns one risk the reader may see (else not found), with
// its parts, the links to objects the reader may see and its audience.
func (s *Service) FindRiskByID(ctx context.Context, a policy.Actor, id string) (Risk, error) {
	h := s.DB.R()
	now := s.now()
	rd, err := policy.NewReader(ctx, h, a, now)
	if err != nil {
		return Risk{}, err
	}
	r, err := s.scan(h.SelectRow(ctx, s.from(rd.From(s.risks, "r")).Add(` WHERE r.id = ?`, id)), now)
	if err != nil {
		return r, db.NotFound(err, "load risk")
	}
	if r.Parts, err = s.parts(ctx, h, a, id); err != nil {
		return r, err
	}
	if r.Links, err = s.links(ctx, h, a, id, true); err != nil {
		return r, err
	}
	if r.WorkshopScores, err = s.workshopScores(ctx, h, a, id, ""); err != nil {
		return r, err
	}
	if err := rd.Audiences(ctx, h, []*policy.Share{&r.Share}); err != nil {
		return r, err
	}
	r.AudienceNames, err = policy.AudienceNamesWithCircle(ctx, h, r.Share.Audience)
	return r, err
}

// parts reads the parts of risk id (the owner's first).
func (s *Service) parts(ctx context.Context, h db.Handle, a policy.Actor, id string) ([]Part, error) {
	rows, err := h.Query(ctx, `SELECT p.org_id, o.name, p.description, p.controls, p.treatment, p.due_at, p.updated_at FROM risk_parts p
		JOIN orgs o ON o.id = p.org_id JOIN risks r ON r.id = p.risk_id WHERE p.risk_id = ? ORDER BY CASE WHEN p.org_id = r.org_id THEN 0 ELSE 1 END, o.name`, id)
	if err != nil {
		return nil, fmt.Errorf("read risk parts: %w", err)
	}
	out, err := db.Collect(rows, "read risk parts", func(sc db.Scanner) (p Part, err error) {
		err = sc.Scan(&p.OrgID, &p.OrgName, &p.Description, &p.Controls, &p.Treatment, &p.DueAt, &p.UpdatedAt)
		p.Mine = p.OrgID == a.OrgID
		return p, err
	})
	if out == nil {
		out = []Part{}
	}
	return out, err
}

func (s *Service) allLinks(ctx context.Context, h db.Handle, id string) ([]Link, error) {
	rows, err := h.Query(ctx, `SELECT target_type, target_id FROM risk_links WHERE risk_id = ? ORDER BY target_type, target_id`, id)
	if err != nil {
		return nil, fmt.Errorf("read risk links: %w", err)
	}
	return db.Collect(rows, "read risk links", func(sc db.Scanner) (l Link, err error) { err = sc.Scan(&l.Type, &l.ID); return l, err })
}

// links lists a risk's links to objects the reader may see, named as
// their capability names them for the reader (with an advisory's CVSS and
// KEV when details); playbook links show their id.
func (s *Service) links(ctx context.Context, h db.Handle, a policy.Actor, id string, details bool) ([]Link, error) {
	all, err := s.allLinks(ctx, h, id)
	if err != nil {
		return nil, err
	}
	out := []Link{}
	byType := map[string][]string{}
	for _, l := range all {
		byType[l.Type] = append(byType[l.Type], l.ID)
	}
	for _, typ := range LinkTypes {
		ids := byType[typ]
		if len(ids) == 0 {
			continue
		}
		if typ == "playbook" {
			for _, i := range ids {
				out = append(out, Link{Type: typ, ID: i, Name: i})
			}
			continue
		}
		if s.resolve == nil {
			continue
		}
		refs, err := s.resolve(ctx, a, typ, ids)
		if err != nil {
			return nil, err
		}
		for _, i := range ids {
			ref, ok := refs[i]
			if !ok {
				continue
			}
			l := Link{Type: typ, ID: i, Name: ref.Name, URL: ref.URL}
			if details && typ == "vuln_advisory" && s.Advisory != nil {
				score, kev, err := s.Advisory(ctx, a, i)
				if err == nil {
					l.CVSS, l.KEV = score, kev
				} else if !fault.Is(err, fault.NotFound) {
					return nil, err
				}
			}
			out = append(out, l)
		}
	}
	return out, nil
}

// ListFilter narrows the register.
type ListFilter struct {
	Community     string // risks shared with this trust circle
	Org           string // risks this org owns or co-owns
	AboveAppetite bool
	ReviewOverdue bool
	After         string // cursor of the previous page
	Limit         int
}

// cursor is an opaque page cursor: the last risk's sort keys and id; it
// holds nothing the reader could not see on that page.
func cursor(r Risk) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d,%d,%d,%s", r.Residual, r.Inherent, r.dueKey, r.ID))
}

func decodeCursor(c string) (res, inh int, due int64, id string, err error) {
	bad := fault.BadInput("next", "bad_cursor", "the page cursor is not valid: start from the first page")
	b, e := base64.RawURLEncoding.DecodeString(c)
	if e != nil || len(b) > 200 {
		return 0, 0, 0, "", bad
	}
	f := strings.SplitN(string(b), ",", 4)
	if len(f) != 4 || f[3] == "" {
		return 0, 0, 0, "", bad
	}
	res, e1 := strconv.Atoi(f[0])
	inh, e2 := strconv.Atoi(f[1])
	due, e3 := strconv.ParseInt(f[2], 10, 64)
	if e1 != nil || e2 != nil || e3 != nil {
		return 0, 0, 0, "", bad
	}
	return res, inh, due, f[3], nil
}

// where adds the filter's conditions to q (the risks aliased r, their
// envelopes r_s).
func (f ListFilter) where(q *db.Query, now int64) {
	if f.Community != "" {
		q.Add(` AND r_s.audience = 'community' AND r_s.community_id = ?`, f.Community)
	}
	if f.Org != "" {
		q.Add(` AND (r.org_id = ? OR EXISTS (SELECT 1 FROM risk_parts p WHERE p.risk_id = r.id AND p.org_id = ?))`, f.Org, f.Org)
	}
	if f.AboveAppetite {
		q.Add(` AND r.residual_score > r.appetite`)
	}
	if f.ReviewOverdue {
		q.Add(` AND r.next_review < ?`, now)
	}
}

// FindRisks is the prioritised register: the risks the reader may see,
// highest residual score first, then highest inherent score, then the
// soonest due date (none last), a page at a time.
func (s *Service) FindRisks(ctx context.Context, a policy.Actor, f ListFilter) ([]Risk, string, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	h := s.DB.R()
	now := s.now()
	rd, err := policy.NewReader(ctx, h, a, now)
	if err != nil {
		return nil, "", err
	}
	q := s.from(rd.FromOrdered(h, s.risks, "r")).Add(` WHERE 1 = 1`)
	f.where(q, now)
	if f.After != "" {
		res, inh, due, id, err := decodeCursor(f.After)
		if err != nil {
			return nil, "", err
		}
		q.Add(` AND (r.residual_score < ? OR r.residual_score = ? AND (r.inherent_score < ? OR r.inherent_score = ? AND (r.due_key > ? OR r.due_key = ? AND r.id > ?)))`,
			res, res, inh, inh, due, due, id)
	}
	q.Add(` ORDER BY r.residual_score DESC, r.inherent_score DESC, r.due_key, r.id LIMIT ?`, f.Limit+1)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("list risks: %w", err)
	}
	out, err := db.CollectN(rows, f.Limit+1, "list risks", func(sc db.Scanner) (Risk, error) { return s.scan(sc, now) })
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = cursor(out[len(out)-1])
	}
	if err := s.fillParts(ctx, h, a, out); err != nil {
		return nil, "", err
	}
	shares := make([]*policy.Share, len(out))
	for i := range out {
		shares[i] = &out[i].Share
	}
	if err := rd.Audiences(ctx, h, shares); err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// fillParts reads the parts of a page of risks in one query.
func (s *Service) fillParts(ctx context.Context, h db.Handle, a policy.Actor, rs []Risk) error {
	if len(rs) == 0 {
		return nil
	}
	ids := make([]any, len(rs))
	byID := map[string]*Risk{}
	for i := range rs {
		ids[i] = rs[i].ID
		byID[rs[i].ID] = &rs[i]
	}
	rows, err := h.Query(ctx, `SELECT p.risk_id, p.org_id, o.name, p.description, p.controls, p.treatment, p.due_at, p.updated_at FROM risk_parts p
		JOIN orgs o ON o.id = p.org_id WHERE p.risk_id IN (`+db.Placeholders(len(ids))+`) ORDER BY o.name`, ids...)
	if err != nil {
		return fmt.Errorf("list risk parts: %w", err)
	}
	type row struct {
		risk string
		p    Part
	}
	ps, err := db.Collect(rows, "list risk parts", func(sc db.Scanner) (r row, err error) {
		err = sc.Scan(&r.risk, &r.p.OrgID, &r.p.OrgName, &r.p.Description, &r.p.Controls, &r.p.Treatment, &r.p.DueAt, &r.p.UpdatedAt)
		r.p.Mine = r.p.OrgID == a.OrgID
		return r, err
	})
	if err != nil {
		return err
	}
	for _, p := range ps {
		r := byID[p.risk]
		if p.p.OrgID == r.OrgID {
			r.Parts = append([]Part{p.p}, r.Parts...)
		} else {
			r.Parts = append(r.Parts, p.p)
		}
	}
	return nil
}

// FindHistory lists every change of a risk the reader may see, oldest
// first, showing of each only what the reader may see now: links to
// objects it may see (a change of hidden links only is left out), a
// trust circle's name only to its members, a workshop's title and who
// took part only to readers of the workshop.
func (s *Service) FindHistory(ctx context.Context, a policy.Actor, id string) ([]Change, error) {
	h := s.DB.R()
	now := s.now()
	rd, err := policy.NewReader(ctx, h, a, now)
	if err != nil {
		return nil, err
	}
	if _, err := rd.Envelope(ctx, h, s.risks, id); err != nil {
		return nil, err
	}
	rows, err := h.Query(ctx, `SELECT c.at, u.name, o.name, c.field, c.old_value, c.new_value, c.note FROM risk_history c
		JOIN users u ON u.id = c.user_id JOIN orgs o ON o.id = c.org_id WHERE c.risk_id = ? ORDER BY c.at, c.id`, id)
	if err != nil {
		return nil, fmt.Errorf("read risk history: %w", err)
	}
	all, err := db.Collect(rows, "read risk history", func(sc db.Scanner) (c Change, err error) {
		err = sc.Scan(&c.At, &c.UserName, &c.OrgName, &c.Field, &c.Old, &c.New, &c.Note)
		return c, err
	})
	if err != nil {
		return nil, err
	}
	v, err := policy.LoadView(ctx, h, a, now)
	if err != nil {
		return nil, err
	}
	hr := &historyReader{s: s, h: h, a: a, rd: rd, view: v, risk: id, notes: map[string]string{}}
	out := []Change{}
	for _, c := range all {
		keep, err := hr.show(ctx, &c)
		if err != nil {
			return nil, err
		}
		if keep {
			out = append(out, c)
		}
	}
	return out, nil
}

// historyReader renders a risk's history for one reader.
type historyReader struct {
	s     *Service
	h     db.Handle
	a     policy.Actor
	rd    *policy.Reader
	view  *policy.View
	risk  string
	notes map[string]string // workshop id → its note ("" when hidden)
}

// show turns c into what the reader may see of it; false: nothing.
func (hr *historyReader) show(ctx context.Context, c *Change) (bool, error) {
	var err error
	switch c.Field {
	case "links":
		if c.Old, err = hr.links(ctx, c.Old); err != nil {
			return false, err
		}
		if c.New, err = hr.links(ctx, c.New); err != nil {
			return false, err
		}
		if c.Old == c.New {
			return false, nil
		}
	case "sharing":
		if c.Old, err = hr.sharing(ctx, c.Old); err != nil {
			return false, err
		}
		if c.New, err = hr.sharing(ctx, c.New); err != nil {
			return false, err
		}
	case "co_owners":
		if c.Old, err = orgNames(ctx, hr.h, c.Old); err != nil {
			return false, err
		}
		if c.New, err = orgNames(ctx, hr.h, c.New); err != nil {
			return false, err
		}
	}
	if c.Note == "" {
		return true, nil
	}
	// Every note is a workshop's (an early one held its title and
	// participants as text: it is shown as a neutral note).
	ws, ok := strings.CutPrefix(c.Note, "workshop:")
	c.Note, c.InWorkshop = "", true
	if !ok {
		return true, nil
	}
	note, seen := hr.notes[ws]
	if !seen {
		if note, err = hr.workshopNote(ctx, ws); err != nil {
			return false, err
		}
		hr.notes[ws] = note
	}
	if note != "" {
		c.Note, c.WorkshopID = note, ws
	}
	return true, nil
}

// workshopNote is "title: who took part" for a reader of the workshop,
// else "".
func (hr *historyReader) workshopNote(ctx context.Context, ws string) (string, error) {
	if _, err := hr.rd.Envelope(ctx, hr.h, hr.s.workshops, ws); err != nil {
		if fault.Is(err, fault.NotFound) {
			return "", nil
		}
		return "", err
	}
	var title string
	if err := hr.h.QueryRow(ctx, `SELECT title FROM risk_workshops WHERE id = ?`, ws).Scan(&title); err != nil {
		return "", db.NotFound(err, "load workshop")
	}
	people, err := participants(ctx, hr.h, ws, hr.risk)
	if err != nil {
		return "", err
	}
	return title + ": " + strings.Join(people, ", "), nil
}

// links keeps of a history's "type:id, …" the links the reader may see
// now (playbook links, like the risk's, by their id).
func (hr *historyReader) links(ctx context.Context, text string) (string, error) {
	byType := map[string][]string{}
	for _, l := range strings.Split(text, ", ") {
		if typ, id, ok := strings.Cut(l, ":"); ok && id != "" {
			byType[typ] = append(byType[typ], id)
		}
	}
	var out []Link
	for _, typ := range LinkTypes {
		ids := byType[typ]
		if len(ids) == 0 {
			continue
		}
		if typ == "playbook" {
			for _, i := range ids {
				out = append(out, Link{Type: typ, ID: i})
			}
			continue
		}
		if hr.s.resolve == nil {
			continue
		}
		refs, err := hr.s.resolve(ctx, hr.a, typ, ids)
		if err != nil {
			return "", err
		}
		for _, i := range ids {
			if _, ok := refs[i]; ok {
				out = append(out, Link{Type: typ, ID: i})
			}
		}
	}
	return linkText(out), nil
}

// sharing shows a history's "TLP audience [circle id]" with the circle's
// name for its members and without it for anyone else.
func (hr *historyReader) sharing(ctx context.Context, text string) (string, error) {
	f := strings.Fields(text)
	if len(f) < 3 {
		return text, nil
	}
	out := f[0] + " " + f[1]
	if hr.view.Communities[f[2]] == nil {
		return out, nil
	}
	var name string
	if err := hr.h.QueryRow(ctx, `SELECT name FROM communities WHERE id = ?`, f[2]).Scan(&name); err != nil {
		return out, nil
	}
	return out + " " + name, nil
}

// orgNames names the orgs of a history's "id, id": co-owners are named
// on the risk to every reader.
func orgNames(ctx context.Context, h db.Handle, text string) (string, error) {
	if text == "" {
		return "", nil
	}
	ids := strings.Split(text, ", ")
	rows, err := h.Query(ctx, `SELECT id, name FROM orgs WHERE id IN (`+db.Placeholders(len(ids))+`)`, idArgs(ids)...)
	if err != nil {
		return "", fmt.Errorf("name co-owners: %w", err)
	}
	pairs, err := db.Collect(rows, "name co-owners", func(sc db.Scanner) (p [2]string, err error) { err = sc.Scan(&p[0], &p[1]); return p, err })
	if err != nil {
		return "", err
	}
	byID := map[string]string{}
	for _, p := range pairs {
		byID[p[0]] = p[1]
	}
	var out []string
	for _, i := range ids {
		if n, ok := byID[i]; ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", "), nil
}

// SetMatrix sets the risk matrix of the actor's org (its admins): new
// risks are scored on it; existing risks keep the size they were scored
// on.
func (s *Service) SetMatrix(ctx context.Context, a policy.Actor, m Matrix) (Matrix, error) {
	if !a.CanAdmin() {
		return Matrix{}, fault.New(fault.Forbidden, "risk_matrix_admin_only", "only your organisation's administrators set its risk matrix")
	}
	m, err := checkMatrix(m)
	if err != nil {
		return m, err
	}
	labels := ""
	if len(m.Labels) > 0 {
		b, err := json.Marshal(m.Labels)
		if err != nil {
			return m, fmt.Errorf("encode matrix labels: %w", err)
		}
		labels = string(b)
	}
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO risk_matrices (org_id, likelihood_levels, impact_levels, labels, appetite, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (org_id) DO UPDATE SET likelihood_levels = excluded.likelihood_levels, impact_levels = excluded.impact_levels, labels = excluded.labels,
			appetite = excluded.appetite, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			a.OrgID, m.Likelihood, m.Impact, labels, m.Appetite, s.now(), a.UserID); err != nil {
			return fmt.Errorf("save risk matrix: %w", db.Map(err))
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "risks.matrix.set", ObjectType: "org", ObjectID: a.OrgID,
			Detail: map[string]any{"likelihood_levels": m.Likelihood, "impact_levels": m.Impact, "appetite": m.Appetite}, Touches: []string{"risks"}})
	})
	return m, err
}
