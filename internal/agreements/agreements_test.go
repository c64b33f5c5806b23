package agreements_test

import (
	"context"
	"testing"

	"verbund/internal/agreements"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/orgs"
	"verbund/internal/policy"
)

// A proposal naming an unknown partner or circle is invalid input; when
// the database fails while looking them up, the answer is an internal
// error instead, never "unknown organisation" or "unknown trust circle".
func TestProposeTellsDatabaseErrorsFromUnknownReferences(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		b := events.New("test")
		o, svc := orgs.New(d, b), agreements.New(d, b)
		op := policy.System("test")
		a, err := o.CreateOrg(ctx, op, "A", "company", "")
		if err != nil {
			t.Fatal(err)
		}
		in := func(kind, ref string) agreements.Input {
			return agreements.Input{Kind: kind, Partner: ref, Community: ref, Categories: []string{"knowledge"}, MaxTLP: "AMBER", RetentionDays: 30, Purpose: "test"}
		}
		for _, c := range []struct {
			kind, table, code string
		}{
			{"bilateral", "orgs", "unknown_org"},
			{"charter", "communities", "unknown_community"},
		} {
			t.Run(c.kind, func(t *testing.T) {
				_, err := svc.Propose(ctx, op, a.ID, in(c.kind, "missing"))
				if e, ok := fault.As(err); !ok || e.Kind != fault.Invalid || e.Code != c.code {
					t.Fatalf("unknown reference: %v, want invalid %s", err, c.code)
				}
				// The lookup fails: the table is gone (renamed back afterwards).
				rename := func(from, to string) {
					t.Helper()
					if err := d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
						_, err := tx.Exec(ctx, `ALTER TABLE `+from+` RENAME TO `+to)
						return err
					}); err != nil {
						t.Fatal(err)
					}
				}
				rename(c.table, c.table+"_gone")
				defer rename(c.table+"_gone", c.table)
				_, err = svc.Propose(ctx, op, a.ID, in(c.kind, "missing"))
				if err == nil || fault.KindOf(err) != fault.Internal {
					t.Fatalf("failing lookup: %v, want an internal error", err)
				}
			})
		}
	})
}
