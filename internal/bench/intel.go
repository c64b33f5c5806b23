package bench

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"verbund/internal/db"
)

// IntelOptions configures the threat intelligence scenario (issue 9's
// figures): import a synthetic bundle, then look values up and page
// through TAXII against a served hub.
type IntelOptions struct {
	Exe      string
	Objects  int           // objects in the synthetic bundle
	Clients  int           // concurrent lookup clients
	Duration time.Duration // of each load phase
	Log      io.Writer
}

// IntelResult is what the scenario measured.
type IntelResult struct {
	Objects          int       `json:"objects"`
	BundleMB         float64   `json:"bundle_mb"`
	ImportSeconds    float64   `json:"import_seconds"`
	ImportPerSec     float64   `json:"import_objects_per_sec"`
	ImportPeakRSSMB  float64   `json:"import_peak_rss_mb"`
	BareInsertPerSec float64   `json:"bare_insert_rows_per_sec"` // the ceiling: 400-byte rows, two indexes, same SQLite
	ImportVsBare     float64   `json:"import_vs_bare"`
	LookupPerSec     float64   `json:"batch_lookup_values_per_sec"`      // one value in a hundred stored
	LookupHalfPerSec float64   `json:"batch_lookup_half_values_per_sec"` // half of them stored
	SingleLookup     Latencies `json:"single_lookup"`
	TAXIIPerSec      float64   `json:"taxii_paging_objects_per_sec"`
	TAXIIPaged       int       `json:"taxii_objects_paged"`
	TAXIIFirstPage   Latencies `json:"taxii_first_page"`
	Checks           []Check   `json:"checks"`
}

func (o IntelOptions) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format, args...)
	}
}

// WriteIntelBundle writes a bundle of n objects: 40 % indicators (an
// address, a domain or a hash each), 30 % observables (addresses and
// domains), 30 % relationships between indicators and one malware. It
// returns a sample of the values it named, for lookups.
func WriteIntelBundle(path string, n int) ([]string, error) {
	f, err := os.Create(path) // #nosec G304 -- a file in the bench's own temporary folder
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(9, 9)) // #nosec G404 -- synthetic benchmark data, the same every run
	const ts = "2026-11-01T00:00:00.000Z"
	fmt.Fprint(w, `{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[`)
	fmt.Fprintf(w, `{"type":"malware","spec_version":"2.1","id":"malware--00000000-0000-4000-8000-000000000001","created":%q,"modified":%q,"name":"Bench","is_family":true}`, ts, ts)
	var sample []string
	var indicators []string
	for i := 1; i < n; i++ {
		_ = w.WriteByte(',') // a write error shows at Flush
		id := fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", i, rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<12), rng.Int64N(1<<48))
		switch r := i % 10; {
		case r < 4:
			var pattern, value string
			switch i % 3 {
			case 0:
				value = fmt.Sprintf("10%d.%d.%d.%d", i%9, i>>16&255, i>>8&255, i&255)
				pattern = "[ipv4-addr:value = '" + value + "']"
			case 1:
				value = fmt.Sprintf("host%d.bench-%d.example", i, i%997)
				pattern = "[domain-name:value = '" + value + "']"
			default:
				value = fmt.Sprintf("%064x", uint64(i)*2654435761)
				pattern = "[file:hashes.'SHA-256' = '" + value + "']"
			}
			fmt.Fprintf(w, `{"type":"indicator","spec_version":"2.1","id":"indicator--%s","created":%q,"modified":%q,"name":"bench indicator %d","pattern":%q,"pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z","confidence":%d}`,
				id, ts, ts, i, pattern, 50+i%50)
			indicators = append(indicators[:min(len(indicators), 1000)], "indicator--"+id)
			if len(sample) < 100000 && i%7 == 0 {
				sample = append(sample, value)
			}
		case r < 7:
			if i%2 == 0 {
				fmt.Fprintf(w, `{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--%s","value":"172.%d.%d.%d"}`, id, 16+i%16, i>>8&255, i&255)
			} else {
				fmt.Fprintf(w, `{"type":"domain-name","spec_version":"2.1","id":"domain-name--%s","value":"obs%d.bench.example"}`, id, i)
			}
		default:
			src := "malware--00000000-0000-4000-8000-000000000001"
			if len(indicators) > 0 {
				src = indicators[rng.IntN(len(indicators))]
			}
			fmt.Fprintf(w, `{"type":"relationship","spec_version":"2.1","id":"relationship--%s","created":%q,"modified":%q,"relationship_type":"indicates","source_ref":%q,"target_ref":"malware--00000000-0000-4000-8000-000000000001"}`,
				id, ts, ts, src)
		}
	}
	fmt.Fprint(w, "]}")
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return sample, f.Close()
}

