package risks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Workshop statuses: votes are taken while open; revealed shows every
// vote with spread and median and takes agreed scores; closed when every
// risk has its agreed score.
const (
	WorkshopOpen     = "open"
	WorkshopRevealed = "revealed"
	WorkshopClosed   = "closed"
)

// WorkshopStatuses are a workshop's statuses in order.
var WorkshopStatuses = []string{WorkshopOpen, WorkshopRevealed, WorkshopClosed}

// Workshop is a risk workshop as a reader sees it. Before the reveal it
// carries no one's numbers but the reader's own: Voters says who has
// voted, Votes and Spread stay empty — for the facilitator too.
type Workshop struct {
	ID              string       `json:"id"`
	Title           string       `json:"title"`
	OrgID           string       `json:"org_id"`
	OrgName         string       `json:"org_name"`
	CommunityID     string       `json:"community_id"`
	CommunityName   string       `json:"community_name"`
	FacilitatorName string       `json:"facilitator_name"`
	IsFacilitator   bool         `json:"is_facilitator"`
	Status          string       `json:"status"`
	CreatedAt       int64        `json:"created_at"`
	RevealedAt      int64        `json:"revealed_at,omitempty"`
	Items           []Item       `json:"items"`
	Comments        []Comment    `json:"comments"`
	Share           policy.Share `json:"sharing"`
}

// Item is one risk of a workshop.
type Item struct {
	RiskID           string  `json:"risk_id"`
	Title            string  `json:"title"`
	LikelihoodLevels int     `json:"likelihood_levels"`
	ImpactLevels     int     `json:"impact_levels"`
	Voters           []Voter `json:"voters"`
	MyVote           *Vote   `json:"my_vote,omitempty"`
	Votes            []Vote  `json:"votes,omitempty"`
	Spread           *Spread `json:"spread,omitempty"`
	Agreed           *Agreed `json:"agreed,omitempty"`
}

// Voter is who has voted on an item (no numbers).
type Voter struct {
	Name    string `json:"name"`
	OrgName string `json:"org_name"`
}

// Vote is one participant's score.
type Vote struct {
	Name       string `json:"name"`
	OrgName    string `json:"org_name"`
	Likelihood int    `json:"likelihood"`
	Impact     int    `json:"impact"`
	userID     string
}

// Spread is what the revealed votes say together.
type Spread struct {
	Votes            int     `json:"votes"`
	MinLikelihood    int     `json:"min_likelihood"`
	MaxLikelihood    int     `json:"max_likelihood"`
	MedianLikelihood float64 `json:"median_likelihood"`
	MinImpact        int     `json:"min_impact"`
	MaxImpact        int     `json:"max_impact"`
	MedianImpact     float64 `json:"median_impact"`
}

// Agreed is the score a workshop agreed on for a risk.
type Agreed struct {
	Likelihood int    `json:"likelihood"`
	Impact     int    `json:"impact"`
	Score      int    `json:"score"`
	At         int64  `json:"at"`
	ByName     string `json:"by_name"`
	// Applied: the score is the risk's residual (agreed by a facilitator
	// of the owner org, or applied by it since); else it is offered to
	// the owner org.
	Applied bool `json:"applied"`
}

// Comment is one message of a workshop's side thread.
type Comment struct {
	ID        string `json:"id"`
	Body      string `json:"body"`
	UserName  string `json:"user_name"`
	OrgName   string `json:"org_name"`
	CreatedAt int64  `json:"created_at"`
}

// NewWorkshop opens a workshop on risks, by default for the orgs of a
// trust circle (community_id; level AMBER unless given): its sharing
// fields are a risk's.
type NewWorkshop struct {
	Title string   `json:"title"`
	Risks []string `json:"risks"`
	policy.Sharing
}

func median(xs []int) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return float64(s[n/2])
	}
	return float64(s[n/2-1]+s[n/2]) / 2
}

// SpreadOf computes spread and median of votes.
func SpreadOf(votes []Vote) *Spread {
	if len(votes) == 0 {
		return nil
	}
	ls, is := make([]int, len(votes)), make([]int, len(votes))
	for i, v := range votes {
		ls[i], is[i] = v.Likelihood, v.Impact
	}
	return &Spread{Votes: len(votes), MinLikelihood: slices.Min(ls), MaxLikelihood: slices.Max(ls), MedianLikelihood: median(ls),
		MinImpact: slices.Min(is), MaxImpact: slices.Max(is), MedianImpact: median(is)}
}

