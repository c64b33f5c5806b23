package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"verbund/internal/agreements"
	"verbund/internal/db"
	"verbund/internal/policy"
	"verbund/internal/risks"
)

// RisksOptions configure the risks scenario.
type RisksOptions struct {
	Risks        int // risks in the register
	Requests     int // requests per read figure
	Participants int // live participants of the workshop
	Votes        int // votes measured
	Log          io.Writer
}

// RisksResult is what the risks scenario measured.
type RisksResult struct {
	Risks       int     `json:"risks"`
	SeedSeconds float64 `json:"seed_seconds"`
	// Reads over HTTP on loopback, each as the owner (who sees every risk)
	// and as the circle's CERT (who sees the circle's).
	Reads        []RisksRead `json:"reads"`
	Participants int         `json:"participants"`
	Votes        int         `json:"votes"`
	// Delivery: from sending a vote to each participant's stream reading
	// its event.
	Delivery Latencies `json:"delivery"`
	Missed   int       `json:"missed"`
	Checks   []Check   `json:"checks"`
}

// RisksRead is one read figure: the server's time (from the request
// reaching the hub's handler to its answer written) and the round trip
// the client saw.
type RisksRead struct {
	Path    string    `json:"path"`
	Reader  string    `json:"reader"`
	Visible int       `json:"visible"`
	Server  Latencies `json:"server"`
	Latency Latencies `json:"latency"`
}

func (o RisksOptions) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format, args...)
	}
}

