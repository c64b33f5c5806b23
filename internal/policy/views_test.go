package policy_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/policy"
)

// trailForTest is a hand-driven audit trail for Views: its head, the
// chained records' touches by place, and whether a record touching
// everything waits.
type trailForTest struct {
	head       int64
	touches    map[int64]string
	waitingAll bool
}

func (tr *trailForTest) source() policy.ViewSource {
	return policy.ViewSource{
		State: func(context.Context) (int64, bool, error) { return tr.head, tr.waitingAll, nil },
		LastAll: func(_ context.Context, from, to int64) (int64, error) {
			last := int64(0)
			for s := from + 1; s <= to; s++ {
				if tr.touches[s] == "*" {
					last = s
				}
			}
			return last, nil
		},
	}
}

// record chains a record touching touches.
func (tr *trailForTest) record(touches string) {
	tr.head++
	tr.touches[tr.head] = touches
}

// viewsWorld writes o1, o2, o3 (users u1 and w1 of o1): o1 and o2 agree
// from the start; o1 and o3 from 1,000 to 2,000; all three share a circle.
// It returns a function running statements in a transaction.
func viewsWorld(t *testing.T, d *db.DB) (exec func(qs ...string)) {
	t.Helper()
	ctx := context.Background()
	exec = func(qs ...string) {
		t.Helper()
		if err := d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
			for _, q := range qs {
				if _, err := tx.Exec(ctx, q); err != nil {
					return fmt.Errorf("%s: %w", q, err)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO orgs (id, name, name_key, kind, created_at) VALUES ('o1', 'O1', 'o1', 'company', 0), ('o2', 'O2', 'o2', 'company', 0), ('o3', 'O3', 'o3', 'company', 0)`,
		`INSERT INTO users (id, org_id, email, name, role, created_at) VALUES ('u1', 'o1', 'u1@x', 'U1', 'analyst', 0), ('w1', 'o1', 'w1@x', 'W1', 'analyst', 0)`,
		`INSERT INTO agreements (id, kind, proposer_org, categories, max_tlp, retention_days, valid_from, status, created_at) VALUES ('g', 'bilateral', 'o1', 64, 4, 30, 0, 'active', 0)`,
		`INSERT INTO agreements (id, kind, proposer_org, categories, max_tlp, retention_days, valid_from, valid_until, status, created_at) VALUES ('h', 'bilateral', 'o1', 64, 3, 30, 1000, 2000, 'active', 0)`,
		`INSERT INTO agreement_parties (agreement_id, org_id, accepted_at) VALUES ('g', 'o1', 0), ('g', 'o2', 0), ('h', 'o1', 0), ('h', 'o3', 0)`,
		`INSERT INTO communities (id, name, name_key, coordinator_org_id, created_at) VALUES ('c', 'C', 'c', 'o1', 0)`,
		`INSERT INTO community_members (community_id, org_id, status, requested_at) VALUES ('c', 'o1', 'active', 0), ('c', 'o2', 'active', 0), ('c', 'o3', 'active', 0)`)
	return exec
}

// TestViewsAgreeWithLoadView: a view taken from Views must be the one
// LoadView reads at that moment, whatever happened since it was kept: an
// agreement starting or ending by the clock (moments before, at and after
// each boundary, and going back in time), a change to agreements or
// circles recorded (chained, or still waiting to be chained), and a trail
// run far ahead. Each check fails if Views served a view past its
// boundaries, ignored a record touching everything, or used a view while
// such a record waits.
func TestViewsAgreeWithLoadView(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		exec := viewsWorld(t, d)
		tr := &trailForTest{head: 10, touches: map[int64]string{}}
		vs := policy.NewViews(tr.source())
		u1 := policy.Actor{UserID: "u1", OrgID: "o1", Role: policy.Analyst}
		w1 := policy.Actor{UserID: "w1", OrgID: "o1", Role: policy.Analyst}

		check := func(step string, a policy.Actor, now int64, wantHit bool) {
			t.Helper()
			hits := vs.Hits.Load()
			got, err := vs.Load(ctx, d.R(), a, now)
			if err != nil {
				t.Fatal(err)
			}
			want, err := policy.LoadView(ctx, d.R(), a, now)
			if err != nil {
				t.Fatal(err)
			}
			if !got.SameReach(want) || got.UserID != want.UserID || got.At != want.At || got.Expires != want.Expires {
				t.Fatalf("%s (%s at %d): kept view %+v, the database's %+v", step, a.UserID, now, got, want)
			}
			if hit := vs.Hits.Load() > hits; hit != wantHit {
				t.Errorf("%s (%s at %d): from memory %v, want %v", step, a.UserID, now, hit, wantHit)
			}
		}

		check("first", u1, 500, false)
		check("same span", u1, 999, true)
		check("colleague", w1, 10, true) // one view per org, the user set per request
		check("h starts", u1, 1000, false)
		check("within h", u1, 1999, true)
		check("back before h", u1, 999, false)
		check("h ends", u1, 2000, false)
		check("after h", u1, 5000, true)

		// A record touching only a thread changes no view.
		tr.record("thread:x,feed")
		check("unrelated record", u1, 5000, true)

		// o2 leaves the circle; until its record is chained it waits:
		// no view is used.
		exec(`UPDATE community_members SET status = 'left' WHERE org_id = 'o2'`)
		tr.waitingAll = true
		check("circle left, record waiting", u1, 5000, false)
		check("still waiting", u1, 5000, false)
		tr.waitingAll = false
		tr.record("*")
		check("circle left, record chained", u1, 5000, false)
		check("after the change", u1, 5000, true)

		// g is revoked by a record chained among others.
		exec(`UPDATE agreements SET status = 'revoked' WHERE id = 'g'`)
		tr.record("feed")
		tr.record("*")
		tr.record("thread:y")
		check("g revoked", u1, 5000, false)
		check("after g", u1, 5000, true)

		// The trail runs far ahead (a restart, a long pause): start afresh.
		exec(`UPDATE community_members SET status = 'active' WHERE org_id = 'o2'`)
		tr.head += 5000
		check("far behind", u1, 5000, false)
		check("caught up", u1, 5000, true)
	})
}

// TestWritersViewRemembered: within a write transaction a view is read
// again from memory (the same maps) only while it holds: a later moment
// before the next agreement boundary, and nothing written since. Every
// view must be the one the database gives at its moment.
func TestWritersViewRemembered(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		viewsWorld(t, d)
		u1 := policy.Actor{UserID: "u1", OrgID: "o1", Role: policy.Analyst}
		w1 := policy.Actor{UserID: "w1", OrgID: "o1", Role: policy.Analyst}
		err := d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
			var last *policy.View
			check := func(step string, h db.Handle, a policy.Actor, now int64, wantKept bool, partners int) {
				t.Helper()
				v, err := policy.LoadView(ctx, h, a, now)
				if err != nil {
					t.Fatal(err)
				}
				kept := last != nil && reflect.ValueOf(v.Partners).Pointer() == reflect.ValueOf(last.Partners).Pointer()
				if kept != wantKept {
					t.Errorf("%s (%s at %d): taken from memory %v, want %v", step, a.UserID, now, kept, wantKept)
				}
				if v.UserID != a.UserID || v.At != now || len(v.Partners) != partners {
					t.Errorf("%s (%s at %d): view of %s at %d with %d partners, want %d", step, a.UserID, now, v.UserID, v.At, len(v.Partners), partners)
				}
				last = v
			}
			check("first", tx.Handle, u1, 500, false, 1)
			if v := last; v.Starts != 1000 || v.Expires != 0 {
				t.Errorf("view at 500: starts %d, expires %d; want 1000 and 0", v.Starts, v.Expires)
			}
			check("later, a colleague", tx.Handle, w1, 999, true, 1)
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM orgs`).Scan(new(int)); err != nil {
				t.Fatal(err)
			}
			check("after a read", tx.Handle, u1, 999, true, 1)
			check("h starts", tx.Handle, u1, 1000, false, 2)
			check("within h", tx.Handle, u1, 1500, true, 2)
			check("back before h", tx.Handle, u1, 999, false, 1)
			check("outside the transaction", d.R(), u1, 999, false, 1)
			check("h again", tx.Handle, u1, 1999, false, 2)
			check("h ends", tx.Handle, u1, 2000, false, 1)
			if _, err := tx.Exec(ctx, `UPDATE agreements SET status = 'revoked' WHERE id = 'g'`); err != nil {
				t.Fatal(err)
			}
			check("g revoked in the transaction", tx.Handle, u1, 2000, false, 0)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
