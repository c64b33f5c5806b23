// Package audit keeps verbund's tamper-evident audit trail: every state
// change, login, failed login, write by token, export and agreement change
// is one record, written in the same transaction as the change, chained to
// the one before by a SHA-256 hash. Verify walks the chain and names the
// first record that was changed, removed, inserted or moved.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"verbund/internal/db"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// Entry is what a caller records.
type Entry struct {
	Action     string   // e.g. "forum.post.create", "auth.login.failed"
	ObjectType string   // e.g. "post"
	ObjectID   string   //
	Orgs       []string // orgs whose admins and auditors may read the record (the actor's org is added)
	Detail     any      // JSON-encodable; never secrets
	// Touches names what the change affects, for caches of what readers
	// were shown (internal/readcache): tags like "thread:<id>", "feed".
	// nil means everything (the safe default: agreements, memberships,
	// people); Nothing means no page a reader was shown (a sign-in, a
	// token).
	Touches []string
}

// Nothing is Entry.Touches of a change no cached page depends on.
func Nothing() []string { return []string{} }

// Record is a stored audit record.
type Record struct {
	Seq         int64           `json:"seq"`
	At          int64           `json:"at"`
	ActorUserID string          `json:"actor_user_id,omitempty"`
	ActorOrgID  string          `json:"actor_org_id,omitempty"`
	Via         string          `json:"via"`
	Action      string          `json:"action"`
	ObjectType  string          `json:"object_type,omitempty"`
	ObjectID    string          `json:"object_id,omitempty"`
	Orgs        []string        `json:"orgs,omitempty"`
	Detail      json.RawMessage `json:"detail"`
	IP          string          `json:"ip,omitempty"`
	Touches     string          `json:"touches,omitempty"` // "*": everything
	Nonce       string          `json:"-"`                 // secret, part of the hash (migration 0007)
	PrevHash    string          `json:"prev_hash"`
	Hash        string          `json:"hash"`
}

// touchesText stores Entry.Touches: "*" for everything, else the tags.
func touchesText(t []string) string {
	if t == nil {
		return "*"
	}
	return strings.Join(uniqueSorted(t), ",")
}

