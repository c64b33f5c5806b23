// Package forum is the secure exchange forum: channels per organisation and
// per trust circle, threads and posts. Every thread and post is a shareable
// object (category knowledge) with its own TLP level and audience; lists,
// counts, search and live events pass through internal/policy.
package forum

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/jsonenc"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// Service is the forum capability.
type Service struct {
	DB     *db.DB
	Events *events.Broker
	// threads and posts are the forum's shareable kinds: every envelope is
	// written, read and deleted through them (internal/policy's kernel).
	threads, posts *policy.Kind
	postColumns    string
	threadColumns  string
	// searches limits each user's searches (web.Limiter): a search takes
	// longer the more documents match, seen or not, and that time must not
	// be cheap to measure.
	searches *web.Limiter
	// cache keeps the first posts of threads being read and the feed's
	// newest (CacheThreads); nil: every page is read from the database.
	cache *threadCache
	// channelRows keeps the channels read by usableChannel (id → Channel).
	channelRows sync.Map
}

// CacheThreads keeps up to maxBytes of posts in memory, judged for each
// reader there (threadcache.go): at most perEntry of a thread (its first)
// and of the feed (its newest). It learns of changes from the audit trail.
func (s *Service) CacheThreads(maxBytes, perEntry int, trail *audit.Trail) {
	s.cache = newThreadCache(s, maxBytes, perEntry, threadCacheSource{state: trail.State, changes: trail.Changes})
}

// ThreadCacheStats is what the thread cache has done and holds.
type ThreadCacheStats struct {
	Hits, Misses    uint64 // pages cut from it; pages it could not answer
	Overlaid        uint64 // of the hits, pages read around waiting records (overlay.go)
	Bytes, MaxBytes int    // held (estimated) and allowed
	Entries         int    // threads, channels and the feed kept
}