func wsTouches(id string) []string { return []string{"risk-workshop:" + id, "risks"} }

// publishWorkshop tells a workshop's live page that something changed:
// the event carries ids only, never a score (the page fetches what its
// reader may see).
func (s *Service) publishWorkshop(typ string, sh policy.Share, data map[string]string) {
	if s.Events == nil {
		return
	}
	data["workshop"], data["id"] = sh.ID, sh.ID
	s.Events.Publish(events.Event{Type: typ, Share: &sh, Topics: []string{"risks", "risk-workshop:" + sh.ID}, Data: data})
}

// ownsPart reports whether org owns or co-owns risk id.
func ownsPart(ctx context.Context, h db.Handle, id, org string) (bool, error) {
	var n int
	if err := h.QueryRow(ctx, `SELECT COUNT(*) FROM risk_parts WHERE risk_id = ? AND org_id = ?`, id, org).Scan(&n); err != nil {
		return false, fmt.Errorf("risk owners: %w", db.Map(err))
	}
	return n > 0, nil
}

// CreateWorkshop opens a workshop, shared with a trust circle the
// facilitator's org is in, on risks the facilitator's org owns or
// co-owns (its agreed scores change them).
func (s *Service) CreateWorkshop(ctx context.Context, a policy.Actor, in NewWorkshop) (Workshop, error) {
	if !a.CanWrite() {
		return Workshop{}, fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
	}
	title, err := checkTitle(in.Title)
	if err != nil {
		return Workshop{}, err
	}
	var ids []string
	for _, id := range in.Risks {
		if id = strings.TrimSpace(id); id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 || len(ids) > MaxItems {
		return Workshop{}, fault.BadInput("risks", "workshop_risks", "choose 1 to {max} risks for the workshop").With("max", MaxItems)
	}
	if in.TLP == "" {
		in.TLP = "AMBER"
	}
	if in.Audience == "" && strings.TrimSpace(in.Community) == "" {
		return Workshop{}, fault.BadInput("community_id", "community_missing", "choose the trust circle that may read it")
	}
	sh, err := s.envelope(s.workshops, a, in.Sharing)
	if err != nil {
		return Workshop{}, err
	}
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		rd, err := policy.NewReader(ctx, tx.Handle, a, sh.CreatedAt)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := rd.Envelope(ctx, tx.Handle, s.risks, id); err != nil {
				if fault.Is(err, fault.NotFound) {
					return fault.BadInput("risks", "workshop_risk_unknown", `there is no risk "{id}" that you can see`).With("id", id)
				}
				return err
			}
			ok, err := ownsPart(ctx, tx.Handle, id, a.OrgID)
			if err != nil {
				return err
			}
			if !ok {
				return fault.BadInput("risks", "workshop_risk_not_owned", `your organisation owns no part of the risk "{id}": a workshop scores risks its facilitator's organisation owns or co-owns`).With("id", id)
			}
		}
		d, err := s.workshops.Disclose(ctx, tx, a, sh)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO risk_workshops (id, org_id, community_id, title, status, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			sh.ID, a.OrgID, sh.Audience.Community, title, WorkshopOpen, sh.CreatedAt); err != nil {
			return fmt.Errorf("insert workshop: %w", db.Map(err))
		}
		values := make([]any, 0, 3*len(ids))
		for i, id := range ids {
			values = append(values, sh.ID, id, i)
		}
		if err := tx.InsertMany(ctx, `risk_workshop_items (workshop_id, risk_id, position)`, 3, values); err != nil {
			return fmt.Errorf("insert workshop risks: %w", db.Map(err))
		}
		tx.AfterCommit(func() { s.publishWorkshop("risks.workshop", sh, map[string]string{}) })
		detail := d.Detail()
		detail["risks"] = ids
		return audit.Write(ctx, tx, a, audit.Entry{Action: "risks.workshop.create", ObjectType: "risk_workshop", ObjectID: sh.ID, Detail: detail, Touches: wsTouches(sh.ID)})
	})
	if err != nil {
		return Workshop{}, err
	}
	return s.FindWorkshopByID(ctx, a, sh.ID)
}

