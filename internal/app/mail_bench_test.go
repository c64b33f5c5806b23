package app_test

import (
	"context"
	"fmt"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/notify"
	"verbund/internal/notify/notifytest"
)

// BenchmarkMailEnqueue is the cost e-mail adds to a write transaction
// (docs/PERFORMANCE.md "E-mail enqueue"): one event about an AMBER
// object of the circle, whose orgs have 1,000 more people; each chose the
// digest (one outbox row each, nothing sent while it runs) or turned the
// group off (their choice is read, no row written). The transaction
// commits, so the figure includes writing the rows.
func BenchmarkMailEnqueue(b *testing.B) {
	for _, e := range dbtest.Engines(b) {
		b.Run(string(e), func(b *testing.B) { benchMailEnqueue(b, e) })
	}
}

func benchMailEnqueue(b *testing.B, e db.Dialect) {
	srv := notifytest.StartMailServer(b)
	h := mailHub(b, e, srv)
	ctx := dbtest.Unaudited(context.Background())
	var rows []any
	for i := range 1000 {
		org := []string{"sme", "cloud"}[i%2]
		rows = append(rows, fmt.Sprintf("bench-%d", i), h.Orgs[org], fmt.Sprintf("bench-%d@%s.example", i, org), "Bench", "viewer", 0)
	}
	if err := h.App.DB.Tx(ctx, func(tx *db.Tx) error {
		return tx.InsertMany(ctx, "users (id, org_id, email, name, role, created_at)", 6, rows)
	}); err != nil {
		b.Fatal(err)
	}
	var th struct{ Thread struct{ ID string } }
	h.API(b, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/channels/"+h.CircleChannel+"/threads",
		map[string]any{"title": "Bench", "body": "b", "tlp": "AMBER", "audience": "community", "community_id": h.Circle}).JSON(b, &th)
	ev := notify.Event{Type: "intel.sighting", Share: envelope(b, h, "sme.analyst", th.Thread.ID), Data: map[string]any{"id": th.Thread.ID, "title": "Bench", "path": "/intel/objects/x"}}
	countRows := func(b *testing.B, h *apptest.Hub, table string) int {
		var n int
		if err := h.App.DB.R().QueryRow(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
	run := func(b *testing.B, want int) {
		before := countRows(b, h, "mail_outbox")
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := h.App.DB.Tx(ctx, func(tx *db.Tx) error { return h.App.Notify.Enqueue(ctx, tx, ev) }); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if got := countRows(b, h, "mail_outbox") - before; got%b.N != 0 || got/b.N < want {
			b.Fatalf("%d rows for %d events, want at least %d each", got, b.N, want)
		}
		b.ReportMetric(float64(countRows(b, h, "mail_outbox")-before)/float64(b.N), "mails/op")
	}
	b.Run("digest", func(b *testing.B) { run(b, 1000) })
	if err := h.App.DB.Tx(ctx, func(tx *db.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO mail_prefs (user_id, topic, mode, updated_at) SELECT id, 'intel', 'off', 0 FROM users WHERE id LIKE 'bench-%'`)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	if e == db.Postgres {
		// As autovacuum would soon after such a change: without current
		// statistics the planner takes mail_prefs for empty and scans it
		// once per person.
		if _, err := h.App.DB.R().Exec(ctx, `ANALYZE mail_prefs`); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("off", func(b *testing.B) { run(b, 0) })
}
