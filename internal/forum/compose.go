package forum

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"verbund/internal/db"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Candidate is an org or a person a compose form may name, with the
// highest level that may reach them: their org's coverage for the forum's
// category by the author's active agreements (RED for the author's own
// people; TLP:CLEAR, which has no limit, for everyone else).
type Candidate struct {
	ID, Name string
	Max      policy.TLP
}

// AudienceOption is an audience kind a compose form offers, from the
// lowest level at which it narrows anything to the highest level it
// allows (POLICY.md's TLP table).
type AudienceOption struct {
	Kind policy.AudienceKind // "" (a reply: as its thread), org, community, orgs, people
	// Min: TLP:CLEAR reaches every organisation whatever the audience
	// names (POLICY.md rule 2; the server stores a narrower audience and
	// ignores it), so at CLEAR a form offers only the widest audience it
	// has — its circle, a reply's "as the thread", an org channel's own
	// org — and the narrower ones from GREEN on.
	Min policy.TLP
	Max policy.TLP
}

// Compose is what the thread and reply forms offer the author: the levels,
// the audience kinds and whom they may name, each only as far as the
// author's agreements and, for a reply, its thread allow.
type Compose struct {
	Levels    []policy.TLP
	Audiences []AudienceOption
	Orgs      []Candidate
	People    []Candidate
	Community string // the channel's trust circle ("" for an org's channel)
}

// FindCompose works out what a form in channel ch offers actor a: for a
// new thread (thread nil) or a reply to thread.
func (s *Service) FindCompose(ctx context.Context, a policy.Actor, ch Channel, thread *Thread) (Compose, error) {
	h := s.DB.R()
	c := Compose{Community: ch.CommunityID}
	v, err := policy.LoadView(ctx, h, a, db.Now())
	if err != nil {
		return c, err
	}
	choices, err := policy.AudienceChoices(ctx, h, a, ch.CommunityID)
	if err != nil {
		return c, err
	}
	k := s.threads.Category()
	// max is the highest level that may flow to org.
	maxTo := func(org string) policy.TLP {
		if org == a.OrgID {
			return policy.Red
		}
		for l := policy.Red; l > policy.Clear; l-- {
			if v.Covered(org, k, l) {
				return l
			}
		}
		return policy.Clear
	}
	orgOf, err := personOrgs(ctx, h, choices.People)
	if err != nil {
		return c, err
	}
	inThread := withinThread(thread)
	for _, o := range choices.Orgs {
		if inThread.org(o.ID) {
			c.Orgs = append(c.Orgs, Candidate{ID: o.ID, Name: o.Name, Max: maxTo(o.ID)})
		}
	}
	for _, p := range choices.People {
		if p.ID != a.UserID && inThread.person(p.ID, orgOf[p.ID]) {
			c.People = append(c.People, Candidate{ID: p.ID, Name: p.Name, Max: maxTo(orgOf[p.ID])})
		}
	}
	from := policy.Clear
	if thread != nil {
		from = thread.Share.TLP // a reply is never less restricted than its thread
		c.Audiences = append(c.Audiences, AudienceOption{Kind: "", Max: policy.Red})
	}
	for _, l := range policy.Levels() {
		if l >= from {
			c.Levels = append(c.Levels, l)
		}
	}
	circle := ch.CommunityID != "" && (thread == nil || thread.Share.TLP == policy.Clear || thread.Share.Audience.Kind == policy.AudCommunity)
	// The own org is the widest audience of an org's channel; beside the
	// circle it is a narrower one.
	narrower := policy.Clear
	if circle {
		narrower = policy.Green
	}
	if inThread.org(a.OrgID) {
		c.Audiences = append(c.Audiences, AudienceOption{Kind: policy.AudOrg, Min: narrower, Max: policy.AmberStrict})
	}
	if circle {
		c.Audiences = append(c.Audiences, AudienceOption{Kind: policy.AudCommunity, Max: policy.Amber})
	}
	if ch.CommunityID != "" && len(c.Orgs) > 0 {
		c.Audiences = append(c.Audiences, AudienceOption{Kind: policy.AudOrgs, Min: policy.Green, Max: policy.AmberStrict})
	}
	// Named people: others, or the author's colleagues; RED needs them.
	if len(c.People) > 0 {
		c.Audiences = append(c.Audiences, AudienceOption{Kind: policy.AudPeople, Min: policy.Green, Max: policy.Red})
	}
	return c, nil
}

// threadScope mirrors policy.Within for a form: whom a reply in a thread
// may name (the write checks with Within itself).
type threadScope struct {
	all    bool
	orgs   []string
	people []string
}

