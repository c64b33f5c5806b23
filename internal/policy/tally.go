package policy

import (
	"context"
	"fmt"
	"strings"

	"verbund/internal/db"
)

// Counting what each reader may see of a container's contents (a thread's
// posts, say) object by object costs the predicate for every one of them:
// a list of fifty threads of a hundred posts judged five thousand
// envelopes (71 ms on SQLite). But contents share a few envelopes, and who
// may see one is decided by its owner, level, category and audience (the
// circle, or the named orgs or people) and, for RED, by its author — not by
// the object. So the kernel keeps, per container, a tally of its contents'
// envelopes grouped by exactly that: how many and the newest. Reader.Tally
// judges each group once with the reader's view (CanSee, the predicate's
// twin; TestTallyAgreesWithPredicate keeps them equal on random worlds).
// share_tally is written only here, in the transaction of the envelope it
// counts.

// tallyGroup is one group of a container's tally.
type tallyGroup struct {
	container, kind, owner, author, community, orgs, people string
	tlp                                                     TLP
	audience                                                AudienceKind
}

type tallyCount struct {
	n    int64
	last int64
}

// groupOf returns the group of s, if it belongs to a container.
func groupOf(s Share) (tallyGroup, bool) {
	if s.Container == "" {
		return tallyGroup{}, false
	}
	// The lists as the envelope has them: the kernel saves only what the
	// audience kind uses (Audience.normal), so they are that.
	a := s.Audience
	g := tallyGroup{container: s.Container, kind: s.Kind, owner: s.Owner, community: a.Community,
		orgs: strings.Join(dedupe(a.Orgs), ","), people: strings.Join(dedupe(a.People), ","), tlp: s.TLP, audience: a.Kind}
	if s.TLP == Red {
		g.author = s.Author // inside the owner org, RED is for its author and the named
	}
	return g, true
}

func (g tallyGroup) key() []any {
	return []any{g.container, g.kind, g.owner, g.author, int(g.tlp), string(g.audience), g.community, g.orgs, g.people}
}

const tallyWhere = `container_id = ? AND kind = ? AND owner_org_id = ? AND author_id = ? AND tlp = ? AND audience = ? AND community_id = ? AND orgs = ? AND people = ?`

// add counts c more envelopes in the group.
func (g tallyGroup) add(ctx context.Context, tx *db.Tx, c tallyCount) error {
	if _, err := tx.Exec(ctx, `INSERT INTO share_tally (container_id, kind, owner_org_id, author_id, tlp, audience, community_id, orgs, people, n, last_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (container_id, kind, owner_org_id, author_id, tlp, audience, community_id, orgs, people) DO UPDATE SET n = share_tally.n + excluded.n,
		last_at = CASE WHEN excluded.last_at > share_tally.last_at THEN excluded.last_at ELSE share_tally.last_at END`,
		append(g.key(), c.n, c.last)...); err != nil {
		return fmt.Errorf("tally share: %w", err)
	}
	return nil
}

// remove takes envelope id (still in shares, as the group has it) out of
// the group: one less, and the newest of the others.
func (g tallyGroup) remove(ctx context.Context, tx *db.Tx, id string) error {
	var last int64
	rows, err := tx.Query(ctx, `SELECT id, created_at, author_id FROM shares WHERE container_id = ? AND kind = ? AND owner_org_id = ? AND tlp = ? AND audience = ? AND id <> ?`,
		g.container, g.kind, g.owner, int(g.tlp), string(g.audience), id)
	if err != nil {
		return fmt.Errorf("untally share: %w", err)
	}
	type other struct {
		id, author string
		at         int64
	}
	others, err := db.Collect(rows, "untally share", func(sc db.Scanner) (o other, err error) {
		err = sc.Scan(&o.id, &o.at, &o.author)
		return o, err
	})
	if err != nil {
		return err
	}
	// The newest other member of the group: same owner, level and
	// audience kind (above), and the same circle, lists and author.
	for _, o := range others {
		if o.at <= last || (g.tlp == Red && o.author != g.author) {
			continue
		}
		s, err := loadEnvelope(ctx, tx.Handle, o.id)
		if err != nil {
			return err
		}
		if og, _ := groupOf(s); og == g {
			last = o.at
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE share_tally SET n = n - 1, last_at = ? WHERE `+tallyWhere, append([]any{last}, g.key()...)...); err != nil {
		return fmt.Errorf("untally share: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM share_tally WHERE n <= 0 AND `+tallyWhere, g.key()...); err != nil {
		return fmt.Errorf("untally share: %w", err)
	}
	return nil
}

// loadEnvelope reads one envelope with its lists and container, unchecked
// (for the tally's own bookkeeping).
func loadEnvelope(ctx context.Context, h db.Handle, id string) (Share, error) {
	var s Share
	// All of it: the envelope judges readers (View.CanSee needs the
	// category, or no agreement covers it).
	err := h.QueryRow(ctx, `SELECT id, kind, owner_org_id, author_id, category, tlp, audience, COALESCE(community_id, ''), created_at, COALESCE(container_id, '')
		FROM shares WHERE id = ?`, id).Scan(&s.ID, &s.Kind, &s.Owner, &s.Author, &s.Category, &s.TLP, &s.Audience.Kind, &s.Audience.Community, &s.CreatedAt, &s.Container)
	if err != nil {
		return s, db.NotFound(err, "load envelope")
	}
	return s, fillAudience(ctx, h, []*Share{&s}, false)
}

// Tally is what a reader may see of one container's contents.
type Tally struct {
	N    int   // how many
	Last int64 // the newest one's creation time (Unix µs); 0 if none
}

// Tally counts, for each of containers, the objects of kind k in it that
// the reader may see, and the newest one's time: one query over the
// containers' groups, each judged once with the reader's view.
func (r *Reader) Tally(ctx context.Context, h db.Handle, k *Kind, containers []string) (map[string]Tally, error) {
	r.trace.add(k)
	out := make(map[string]Tally, len(containers))
	if len(containers) == 0 || r.view == nil {
		return out, nil
	}
	args := make([]any, 0, len(containers)+1)
	args = append(args, k.name)
	for _, c := range containers {
		args = append(args, c)
	}
	rows, err := h.Query(ctx, `SELECT container_id, owner_org_id, author_id, tlp, audience, community_id, orgs, people, n, last_at FROM share_tally
		WHERE kind = ? AND container_id IN (`+db.Placeholders(len(containers))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read tally: %w", err)
	}
	type group struct {
		container string
		share     Share
		n, last   int64
	}
	groups, err := db.Collect(rows, "read tally", func(sc db.Scanner) (g group, err error) {
		var orgs, people string
		err = sc.Scan(&g.container, &g.share.Owner, &g.share.Author, &g.share.TLP, &g.share.Audience.Kind, &g.share.Audience.Community,
			&orgs, &people, &g.n, &g.last)
		g.share.Category = k.category
		if orgs != "" {
			g.share.Audience.Orgs = strings.Split(orgs, ",")
		}
		if people != "" {
			g.share.Audience.People = strings.Split(people, ",")
		}
		return g, err
	})
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		if !r.view.CanSee(g.share) {
			continue
		}
		t := out[g.container]
		t.N += int(g.n)
		t.Last = max(t.Last, g.last)
		out[g.container] = t
	}
	return out, nil
}
