package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/vulns/vulnstest"
)

// BenchmarkCSAFProvider is the provider figure of docs/PERFORMANCE.md: an
// org with 200 published advisories (100 TLP:WHITE, 100 AMBER), read over
// real HTTP on SQLite as a consumer does — the public WHITE feed, the
// AMBER feed as one of the org's analysts (through the kernel's reader)
// and one document — per round.
func BenchmarkCSAFProvider(b *testing.B) {
	h := apptest.World(b, db.SQLite)
	sme := h.Users["sme.analyst"]
	ctx := context.Background()
	var last string
	for i := range 200 {
		label, tlp := "WHITE", "CLEAR"
		if i%2 == 1 {
			label, tlp = "AMBER", "AMBER"
		}
		tracking := fmt.Sprintf("BENCH-%04d", i)
		if r := vulnstest.Import(b, h, sme, vulnstest.Document(tracking, "Bench "+tracking, "1", label), url.Values{"tlp": {tlp}}); r.Status != http.StatusOK {
			b.Fatalf("import: %d %s", r.Status, r.Body)
		}
	}
	var l struct {
		Items []struct {
			ID string `json:"id"`
		}
	}
	h.API(b, sme.ReadToken, http.MethodGet, "/api/v1/advisories?limit=200", nil).JSON(b, &l)
	for _, it := range l.Items {
		if _, err := h.App.Vulns.Publish(ctx, sme.Actor, it.ID); err != nil {
			b.Fatal(err)
		}
	}
	p, err := h.App.Vulns.FindProvider(ctx, sme.Actor)
	if err != nil || len(p.Publications) != 200 {
		b.Fatalf("provider: %d publications, %v", len(p.Publications), err)
	}
	u, _ := url.Parse(p.Publications[0].URL)
	last = u.Path
	base := "/csaf/" + p.Slug
	b.ResetTimer()
	for range b.N {
		for _, x := range []struct{ token, path string }{{"", base + "/white/csaf-feed-tlp-white.json"},
			{sme.ReadToken, base + "/amber/csaf-feed-tlp-amber.json"}, {sme.ReadToken, last}} {
			if r := h.API(b, x.token, http.MethodGet, x.path, nil); r.Status != http.StatusOK {
				b.Fatalf("GET %s: %d", x.path, r.Status)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rounds/s")
}
