package policy

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
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
//
// A container's groups are one row, one line a group (tallyLine): a
// thread list reads one row per thread, not one per group. With a row per
// group, the fifty threads' six hundred rows cost 3 ms a list under the
// mixed load (column by column through the driver), the largest part of
// the hub's CPU. Writers lock the row while they change it (FOR UPDATE on
// PostgreSQL, where replicas write at once; SQLite has one writer).

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

// line is the group's key in its container's row: owner, author, level,
// audience, circle, orgs and people, tab separated (ids never hold tabs).
func (g tallyGroup) line() string {
	return g.owner + "\t" + g.author + "\t" + strconv.Itoa(int(g.tlp)) + "\t" + string(g.audience) + "\t" + g.community + "\t" + g.orgs + "\t" + g.people
}

// tallyRow is a container's groups: key line → count.
type tallyRow map[string]tallyCount

// parseTally reads a container's row: a line a group, its key (line) then
// tab, count, tab, newest.
func parseTally(text string) (tallyRow, error) {
	out := tallyRow{}
	for l := range strings.Lines(text) {
		key, c, err := splitTallyLine(strings.TrimSuffix(l, "\n"))
		if err != nil {
			return nil, err
		}
		out[key] = c
	}
	return out, nil
}

// splitTallyLine splits one line of a container's row into the group's
// key and its count.
func splitTallyLine(l string) (string, tallyCount, error) {
	i := strings.LastIndexByte(l, '\t')
	j := strings.LastIndexByte(l[:max(i, 0)], '\t')
	if i < 0 || j < 0 {
		return "", tallyCount{}, fmt.Errorf("tally line %q: no count", l)
	}
	n, err := strconv.ParseInt(l[j+1:i], 10, 64)
	if err != nil {
		return "", tallyCount{}, fmt.Errorf("tally line %q: %w", l, err)
	}
	last, err := strconv.ParseInt(l[i+1:], 10, 64)
	if err != nil {
		return "", tallyCount{}, fmt.Errorf("tally line %q: %w", l, err)
	}
	return l[:j], tallyCount{n: n, last: last}, nil
}

// text writes the row back, its lines sorted (the same groups always make
// the same text).
func (t tallyRow) text() string {
	keys := make([]string, 0, len(t))
	for k, c := range t {
		if c.n > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		c := t[k]
		b.WriteString(k + "\t" + strconv.FormatInt(c.n, 10) + "\t" + strconv.FormatInt(c.last, 10) + "\n")
	}
	return b.String()
}

// groupShare is the envelope a group's key line stands for, to be judged
// with a reader's view (category added by the caller).
func groupShare(key string) (Share, error) {
	f := strings.Split(key, "\t")
	if len(f) != 7 {
		return Share{}, fmt.Errorf("tally group %q: %d fields, want 7", key, len(f))
	}
	tlp, err := strconv.Atoi(f[2])
	if err != nil {
		return Share{}, fmt.Errorf("tally group %q: %w", key, err)
	}
	s := Share{Owner: f[0], Author: f[1], TLP: TLP(tlp), Audience: Audience{Kind: AudienceKind(f[3]), Community: f[4]}}
	if f[5] != "" {
		s.Audience.Orgs = strings.Split(f[5], ",")
	}
	if f[6] != "" {
		s.Audience.People = strings.Split(f[6], ",")
	}
	return s, nil
}

// containerKey names one container's row.
type containerKey struct{ container, kind string }

// changeTally adds change to the rows of the containers it names (each
// group's count added), locking each row while it is changed, containers
// in order so that two writers never wait on each other.
func changeTally(ctx context.Context, tx *db.Tx, change map[tallyGroup]tallyCount) error {
	byRow := map[containerKey][]tallyGroup{}
	for g := range change {
		k := containerKey{g.container, g.kind}
		byRow[k] = append(byRow[k], g)
	}
	keys := slices.SortedFunc(maps.Keys(byRow), func(a, b containerKey) int {
		return cmp.Or(cmp.Compare(a.container, b.container), cmp.Compare(a.kind, b.kind))
	})
	for _, k := range keys {
		row, err := lockTally(ctx, tx, k)
		if err != nil {
			return err
		}
		for _, g := range byRow[k] {
			c, line := change[g], g.line()
			old := row[line]
			row[line] = tallyCount{n: old.n + c.n, last: max(old.last, c.last)}
		}
		if err := storeTally(ctx, tx, k, row); err != nil {
			return err
		}
	}
	return nil
}