// Risks measures the register of issue 12 on a fresh SQLite database, the
// hub in process behind a real HTTP server on 127.0.0.1: the heatmap and
// the first page of the prioritised list of o.Risks risks (written through
// the sharing kernel, each audited), and how fast a workshop vote reaches
// o.Participants live participants (distinct people of the three orgs of
// the circle, each with its own stream).
func Risks(ctx context.Context, o RisksOptions) (*RisksResult, error) {
	dir, err := os.MkdirTemp("", "verbund-bench-risks-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	d, err := db.Open(ctx, "", dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		return nil, err
	}
	w, err := BuildWorld(ctx, d, 0)
	if err != nil {
		return nil, err
	}
	// The bench world's charter covers knowledge and incidents; a second
	// one covers the risk register.
	a := w.App
	charter, err := a.Agreements.Propose(ctx, w.Users["cert.admin"].Actor, "", agreements.Input{Kind: "charter", Community: w.Circle,
		Categories: []string{"risk"}, MaxTLP: "AMBER", RetentionDays: 365, Purpose: "joint risk register"})
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"sme", "cloud"} {
		if _, err := a.Agreements.Accept(ctx, w.Users[k+".admin"].Actor, charter.ID); err != nil {
			return nil, err
		}
	}
	res := &RisksResult{Risks: o.Risks, Participants: o.Participants}
	o.logf("  writing %d risks through the sharing kernel\n", o.Risks)
	sme := w.Users["sme.analyst"].Actor
	start := time.Now()
	var first string
	for i := range o.Risks {
		sh := policy.Sharing{TLP: "AMBER", Audience: "community", Community: w.Circle}
		switch i % 4 {
		case 2:
			sh.TLP = "GREEN"
		case 3:
			sh = policy.Sharing{TLP: "AMBER", Audience: "org"}
		}
		due := ""
		if i%3 == 0 {
			due = time.Now().AddDate(0, 0, i%400).Format("2006-01-02")
		}
		l, im := i%5+1, (i/5)%5+1
		r, err := a.Risks.CreateRisk(ctx, sme, risks.NewRisk{Title: fmt.Sprintf("Risk %d of the register", i), Description: "Synthetic risk for the benchmark.",
			Likelihood: l, Impact: im, ResidualLikelihood: max(1, l-i%2), ResidualImpact: im, Treatment: risks.Treatments[i%4], Due: due, Sharing: sh})
		if err != nil {
			return nil, fmt.Errorf("risk %d: %w", i, err)
		}
		if first == "" {
			first = r.ID
		}
	}
	res.SeedSeconds = round2(time.Since(start).Seconds())
	// The reads are measured in a steady state: after the import's
	// write-ahead log has been checkpointed away (the keeper does it when
	// writes pause; up to 10 s) and its garbage collected.
	for settle := time.Now(); d.WAL().Bytes > 0 && time.Since(settle) < 10*time.Second; {
		time.Sleep(50 * time.Millisecond)
	}
	runtime.GC()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// Server time: the hub's handler, timed around (live streams are
	// taken over and return at once; they are not read here).
	var mu sync.Mutex
	took := map[string][]time.Duration{}
	hub := a.Web.Handler()
	timed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		hub.ServeHTTP(w, r)
		d := time.Since(t0)
		mu.Lock()
		took[r.URL.RequestURI()] = append(took[r.URL.RequestURI()], d)
		mu.Unlock()
	})
	srv := &http.Server{Handler: timed, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		a.Live.Close(time.Second)
		_ = srv.Close()
	}()
	url := "http://" + ln.Addr().String()
	api := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}

	for _, reader := range []string{"sme.analyst", "cert.analyst"} {
		u := w.Users[reader]
		rs, _, err := a.Risks.FindRisks(ctx, u.Actor, risks.ListFilter{Limit: 1})
		if err != nil || len(rs) == 0 {
			return nil, fmt.Errorf("%s sees no risk: %v", reader, err)
		}
		hm, err := a.Risks.FindHeatmap(ctx, u.Actor, risks.ListFilter{}, "")
		if err != nil {
			return nil, err
		}
		for _, path := range []string{"/api/v1/risks/heatmap", "/api/v1/risks?limit=50", "/risks"} {
			// Five unmeasured requests first (statements prepared, pages
			// of the database in memory), as list's warm-up.
			for range 5 {
				if err := get(ctx, api, url+path, u.ReadToken); err != nil {
					return nil, fmt.Errorf("GET %s as %s: %w", path, reader, err)
				}
			}
			mu.Lock()
			delete(took, path)
			mu.Unlock()
			var lat []time.Duration
			for range o.Requests {
				t0 := time.Now()
				if err := get(ctx, api, url+path, u.ReadToken); err != nil {
					return nil, fmt.Errorf("GET %s as %s: %w", path, reader, err)
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			server := took[path]
			delete(took, path)
			mu.Unlock()
			rd := RisksRead{Path: path, Reader: reader, Visible: hm.Total, Server: Summarise(server), Latency: Summarise(lat)}
			o.logf("  GET %s as %s (%d risks visible): server %s; round trip p50 %.2f ms p99 %.2f ms\n", path, reader, hm.Total, rd.Server, rd.Latency.P50MS, rd.Latency.P99MS)
			res.Reads = append(res.Reads, rd)
			if path != "/risks" {
				res.Checks = append(res.Checks, atMost(fmt.Sprintf("risks: GET %s of %d risks as %s, server time p99", path, hm.Total, reader), rd.Server.P99MS, 50, "ms"))
			}
		}
	}

	// The workshop: the facilitator votes again and again (a vote
	// replaces the last); every participant's stream must read each
	// vote's event before the next is sent.
	ws, err := a.Risks.CreateWorkshop(ctx, sme, risks.NewWorkshop{Title: "Benchmark workshop", Risks: []string{first},
		Sharing: policy.Sharing{TLP: "AMBER", Audience: "community", Community: w.Circle}})
	if err != nil {
		return nil, err
	}
	people, err := SeedReaders(ctx, d, w, o.Participants, 0)
	if err != nil {
		return nil, err
	}
	o.logf("  %d participants open the workshop's live stream\n", len(people))
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan delivery, 4*len(people))
	var ready sync.WaitGroup
	errs := make(chan error, len(people))
	sc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(people) + 10}}
	for i, p := range people {
		ready.Add(1)
		go func() {
			if err := stream(sctx, sc, url, p.ReadToken, i, got, false, ready.Done); err != nil && sctx.Err() == nil {
				errs <- fmt.Errorf("stream of %s: %w", p.Key, err)
			}
		}()
	}
	ready.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	writer := w.Users["sme.analyst"].WriteToken
	var lat []time.Duration
	for v := range o.Votes {
		seen := make([]bool, len(people))
		t0 := time.Now()
		body := map[string]any{"risk_id": first, "likelihood": v%5 + 1, "impact": (v/5)%5 + 1}
		if err := call(ctx, api, writer, http.MethodPost, url+"/api/v1/risk-workshops/"+ws.ID+"/votes", body, nil); err != nil {
			return nil, fmt.Errorf("vote %d: %w", v, err)
		}
		n := 0
		timeout := time.After(5 * time.Second)
	wait:
		for n < len(people) {
			select {
			case dl := <-got:
				if dl.id != ws.ID || seen[dl.stream] {
					continue
				}
				seen[dl.stream] = true
				lat = append(lat, dl.at.Sub(t0))
				n++
			case <-timeout:
				break wait
			case err := <-errs:
				return nil, err
			}
		}
		res.Missed += len(people) - n
		res.Votes++
	}
	res.Delivery = Summarise(lat)
	o.logf("  a vote to %d live participants: %s, %d missed\n", len(people), res.Delivery, res.Missed)
	res.Checks = append(res.Checks,
		atMost(fmt.Sprintf("risks: a workshop vote to %d live participants, p99", len(people)), res.Delivery.P99MS, 100, "ms"),
		atMost("risks: vote events missed", float64(res.Missed), 0, ""))
	return res, nil
}

// get reads url with token and discards the answer (an error unless 200).
func get(ctx context.Context, c *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}
