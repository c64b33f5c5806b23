package bench

import (
	"context"
	"fmt"

	"verbund/internal/auth"
	"verbund/internal/db"
	"verbund/internal/policy"
)

// SeedReaders bulk-inserts n viewer accounts, each with its own read
// token, straight into the tables in one transaction (no audit records:
// test data, like SeedPosts). The first unauthorised share of them belong
// to nocontract and outsider in turn (they may not see the circle's
// TLP:AMBER posts), the others to sme, cloud and cert in turn. Creating
// them through the accounts service costs two audited transactions each.
func SeedReaders(ctx context.Context, d *db.DB, w *World, n int, unauthorised float64) ([]*User, error) {
	nUnauth := int(float64(n)*unauthorised + 0.5)
	orgs := make([]string, n)
	for i := range orgs {
		orgs[i] = []string{"sme", "cloud", "cert"}[i%3]
		if i < nUnauth {
			orgs[i] = []string{"nocontract", "outsider"}[i%2]
		}
	}
	return seedUsers(ctx, d, w, orgs, policy.Viewer, policy.ScopeRead, "distinct")
}

// SeedAnalysts bulk-inserts n analyst accounts of sme, cloud and cert in
// turn (the orgs whose posts to the circle the charter covers), each with
// its own write token, like SeedReaders. A write token also reads, so each
// account can be one API client that reads and writes.
func SeedAnalysts(ctx context.Context, d *db.DB, w *World, n int) ([]*User, error) {
	orgs := make([]string, n)
	for i := range orgs {
		orgs[i] = []string{"sme", "cloud", "cert"}[i%3]
	}
	return seedUsers(ctx, d, w, orgs, policy.Analyst, policy.ScopeWrite, "writer")
}

// seedUsers inserts one account of role per entry of orgs, each with one
// token of scope, named <org>.<name><i>.
func seedUsers(ctx context.Context, d *db.DB, w *World, orgs []string, role policy.Role, scope policy.Scope, name string) ([]*User, error) {
	users := make([]*User, len(orgs))
	now := db.Now()
	var urows, trows []any
	for i, org := range orgs {
		secret, err := auth.NewToken()
		if err != nil {
			return nil, err
		}
		key := fmt.Sprintf("%s.%s%d", org, name, i)
		u := &User{Key: key, Org: org, ID: db.NewID(), OrgID: w.Orgs[org]}
		if scope == policy.ScopeRead {
			u.ReadToken = secret
		} else {
			u.WriteToken = secret
		}
		u.Actor = policy.Actor{UserID: u.ID, OrgID: u.OrgID, Role: role, Scope: scope, Via: "bench", Name: key}
		users[i] = u
		urows = append(urows, u.ID, u.OrgID, key+"@"+org+".example", key, string(role), now)
		trows = append(trows, db.NewID(), u.ID, u.OrgID, string(scope)+" token", auth.HashSecret(secret), secret[:10], string(scope), now)
	}
	err := d.Tx(ctx, func(tx *db.Tx) error {
		for _, x := range []struct {
			table string
			cols  int
			rows  []any
		}{
			{"users (id, org_id, email, name, role, created_at)", 6, urows},
			{"tokens (id, user_id, org_id, name, hash, prefix, scope, created_at)", 8, trows},
		} {
			if err := tx.InsertMany(ctx, x.table, x.cols, x.rows); err != nil {
				return err
			}
		}
		return seedAudit(ctx, tx, "users", len(users))
	})
	if err != nil {
		return nil, err
	}
	return users, nil
}
