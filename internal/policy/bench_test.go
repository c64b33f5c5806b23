package policy_test

import (
	"context"
	"testing"

	"verbund/internal/bench"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/policy"
)

// BenchmarkVisiblePredicate measures the SQL visibility predicate alone on
// 100,000 seeded posts (SQLite): the newest 50 posts sme.analyst may see,
// scanning newest first, as the feed does. ns/row is per share examined.
// BenchmarkCanSee is its in-memory twin, run per subscriber per live event.
func BenchmarkVisiblePredicate(b *testing.B) {
	ctx := context.Background()
	d := dbtest.Open(b, db.SQLite)
	w, err := bench.BuildWorld(ctx, d, 0)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := bench.SeedPosts(ctx, d, w.Population(), 100000, 10); err != nil {
		b.Fatal(err)
	}
	for _, reader := range []string{"sme.analyst", "cloud.analyst", "outsider.analyst"} {
		a := w.Users[reader].Actor
		b.Run(reader, func(b *testing.B) {
			v, err := policy.LoadView(ctx, d.R(), a, db.Now())
			if err != nil {
				b.Fatal(err)
			}
			pred, args := policy.VisibleForTest("s", v, policy.Knowledge)
			q := `SELECT s.id FROM shares s WHERE s.kind = 'post' AND ` + pred + ` ORDER BY s.id DESC LIMIT 50`
			// Rows examined: every post share from the newest down to the
			// 50th visible one (all of them when fewer are visible).
			var last string
			rows, err := d.R().Query(ctx, q, args...)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
				_ = rows.Scan(&last)
			}
			rows.Close()
			var examined int
			if err := d.R().QueryRow(ctx, `SELECT COUNT(*) FROM shares WHERE kind = 'post' AND id >= ?`, last).Scan(&examined); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				rows, err := d.R().Query(ctx, q, args...)
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
				}
				if err := rows.Err(); err != nil {
					b.Fatal(err)
				}
				rows.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(max(1, examined)), "ns/row")
		})
	}
}

func BenchmarkCanSee(b *testing.B) {
	ctx := context.Background()
	d := dbtest.Open(b, db.SQLite)
	w, err := bench.BuildWorld(ctx, d, 0)
	if err != nil {
		b.Fatal(err)
	}
	v, err := policy.LoadView(ctx, d.R(), w.Users["cloud.analyst"].Actor, db.Now())
	if err != nil {
		b.Fatal(err)
	}
	shares := []policy.Share{
		{Owner: w.Orgs["sme"], Category: policy.Knowledge, TLP: policy.Amber, Audience: policy.Audience{Kind: policy.AudCommunity, Community: w.Circle}},
		{Owner: w.Orgs["nocontract"], Category: policy.Knowledge, TLP: policy.Green, Audience: policy.Audience{Kind: policy.AudCommunity, Community: w.Circle}},
		{Owner: w.Orgs["sme"], Category: policy.Knowledge, TLP: policy.AmberStrict, Audience: policy.Audience{Kind: policy.AudOrgs, Orgs: []string{w.Orgs["cloud"]}}},
		{Owner: w.Orgs["cloud"], Category: policy.Knowledge, TLP: policy.Red, Audience: policy.Audience{Kind: policy.AudPeople, People: []string{w.Users["cloud.admin"].ID}}},
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		v.CanSee(shares[i%len(shares)])
		i++
	}
}

// BenchmarkVisibleBuild is the cost of building the predicate's text and
// arguments, paid two or three times per list request.
func BenchmarkVisibleBuild(b *testing.B) {
	v := &policy.View{UserID: "u", OrgID: "o"}
	b.ReportAllocs()
	for b.Loop() {
		policy.VisibleForTest("ts", v, policy.Knowledge)
	}
}