// Write records a change inside tx, the change's own transaction. On
// PostgreSQL the record waits in audit_pending and is chained (given its
// place and hash) by Chain right after the commit, so writers of several
// replicas never wait on one another for the chain; a crash between commit
// and chaining leaves it waiting, and the next Chain (the next write, the
// background sequencer, the start of the hub, `audit verify`) chains it.
// On SQLite, whose one writer takes turns anyway, it is chained within tx.
// Either way a record is never lost: it commits or rolls back with the
// change.
func Write(ctx context.Context, tx *db.Tx, a policy.Actor, e Entry) error {
	detail := []byte("{}")
	if e.Detail != nil {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return fmt.Errorf("audit: encode detail: %w", err)
		}
		detail = b
	}
	orgs := e.Orgs
	if a.OrgID != "" {
		orgs = append(slices.Clone(orgs), a.OrgID)
	}
	via := a.Via
	if via == "" {
		via = "system"
	}
	// Sent with the transaction's next statement or its commit (on
	// PostgreSQL: db.Tx.ExecLater); a failure fails the transaction.
	if err := tx.ExecLater(ctx, "audit: insert", `INSERT INTO audit_pending (at, actor_user_id, actor_org_id, via, action, object_type, object_id, orgs, detail, ip, touches)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		db.Now(), a.UserID, a.OrgID, via, e.Action, e.ObjectType, e.ObjectID, strings.Join(uniqueSorted(orgs), ","),
		string(detail), a.IP, touchesText(e.Touches)); err != nil {
		return err
	}
	if !tx.MarkAudited() || tx.DB().HoldChain.Load() {
		return nil // chained once per transaction; tests may hold it
	}
	if tx.Dialect() == db.SQLite {
		// SQLite has one writer: chaining in the writer's own transaction,
		// once its work is done, makes no writer wait for another, and
		// no record ever waits (the caches that follow the trail would
		// read around every waiting record: under an incident's writes,
		// one was waiting most of the time).
		tx.BeforeCommitOnce("audit.chain", func() error {
			for {
				// Records a crash left waiting go with it, a batch at a time.
				n, err := chainOnce(ctx, tx)
				if err != nil || n < chainBatch {
					return err
				}
			}
		})
		return nil
	}
	// Chain as soon as the change has committed, before the request
	// answers (a cached page is then current at the next request);
	// with a context of its own, so a client that hangs up does not
	// leave the record waiting for the background sequencer.
	d := tx.DB()
	tx.AfterCommit(func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		// One pass for every write that committed before it: a burst
		// of writes takes two passes, not one each (and on PostgreSQL
		// not one lock wait each on the head's row).
		_ = d.Chaining.Do(cctx, func(ctx context.Context) error {
			_, err := Chain(ctx, d)
			return err // a failure leaves records waiting: the sequencer retries
		})
	})
	return nil
}

// shownTo is the record as org's admins and auditors see it: a record of
// a change by another org (an agreement it proposed, say) keeps who acted
// and what, but not that org's network address or which of its tokens was
// used.
func (r Record) shownTo(org string) Record {
	if r.ActorOrgID != org {
		r.IP = ""
		if strings.HasPrefix(r.Via, "token:") {
			r.Via = "api"
		}
	}
	return r
}

// hashOf chains a record to its predecessor. The fields are encoded as a
// JSON array, which is unambiguous (no field can run into the next). What
// a change touches is part of the record when it says more than
// "everything" (records from before the field hash as they did).
func hashOf(r Record) string {
	fields := []any{r.Seq, r.At, r.ActorUserID, r.ActorOrgID, r.Via, r.Action,
		r.ObjectType, r.ObjectID, strings.Join(r.Orgs, ","), string(r.Detail), r.IP}
	if r.Touches != "*" && r.Touches != "" {
		fields = append(fields, r.Touches)
	}
	if r.Nonce != "" {
		fields = append(fields, r.Nonce)
	}
	b, _ := json.Marshal(fields)
	h := sha256.New()
	h.Write([]byte(r.PrevHash))
	h.Write([]byte{'\n'})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// Result is the outcome of Verify.
type Result struct {
	Records  int64  `json:"records"`
	Pending  int64  `json:"pending"` // written but not yet chained (see chain.go)
	OK       bool   `json:"ok"`
	FirstBad int64  `json:"first_bad,omitempty"` // seq of the first bad record (or where one is missing)
	Reason   string `json:"reason,omitempty"`
	Head     string `json:"head"`
}

// Verify walks the whole chain in order, up to the head it reads first:
// records chained while it walks (a hub at work) are not its concern, and
// a record beyond the head that the head never counted is found after the
// walk.
func Verify(ctx context.Context, d *db.DB) (Result, error) {
	var res Result
	var headSeq int64
	if err := d.R().QueryRow(ctx, `SELECT seq, hash, (SELECT COUNT(*) FROM audit_pending) FROM audit_head WHERE id = 1`).Scan(&headSeq, &res.Head, &res.Pending); err != nil {
		return res, fmt.Errorf("audit: read head: %w", db.Map(err))
	}
	rows, err := d.R().Query(ctx, `SELECT seq, at, actor_user_id, actor_org_id, via, action, object_type, object_id, orgs, detail, ip, touches, nonce, prev_hash, hash
		FROM audit_log WHERE seq <= ? ORDER BY seq`, headSeq)
	if err != nil {
		return res, fmt.Errorf("audit: read log: %w", err)
	}
	defer rows.Close()
	prev := "genesis"
	var want int64 = 1
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return res, err
		}
		res.Records++
		bad := func(reason string) (Result, error) {
			res.FirstBad, res.Reason = r.Seq, reason
			return res, nil
		}
		switch {
		case r.Seq > want:
			res.FirstBad, res.Reason = want, fmt.Sprintf("record %d is missing", want)
			return res, nil
		case r.Seq < want:
			return bad("record number repeats or is out of order")
		case r.PrevHash != prev:
			return bad("record does not follow its predecessor (inserted, removed or reordered)")
		case hashOf(r) != r.Hash:
			return bad("record content was changed")
		}
		prev = r.Hash
		want++
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("audit: read log: %w", db.Map(err))
	}
	switch {
	case want-1 < headSeq:
		res.FirstBad, res.Reason = want, fmt.Sprintf("the trail ends at record %d but %d were written: records were removed from the end", want-1, headSeq)
		return res, nil
	case prev != res.Head:
		res.FirstBad, res.Reason = headSeq, "the last record written was changed"
		return res, nil
	}
	// Records beyond the head: chained since it was read (the head has
	// moved on to them since) or added behind the chain's back. The
	// largest place is read before the head again, so a record chained in
	// between is counted by the head.
	var last, now int64
	if err := d.R().QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_log`).Scan(&last); err != nil {
		return res, fmt.Errorf("audit: read log: %w", db.Map(err))
	}
	if err := d.R().QueryRow(ctx, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&now); err != nil {
		return res, fmt.Errorf("audit: read head: %w", db.Map(err))
	}
	if last > now {
		res.FirstBad, res.Reason = now+1, "records were added after the last one written"
		return res, nil
	}
	res.OK = true
	return res, nil
}

