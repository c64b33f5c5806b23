package app_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/csaf"
	"verbund/internal/db"
	"verbund/internal/vulns"
)

// BenchmarkVulnsImport is the CSAF import figure of docs/PERFORMANCE.md:
// CISA's 191 real documents imported through vulns.Service.Import with
// everything a real import does (schema and rule validation by gocsaf,
// CVSS vectors by go-cvss, SHA-512 checks, products and vulnerabilities
// stored, the sharing kernel's disclosure and an audit record per
// document) on SQLite. Each round gives the documents new tracking ids
// (and digests) so that every round stores them anew.
func BenchmarkVulnsImport(b *testing.B) {
	inputs := cisaInputs(b)
	ids := make([]string, len(inputs))
	for i, in := range inputs {
		d, err := csaf.Parse(in.Data)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = d.TrackingID
	}
	h := apptest.World(b, db.SQLite)
	actor := h.Users["cloud.analyst"].Actor
	ctx := context.Background()
	docs := 0
	for round := 0; round < b.N; round++ {
		b.StopTimer()
		batch := make([]vulns.Input, len(inputs))
		for i, in := range inputs {
			data := bytes.ReplaceAll(in.Data, []byte(`"`+ids[i]+`"`), fmt.Appendf(nil, `"%s-B%d"`, ids[i], round))
			sum := sha512.Sum512(data)
			batch[i] = vulns.Input{Name: in.Name, Data: data, SHA512: hex.EncodeToString(sum[:])}
		}
		b.StartTimer()
		rep, err := h.App.Vulns.Import(ctx, actor, batch, vulns.ImportOptions{Via: "bench"})
		if err != nil || rep.Documents.Imported != len(inputs) {
			b.Fatalf("round %d: %+v %v", round, rep.Errors, err)
		}
		docs += len(inputs)
	}
	b.ReportMetric(float64(docs)/b.Elapsed().Seconds(), "docs/s")
}
