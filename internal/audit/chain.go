package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"verbund/internal/db"
)

// The sequencer. Writers put their records into audit_pending inside their
// own transactions; Chain takes the waiting records in the order they were
// written (id), gives each the next place in the chain (seq) and its hash
// over its predecessor's, moves it into audit_log and advances audit_head,
// all in one transaction under the head's row lock. It is the chain's only
// writer: on PostgreSQL the lock makes sequencers of several replicas take
// turns; each takes every record waiting, so a burst of writes is chained
// by a few transactions (group commit), and a writer's own transaction
// never holds the head. The chain is exactly as before: gap-free seq,
// SHA-256 over the predecessor, the head holding the last hash, so Verify
// finds a changed, removed, inserted, moved or cut-off record as before.
//
// The window: between a writer's commit and the Chain after it (the same
// request, a few milliseconds), a record is waiting, not yet chained;
// Verify reports such records as pending, and someone who can write the
// database could alter or delete one unseen in that moment. A crash in the
// window loses nothing: the record has committed with the change and is
// chained by the next Chain.

// chainBatch is how many waiting records one chaining transaction takes.
const chainBatch = 500

// Chain chains every waiting record. It returns how many it chained.
func Chain(ctx context.Context, d *db.DB) (int, error) {
	total := 0
	for {
		n := 0
		err := d.Tx(ctx, func(tx *db.Tx) error {
			tx.Bookkeeping() // the chain itself, not a change to audit
			var err error
			n, err = chainOnce(ctx, tx)
			return err
		})
		total += n
		if err != nil {
			return total, err
		}
		if n < chainBatch {
			return total, nil
		}
	}
}

func chainOnce(ctx context.Context, tx *db.Tx) (int, error) {
	var seq int64
	var prev string
	lock := ``
	if tx.Dialect() == db.Postgres {
		lock = ` FOR UPDATE`
	}
	// The head's lock and the waiting records in one round trip on
	// PostgreSQL: the records are read by a statement of their own, which
	// at read committed sees what was committed once the lock was held.
	if err := tx.ScanLater(ctx, "audit: read head", `SELECT seq, hash FROM audit_head WHERE id = 1`+lock, nil, &seq, &prev); err != nil {
		return 0, err
	}
	type waiting struct {
		id int64
		r  Record
	}
	var ws []waiting
	err := tx.ScanRows(ctx, `SELECT id, at, actor_user_id, actor_org_id, via, action, object_type, object_id, orgs, detail, ip, touches
		FROM audit_pending ORDER BY id LIMIT ?`, []any{chainBatch}, func(s db.Scanner) error {
		var w waiting
		var orgs, detail string
		if err := s.Scan(&w.id, &w.r.At, &w.r.ActorUserID, &w.r.ActorOrgID, &w.r.Via, &w.r.Action, &w.r.ObjectType, &w.r.ObjectID,
			&orgs, &detail, &w.r.IP, &w.r.Touches); err != nil {
			return err
		}
		if orgs != "" {
			w.r.Orgs = strings.Split(orgs, ",")
		}
		w.r.Detail = []byte(detail)
		ws = append(ws, w)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("audit: read waiting records: %w", err)
	}
	if len(ws) == 0 {
		return 0, nil
	}
	rs := make([]Record, len(ws))
	ids := make([]any, len(ws))
	for i, w := range ws {
		r := w.r
		seq++
		r.Seq, r.PrevHash = seq, prev
		nonce := make([]byte, 16)
		if _, err := rand.Read(nonce); err != nil {
			return 0, fmt.Errorf("audit: nonce: %w", err)
		}
		r.Nonce = hex.EncodeToString(nonce)
		r.Hash = hashOf(r)
		prev = r.Hash
		rs[i], ids[i] = r, w.id
	}
	if tx.Dialect() == db.Postgres && len(rs) <= chainTogether {
		if err := moveTogether(ctx, tx, rs, ids, seq, prev); err != nil {
			return 0, err
		}
		return len(rs), nil
	}
	for _, r := range rs {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_log (`+logColumns+`) VALUES (`+db.Placeholders(15)+`)`, logValues(r)...); err != nil {
			return 0, fmt.Errorf("audit: chain record: %w", err)
		}
		for _, o := range r.Orgs {
			if _, err := tx.Exec(ctx, `INSERT INTO audit_orgs (org_id, seq) VALUES (?, ?)`, o, r.Seq); err != nil {
				return 0, fmt.Errorf("audit: index org: %w", err)
			}
		}
	}
	// Exactly the records chained: on PostgreSQL a writer that took a
	// smaller id may commit while this runs, and its record must wait for
	// the next round, not vanish.
	if _, err := tx.Exec(ctx, `DELETE FROM audit_pending WHERE id IN (`+db.Placeholders(len(ids))+`)`, ids...); err != nil {
		return 0, fmt.Errorf("audit: take waiting records: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, seq, prev); err != nil {
		return 0, fmt.Errorf("audit: move head: %w", err)
	}
	return len(ws), nil
}

// chainTogether is how many records PostgreSQL chains in one statement
// (moveTogether); more go a statement a row (a text per count: few stay
// in the driver's statement cache).
const chainTogether = 8

const logColumns = `seq, at, actor_user_id, actor_org_id, via, action, object_type, object_id, orgs, detail, ip, touches, nonce, prev_hash, hash`

// logValues are r's values for logColumns.
func logValues(r Record) []any {
	return []any{r.Seq, r.At, r.ActorUserID, r.ActorOrgID, r.Via, r.Action, r.ObjectType, r.ObjectID,
		strings.Join(r.Orgs, ","), string(r.Detail), r.IP, r.Touches, r.Nonce, r.PrevHash, r.Hash}
}

// moveTogether writes chained records rs into audit_log and audit_orgs,
// takes them (ids) out of audit_pending and moves the head to seq and
// hash, in one statement on PostgreSQL: its parts run as one, and the
// foreign keys are checked at its end. Under an incident's writes each
// pass chains a record or two, and the round trips were most of its cost.
func moveTogether(ctx context.Context, tx *db.Tx, rs []Record, ids []any, seq int64, hash string) error {
	var b strings.Builder
	var args []any
	b.WriteString(`WITH l AS (INSERT INTO audit_log (` + logColumns + `) VALUES `)
	for i, r := range rs {
		if i > 0 {
			b.WriteString(`, `)
		}
		b.WriteString(`(` + db.Placeholders(15) + `)`)
		args = append(args, logValues(r)...)
	}
	b.WriteString(`)`)
	first := true
	for _, r := range rs {
		for _, o := range r.Orgs {
			if first {
				b.WriteString(`, o AS (INSERT INTO audit_orgs (org_id, seq) VALUES `)
				first = false
			} else {
				b.WriteString(`, `)
			}
			b.WriteString(`(?, ?)`)
			args = append(args, o, r.Seq)
		}
	}
	if !first {
		b.WriteString(`)`)
	}
	b.WriteString(`, d AS (DELETE FROM audit_pending WHERE id IN (` + db.Placeholders(len(ids)) + `))`)
	args = append(args, ids...)
	b.WriteString(` UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`)
	args = append(args, seq, hash)
	// Sent with the commit (one round trip for both).
	return tx.ExecLater(ctx, "audit: chain records", b.String(), args...)
}

// Sequence chains waiting records every interval until ctx ends: records
// whose writer's Chain failed (a database hiccup) or that a crash left
// waiting do not wait for the next write.
func Sequence(ctx context.Context, d *db.DB, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if d.Dialect == db.Postgres {
			tidy(ctx, d, log)
		}
		var waiting bool
		if err := d.R().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM audit_pending)`).Scan(&waiting); err != nil || !waiting {
			continue
		}
		if _, err := Chain(ctx, d); err != nil && ctx.Err() == nil {
			log.Warn("audit: chaining waiting records failed; retrying", "err", err)
		}
	}
}

