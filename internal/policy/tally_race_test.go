package policy_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/policy"
)

// TestTallyRemoveRacesAReshare: on PostgreSQL (replicas write at once) a
// withdrawal in a group must not take as the group's newest an object that
// a concurrent reshare has just moved out of it. The withdrawal used to
// read the group's other objects before it locked the container's tally
// row, so it saw the reshared post still in the group and wrote its time
// back as the group's newest: another org's thread list then showed the
// time of a post narrowed away from it (attack review of the one-row
// tally).
func TestTallyRemoveRacesAReshare(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		if d.Dialect != db.Postgres {
			t.Skip("SQLite has one writer: no concurrent withdrawal")
		}
		d = raceDB(t)
		ctx := context.Background()
		tallyWorld(ctx, t, d)
		k := policy.NewKernel()
		notes := k.Register(policy.KindSpec{Name: "note", Table: "notes_test", Category: policy.Knowledge})
		u1 := policy.Actor{UserID: "u1", OrgID: "o1", Role: policy.Analyst, Scope: policy.ScopeWrite}
		u2 := policy.Actor{UserID: "u2", OrgID: "o2", Role: policy.Analyst, Scope: policy.ScopeWrite}
		toO2 := policy.Audience{Kind: policy.AudOrgs, Orgs: []string{"o2"}}
		in := func(at int64) policy.Share {
			s := notes.Envelope(u1, policy.Amber, toO2)
			s.Container, s.CreatedAt = "box", at
			return s
		}
		// One group seen by o2: kept (oldest), withdrawn, and the newest,
		// which is about to be narrowed to o1 alone.
		kept, withdrawn, narrowed := in(1000), in(2000), in(3000)
		if err := d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
			_, err := notes.DiscloseAll(ctx, tx, u1, []policy.Share{kept, withdrawn, narrowed})
			return err
		}); err != nil {
			t.Fatal(err)
		}

		reshared, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 2)
		go func() {
			done <- d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
				if _, err := notes.Reshare(ctx, tx, u1, narrowed.ID, policy.Amber, policy.Audience{Kind: policy.AudOrg}); err != nil {
					close(reshared)
					return err
				}
				close(reshared)
				<-release
				return nil
			})
		}()
		<-reshared
		go func() {
			done <- d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error { return notes.Withdraw(ctx, tx, u1, withdrawn.ID) })
		}()
		waitForLockWaiter(ctx, t, d, "the withdrawal never waited for the reshare")
		close(release)
		for range 2 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}

		if got, n, last := boxTally(ctx, t, d, notes, u2); got.N != n || got.Last != last {
			t.Errorf("o2's tally %+v, the predicate counts %d (newest %d): the time of the post narrowed away from o2 shows", got, n, last)
		}
	})
}

