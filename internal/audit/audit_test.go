package audit_test

import (
	"context"
	"fmt"
	"testing"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/policy"
)

func seed(t *testing.T, d *db.DB, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		err := d.Tx(ctx, func(tx *db.Tx) error {
			return audit.Write(ctx, tx, policy.Actor{UserID: "u1", OrgID: "o1", Via: "api"},
				audit.Entry{Action: "test.write", ObjectType: "thing", ObjectID: fmt.Sprint(i), Orgs: []string{"o2"}, Detail: map[string]int{"i": i}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func exec(t *testing.T, d *db.DB, q string, args ...any) {
	t.Helper()
	ctx := dbtest.Unaudited(context.Background()) // tampering, as an intruder with database access would
	if err := d.Tx(ctx, func(tx *db.Tx) error { _, err := tx.Exec(ctx, q, args...); return err }); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	cases := []struct {
		name     string
		tamper   func(t *testing.T, d *db.DB)
		firstBad int64
	}{
		{"untouched", func(*testing.T, *db.DB) {}, 0},
		{"change", func(t *testing.T, d *db.DB) { exec(t, d, `UPDATE audit_log SET action = 'forged' WHERE seq = 3`) }, 3},
		{"change detail", func(t *testing.T, d *db.DB) { exec(t, d, `UPDATE audit_log SET detail = '{"i":99}' WHERE seq = 4`) }, 4},
		{"delete", func(t *testing.T, d *db.DB) { exec(t, d, `DELETE FROM audit_log WHERE seq = 2`) }, 2},
		{"delete last", func(t *testing.T, d *db.DB) { exec(t, d, `DELETE FROM audit_log WHERE seq = 5`) }, 5},
		{"insert", func(t *testing.T, d *db.DB) {
			exec(t, d, `UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 3`)
			exec(t, d, `UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000`)
			exec(t, d, `INSERT INTO audit_log (seq, at, via, action, prev_hash, hash) SELECT 3, at, via, 'forged', hash, hash FROM audit_log WHERE seq = 2`)
		}, 3},
		{"append", func(t *testing.T, d *db.DB) {
			exec(t, d, `INSERT INTO audit_log (seq, at, via, action, prev_hash, hash) SELECT 6, at, via, 'forged', hash, 'x' FROM audit_log WHERE seq = 5`)
		}, 6},
		{"reorder", func(t *testing.T, d *db.DB) {
			exec(t, d, `UPDATE audit_log SET seq = 100 WHERE seq = 2`)
			exec(t, d, `UPDATE audit_log SET seq = 2 WHERE seq = 3`)
			exec(t, d, `UPDATE audit_log SET seq = 3 WHERE seq = 100`)
		}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				seed(t, d, 5)
				c.tamper(t, d)
				res, err := audit.Verify(context.Background(), d)
				if err != nil {
					t.Fatal(err)
				}
				if c.firstBad == 0 {
					if !res.OK || res.Records != 5 {
						t.Fatalf("clean chain reported bad: %+v", res)
					}
					return
				}
				if res.OK || res.FirstBad != c.firstBad {
					t.Fatalf("want first bad %d, got %+v", c.firstBad, res)
				}
			})
		})
	}
}

func TestListOnlyConcernedOrgs(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		seed(t, d, 3)
		ctx := context.Background()
		for org, want := range map[string]int{"o1": 3, "o2": 3, "o3": 0} {
			recs, err := audit.List(ctx, d.R(), audit.Filter{OrgID: org})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != want {
				t.Fatalf("org %s sees %d records, want %d", org, len(recs), want)
			}
		}
	})
}

// TestEachReadsEveryPage: the export reads the org's records 500 at a
// time; 1,203 records come out each once, oldest first.
func TestEachReadsEveryPage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		seed(t, d, 1203)
		var seqs []int64
		err := audit.Each(context.Background(), d.R(), "o2", func(r audit.Record) error {
			seqs = append(seqs, r.Seq)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] <= seqs[i-1] {
				t.Fatalf("record %d after %d", seqs[i], seqs[i-1])
			}
		}
		if len(seqs) != 1203 {
			t.Errorf("the export has %d records, want 1203", len(seqs))
		}
	})
}