// bareInsert is the ceiling the import is compared with: n rows of 400
// bytes with two indexes into modernc SQLite, 500 rows a transaction,
// a hundred a statement.
func bareInsert(ctx context.Context, path string, n int) (float64, error) {
	d, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return 0, err
	}
	defer d.Close()
	if _, err := d.ExecContext(ctx, `CREATE TABLE t (id TEXT PRIMARY KEY, k TEXT NOT NULL, v TEXT NOT NULL); CREATE INDEX t_k ON t (k)`); err != nil {
		return 0, err
	}
	pad := strings.Repeat("x", 340)
	start := time.Now()
	for i := 0; i < n; i += 500 {
		tx, err := d.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		for j := i; j < min(i+500, n); j += 100 {
			var q strings.Builder
			var args []any
			q.WriteString("INSERT INTO t (id, k, v) VALUES ")
			for r := j; r < min(j+100, n); r++ {
				if r > j {
					q.WriteByte(',')
				}
				q.WriteString("(?, ?, ?)")
				args = append(args, fmt.Sprintf("row-%012d-%024d", r, r*7919), fmt.Sprintf("key-%d", r%100003), pad)
			}
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				_ = tx.Rollback()
				return 0, err
			}
		}
		if err := tx.Commit(); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// Intel runs the scenario on SQLite.