// TestTallyRowDeletedWhileWaiting: on PostgreSQL a writer that waits for
// a container's tally row while another writer empties it (its last
// object reshared or withdrawn: the row is deleted, and created again by
// the reshare's add) must still count its object. The wait used to
// return no row, and the reply failed ("tally share: no rows").
func TestTallyRowDeletedWhileWaiting(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		if d.Dialect != db.Postgres {
			t.Skip("SQLite has one writer")
		}
		d = raceDB(t)
		ctx := context.Background()
		tallyWorld(ctx, t, d)
		k := policy.NewKernel()
		notes := k.Register(policy.KindSpec{Name: "note", Table: "notes_test", Category: policy.Knowledge})
		u1 := policy.Actor{UserID: "u1", OrgID: "o1", Role: policy.Analyst, Scope: policy.ScopeWrite}
		in := func() policy.Share {
			s := notes.Envelope(u1, policy.Green, policy.Audience{Kind: policy.AudOrg})
			s.Container = "box"
			return s
		}
		first := in()
		if err := d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
			_, err := notes.DiscloseAll(ctx, tx, u1, []policy.Share{first})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		// The first writer does what changeTally does for a reshare of the
		// box's only object: lock the row, delete it (emptied), create it
		// again (the new group), commit.
		locked, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 2)
		go func() {
			done <- d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
				var text string
				if err := tx.QueryRow(ctx, `SELECT groups FROM share_tally WHERE container_id = 'box' AND kind = 'note' FOR UPDATE`).Scan(&text); err != nil {
					close(locked)
					return err
				}
				close(locked)
				<-release
				if _, err := tx.Exec(ctx, `DELETE FROM share_tally WHERE container_id = 'box' AND kind = 'note'`); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO share_tally (container_id, kind, groups) VALUES ('box', 'note', ?)`, text)
				return err
			})
		}()
		<-locked
		second := in()
		go func() {
			done <- d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
				_, err := notes.DiscloseAll(ctx, tx, u1, []policy.Share{second})
				return err
			})
		}()
		waitForLockWaiter(ctx, t, d, "the second writer never waited for the first")
		close(release)
		for range 2 {
			if err := <-done; err != nil {
				t.Fatalf("a writer failed: %v", err)
			}
		}
		n, err := policy.TallyTotal(ctx, d.R(), "box")
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("the tally counts %d objects in the box, want 2", n)
		}
	})
}

// raceDB is a PostgreSQL database for a race of two transactions: each
// holds a connection while the test watches the server's locks on a
// third, and a hub keeps two by default (one a core).
func raceDB(t *testing.T) *db.DB { return dbtest.OpenPostgresPool(t, 4) }

// waitForLockWaiter waits (up to 10 s) until a transaction of the test's
// PostgreSQL database waits for a lock; it fails the test with msg if
// none does.
func waitForLockWaiter(ctx context.Context, t *testing.T, d *db.DB, msg string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := d.R().QueryRow(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tallyWorld writes the tally tests' world: orgs o1 and o2, analysts u1
// and w1 of o1, u2 and w2 of o2, and an active bilateral agreement g
// between the orgs for knowledge up to RED.
func tallyWorld(ctx context.Context, t *testing.T, d *db.DB) {
	t.Helper()
	err := d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
		for _, q := range []string{
			`INSERT INTO orgs (id, name, name_key, kind, created_at) VALUES ('o1', 'O1', 'o1', 'company', 0), ('o2', 'O2', 'o2', 'company', 0)`,
			`INSERT INTO users (id, org_id, email, name, role, created_at) VALUES ('u1', 'o1', 'u1@x', 'U1', 'analyst', 0), ('w1', 'o1', 'w1@x', 'W1', 'analyst', 0),
				('u2', 'o2', 'u2@x', 'U2', 'analyst', 0), ('w2', 'o2', 'w2@x', 'W2', 'analyst', 0)`,
			`INSERT INTO agreements (id, kind, proposer_org, categories, max_tlp, retention_days, valid_from, status, created_at) VALUES ('g', 'bilateral', 'o1', 64, 4, 30, 0, 'active', 0)`,
			`INSERT INTO agreement_parties (agreement_id, org_id, accepted_at) VALUES ('g', 'o1', 0), ('g', 'o2', 0)`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// boxTally is the kernel's tally of container "box" for actor a, and what
// the rule book's reference predicate counts there: how many and the
// newest's time.
func boxTally(ctx context.Context, t *testing.T, d *db.DB, k *policy.Kind, a policy.Actor) (policy.Tally, int, int64) {
	t.Helper()
	r, err := policy.NewReader(ctx, d.R(), a, db.Now())
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Tally(ctx, d.R(), k, []string{"box"})
	if err != nil {
		t.Fatal(err)
	}
	pred, args := policy.ReferenceForTest("s", a, db.Now())
	var n int
	var last sql.NullInt64
	if err := d.R().QueryRow(ctx, `SELECT COUNT(*), MAX(s.created_at) FROM shares s WHERE s.container_id = 'box' AND `+pred, args...).Scan(&n, &last); err != nil {
		t.Fatal(err)
	}
	return got["box"], n, last.Int64
}