func withinThread(t *Thread) threadScope {
	if t == nil || t.Share.TLP == policy.Clear || t.Share.Audience.Kind == policy.AudCommunity {
		return threadScope{all: true} // the candidates are the circle's members already
	}
	c := t.Share
	switch c.Audience.Kind {
	case policy.AudOrgs:
		return threadScope{orgs: append([]string{c.Owner}, c.Audience.Orgs...)}
	case policy.AudPeople:
		return threadScope{people: append(slices.Clone(c.Audience.People), c.Author)}
	}
	return threadScope{orgs: []string{c.Owner}}
}

func (s threadScope) org(id string) bool { return s.all || slices.Contains(s.orgs, id) }

func (s threadScope) person(id, org string) bool {
	return s.all || slices.Contains(s.people, id) || slices.Contains(s.orgs, org)
}

// personOrgs maps the people offered to their orgs.
func personOrgs(ctx context.Context, h db.Handle, people []policy.Option) (map[string]string, error) {
	out := make(map[string]string, len(people))
	if len(people) == 0 {
		return out, nil
	}
	ids := make([]any, len(people))
	for i, p := range people {
		ids[i] = p.ID
	}
	rows, err := h.Query(ctx, `SELECT id, org_id FROM users WHERE id IN (`+db.Placeholders(len(ids))+`)`, ids...)
	if err != nil {
		return nil, fmt.Errorf("people's organisations: %w", err)
	}
	pairs, err := db.Collect(rows, "people's organisations", func(r db.Scanner) (p [2]string, err error) {
		err = r.Scan(&p[0], &p[1])
		return p, err
	})
	for _, p := range pairs {
		out[p[0]] = p[1]
	}
	return out, err
}

// Recipients is who would receive an object shared as asked: what the
// write would decide, said before it is sent.
type Recipients struct {
	HubWide   bool     // TLP:CLEAR: every organisation of the hub
	Orgs      []string // names of the orgs whose people receive it
	People    int      // how many people receive it, the person asking not counted (on an edit page also a colleague who wrote the post is counted: they receive it)
	Uncovered []string // names of circle members it does not reach (no agreement)
	// Error is the refusal the write would meet; nothing else is set then.
	Error *fault.Error
	// NoReply: the reader may read the thread but not reply in it (its
	// channel is not theirs).
	NoReply bool
}

// PreviewThread says who would receive a new thread in channel channelID
// with sharing in.
func (s *Service) PreviewThread(ctx context.Context, a policy.Actor, channelID string, in policy.Sharing) (Recipients, error) {
	h := s.DB.R()
	ch, err := s.channel(ctx, h, a, channelID)
	if err != nil {
		return Recipients{}, err
	}
	if in.Audience == "" {
		in.Audience = string(defaultAudience(ch, in.TLP))
	}
	return s.preview(ctx, h, a, ch, s.threads, in, nil)
}

// PreviewReply says who would receive a reply in thread threadID with
// sharing in ("" audience: the thread's, as CreatePost decides).
func (s *Service) PreviewReply(ctx context.Context, a policy.Actor, threadID string, in policy.Sharing) (Recipients, error) {
	h := s.DB.R()
	t, err := s.thread(ctx, h, a, threadID)
	if err != nil {
		return Recipients{}, err
	}
	ch, err := s.channel(ctx, h, a, t.ChannelID)
	if fault.Is(err, fault.NotFound) {
		return Recipients{NoReply: true}, nil
	}
	if err != nil {
		return Recipients{}, err
	}
	return s.preview(ctx, h, a, ch, s.posts, replySharing(in, t), &t)
}

// defaultAudience is a new thread's audience when the client names none:
// a circle channel's objects go to the circle (up to AMBER), others stay
// in the org (envelope).
func defaultAudience(ch Channel, tlp string) policy.AudienceKind {
	if l, err := policy.ParseTLP(tlp); err == nil && ch.CommunityID != "" && l <= policy.Amber {
		return policy.AudCommunity
	}
	return policy.AudOrg
}