// CacheStats reports the thread cache's figures (zero when it is off),
// for the metrics.
func (s *Service) CacheStats() ThreadCacheStats {
	c := s.cache
	if c == nil {
		return ThreadCacheStats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return ThreadCacheStats{Hits: c.Hits.Load(), Misses: c.Misses.Load(), Overlaid: c.Overlaid.Load(), Bytes: c.size, MaxBytes: c.max, Entries: len(c.entries)}
}

// searchBurst is how many searches a user may run at once; then
// SetSearchRate's rate (default one a second) refills them.
const searchBurst = 20

// SetSearchRate sets how many searches a user may run per minute after a
// burst (config --search-rate).
func (s *Service) SetSearchRate(perMinute int) {
	s.searches = web.NewLimiter(searchBurst, float64(perMinute)/60)
}

// New returns the service and registers its kinds with the sharing kernel.
func New(d *db.DB, b *events.Broker, k *policy.Kernel) *Service {
	threads := k.Register(policy.KindSpec{Name: "thread", Table: "threads", Category: policy.Knowledge})
	s := &Service{DB: d, Events: b, threads: threads, searches: web.NewLimiter(searchBurst, 1),
		// A post belongs to its thread: visible only with it, and never
		// reaching further (policy.Within).
		posts: k.Register(policy.KindSpec{Name: "post", Table: "posts", Category: policy.Knowledge, In: threads, Search: true}),
	}
	// Id and creation time come with the envelope (the same values).
	s.postColumns = `p.thread_id, p.body, COALESCE(p.edited_at, 0), p.revisions, u.name, o.name, ` + s.posts.Columns("p")
	s.threadColumns = `t.channel_id, t.title, t.last_post_at, u.name, o.name, ` + s.threads.Columns("t")
	return s
}

// Kinds returns the forum's shareable kinds (for the load generator).
func (s *Service) Kinds() (threads, posts *policy.Kind) { return s.threads, s.posts }

// Channel groups threads: an org's internal channel or a trust circle's.
type Channel struct {
	ID            string `json:"id"`
	OrgID         string `json:"org_id"`
	CommunityID   string `json:"community_id,omitempty"`
	CommunityName string `json:"community_name,omitempty"`
	Name          string `json:"name"`
	Description   string `json:"description,omitempty"`
	CreatedAt     int64  `json:"created_at"`
	OrgName       string `json:"-"` // the owning org (pages name an org's channel by it)
}

// Title is how pages name the channel: its circle's name or, for an
// org's own channel, the org's, with the channel's.
func (c Channel) Title() string {
	if c.CommunityName != "" {
		return c.CommunityName + " · " + c.Name
	}
	return c.OrgName + " · " + c.Name
}

// MarkInternal reports whether a list marks the channel as internal: an
// org's own channel, unless its name says so already (every org's first
// channel is named "intern", internal/orgs).
func (c Channel) MarkInternal() bool {
	return c.CommunityID == "" && !strings.EqualFold(c.Name, "intern") && !strings.EqualFold(c.Name, "internal")
}

// Thread is a topic in a channel.
type Thread struct {
	ID         string       `json:"id"`
	ChannelID  string       `json:"channel_id"`
	Title      string       `json:"title"`
	Share      policy.Share `json:"sharing"`
	AuthorName string       `json:"author_name"`
	OrgName    string       `json:"org_name"`
	CreatedAt  int64        `json:"created_at"`
	LastPostAt int64        `json:"last_post_at"`
	Posts      int          `json:"posts"` // visible to the reader
	// AudienceNames names the orgs or people of a named audience for the
	// pages (the API gives their ids in sharing).
	AudienceNames []string `json:"-"`
}

// Post is one message.
type Post struct {
	ID          string       `json:"id"`
	ThreadID    string       `json:"thread_id"`
	ThreadTitle string       `json:"thread_title,omitempty"`
	Body        string       `json:"body"`
	Share       policy.Share `json:"sharing"`
	AuthorName  string       `json:"author_name"`
	OrgName     string       `json:"org_name"`
	CreatedAt   int64        `json:"created_at"`
	EditedAt    int64        `json:"edited_at,omitempty"`
	Revisions   int          `json:"revisions"`
	// NotDeliveredTo lists circle members the post did not reach because
	// no agreement covers them (answer to a write only).
	NotDeliveredTo []string `json:"not_delivered_to,omitempty"`
	// AudienceNames names the orgs or people of a named audience for the
	// pages (the API gives their ids in sharing).
	AudienceNames []string `json:"-"`
	// encoded is the post's JSON made once by the thread cache for every
	// reader, without its thread's title and audience lists (AppendJSON
	// adds the title); nil for a post read otherwise.
	encoded *postJSON
	// thread is the post's thread as the thread cache keeps it for the
	// feed (its envelope, judged with the post's); nil otherwise.
	thread *keptThread
}

// postJSON is a post's JSON in two parts: before its thread's title and
// after it.
type postJSON struct{ head, tail []byte }

// Revision is an earlier text of a post.
type Revision struct {
	Rev        int    `json:"rev"`
	Body       string `json:"body"`
	EditorName string `json:"editor_name"`
	EditedAt   int64  `json:"edited_at"`
}

const channelVisible = `((ch.community_id IS NULL AND ch.org_id = ?) OR (ch.community_id IS NOT NULL AND EXISTS (
	SELECT 1 FROM community_members cv WHERE cv.community_id = ch.community_id AND cv.org_id = ? AND cv.status = 'active')))`

// FindChannels lists the channels the actor's org can use.
func (s *Service) FindChannels(ctx context.Context, a policy.Actor) ([]Channel, error) {
	rows, err := s.DB.R().Query(ctx, `SELECT ch.id, ch.org_id, COALESCE(ch.community_id, ''), COALESCE(c.name, ''), ch.name, ch.description, ch.created_at, o.name
		FROM channels ch LEFT JOIN communities c ON c.id = ch.community_id JOIN orgs o ON o.id = ch.org_id WHERE `+channelVisible+`
		ORDER BY ch.community_id IS NULL DESC, c.name, ch.name`, a.OrgID, a.OrgID)
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return db.Collect(rows, "list channels", func(r db.Scanner) (c Channel, err error) {
		err = r.Scan(&c.ID, &c.OrgID, &c.CommunityID, &c.CommunityName, &c.Name, &c.Description, &c.CreatedAt, &c.OrgName)
		return c, err
	})
}

// FindChannelByID returns one channel the actor's org can use (else not
// found).
func (s *Service) FindChannelByID(ctx context.Context, a policy.Actor, id string) (Channel, error) {
	return s.channel(ctx, s.DB.R(), a, id)
}

// channel returns channel id when actor a's org may use it (else not
// found), judged with a's view as h reads it: the request's (kept
// between requests) outside a transaction, the one a write's transaction
// loads inside it (and Disclose takes again: db.Handle.Recall).
func (s *Service) channel(ctx context.Context, h db.Handle, a policy.Actor, id string) (Channel, error) {
	r, err := policy.NewReader(ctx, h, a, db.Now())
	if err != nil {
		return Channel{}, err
	}
	return s.usableChannel(ctx, h, r, a.OrgID, id)
}

// usableChannel returns channel id when org, reading through r, may use
// it, judged in memory as channelVisible judges it in SQL: an org's own
// channel, or a circle's channel when the org is an active member of the
// circle by r's view. The row is kept once read: a channel is never
// changed or deleted (nor are the names it shows; TestKeptRowsNeverChange),
// so only who may use it needs judging. A channel the reader may not use
// answers like one that does not exist.
func (s *Service) usableChannel(ctx context.Context, h db.Handle, r *policy.Reader, org, id string) (Channel, error) {
	v, ok := s.channelRows.Load(id)
	if !ok {
		var c Channel
		err := h.QueryRow(ctx, `SELECT ch.id, ch.org_id, COALESCE(ch.community_id, ''), COALESCE(c.name, ''), ch.name, ch.description, ch.created_at, o.name
			FROM channels ch LEFT JOIN communities c ON c.id = ch.community_id JOIN orgs o ON o.id = ch.org_id WHERE ch.id = ?`, id).
			Scan(&c.ID, &c.OrgID, &c.CommunityID, &c.CommunityName, &c.Name, &c.Description, &c.CreatedAt, &c.OrgName)
		if err != nil {
			return Channel{}, db.NotFound(err, "load channel")
		}
		v, _ = s.channelRows.LoadOrStore(id, c)
	}
	c := v.(Channel)
	if c.CommunityID == "" && c.OrgID == org || c.CommunityID != "" && r.InCircle(c.CommunityID) {
		return c, nil
	}
	return Channel{}, db.NotFound(sql.ErrNoRows, "load channel")
}

// CreateChannel adds a channel: admins for their org; admins of a circle's
// coordinator for the circle.
func (s *Service) CreateChannel(ctx context.Context, a policy.Actor, community, name, description string) (Channel, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return Channel{}, fault.BadInput("name", "bad_name", "the channel name must have 1 to {max} characters").With("max", 100)
	}
	if len(description) > 1000 {
		return Channel{}, fault.BadInput("description", "too_long", "the description is longer than {max} characters").With("max", 1000)
	}
	if !a.CanAdmin() {
		return Channel{}, fault.New(fault.Forbidden, "admin_required", "only an admin may create channels")
	}
	c := Channel{ID: db.NewID(), OrgID: a.OrgID, CommunityID: community, Name: name, Description: strings.TrimSpace(description), CreatedAt: db.Now()}
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		var comm any
		if community != "" {
			var coord string
			err := tx.QueryRow(ctx, `SELECT coordinator_org_id FROM communities WHERE id = ?`, community).Scan(&coord)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("load circle: %w", db.Map(err))
			}
			if coord != a.OrgID {
				return fault.BadInput("community_id", "coordinator_only", "only the coordinator of a trust circle may add its channels")
			}
			comm = community
		}
		if _, err := tx.Exec(ctx, `INSERT INTO channels (id, org_id, community_id, name, description, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			c.ID, c.OrgID, comm, c.Name, c.Description, c.CreatedAt); err != nil {
			if fault.Is(err, fault.Conflict) {
				return fault.BadInput("name", "name_taken", `a channel named "{name}" already exists there`).With("name", name)
			}
			return fmt.Errorf("insert channel: %w", err)
		}
		return audit.Write(ctx, tx, a, audit.Entry{Action: "forum.channel.create", ObjectType: "channel", ObjectID: c.ID, Touches: audit.Nothing()})
	})
	return c, err
}

// envelope builds the envelope of a new object of kind k in channel ch
// from the client's request. Without an audience, a circle channel's
// objects go to the circle (up to AMBER) and others stay in the org.
func envelope(a policy.Actor, k *policy.Kind, ch Channel, in policy.Sharing) (policy.Share, error) {
	tlp, aud, err := in.Parse()
	if err != nil {
		return policy.Share{}, err
	}
	if aud.Kind == "" {
		aud.Kind = policy.AudOrg
		if ch.CommunityID != "" && tlp <= policy.Amber {
			aud.Kind = policy.AudCommunity
		}
	}
	if aud.Kind == policy.AudCommunity {
		if aud.Community == "" {
			aud.Community = ch.CommunityID
		}
		if aud.Community != ch.CommunityID {
			return policy.Share{}, fault.BadInput("audience", "wrong_community", "a post in this channel can only go to the channel's own trust circle")
		}
	} else {
		aud.Community = ""
	}
	if ch.CommunityID == "" && aud.Kind != policy.AudOrg && aud.Kind != policy.AudPeople {
		return policy.Share{}, fault.BadInput("audience", "internal_channel", "this channel is internal to your organisation: use a trust circle's channel to share with others")
	}
	return k.Envelope(a, tlp, aud), nil
}

// checkChannelScope keeps a channel's posts inside it: in an org's own
// channel only its people may be named; in a circle's channel named orgs
// and people must belong to active members. A named person outside the
// channel whom the writer a cannot know answers as one who does not exist
// (policy.UnknownPerson), not "outside the channel": that would tell which
// ids are people elsewhere on the hub.
func checkChannelScope(ctx context.Context, h db.Handle, a policy.Actor, ch Channel, sh policy.Share) error {
	type named struct{ org, person string }
	var toCheck []named
	switch sh.Audience.Kind {
	case policy.AudOrgs:
		for _, o := range sh.Audience.Orgs {
			toCheck = append(toCheck, named{org: o})
		}
	case policy.AudPeople:
		for _, p := range sh.Audience.People {
			var o string
			err := h.QueryRow(ctx, `SELECT org_id FROM users WHERE id = ?`, p).Scan(&o)
			if errors.Is(err, sql.ErrNoRows) {
				return policy.UnknownPerson(p)
			}
			if err != nil {
				return fmt.Errorf("check audience person: %w", db.Map(err))
			}
			toCheck = append(toCheck, named{org: o, person: p})
		}
	}
	for _, n := range toCheck {
		inside, err := channelHas(ctx, h, ch, n.org)
		if err != nil {
			return err
		}
		if inside {
			continue
		}
		if n.person != "" {
			// Only on this error path: whom may the writer know?
			v, err := policy.LoadView(ctx, h, a, db.Now())
			if err != nil {
				return fmt.Errorf("check audience person: %w", err)
			}
			if !v.Knows(n.org) {
				return policy.UnknownPerson(n.person)
			}
		}
		if ch.CommunityID == "" {
			return fault.BadInput("audience", "outside_channel", "this channel is internal: name only people of your organisation")
		}
		return fault.BadInput("audience", "outside_channel", "everyone in the audience must belong to this trust circle")
	}
	return nil
}

// channelHas reports whether org is inside channel ch: its own org, or an
// active member of its circle.
func channelHas(ctx context.Context, h db.Handle, ch Channel, org string) (bool, error) {
	if ch.CommunityID == "" {
		return org == ch.OrgID, nil
	}
	var n int
	if err := h.QueryRow(ctx, `SELECT COUNT(*) FROM community_members WHERE community_id = ? AND org_id = ? AND status = 'active'`, ch.CommunityID, org).Scan(&n); err != nil {
		return false, fmt.Errorf("check audience member: %w", db.Map(err))
	}
	return n == 1, nil
}

// AppendsJSONOf tells web.WriteList that AppendJSON writes a Post's fields
// (and not those of a struct that embeds one).
func (p *Post) AppendsJSONOf() reflect.Type { return reflect.TypeFor[Post]() }

// AppendJSON appends the post as encoding/json writes it: pages of posts
// are the hub's most read answers (package jsonenc says why).
func (p *Post) AppendJSON(b []byte) ([]byte, error) {
	if e := p.encoded; e != nil && len(p.Share.Audience.Orgs) == 0 && len(p.Share.Audience.People) == 0 && len(p.NotDeliveredTo) == 0 {
		b = append(b, e.head...)
		if p.ThreadTitle != "" {
			b = jsonenc.String(jsonenc.Field(b, "thread_title", false), p.ThreadTitle)
		}
		return append(b, e.tail...), nil
	}
	b = jsonenc.String(jsonenc.Field(append(b, '{'), "id", true), p.ID)
	b = jsonenc.String(jsonenc.Field(b, "thread_id", false), p.ThreadID)
	if p.ThreadTitle != "" {
		b = jsonenc.String(jsonenc.Field(b, "thread_title", false), p.ThreadTitle)
	}
	b = jsonenc.String(jsonenc.Field(b, "body", false), p.Body)
	b, err := p.Share.AppendJSON(jsonenc.Field(b, "sharing", false))
	if err != nil {
		return b, err
	}
	b = jsonenc.String(jsonenc.Field(b, "author_name", false), p.AuthorName)
	b = jsonenc.String(jsonenc.Field(b, "org_name", false), p.OrgName)
	b = jsonenc.Int(jsonenc.Field(b, "created_at", false), p.CreatedAt)
	if p.EditedAt != 0 {
		b = jsonenc.Int(jsonenc.Field(b, "edited_at", false), p.EditedAt)
	}
	b = jsonenc.Int(jsonenc.Field(b, "revisions", false), int64(p.Revisions))
	if len(p.NotDeliveredTo) > 0 {
		b = jsonenc.Strings(jsonenc.Field(b, "not_delivered_to", false), p.NotDeliveredTo)
	}
	return append(b, '}'), nil
}