func scan(s db.Scanner) (Record, error) {
	var r Record
	var orgs, detail string
	if err := s.Scan(&r.Seq, &r.At, &r.ActorUserID, &r.ActorOrgID, &r.Via, &r.Action, &r.ObjectType, &r.ObjectID,
		&orgs, &detail, &r.IP, &r.Touches, &r.Nonce, &r.PrevHash, &r.Hash); err != nil {
		return r, fmt.Errorf("audit: scan: %w", err)
	}
	if orgs != "" {
		r.Orgs = strings.Split(orgs, ",")
	}
	r.Detail = json.RawMessage(detail)
	return r, nil
}

// Filter selects records for an org's audit view.
type Filter struct {
	OrgID  string // required: only records that concern this org
	Before int64  // cursor: records with seq < Before (0: newest)
	Limit  int    // 1 to MaxList (else 50)
	// Action matches actions that contain it anywhere, or are one of
	// Actions (those whose readable name matched), optional.
	Action  string
	Actions []string
	// From and Until bound the time (Unix µs, Until exclusive), optional.
	From, Until int64
}

// MaxList is the most records List returns at once: a page of 500 and one
// more, which tells its caller that a next page exists.
const MaxList = 501

// List returns the org's records, newest first.
func List(ctx context.Context, h db.Handle, f Filter) ([]Record, error) {
	if f.Limit <= 0 || f.Limit > MaxList {
		f.Limit = 50
	}
	q := `SELECT l.seq, l.at, l.actor_user_id, l.actor_org_id, l.via, l.action, l.object_type, l.object_id, l.orgs, l.detail, l.ip, l.touches, l.nonce, l.prev_hash, l.hash
		FROM audit_orgs o JOIN audit_log l ON l.seq = o.seq WHERE o.org_id = ?`
	args := []any{f.OrgID}
	if f.Before > 0 {
		q += ` AND o.seq < ?`
		args = append(args, f.Before)
	}
	var match []string
	if f.Action != "" {
		match = append(match, `l.action LIKE ?`)
		args = append(args, "%"+escapeLike(f.Action)+"%")
	}
	if len(f.Actions) > 0 {
		match = append(match, `l.action IN (`+db.Placeholders(len(f.Actions))+`)`)
		for _, a := range f.Actions {
			args = append(args, a)
		}
	}
	if len(match) > 0 {
		q += ` AND (` + strings.Join(match, ` OR `) + `)`
	}
	if f.From > 0 {
		q += ` AND l.at >= ?`
		args = append(args, f.From)
	}
	if f.Until > 0 {
		q += ` AND l.at < ?`
		args = append(args, f.Until)
	}
	q += ` ORDER BY o.seq DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := h.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	recs, err := db.Collect(rows, "audit: list", scan)
	for i := range recs {
		recs[i] = recs[i].shownTo(f.OrgID)
	}
	return recs, err
}

// Each calls fn for every record of the org, oldest first (for export).
// It reads a page of records, gives the connection back, then hands the
// page to fn: an export to a client that reads slowly holds no database
// connection while it waits. Before every page after the first it asks
// web.Recheck, and stops with its error (the reader's credential or role
// has ended while it ran).
func Each(ctx context.Context, h db.Handle, orgID string, fn func(Record) error) error {
	const page = 500
	var after int64 = -1
	for {
		if after >= 0 {
			if err := web.Recheck(ctx); err != nil {
				return err
			}
		}
		rows, err := h.Query(ctx, `SELECT l.seq, l.at, l.actor_user_id, l.actor_org_id, l.via, l.action, l.object_type, l.object_id, l.orgs, l.detail, l.ip, l.touches, l.nonce, l.prev_hash, l.hash
		FROM audit_orgs o JOIN audit_log l ON l.seq = o.seq WHERE o.org_id = ? AND o.seq > ? ORDER BY o.seq LIMIT ?`, orgID, after, page)
		if err != nil {
			return fmt.Errorf("audit: export: %w", err)
		}
		recs, err := db.Collect(rows, "audit: export", scan)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := fn(r.shownTo(orgID)); err != nil {
				return err
			}
		}
		if len(recs) < page {
			return nil
		}
		after = recs[len(recs)-1].Seq
	}
}

func escapeLike(s string) string {
	return strings.NewReplacer("%", "", "_", "").Replace(s)
}

// uniqueSorted returns the non-empty values of in, sorted, each once.
func uniqueSorted(in []string) []string {
	out := slices.DeleteFunc(slices.Clone(in), func(s string) bool { return s == "" })
	slices.Sort(out)
	return slices.Compact(out)
}

// Head returns the sequence number of the newest audit record. Every state
// change is audited in its own transaction, so the head is also the
// database's change counter: internal/readcache files responses under it.
func Head(ctx context.Context, h db.Handle) (int64, error) {
	var seq int64
	if err := h.QueryRow(ctx, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read audit head: %w", db.Map(err))
	}
	return seq, nil
}