func Intel(ctx context.Context, o IntelOptions) (*IntelResult, error) {
	if o.Objects <= 0 {
		o.Objects = 1000000
	}
	if o.Clients <= 0 {
		o.Clients = 4
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	dir, err := os.MkdirTemp("", "verbund-bench-intel-")
	if err != nil {
		return nil, err
	}
	if os.Getenv("VERBUND_BENCH_KEEP") == "" {
		defer os.RemoveAll(dir)
	} else {
		o.logf("  keeping %s\n", dir)
	}
	res := &IntelResult{Objects: o.Objects}

	// The world: orgs, the circle, people with tokens (in-process), then
	// the database is closed and handed to the child processes.
	d, err := db.Open(ctx, "", dir)
	if err != nil {
		return nil, err
	}
	if _, err := d.Migrate(ctx); err != nil {
		_ = d.Close()
		return nil, err
	}
	w, err := BuildWorld(ctx, d, 0)
	_ = d.Close()
	if err != nil {
		return nil, err
	}
	cert := w.Users["cert.analyst"]

	bundle := filepath.Join(dir, "bundle.json")
	o.logf("  writing a bundle of %d objects …\n", o.Objects)
	sample, err := WriteIntelBundle(bundle, o.Objects)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(bundle); err == nil {
		res.BundleMB = mb(st.Size())
	}
	o.logf("  %.0f MB; importing with `verbund intel import` …\n", res.BundleMB)
	cmd := exec.CommandContext(ctx, o.Exe, "intel", "import", bundle, "--org", cert.OrgID, "--user", "cert.analyst@cert.example", "--data", dir, "--json") // #nosec G204 -- the verbund binary with arguments set here
	cmd.Env = withoutVerbundEnv()
	var out bytes.Buffer
	cmd.Stdout = &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("import: %w: %s", err, out.String())
	}
	res.ImportSeconds = round2(time.Since(start).Seconds())
	var rep struct{ Accepted, Rejected int }
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Accepted != o.Objects {
		return nil, fmt.Errorf("import report: %v %s", err, out.String()[:min(out.Len(), 500)])
	}
	res.ImportPerSec = round2(float64(rep.Accepted) / res.ImportSeconds)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.ImportPeakRSSMB = round2(float64(ru.Maxrss) / 1024)
	}
	o.logf("  %d objects in %.1f s: %.0f/s, peak RSS %.0f MB\n", rep.Accepted, res.ImportSeconds, res.ImportPerSec, res.ImportPeakRSSMB)
	bareN := min(o.Objects, 300000)
	if res.BareInsertPerSec, err = bareInsert(ctx, filepath.Join(dir, "bare.db"), bareN); err != nil {
		return nil, fmt.Errorf("bare insert: %w", err)
	}
	res.BareInsertPerSec = round2(res.BareInsertPerSec)
	res.ImportVsBare = round2(res.ImportPerSec / res.BareInsertPerSec)
	o.logf("  bare insert ceiling: %.0f rows/s (import at %.0f %% of it)\n", res.BareInsertPerSec, 100*res.ImportVsBare)

	srv, err := StartServer(ctx, o.Exe, dir)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	call := func(method, path string, body []byte) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+cert.ReadToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/taxii+json;version=2.1")
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}

	// Batch lookups of 10,000 values: one in a hundred stored (a day's
	// addresses from a log, checked against the store: the figure), and
	// half of them stored (the worst case, reported beside it).
	lookups := func(stride int) (float64, error) {
		batch := make([]string, 0, 10000)
		for i := range 10000 {
			if i%stride == 0 && len(sample) > 0 {
				batch = append(batch, sample[(i*31)%len(sample)])
			} else {
				batch = append(batch, fmt.Sprintf("198.51.%d.%d", i/250%250, i%250))
			}
		}
		body, _ := json.Marshal(map[string]any{"values": batch})
		o.logf("  batch lookups (10,000 values, one in %d stored, %d clients, %s) …\n", stride, o.Clients, o.Duration)
		var mu sync.Mutex
		var batches int
		var firstErr error
		deadline := time.Now().Add(o.Duration)
		var wg sync.WaitGroup
		lstart := time.Now()
		for range o.Clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					status, b, err := call("POST", "/api/v1/intel/lookup", body)
					mu.Lock()
					if err == nil && status != 200 {
						err = fmt.Errorf("lookup: %d %.200s", status, b)
					}
					if err != nil && firstErr == nil {
						firstErr = err
					}
					batches++
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
		wg.Wait()
		return round2(float64(batches*len(batch)) / time.Since(lstart).Seconds()), firstErr
	}
	if res.LookupPerSec, err = lookups(100); err != nil {
		return nil, err
	}
	if res.LookupHalfPerSec, err = lookups(2); err != nil {
		return nil, err
	}
	deadline := time.Now()
	var single []time.Duration
	for i := 0; time.Since(deadline) < o.Duration && i < 20000; i++ {
		v := fmt.Sprintf("192.0.2.%d", i%250)
		if i%2 == 0 && len(sample) > 0 {
			v = sample[(i*17)%len(sample)]
		}
		t0 := time.Now()
		status, b, err := call("GET", "/api/v1/intel/lookup?value="+v, nil)
		if err != nil || status != 200 {
			return nil, fmt.Errorf("single lookup: %d %v %.200s", status, err, b)
		}
		single = append(single, time.Since(t0))
	}
	res.SingleLookup = Summarise(single)
	o.logf("  lookups: %.0f values/s in batches (%.0f with half of them stored); single %s\n", res.LookupPerSec, res.LookupHalfPerSec, res.SingleLookup)

	// TAXII: the first page, then every page of the org's own collection.
	root := "/taxii2/" + cert.OrgID + "/collections/own/objects/"
	var first []time.Duration
	for range 50 {
		t0 := time.Now()
		status, b, err := call("GET", root+"?limit=1000", nil)
		if err != nil || status != 200 {
			return nil, fmt.Errorf("TAXII first page: %d %v %.200s", status, err, b)
		}
		first = append(first, time.Since(t0))
	}
	res.TAXIIFirstPage = Summarise(first)
	pstart := time.Now()
	next := ""
	for {
		p := root + "?limit=1000"
		if next != "" {
			p += "&next=" + next
		}
		status, b, err := call("GET", p, nil)
		if err != nil || status != 200 {
			return nil, fmt.Errorf("TAXII page: %d %v %.200s", status, err, b)
		}
		var env struct {
			More    bool              `json:"more"`
			Next    string            `json:"next"`
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			return nil, err
		}
		res.TAXIIPaged += len(env.Objects)
		if !env.More {
			break
		}
		next = env.Next
	}
	res.TAXIIPerSec = round2(float64(res.TAXIIPaged) / time.Since(pstart).Seconds())
	o.logf("  TAXII: %d objects paged at %.0f/s; first page %s\n", res.TAXIIPaged, res.TAXIIPerSec, res.TAXIIFirstPage)

	res.Checks = []Check{
		atLeast("intel import, objects/s (SQLite)", res.ImportPerSec, 30000, "obj/s"),
		atMost("intel import, peak memory", res.ImportPeakRSSMB, 300, "MB"),
		atLeast("intel batch lookup (1 % stored), values/s", res.LookupPerSec, 500000, "val/s"),
		atMost("intel single lookup, p99", res.SingleLookup.P99MS, 2, "ms"),
		atLeast("TAXII paging, objects/s", res.TAXIIPerSec, 100000, "obj/s"),
		atMost("TAXII first page, p99", res.TAXIIFirstPage.P99MS, 20, "ms"),
	}
	return res, nil
}

// withoutVerbundEnv is the environment without VERBUND_* variables, so a
// child cannot wander off to another database.
func withoutVerbundEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VERBUND_") {
			env = append(env, kv)
		}
	}
	return env
}