// tidy vacuums the sequencer's two tables on PostgreSQL. Every write
// inserts a waiting record and the chaining deletes it; every pass
// rewrites the head. Every reader's state (ReadState) reads all of
// audit_pending, whose dead rows and pages pile up until a vacuum: by
// 22,000 dead rows over 80 pages in the 60 s before autovacuum came (its
// default pause is a minute), and each state read scanned them. A vacuum
// of these small tables takes a millisecond or two; SKIP_LOCKED: when
// another replica (or autovacuum) is at it, this one is not needed.
func tidy(ctx context.Context, d *db.DB, log *slog.Logger) {
	// TRUNCATE false: cutting empty pages off the end would take a lock
	// that stops every writer and state read for a moment; the space is
	// used again anyway.
	if _, err := d.R().Exec(ctx, `VACUUM (SKIP_LOCKED, TRUNCATE false) audit_pending, audit_head`); err != nil && ctx.Err() == nil {
		log.Debug("audit: vacuum of the waiting records failed", "err", err)
	}
}

// State is what a cache of readers' pages needs to know about changes: the
// chain's head (every change chained so far) and what the changes still
// waiting touch. Both are read in one statement, so in one snapshot: a
// change is either chained or waiting, never neither.
type State struct {
	Head    int64
	Waiting []string // the touches of waiting records ("*": everything)
	// WaitingChanges are the waiting records as changes (no place yet),
	// in the order of Waiting: a cache that reads a changed object again
	// can read around a waiting record instead of the whole page.
	WaitingChanges []Change
}

// ReadState reads the state.
func ReadState(ctx context.Context, h db.Handle) (State, error) {
	rows, err := h.Query(ctx, `SELECT seq, '', '', '', '' FROM audit_head WHERE id = 1
		UNION ALL SELECT -1, touches, action, object_type, object_id FROM audit_pending`)
	if err != nil {
		return State{}, fmt.Errorf("audit: read state: %w", err)
	}
	var st State
	type row struct {
		seq int64
		c   Change
	}
	rs, err := db.Collect(rows, "audit: read state", func(s db.Scanner) (r row, err error) {
		err = s.Scan(&r.seq, &r.c.Touches, &r.c.Action, &r.c.ObjectType, &r.c.ObjectID)
		return r, err
	})
	if err != nil {
		return st, err
	}
	for _, r := range rs {
		if r.seq >= 0 {
			st.Head = r.seq
		} else {
			st.Waiting = append(st.Waiting, r.c.Touches)
			st.WaitingChanges = append(st.WaitingChanges, r.c)
		}
	}
	return st, nil
}

// Change is one chained record as caches see it.
type Change struct {
	Seq     int64
	Touches string // comma list of tags; "*": everything
	// What changed: a cache that patches what it holds (the forum's
	// thread cache re-reads one post) instead of dropping it needs it.
	Action, ObjectType, ObjectID string
}

// Changes lists the chained records after seq from up to seq to, oldest
// first.
func Changes(ctx context.Context, h db.Handle, from, to int64) ([]Change, error) {
	rows, err := h.Query(ctx, `SELECT seq, touches, action, object_type, object_id FROM audit_log WHERE seq > ? AND seq <= ? ORDER BY seq`, from, to)
	if err != nil {
		return nil, fmt.Errorf("audit: read changes: %w", err)
	}
	return db.Collect(rows, "audit: read changes", func(s db.Scanner) (c Change, err error) {
		err = s.Scan(&c.Seq, &c.Touches, &c.Action, &c.ObjectType, &c.ObjectID)
		return c, err
	})
}
