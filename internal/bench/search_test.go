package bench

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/search"
)

// searchDocs is the size of the Go benchmarks' corpus:
// VERBUND_BENCH_DOCS (default 20,000; `verbund bench search` measures
// 100,000 over HTTP).
func searchDocs() int {
	if n, err := strconv.Atoi(os.Getenv("VERBUND_BENCH_DOCS")); err == nil && n > 0 {
		return n
	}
	return 20000
}

// BenchmarkSearch is one search of the hub's search service (the query
// through the kernel, names, snippets), without HTTP, as sme.analyst and
// as an outsider, over a corpus of SeedSearch.
func BenchmarkSearch(b *testing.B) {
	ctx := context.Background()
	d := dbtest.Open(b, db.SQLite)
	w, err := BuildWorld(ctx, d, 0)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, _, err := SeedSearch(ctx, d, w, searchDocs()); err != nil {
		b.Fatal(err)
	}
	w.App.Search.SetSearchRate(1 << 30)
	if os.Getenv("VERBUND_BENCH_OPTIMIZE") != "" {
		if err := d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO search_fts (search_fts) VALUES ('optimize')`)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	var segs int
	_ = d.R().QueryRow(ctx, `SELECT COUNT(*) FROM search_fts_data`).Scan(&segs)
	b.Logf("fts data rows %d", segs)
	for _, reader := range []string{"sme.analyst", "outsider.analyst"} {
		b.Run(reader, func(b *testing.B) {
			a := w.Users[reader].Actor
			i := 0
			cpu0 := ownCPU()
			for b.Loop() {
				if _, _, err := w.App.Search.Search(ctx, a, search.Query{Q: searchQueries[i%len(searchQueries)]}); err != nil {
					b.Fatal(err)
				}
				i++
			}
			// CPU time, which a busy machine does not stretch as it does
			// the wall clock.
			b.ReportMetric(float64(ownCPU()-cpu0)/float64(time.Microsecond)/float64(i), "µs-cpu/op")
		})
	}
}

// BenchmarkSearchIndex writes documents to the index (the kernel's
// IndexAll; the index's triggers stem every word): ns/op is one document.
func BenchmarkSearchIndex(b *testing.B) {
	ctx := context.Background()
	d := dbtest.Open(b, db.SQLite)
	w, err := BuildWorld(ctx, d, 0)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, _, err := SeedSearch(ctx, d, w, min(searchDocs(), 10000)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var docs int
	for b.Loop() {
		n, _, err := Reindex(dbtest.Unaudited(ctx), d, w.App.Sharing)
		if err != nil {
			b.Fatal(err)
		}
		docs += n
	}
	b.ReportMetric(float64(docs)/b.Elapsed().Seconds(), "docs/s")
}