// storeTally writes container k's row back (deletes it when no group is
// left).
func storeTally(ctx context.Context, tx *db.Tx, k containerKey, row tallyRow) error {
	// The row is locked (lockTally): nothing the caller does next
	// depends on how this went, so it goes with the next statement.
	text := row.text()
	if text == "" {
		return tx.ExecLater(ctx, "tally share", `DELETE FROM share_tally WHERE container_id = ? AND kind = ?`, k.container, k.kind)
	}
	return tx.ExecLater(ctx, "tally share", `UPDATE share_tally SET groups = ? WHERE container_id = ? AND kind = ?`, text, k.container, k.kind)
}

// lockTally returns container k's row, created empty if it is missing,
// locked until the transaction ends: one statement, whose ON CONFLICT
// branch locks the row on PostgreSQL (as FOR UPDATE would; SQLite has one
// writer). A row that a concurrent writer deleted while this one waited
// for it (its last group gone) is inserted again by PostgreSQL itself.
func lockTally(ctx context.Context, tx *db.Tx, k containerKey) (tallyRow, error) {
	var text string
	err := tx.ScanRow(ctx, `INSERT INTO share_tally (container_id, kind, groups) VALUES (?, ?, '')
		ON CONFLICT (container_id, kind) DO UPDATE SET groups = share_tally.groups RETURNING groups`, []any{k.container, k.kind}, &text)
	if err != nil {
		return nil, fmt.Errorf("tally share: %w", db.Map(err))
	}
	return parseTally(text)
}

// add counts c more envelopes in the group.
func (g tallyGroup) add(ctx context.Context, tx *db.Tx, c tallyCount) error {
	return changeTally(ctx, tx, map[tallyGroup]tallyCount{g: c})
}

// remove takes envelope id (still in shares, as the group has it) out of
// the group: one less, and the newest of the others.
func (g tallyGroup) remove(ctx context.Context, tx *db.Tx, id string) error {
	// The row is locked before the group's other members are read: every
	// writer that moves an object into or out of the group takes this lock
	// after changing its envelope, so what is read below is the group as
	// it is once every earlier writer has committed. Read before the lock,
	// a concurrent reshare's object still counted as the group's newest,
	// and its time was written back for readers it no longer reaches.
	k := containerKey{g.container, g.kind}
	row, err := lockTally(ctx, tx, k)
	if err != nil {
		return err
	}
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
	line := g.line()
	row[line] = tallyCount{n: row[line].n - 1, last: last}
	return storeTally(ctx, tx, k, row)
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
	rows, err := h.Query(ctx, `SELECT container_id, groups FROM share_tally WHERE kind = ? AND container_id IN (`+db.Placeholders(len(containers))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read tally: %w", err)
	}
	type row struct{ container, groups string }
	list, err := db.Collect(rows, "read tally", func(sc db.Scanner) (r row, err error) {
		err = sc.Scan(&r.container, &r.groups)
		return r, err
	})
	if err != nil {
		return nil, err
	}
	// The same few groups recur in every container: each is judged once.
	judged := map[string]bool{}
	for _, c := range list {
		gs, err := k.ParseGroups(c.groups)
		if err != nil {
			return nil, err
		}
		if t := r.Count(k, gs, judged); t != (Tally{}) {
			out[c.container] = t
		}
	}
	return out, nil
}

// TallyTotal is how many objects the tally of container counts, of every
// kind and whoever may see them: for checks that the tally matches the
// contents (after a kill, say), never for a reader.
func TallyTotal(ctx context.Context, h db.Handle, container string) (int, error) {
	rows, err := h.Query(ctx, `SELECT groups FROM share_tally WHERE container_id = ?`, container)
	if err != nil {
		return 0, fmt.Errorf("read tally: %w", err)
	}
	texts, err := db.Collect(rows, "read tally", func(sc db.Scanner) (t string, err error) { err = sc.Scan(&t); return t, err })
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range texts {
		row, err := parseTally(t)
		if err != nil {
			return 0, err
		}
		for _, c := range row {
			n += int(c.n)
		}
	}
	return n, nil
}
