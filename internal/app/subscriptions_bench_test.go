package app_test

import (
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/vulns"
	"verbund/internal/vulns/vulnstest"
)

// BenchmarkSubscriptionRun reads CISA's 187 OT documents from a provider
// on loopback TLS as a directory distribution (index.txt; each document
// with its .sha512 and .asc: 561 requests), checks digests, signatures
// and documents, and imports them into a fresh hub: the first run of a
// subscription. Reported as documents/s.
func BenchmarkSubscriptionRun(b *testing.B) {
	p := vulnstest.NewProvider(b)
	docs := 0
	for b.Loop() {
		b.StopTimer()
		h := apptest.World(b, db.SQLite)
		h.App.Vulns.SetFetch(true, p.Roots)
		u := h.Users["cloud.analyst"]
		sub, err := h.App.Vulns.CreateSubscription(b.Context(), u.Actor, vulns.SubscriptionInput{URL: p.URL + "/ot/provider-metadata.json"})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rep, err := h.App.Vulns.RunSubscription(b.Context(), u.Actor, sub.ID)
		if err != nil || rep.Imported != 187 {
			b.Fatalf("run: %+v %v", rep, err)
		}
		docs += rep.Imported
	}
	b.ReportMetric(float64(docs)/b.Elapsed().Seconds(), "documents/s")
}
