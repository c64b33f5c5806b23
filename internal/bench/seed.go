package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/policy"
)

// Population names the organisations, people and channels posts are
// seeded for. Keys are those of OrgKeys; apptest's world has the same.
type Population struct {
	Orgs          map[string]string   // org key → id
	Community     string              // the trust circle
	CircleChannel string              // its channel
	OrgChannel    map[string]string   // org key → internal channel (sme's is used)
	Authors       map[string]string   // org key → user id writing its posts
	People        map[string][]string // org key → user ids named in RED audiences
	// Threads and Posts are the forum's kinds: envelopes are disclosed
	// through the sharing kernel like every other.
	Threads, Posts *policy.Kind
	// Text writes a post's body of n characters (nil: the English words
	// of the list benchmark).
	Text func(rng *rand.Rand, n int) string
}

// author is the actor of org key's seeded posts.
func (p Population) author(org string) policy.Actor {
	return policy.Actor{UserID: p.Authors[org], OrgID: p.Orgs[org], Role: policy.Analyst, Scope: policy.ScopeWrite, Via: "bench"}
}

// Seeded is what SeedPosts wrote.
type Seeded struct {
	Threads        []string `json:"threads"`         // circle threads (visible to sme, cloud, cert)
	InternalThread string   `json:"internal_thread"` // sme's internal thread
	Posts          int      `json:"posts"`
}