// FindWorkshops lists the workshops the reader may see, newest first.
func (s *Service) FindWorkshops(ctx context.Context, a policy.Actor, limit int) ([]Workshop, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	h := s.DB.R()
	rd, err := policy.NewReader(ctx, h, a, s.now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT w.title, w.org_id, o.name, w.community_id, COALESCE(c.name, ''), u.name, w.status, w.revealed_at, `+s.workshops.Columns("w")+` FROM `).
		Append(rd.From(s.workshops, "w")).Add(` JOIN orgs o ON o.id = w.org_id LEFT JOIN communities c ON c.id = w.community_id JOIN users u ON u.id = w_s.author_id
		ORDER BY w.created_at DESC, w.id DESC LIMIT ?`, limit)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list workshops: %w", err)
	}
	out, err := db.Collect(rows, "list workshops", func(sc db.Scanner) (Workshop, error) { return s.scanWorkshop(sc, a) })
	if out == nil {
		out = []Workshop{}
	}
	return out, err
}

func (s *Service) scanWorkshop(sc db.Scanner, a policy.Actor) (Workshop, error) {
	var w Workshop
	err := sc.Scan(s.workshops.Dest(&w.Share, []any{&w.Title, &w.OrgID, &w.OrgName, &w.CommunityID, &w.CommunityName, &w.FacilitatorName, &w.Status, &w.RevealedAt})...)
	w.ID, w.CreatedAt = w.Share.ID, w.Share.CreatedAt
	w.IsFacilitator = w.Share.Author == a.UserID
	w.Items, w.Comments = []Item{}, []Comment{}
	return w, err
}

// FindWorkshopByID returns a workshop the reader may see (else not found)
// with the risks in it the reader may see, who has voted, the reader's
// own votes, and — only once revealed — everyone's votes with spread and
// median; and its side thread.
func (s *Service) FindWorkshopByID(ctx context.Context, a policy.Actor, id string) (Workshop, error) {
	h := s.DB.R()
	rd, err := policy.NewReader(ctx, h, a, s.now())
	if err != nil {
		return Workshop{}, err
	}
	q := db.Q(`SELECT w.title, w.org_id, o.name, w.community_id, COALESCE(c.name, ''), u.name, w.status, w.revealed_at, `+s.workshops.Columns("w")+` FROM `).
		Append(rd.From(s.workshops, "w")).Add(` JOIN orgs o ON o.id = w.org_id LEFT JOIN communities c ON c.id = w.community_id JOIN users u ON u.id = w_s.author_id WHERE w.id = ?`, id)
	w, err := s.scanWorkshop(h.SelectRow(ctx, q), a)
	if err != nil {
		return w, db.NotFound(err, "load workshop")
	}
	iq := db.Q(`SELECT r.id, r.title, r.likelihood_levels, r.impact_levels, wi.agreed_likelihood, wi.agreed_impact, wi.agreed_at, COALESCE(u.name, ''),
		CASE WHEN EXISTS (SELECT 1 FROM risk_history c WHERE c.risk_id = wi.risk_id AND c.note = 'workshop:' || wi.workshop_id) THEN 1 ELSE 0 END
		FROM risk_workshop_items wi`).Append(rd.Join(s.risks, "r", "wi.risk_id")).
		Add(` LEFT JOIN users u ON u.id = wi.agreed_by WHERE wi.workshop_id = ? ORDER BY wi.position`, id)
	rows, err := h.Select(ctx, iq)
	if err != nil {
		return w, fmt.Errorf("workshop risks: %w", err)
	}
	w.Items, err = db.Collect(rows, "workshop risks", func(sc db.Scanner) (it Item, err error) {
		var ag Agreed
		var applied int
		err = sc.Scan(&it.RiskID, &it.Title, &it.LikelihoodLevels, &it.ImpactLevels, &ag.Likelihood, &ag.Impact, &ag.At, &ag.ByName, &applied)
		ag.Applied = applied == 1
		if ag.At > 0 {
			ag.Score = ag.Likelihood * ag.Impact
			it.Agreed = &ag
		}
		it.Voters = []Voter{}
		return it, err
	})
	if err != nil {
		return w, err
	}
	if w.Items == nil {
		w.Items = []Item{}
	}
	// Everyone's votes are read, and only what the reader may know of
	// them is kept: before the reveal who voted and the reader's own.
	rows, err = h.Query(ctx, `SELECT v.risk_id, v.user_id, u.name, o.name, v.likelihood, v.impact FROM risk_votes v JOIN users u ON u.id = v.user_id
		JOIN orgs o ON o.id = v.org_id WHERE v.workshop_id = ? ORDER BY v.voted_at, v.user_id`, id)
	if err != nil {
		return w, fmt.Errorf("workshop votes: %w", err)
	}
	type vrow struct {
		risk string
		v    Vote
	}
	votes, err := db.Collect(rows, "workshop votes", func(sc db.Scanner) (r vrow, err error) {
		err = sc.Scan(&r.risk, &r.v.userID, &r.v.Name, &r.v.OrgName, &r.v.Likelihood, &r.v.Impact)
		return r, err
	})
	if err != nil {
		return w, err
	}
	revealed := w.Status != WorkshopOpen
	for i := range w.Items {
		it := &w.Items[i]
		var all []Vote
		for _, v := range votes {
			if v.risk != it.RiskID {
				continue
			}
			it.Voters = append(it.Voters, Voter{Name: v.v.Name, OrgName: v.v.OrgName})
			if v.v.userID == a.UserID {
				mine := v.v
				it.MyVote = &mine
			}
			all = append(all, v.v)
		}
		if revealed {
			it.Votes = all
			it.Spread = SpreadOf(all)
		}
	}
	rows, err = h.Query(ctx, `SELECT c.id, c.body, u.name, o.name, c.created_at FROM risk_workshop_comments c JOIN users u ON u.id = c.user_id
		JOIN orgs o ON o.id = c.org_id WHERE c.workshop_id = ? ORDER BY c.created_at, c.id`, id)
	if err != nil {
		return w, fmt.Errorf("workshop comments: %w", err)
	}
	w.Comments, err = db.Collect(rows, "workshop comments", func(sc db.Scanner) (c Comment, err error) {
		err = sc.Scan(&c.ID, &c.Body, &c.UserName, &c.OrgName, &c.CreatedAt)
		return c, err
	})
	if w.Comments == nil {
		w.Comments = []Comment{}
	}
	return w, err
}

// workshopIn loads, inside tx, the envelope and status of a workshop the
// actor may see (else not found).
func (s *Service) workshopIn(ctx context.Context, tx *db.Tx, a policy.Actor, id string) (policy.Share, string, string, error) {
	rd, err := policy.NewReader(ctx, tx.Handle, a, s.now())
	if err != nil {
		return policy.Share{}, "", "", err
	}
	sh, err := rd.Envelope(ctx, tx.Handle, s.workshops, id)
	if err != nil {
		return sh, "", "", err
	}
	var status, title string
	if err := tx.QueryRow(ctx, `SELECT status, title FROM risk_workshops WHERE id = ?`, id).Scan(&status, &title); err != nil {
		return sh, "", "", db.NotFound(err, "load workshop")
	}
	return sh, status, title, nil
}

// itemIn checks that risk is in workshop id and visible to the actor,
// and returns its matrix size.
func (s *Service) itemIn(ctx context.Context, tx *db.Tx, a policy.Actor, id, risk string) (int, int, error) {
	rd, err := policy.NewReader(ctx, tx.Handle, a, s.now())
	if err != nil {
		return 0, 0, err
	}
	var nl, ni int
	q := db.Q(`SELECT r.likelihood_levels, r.impact_levels FROM risk_workshop_items wi`).Append(rd.Join(s.risks, "r", "wi.risk_id")).
		Add(` WHERE wi.workshop_id = ? AND wi.risk_id = ?`, id, risk)
	if err := tx.SelectRow(ctx, q).Scan(&nl, &ni); err != nil {
		return 0, 0, db.NotFound(err, "load workshop risk")
	}
	return nl, ni, nil
}

// Score records the actor's vote on a risk of an open workshop (a second
// vote replaces the first). After the reveal a vote is refused with
// workshop_revealed (409). Nobody else learns the numbers before the
// reveal: the live event says only that someone voted.
func (s *Service) Score(ctx context.Context, a policy.Actor, id, risk string, likelihood, impact int) error {
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		sh, status, _, err := s.workshopIn(ctx, tx, a, id)
		if err != nil {
			return err
		}
		if !a.CanWrite() {
			return fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
		}
		nl, ni, err := s.itemIn(ctx, tx, a, id, risk)
		if err != nil {
			return err
		}
		if status != WorkshopOpen {
			return fault.New(fault.Conflict, "workshop_revealed", "the votes of this workshop have been revealed: no more votes are taken")
		}
		if err := checkLevel("likelihood", likelihood, nl); err != nil {
			return err
		}
		if err := checkLevel("impact", impact, ni); err != nil {
			return err
		}
		now := s.now()
		if _, err := tx.Exec(ctx, `INSERT INTO risk_votes (workshop_id, risk_id, user_id, org_id, likelihood, impact, voted_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (workshop_id, risk_id, user_id) DO UPDATE SET likelihood = excluded.likelihood, impact = excluded.impact, voted_at = excluded.voted_at`,
			id, risk, a.UserID, a.OrgID, likelihood, impact, now); err != nil {
			return fmt.Errorf("save vote: %w", db.Map(err))
		}
		tx.AfterCommit(func() { s.publishWorkshop("risks.workshop.vote", sh, map[string]string{"risk": risk}) })
		// The record names the risk, not the numbers: the audit trail is
		// read by more people than the vote may reach before the reveal.
		return audit.Write(ctx, tx, a, audit.Entry{Action: "risks.workshop.vote", ObjectType: "risk_workshop", ObjectID: id,
			Detail: map[string]any{"risk": risk}, Touches: wsTouches(id)})
	})
}

// facilitator refuses anyone but the person who opened the workshop.
func facilitator(a policy.Actor, sh policy.Share) error {
	if sh.Author != a.UserID || !a.CanWrite() {
		return fault.New(fault.Forbidden, "workshop_facilitator_only", "only the workshop's facilitator may do this")
	}
	return nil
}

// Reveal shows every vote of the workshop to its participants (the
// facilitator only; once).
func (s *Service) Reveal(ctx context.Context, a policy.Actor, id string) error {
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		sh, status, _, err := s.workshopIn(ctx, tx, a, id)
		if err != nil {
			return err
		}
		if err := facilitator(a, sh); err != nil {
			return err
		}
		if status != WorkshopOpen {
			return fault.New(fault.Conflict, "workshop_revealed", "the votes of this workshop have been revealed: no more votes are taken")
		}
		var votes, unvoted int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM risk_votes WHERE workshop_id = ?`, id).Scan(&votes); err != nil {
			return fmt.Errorf("count votes: %w", db.Map(err))
		}
		// A risk without a vote has nothing to reveal or to agree from: the
		// reveal waits until each has one (the page disables its button).
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM risk_workshop_items i WHERE i.workshop_id = ? AND NOT EXISTS (SELECT 1 FROM risk_votes v WHERE v.workshop_id = i.workshop_id AND v.risk_id = i.risk_id)`, id).Scan(&unvoted); err != nil {
			return fmt.Errorf("count risks without votes: %w", db.Map(err))
		}
		if unvoted > 0 {
			return fault.New(fault.Conflict, "workshop_no_votes", "{n} risks of the workshop have no vote yet: reveal once each has at least one").With("n", unvoted)
		}
		if _, err := tx.Exec(ctx, `UPDATE risk_workshops SET status = ?, revealed_at = ? WHERE id = ?`, WorkshopRevealed, s.now(), id); err != nil {
			return fmt.Errorf("reveal workshop: %w", err)
		}
		tx.AfterCommit(func() { s.publishWorkshop("risks.workshop.reveal", sh, map[string]string{}) })
		return audit.Write(ctx, tx, a, audit.Entry{Action: "risks.workshop.reveal", ObjectType: "risk_workshop", ObjectID: id,
			Detail: map[string]any{"votes": votes}, Touches: wsTouches(id)})
	})
}

// Comment adds a message to the workshop's side thread.
func (s *Service) Comment(ctx context.Context, a policy.Actor, id, body string) (Comment, error) {
	body = strings.TrimSpace(strings.ReplaceAll(body, "\r\n", "\n"))
	if body == "" || utf8.RuneCountInString(body) > MaxComment {
		return Comment{}, fault.BadInput("body", "bad_workshop_comment", "a comment has 1 to {max} characters").With("max", MaxComment)
	}
	c := Comment{ID: db.NewID(), Body: body, UserName: a.Name, CreatedAt: s.now()}
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		sh, _, _, err := s.workshopIn(ctx, tx, a, id)
		if err != nil {
			return err
		}
		if !a.CanWrite() {
			return fault.New(fault.Forbidden, "role_insufficient", "your role may only read")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO risk_workshop_comments (id, workshop_id, user_id, org_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			c.ID, id, a.UserID, a.OrgID, body, c.CreatedAt); err != nil {
			return fmt.Errorf("save comment: %w", db.Map(err))
		}
		if err := tx.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, a.OrgID).Scan(&c.OrgName); err != nil {
			return fmt.Errorf("name org: %w", db.Map(err))
		}
		tx.AfterCommit(func() { s.publishWorkshop("risks.workshop.comment", sh, map[string]string{"comment": c.ID}) })
		return audit.Write(ctx, tx, a, audit.Entry{Action: "risks.workshop.comment", ObjectType: "risk_workshop", ObjectID: id,
			Detail: map[string]any{"comment": c.ID}, Touches: wsTouches(id)})
	})
	return c, err
}

// Agree records the agreed score of a risk after the reveal (the
// facilitator only) with who took part, and closes the workshop when
// every risk has its score. A facilitator of the risk's owner org makes
// it the risk's residual likelihood and impact at once (its history
// refers to the workshop); anyone else's agreement is offered to the
// owner org, which applies it or not: only the owner org writes a risk's
// scores.
func (s *Service) Agree(ctx context.Context, a policy.Actor, id, risk string, likelihood, impact int) error {
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		sh, status, _, err := s.workshopIn(ctx, tx, a, id)
		if err != nil {
			return err
		}
		if err := facilitator(a, sh); err != nil {
			return err
		}
		nl, ni, err := s.itemIn(ctx, tx, a, id, risk)
		if err != nil {
			return err
		}
		switch status {
		case WorkshopOpen:
			return fault.New(fault.Conflict, "workshop_not_revealed", "reveal the votes before you record the agreed score")
		case WorkshopClosed:
			return fault.New(fault.Conflict, "workshop_closed", "this workshop is closed: every risk has its agreed score")
		}
		var agreedAt int64
		if err := tx.QueryRow(ctx, `SELECT agreed_at FROM risk_workshop_items WHERE workshop_id = ? AND risk_id = ?`, id, risk).Scan(&agreedAt); err != nil {
			return db.NotFound(err, "load workshop risk")
		}
		if agreedAt > 0 {
			return fault.New(fault.Conflict, "workshop_already_agreed", "the agreed score of this risk is already recorded")
		}
		if err := checkLevel("likelihood", likelihood, nl); err != nil {
			return err
		}
		if err := checkLevel("impact", impact, ni); err != nil {
			return err
		}
		ok, err := ownsPart(ctx, tx.Handle, risk, a.OrgID)
		if err != nil {
			return err
		}
		if !ok {
			return fault.New(fault.Forbidden, "risk_not_owner", "your organisation owns no part of this risk")
		}
		people, err := participants(ctx, tx.Handle, id, risk)
		if err != nil {
			return err
		}
		now := s.now()
		cur, err := s.current(ctx, tx.Handle, risk)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE risk_workshop_items SET agreed_likelihood = ?, agreed_impact = ?, agreed_at = ?, agreed_by = ? WHERE workshop_id = ? AND risk_id = ?`,
			likelihood, impact, now, a.UserID, id, risk); err != nil {
			return fmt.Errorf("record agreement: %w", err)
		}
		// Only the owner org writes a risk's scores: a facilitator of the
		// owner org applies the agreed score at once; anyone else's
		// agreement stays the workshop's, offered to the owner org
		// (Risk.WorkshopScores, PATCH apply_workshop).
		applied := cur.OrgID == a.OrgID
		if applied {
			if _, err := s.risks.Authorize(ctx, tx, a, risk); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE risks SET residual_likelihood = ?, residual_impact = ?, residual_score = ?, version = version + 1, updated_at = ?, updated_by = ? WHERE id = ?`,
				likelihood, impact, likelihood*impact, now, a.UserID, risk); err != nil {
				return fmt.Errorf("update risk: %w", err)
			}
			// The history keeps a reference to the workshop: its title and
			// who took part are shown only to readers of the workshop.
			note := workshopNote(id)
			ch := &changes{ctx: ctx, tx: tx, a: a, id: risk, at: now}
			ch.add("residual_likelihood", itoa(cur.ResidualLikelihood), itoa(likelihood), note)
			ch.add("residual_impact", itoa(cur.ResidualImpact), itoa(impact), note)
			if len(ch.fields) == 0 {
				ch.add("workshop", "", fmt.Sprintf("%d×%d", likelihood, impact), note)
			}
			if ch.err != nil {
				return ch.err
			}
		}
		var open int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM risk_workshop_items WHERE workshop_id = ? AND agreed_at = 0`, id).Scan(&open); err != nil {
			return fmt.Errorf("count open risks: %w", db.Map(err))
		}
		if open == 0 {
			if _, err := tx.Exec(ctx, `UPDATE risk_workshops SET status = ?, closed_at = ? WHERE id = ?`, WorkshopClosed, now, id); err != nil {
				return fmt.Errorf("close workshop: %w", err)
			}
		}
		rsh, err := policy.NewReader(ctx, tx.Handle, a, now)
		if err != nil {
			return err
		}
		riskShare, err := rsh.Envelope(ctx, tx.Handle, s.risks, risk)
		if err != nil {
			return err
		}
		tx.AfterCommit(func() {
			s.publishWorkshop("risks.workshop.agreed", sh, map[string]string{"risk": risk})
			s.publish("risks.risk.updated", riskShare, risk)
		})
		return audit.Write(ctx, tx, a, audit.Entry{Action: "risks.workshop.agree", ObjectType: "risk_workshop", ObjectID: id,
			Detail:  map[string]any{"risk": risk, "likelihood": likelihood, "impact": impact, "participants": people, "applied": applied},
			Touches: append(wsTouches(id), "risk:"+risk)})
	})
}