// preview runs the checks of the write (envelope, channel scope, the
// thread's bounds, policy.CheckShare) and then counts, with each
// recipient's own view, who may read the result (View.CanSee, the twin of
// the read predicate).
func (s *Service) preview(ctx context.Context, h db.Handle, a policy.Actor, ch Channel, k *policy.Kind, in policy.Sharing, t *Thread) (Recipients, error) {
	sh, err := envelope(a, k, ch, in)
	if err == nil {
		err = checkChannelScope(ctx, h, a, ch, sh)
	}
	if err == nil && t != nil {
		sh.Container = t.ID
		err = policy.Within(ctx, h, sh, t.Share)
	}
	var uncovered []string
	if err == nil {
		uncovered, err = policy.CheckShare(ctx, h, a, sh, db.Now())
	}
	if e, ok := fault.As(err); ok && (e.Kind == fault.Invalid || e.Kind == fault.Forbidden) {
		return Recipients{Error: e}, nil
	}
	if err != nil {
		return Recipients{}, err
	}
	var out Recipients
	if out.Uncovered, err = orgNames(ctx, h, uncovered); err != nil {
		return out, err
	}
	if sh.TLP == policy.Clear && (t == nil || t.Share.TLP == policy.Clear) {
		// POLICY.md rule 2: every signed-in user of the hub.
		out.HubWide = true
		err := h.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE disabled = 0 AND id <> ?`, a.UserID).Scan(&out.People)
		return out, db.NotFound(err, "count people")
	}
	orgs := []string{a.OrgID}
	switch sh.Audience.Kind {
	case policy.AudCommunity:
		rows, err := h.Query(ctx, `SELECT org_id FROM community_members WHERE community_id = ? AND status = 'active'`, sh.Audience.Community)
		if err != nil {
			return out, fmt.Errorf("circle members: %w", err)
		}
		members, err := db.Collect(rows, "circle members", func(r db.Scanner) (o string, err error) { err = r.Scan(&o); return o, err })
		if err != nil {
			return out, err
		}
		orgs = append(orgs, members...)
	case policy.AudOrgs:
		orgs = append(orgs, sh.Audience.Orgs...)
	}
	return out, s.countReaders(ctx, h, a, sh, t, dedupe(orgs), &out)
}

// countReaders fills out's orgs and people: the active people of orgs (and
// the named people) who may read sh, and its thread t, each judged with
// their own view.
func (s *Service) countReaders(ctx context.Context, h db.Handle, a policy.Actor, sh policy.Share, t *Thread, orgs []string, out *Recipients) error {
	args := make([]any, 0, len(orgs)+len(sh.Audience.People))
	for _, o := range orgs {
		args = append(args, o)
	}
	q := `SELECT u.id, u.org_id, o.name FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.disabled = 0 AND (u.org_id IN (` + db.Placeholders(len(orgs)) + `)`
	if len(sh.Audience.People) > 0 {
		for _, p := range sh.Audience.People {
			args = append(args, p)
		}
		q += ` OR u.id IN (` + db.Placeholders(len(sh.Audience.People)) + `)`
	}
	rows, err := h.Query(ctx, q+`)`, args...)
	if err != nil {
		return fmt.Errorf("recipients: %w", err)
	}
	type person struct{ id, org, orgName string }
	people, err := db.Collect(rows, "recipients", func(r db.Scanner) (p person, err error) {
		err = r.Scan(&p.id, &p.org, &p.orgName)
		return p, err
	})
	if err != nil {
		return err
	}
	views := map[string]*policy.View{}
	names := map[string]bool{}
	for _, p := range people {
		v, ok := views[p.org]
		if !ok {
			if v, err = policy.LoadView(ctx, h, policy.Actor{OrgID: p.org}, db.Now()); err != nil {
				return err
			}
			views[p.org] = v
		}
		pv := *v
		pv.UserID = p.id
		if !pv.CanSee(sh) || (t != nil && !pv.CanSee(t.Share)) {
			continue
		}
		if p.id != a.UserID {
			names[p.orgName] = true
			out.People++
		}
	}
	for n := range names {
		out.Orgs = append(out.Orgs, n)
	}
	sort.Strings(out.Orgs)
	return nil
}

// orgNames names orgs by id, in the order given.
func orgNames(ctx context.Context, h db.Handle, ids []string) ([]string, error) {
	var out []string
	for _, id := range ids {
		var n string
		if err := h.QueryRow(ctx, `SELECT name FROM orgs WHERE id = ?`, id).Scan(&n); err != nil {
			return nil, fmt.Errorf("name org: %w", db.Map(err))
		}
		out = append(out, n)
	}
	return out, nil
}

func dedupe(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// replySharing is the sharing of a reply asked for with in: without a
// level or audience, the thread's (whoever replies, it reaches the
// thread's readers and no one else).
func replySharing(in policy.Sharing, t Thread) policy.Sharing {
	if in.TLP == "" {
		in.TLP = t.Share.TLP.Name()
	}
	if in.Audience == "" {
		aud := policy.Inherit(t.Share)
		in = policy.Sharing{TLP: in.TLP, Audience: string(aud.Kind), Community: aud.Community, Orgs: aud.Orgs, People: aud.People}
	}
	return in
}