// SeedPosts bulk-inserts n forum posts with their threads, in a few large
// transactions: the envelopes go through the sharing kernel (checked
// against the agreements like every other), the posts and threads straight
// into their tables with one audit record per transaction instead of one
// per post: it is test data, written fast. The mix is deterministic:
//
//   - threads: threads-1 in the circle channel (owners sme, cloud, cert in
//     turn; every third TLP:CLEAR, the others TLP:GREEN; audience: the
//     circle) and one in sme's internal channel (TLP:AMBER, audience: sme;
//     a tenth of its posts RED to sme.admin);
//   - posts are spread evenly over the threads; in the circle, owners are
//     sme 35 %, cloud 30 %, cert 25 %, nocontract 10 % (not covered by the
//     charter: invisible to the others; it can only see, and so only
//     write in, the CLEAR threads: its share elsewhere goes to cert), levels are GREEN 55 % (CLEAR for
//     about half of those in CLEAR threads: ~10 % of all), AMBER 30 % (to
//     the circle), AMBER+STRICT 10 % (sme↔cloud by name, under their
//     bilateral agreement) and RED 5 % (named people: sme.analyst for sme
//     and cloud, the owner's own analyst otherwise);
//   - bodies are 80 to 600 characters.
//
// sme.analyst sees about 90 % of the posts, outsiders only TLP:CLEAR.
func SeedPosts(ctx context.Context, d *db.DB, p Population, n, threads int) (Seeded, error) {
	if threads < 2 {
		threads = 2
	}
	rng := rand.New(rand.NewPCG(1, 2)) // #nosec G404 -- fixed seed on purpose: the same synthetic data in every benchmark run
	text := p.Text
	if text == nil {
		text = body
	}
	bodies := make([]string, 97)
	if p.Text != nil {
		bodies = make([]string, 997) // varied texts for searches
	}
	for i := range bodies {
		bodies[i] = text(rng, 80+rng.IntN(520))
	}
	now := db.Now() - int64(n)*1000 // posts one ms apart, ending now
	var out Seeded
	type th struct {
		id, owner string
		tlp       policy.TLP
		internal  bool
	}
	ths := make([]th, threads)
	circleOwners := []string{"sme", "cloud", "cert"}
	err := d.Tx(ctx, func(tx *db.Tx) error {
		for i := range ths {
			t := th{id: db.NewID()}
			ch := p.CircleChannel
			if i == threads-1 {
				t.owner, t.tlp, t.internal, ch = "sme", policy.Amber, true, p.OrgChannel["sme"]
				out.InternalThread = t.id
			} else {
				t.owner, t.tlp = circleOwners[i%3], policy.Green
				if i%3 == 0 {
					t.tlp = policy.Clear
				}
				out.Threads = append(out.Threads, t.id)
			}
			ths[i] = t
			aud := policy.Audience{Kind: policy.AudCommunity, Community: p.Community}
			if t.internal {
				aud = policy.Audience{Kind: policy.AudOrg}
			}
			a := p.author(t.owner)
			sh := p.Threads.Envelope(a, t.tlp, aud)
			sh.ID, sh.CreatedAt = t.id, now
			if _, err := p.Threads.Disclose(ctx, tx, a, sh); err != nil {
				return fmt.Errorf("seed thread share: %w", err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO threads (id, channel_id, org_id, title, created_at, last_post_at) VALUES (?, ?, ?, ?, ?, ?)`,
				t.id, ch, p.Orgs[t.owner], fmt.Sprintf("Bench thread %d: %s", i+1, body(rng, 40)), now, now); err != nil {
				return fmt.Errorf("seed thread: %w", err)
			}
		}
		return seedAudit(ctx, tx, "threads", threads)
	})
	if err != nil {
		return out, err
	}

	const postsPerTx = 20000 // a few transactions: the writer is not held for long
	const flushAt = 1000     // posts collected before they are written
	var posts []any
	var texts []policy.Doc                // for the search index
	shares := map[string][]policy.Share{} // owner org key → envelopes to disclose
	type written struct{ id, owner, thread string }
	var records []written // each post's audit record, as the hub writes one
	flush := func(tx *db.Tx) error {
		for _, owner := range OrgKeys {
			if _, err := p.Posts.DiscloseAll(ctx, tx, p.author(owner), shares[owner]); err != nil {
				return fmt.Errorf("seed post shares of %s: %w", owner, err)
			}
			shares[owner] = shares[owner][:0]
		}
		if err := tx.InsertMany(ctx, "posts (id, thread_id, org_id, author_id, body, created_at)", 6, posts); err != nil {
			return err
		}
		posts = posts[:0]
		if err := p.Posts.IndexAll(ctx, tx, texts); err != nil {
			return err
		}
		texts = texts[:0]
		for _, r := range records {
			if err := audit.Write(ctx, tx, p.author(r.owner), audit.Entry{Action: "forum.post.create", ObjectType: "post", ObjectID: r.id,
				Touches: []string{"thread:" + r.thread, "feed"}}); err != nil {
				return err
			}
		}
		records = records[:0]
		return nil
	}
	for start := 0; start < n; start += postsPerTx {
		err := d.Tx(ctx, func(tx *db.Tx) error {
			for i := start; i < min(n, start+postsPerTx); i++ {
				t := ths[i%threads]
				id := db.NewID()
				at := now + int64(i)*1000
				owner, tlp, aud := t.owner, t.tlp, policy.AudOrg
				var named, namedPeople []string
				if t.internal {
					if rng.IntN(10) == 0 {
						tlp, aud, namedPeople = policy.Red, policy.AudPeople, p.People["sme"][1:]
					}
				} else {
					switch r := rng.IntN(100); {
					case r < 35:
						owner = "sme"
					case r < 65:
						owner = "cloud"
					case r < 90:
						owner = "cert"
					default:
						owner = "nocontract"
						if t.tlp != policy.Clear {
							owner = "cert" // a contribution needs a thread one can see
						}
					}
					aud = policy.AudCommunity
					switch r := rng.IntN(100); {
					case r < 55:
						tlp = policy.Green
						if t.tlp == policy.Clear && rng.IntN(100) < 55 {
							tlp = policy.Clear
						}
					case r < 85:
						tlp = policy.Amber
					case r < 95:
						if owner == "sme" || owner == "cloud" {
							tlp, aud = policy.AmberStrict, policy.AudOrgs
							named = []string{p.Orgs["cloud"]}
							if owner == "cloud" {
								named = []string{p.Orgs["sme"]}
							}
						} else {
							tlp = policy.Amber
						}
					default:
						tlp, aud = policy.Red, policy.AudPeople
						namedPeople = p.People[owner][:1]
						if owner == "cloud" {
							namedPeople = p.People["sme"][:1]
						}
					}
				}
				a := p.author(owner)
				sh := p.Posts.Envelope(a, tlp, policy.Audience{Kind: aud, Orgs: named, People: namedPeople})
				sh.ID, sh.CreatedAt, sh.Container = id, at, t.id
				if aud == policy.AudCommunity {
					sh.Audience.Community = p.Community
				}
				shares[owner] = append(shares[owner], sh)
				posts = append(posts, id, t.id, p.Orgs[owner], p.Authors[owner], bodies[i%len(bodies)], at)
				texts = append(texts, policy.Doc{ID: id, Body: bodies[i%len(bodies)]})
				records = append(records, written{id, owner, t.id})
				if len(posts) >= 6*flushAt {
					if err := flush(tx); err != nil {
						return err
					}
				}
			}
			if err := flush(tx); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE threads SET last_post_at = ? WHERE id IN (`+db.Placeholders(len(ths))+`)`,
				append([]any{now + int64(min(n, start+postsPerTx))*1000}, threadIDs(ths, func(t th) string { return t.id })...)...); err != nil {
				return fmt.Errorf("seed thread activity: %w", err)
			}
			return seedAudit(ctx, tx, "posts", min(n, start+postsPerTx)-start)
		})
		if err != nil {
			return out, err
		}
	}
	// Every post came with its audit record, so the log is as long as a
	// hub's that wrote them. PostgreSQL chains them after commit (the
	// hubs' sequencer would, while measured): here, before the load.
	// With a near-empty log, the planner's plan for reading its newest
	// records was a sequential scan, kept for the whole run.
	if d.Dialect == db.Postgres {
		if _, err := audit.Chain(ctx, d); err != nil {
			return out, fmt.Errorf("chain the seeded audit records: %w", err)
		}
	}
	out.Posts = n
	return out, nil
}

func threadIDs[T any](ts []T, id func(T) string) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = id(t)
	}
	return out
}

var words = strings.Fields(`phishing campaign indicator hash domain ransomware lateral movement VPN gateway
	firmware patch CVE exploit observed SOC alert beacon command control exfiltration credential
	rotation MFA bypass supplier incident ticket timeline containment forensic image log retention
	firewall rule IOC YARA sigma detection false positive advisory vendor mitigation workaround
	we saw the same pattern yesterday at our site please share more details about affected versions`)

func body(rng *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.String()[:n]
}

// seedAudit records a seeding transaction: every committed change is
// audited, test data too (the audit head is the read cache's change
// counter).
func seedAudit(ctx context.Context, tx *db.Tx, what string, n int) error {
	return audit.Write(ctx, tx, policy.System("bench"), audit.Entry{Action: "bench.seed", ObjectType: what, Detail: map[string]int{"count": n}})
}
