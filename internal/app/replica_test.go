package app_test

import (
	"context"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
)

// Two replicas on one PostgreSQL database: a post made on replica A
// arrives on an SSE stream opened on replica B, and policy still filters.
func TestTwoReplicasShareLiveEvents(t *testing.T) {
	if !hasEngine(t, db.Postgres) {
		t.Skip("needs PostgreSQL (VERBUND_TEST_POSTGRES)")
	}
	a := apptest.World(t, db.Postgres)
	b := a.Replica(t)
	certOnB := openStream(t, b.URL, b.Users["cert.analyst"].ReadToken, "")
	outsiderOnB := openStream(t, b.URL, b.Users["outsider.analyst"].ReadToken, "")
	onA := newThread(t, a, "sme.analyst", a.CircleChannel, map[string]any{"title": "from A", "body": "b", "tlp": "AMBER", "audience": "community"})
	certOnB.waitFor(t, onA.thread, 5*time.Second)
	outsiderOnB.never(t, onA.thread, 300*time.Millisecond)

	// A policy change on A (the cert's read token revoked) ends B's stream.
	tokens, err := a.App.Accounts.FindTokens(context.Background(), a.Users["cert.analyst"].Actor)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tokens {
		if tk.Scope == "read" {
			if err := a.App.Accounts.RevokeToken(context.Background(), a.Users["cert.analyst"].Actor, tk.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !certOnB.revoked(t, 5*time.Second) {
		t.Errorf("stream on replica B outlived a token revoked on replica A")
	}
}

func hasEngine(t *testing.T, e db.Dialect) bool {
	for _, x := range dbtest.Engines(t) {
		if x == e {
			return true
		}
	}
	return false
}