// workshopNote is the history note of a score a workshop agreed: a
// reference, named on read for readers who may see the workshop.
func workshopNote(id string) string { return "workshop:" + id }

// participants names who voted on risk in workshop id: "name (org)".
func participants(ctx context.Context, h db.Handle, id, risk string) ([]string, error) {
	rows, err := h.Query(ctx, `SELECT u.name, o.name FROM risk_votes v JOIN users u ON u.id = v.user_id JOIN orgs o ON o.id = v.org_id
		WHERE v.workshop_id = ? AND v.risk_id = ? ORDER BY o.name, u.name`, id, risk)
	if err != nil {
		return nil, fmt.Errorf("workshop participants: %w", err)
	}
	return db.Collect(rows, "workshop participants", func(sc db.Scanner) (p string, err error) {
		var u, o string
		err = sc.Scan(&u, &o)
		return u + " (" + o + ")", err
	})
}

// workshopScores lists the scores workshops a may see agreed for risk and
// the owner org has not applied (a history entry refers to each applied
// one), newest first; only workshop's when it is not empty.
func (s *Service) workshopScores(ctx context.Context, h db.Handle, a policy.Actor, risk, workshop string) ([]WorkshopScore, error) {
	rd, err := policy.NewReader(ctx, h, a, s.now())
	if err != nil {
		return nil, err
	}
	q := db.Q(`SELECT wi.workshop_id, w.title, wi.agreed_likelihood, wi.agreed_impact, wi.agreed_at, u.name FROM risk_workshop_items wi`).
		Append(rd.Join(s.workshops, "w", "wi.workshop_id")).Add(` JOIN users u ON u.id = wi.agreed_by
		WHERE wi.risk_id = ? AND wi.agreed_at > 0 AND NOT EXISTS (SELECT 1 FROM risk_history c WHERE c.risk_id = wi.risk_id AND c.note = 'workshop:' || wi.workshop_id)`, risk)
	if workshop != "" {
		q.Add(` AND wi.workshop_id = ?`, workshop)
	}
	q.Add(` ORDER BY wi.agreed_at DESC, wi.workshop_id`)
	rows, err := h.Select(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("workshop scores: %w", err)
	}
	out, err := db.Collect(rows, "workshop scores", func(sc db.Scanner) (w WorkshopScore, err error) {
		err = sc.Scan(&w.WorkshopID, &w.WorkshopTitle, &w.Likelihood, &w.Impact, &w.At, &w.ByName)
		w.Score = w.Likelihood * w.Impact
		return w, err
	})
	if out == nil {
		out = []WorkshopScore{}
	}
	return out, err
}
