package demo_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"verbund/internal/app"
	"verbund/internal/audit"
	"verbund/internal/auth"
	"verbund/internal/config"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/demo"
)

// The demo is seeded through the services only: on a database from dbtest
// every one of its writes must be audited (dbtest refuses any other), and
// the trail it leaves verifies.
func TestSeedIsAudited(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a, err := app.New(ctx, &config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LogLevel: "error"}, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		a.Accounts.Password = auth.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32} // cheap hashing keeps the test fast
		logins, err := demo.Seed(ctx, demo.Services{DB: d, Accounts: a.Accounts, Orgs: a.Orgs, Agreements: a.Agreements, Forum: a.Forum}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if seeded, err := demo.Seeded(ctx, d); err != nil || !seeded || len(logins) == 0 {
			t.Fatalf("seeded %v, %d logins, err %v", seeded, len(logins), err)
		}
		res, err := audit.Verify(ctx, d)
		if err != nil || !res.OK || res.Records == 0 {
			t.Fatalf("audit trail after the demo: %+v, %v", res, err)
		}
	})
}
