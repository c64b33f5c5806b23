package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/bench"
	"verbund/internal/db"
	"verbund/internal/intel"
)

// BenchmarkIntel is figure (e) of docs/PERFORMANCE.md in-process, for
// profiles: the bench bundle (VERBUND_BENCH_OBJECTS objects, default
// 100,000) imported as CERT Süd's analyst, then batch lookups of 10,000
// values (half of them stored, and one in a hundred: a log's addresses
// against the store), single lookups and a TAXII page of 1,000 of the org's own objects,
// over loopback HTTP with a bearer token. `verbund bench intel` measures
// the same with the hub in its own process at a million objects.
func BenchmarkIntel(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("VERBUND_BENCH_OBJECTS")); err == nil && v > 0 {
		n = v
	}
	h := apptest.World(b, db.SQLite)
	ctx := context.Background()
	cert := h.Users["cert.analyst"]
	path := filepath.Join(b.TempDir(), "bundle.json")
	sample, err := bench.WriteIntelBundle(path, n)
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	start, cpu := time.Now(), processCPU()
	rep, err := h.App.Intel.Import(ctx, cert.Actor, f, intel.ImportOptions{Via: "cli"})
	f.Close()
	// Objects per CPU second too: on a shared machine the wall clock
	// measures the neighbours as much as the import.
	b.Logf("import: %d objects, %.0f objects/s, %.0f objects per CPU second", n, float64(n)/time.Since(start).Seconds(), float64(n)/(processCPU()-cpu).Seconds())
	if err != nil || rep.Accepted != n {
		b.Fatalf("import: %d accepted, %v", rep.Accepted, err)
	}
	// A batch of 10,000 values, every stride-th of them stored (the others
	// are addresses nobody stores, 250 distinct ones at most).
	batch := func(stride int) []byte {
		values := make([]string, 0, 10000)
		for i := range 10000 {
			if i%stride == 0 {
				values = append(values, sample[(i*31)%len(sample)])
			} else {
				values = append(values, fmt.Sprintf("198.51.%d.%d", i/250%250, i%250))
			}
		}
		body, _ := json.Marshal(map[string]any{"values": values})
		return body
	}
	client := h.Server.Client()
	call := func(b *testing.B, method, path string, body []byte) {
		req, _ := http.NewRequest(method, h.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+cert.ReadToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/taxii+json;version=2.1")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s %s: %d", method, path, resp.StatusCode)
		}
	}
	for _, c := range []struct {
		name   string
		stride int
	}{{"lookup10000/half-stored", 2}, {"lookup10000/1pct-stored", 100}} {
		body := batch(c.stride)
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				call(b, "POST", "/api/v1/intel/lookup", body)
			}
			b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "values/s")
		})
	}
	b.Run("lookup1", func(b *testing.B) {
		i := 0
		for b.Loop() {
			call(b, "GET", "/api/v1/intel/lookup?value="+sample[i%len(sample)], nil)
			i++
		}
	})
	b.Run("taxiipage", func(b *testing.B) {
		for b.Loop() {
			call(b, "GET", "/taxii2/"+cert.OrgID+"/collections/own/objects/?limit=1000", nil)
		}
		b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "objects/s")
	})
}

// processCPU is the CPU time this process used so far (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
