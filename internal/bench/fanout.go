package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"verbund/internal/db"
)

// FanoutOptions configures Fanout.
type FanoutOptions struct {
	Exe          string
	Subscribers  int           // open streams (default 1000)
	Unauthorised float64       // share of streams whose user may not see the post (0 to below 1)
	Readers      int           // reader accounts per org the streams are spread over (default 20)
	Rounds       int           // posts published one after another (default 5)
	Idle         time.Duration // wait with open, idle streams before measuring memory (default 2 s)
	// Recheck, when above 0, adds the re-check measurement (recheck.go):
	// that many streams of as many distinct users, posts every
	// RecheckEvery (default 20 ms) for RecheckWindow (default 500 ms)
	// without and after each of RecheckChanges (default 5) policy
	// changes, and, with RecheckHeartbeat, around the next heartbeat.
	Recheck          int
	RecheckChanges   int
	RecheckWindow    time.Duration
	RecheckEvery     time.Duration
	RecheckHeartbeat bool
	// Postgres, when set (the URL of a role that may create databases),
	// runs the fan-out on a throwaway PostgreSQL database served by
	// Replicas hubs (default 2): the streams are spread over the hubs
	// round-robin and the posts are published on the first, so most
	// deliveries cross from one replica to another. Memory and the
	// re-check are measured on one SQLite hub only.
	Postgres string
	Replicas int
	// Target is what is published: "post" (replies to a TLP:AMBER
	// circle thread, the default) or "incident" (comments on a TLP:AMBER
	// incident shared with the circle: issue "Shared incidents").
	Target string
	Log    io.Writer
}

// FanoutResult is figure (c).
type FanoutResult struct {
	Target          string         `json:"target"`
	Engine          string         `json:"engine"`
	Replicas        int            `json:"replicas"`
	Subscribers     int            `json:"subscribers"`
	Authorised      int            `json:"authorised"`
	Unauthorised    int            `json:"unauthorised"`
	Rounds          int            `json:"rounds"`
	OpenSeconds     float64        `json:"open_seconds"`
	Delivery        Latencies      `json:"delivery"`        // from sending the POST to each authorised stream's receipt
	RoundMaxMS      []float64      `json:"round_max_ms"`    // slowest stream per post
	PublishMS       Latencies      `json:"publish_request"` // the POST itself
	Missed          int            `json:"missed"`          // authorised streams that did not receive a post within 5 s
	Leaked          int            `json:"leaked"`          // deliveries to unauthorised streams
	Dropped         float64        `json:"dropped_slow"`    // streams the hub dropped as slow
	BaseRSSMB       float64        `json:"base_rss_mb"`     // before the streams
	StreamsRSSMB    float64        `json:"streams_rss_mb"`  // with the idle streams open
	RSSPerSubKB     float64        `json:"rss_per_subscriber_kb"`
	HeapPerSubKB    float64        `json:"heap_per_subscriber_kb"`  // Go heap in use (includes garbage not yet collected)
	StackPerSubKB   float64        `json:"stack_per_subscriber_kb"` // goroutine stacks
	GoroutinesPerSb float64        `json:"goroutines_per_subscriber"`
	Recheck         *RecheckResult `json:"recheck,omitempty"` // deliveries while the hub re-checks after policy changes
	Checks          []Check        `json:"checks"`
}

type delivery struct {
	stream int
	id     string
	at     time.Time
}

// Fanout starts the hub, opens Subscribers live streams (/events) with the
// read tokens of users of sme, cloud and cert, who may see a TLP:AMBER post
// to the circle, and of nocontract and outsider, who may not. It measures
// the hub's memory with the streams idle, then publishes Rounds replies as
// sme.analyst through the API and measures when each stream receives each.
func Fanout(ctx context.Context, o FanoutOptions) (*FanoutResult, error) {
	if o.Subscribers <= 0 {
		o.Subscribers = 1000
	}
	if o.Unauthorised < 0 || o.Unauthorised >= 1 {
		return nil, fmt.Errorf("the unauthorised share must be from 0 to below 1")
	}
	if o.Readers <= 0 {
		o.Readers = 20
	}
	if o.Rounds <= 0 {
		o.Rounds = 5
	}
	if o.Idle <= 0 {
		o.Idle = 2 * time.Second
	}
	if o.RecheckChanges <= 0 {
		o.RecheckChanges = 5
	}
	if o.RecheckWindow <= 0 {
		o.RecheckWindow = 500 * time.Millisecond
	}
	if o.RecheckEvery <= 0 {
		o.RecheckEvery = 20 * time.Millisecond
	}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format, args...)
		}
	}
	if err := raiseOpenFiles(max(o.Subscribers, o.Recheck)*2 + 256); err != nil {
		return nil, err
	}
	replicas := 1
	if o.Postgres != "" {
		replicas = max(o.Replicas, 1)
		if o.Replicas == 0 {
			replicas = 2
		}
		o.Recheck = 0
	}
	if o.Target != "" && o.Target != "post" {
		o.Recheck = 0 // the re-check measurement posts replies to a thread
	}
	dir, err := os.MkdirTemp("", "verbund-bench-fanout-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	dbURL := ""
	if o.Postgres != "" {
		var drop func() error
		if dbURL, drop, err = throwawayPostgres(ctx, o.Postgres); err != nil {
			return nil, err
		}
		// Deferred before the hubs start, so it runs after they stopped.
		defer func() {
			if err := drop(); err != nil {
				logf("  %v\n", err)
			}
		}()
	}
	logf("building the world (%d readers per org, %d distinct readers) in %s …\n", o.Readers, max(o.Recheck, 0), dir)
	var distinct []*User
	w, _, err := prepareOn(ctx, dbURL, dir, o.Readers, func(d *db.DB, w *World) (Seeded, error) {
		var err error
		if o.Recheck > 0 {
			distinct, err = SeedReaders(ctx, d, w, o.Recheck, o.Unauthorised)
		}
		return Seeded{}, err
	})
	if err != nil {
		return nil, err
	}
	var servers []*Server
	defer func() {
		for _, s := range servers {
			_ = s.Stop()
		}
	}()
	for i := range replicas {
		data := dir
		if dbURL != "" {
			data = filepath.Join(dir, fmt.Sprintf("replica-%d", i+1))
		}
		s, err := StartServerOn(ctx, o.Exe, data, dbURL)
		if err != nil {
			return nil, fmt.Errorf("start hub %d: %w", i+1, err)
		}
		servers = append(servers, s)
	}
	srv := servers[0]
	api := &http.Client{Timeout: 10 * time.Second}
	writer := w.Users["sme.analyst"].WriteToken
	if o.Target == "" {
		o.Target = "post"
	}
	publishOne, container, err := fanoutTarget(ctx, api, srv.URL, writer, w, o.Target)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, srv.Log())
	}
	sleep(ctx, time.Second)
	base, err := memory(srv)
	if err != nil {
		return nil, err
	}

	// Streams: the first share go to users who may not see the post.
	res := &FanoutResult{Target: o.Target, Engine: string(db.SQLite), Replicas: replicas, Subscribers: o.Subscribers, Rounds: o.Rounds}
	if dbURL != "" {
		res.Engine = string(db.Postgres)
	}
	nUnauth := int(float64(o.Subscribers)*o.Unauthorised + 0.5)
	allowed := make([]bool, o.Subscribers)
	tokens := make([]string, o.Subscribers)
	for i := range o.Subscribers {
		var org string
		if i < nUnauth {
			org = []string{"nocontract", "outsider"}[i%2]
		} else {
			org = []string{"sme", "cloud", "cert"}[i%3]
			allowed[i] = true
			res.Authorised++
		}
		rs := w.Readers[org]
		tokens[i] = rs[(i/5)%len(rs)].ReadToken
	}
	res.Unauthorised = o.Subscribers - res.Authorised

	logf("opening %d streams …\n", o.Subscribers)
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	sse := &http.Client{Transport: tr}
	got := make(chan delivery, o.Subscribers*(o.Rounds+2))
	var opened sync.WaitGroup
	var openErr error
	var openMu sync.Mutex
	gate := make(chan struct{}, 32)
	t0 := time.Now()
	for i := range o.Subscribers {
		opened.Add(1)
		gate <- struct{}{}
		go func() {
			err := stream(streamCtx, sse, servers[i%len(servers)].URL, tokens[i], i, got, false, func() { <-gate; opened.Done() })
			if err != nil && streamCtx.Err() == nil {
				openMu.Lock()
				if openErr == nil {
					openErr = err
				}
				openMu.Unlock()
			}
		}()
	}
	opened.Wait()
	res.OpenSeconds = round2(time.Since(t0).Seconds())
	if openErr != nil {
		return nil, fmt.Errorf("open stream: %w\n%s", openErr, srv.Log())
	}
	counted := 0
	for _, s := range servers {
		m, err := Metrics(s.DebugURL, "verbund_sse_subscribers")
		if err != nil {
			return nil, err
		}
		counted += int(m["verbund_sse_subscribers"])
	}
	if counted != o.Subscribers {
		return nil, fmt.Errorf("the hubs count %d streams, want %d", counted, o.Subscribers)
	}
	logf("  open in %.1f s; idle for %s …\n", res.OpenSeconds, o.Idle)
	sleep(ctx, o.Idle)
	if replicas == 1 { // a replica holds only its share of the streams
		with, err := memory(srv)
		if err != nil {
			return nil, err
		}
		n := float64(o.Subscribers)
		res.BaseRSSMB, res.StreamsRSSMB = mb(base.rss), mb(with.rss)
		res.RSSPerSubKB = round2(float64(with.rss-base.rss) / 1024 / n)
		res.HeapPerSubKB = round2((with.heap - base.heap) / 1024 / n)
		res.StackPerSubKB = round2((with.stack - base.stack) / 1024 / n)
		res.GoroutinesPerSb = round2((with.goroutines - base.goroutines) / n)
	}

	logf("publishing %d posts …\n", o.Rounds)
	var lat, publish []time.Duration
	for r := range o.Rounds {
		start := time.Now()
		id, err := publishOne(r)
		publish = append(publish, time.Since(start))
		if err != nil {
			return nil, fmt.Errorf("publish: %w\n%s", err, srv.Log())
		}
		seen := make([]bool, o.Subscribers)
		waiting := res.Authorised
		var roundMax time.Duration
		timeout := time.After(5 * time.Second)
		grace := (<-chan time.Time)(nil)
	collect:
		for {
			select {
			case d := <-got:
				if d.id != id {
					continue // an earlier round's late delivery is counted there as missed
				}
				if !allowed[d.stream] {
					res.Leaked++
					continue
				}
				if seen[d.stream] {
					continue
				}
				seen[d.stream] = true
				l := d.at.Sub(start)
				lat = append(lat, l)
				roundMax = max(roundMax, l)
				if waiting--; waiting == 0 {
					grace = time.After(300 * time.Millisecond) // leaks to unauthorised streams would show up by now
				}
			case <-grace:
				break collect
			case <-timeout:
				res.Missed += waiting
				break collect
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		res.RoundMaxMS = append(res.RoundMaxMS, ms(roundMax))
		logf("  post %d: all %d authorised streams in %.1f ms\n", r+1, res.Authorised-waiting, ms(roundMax))
		sleep(ctx, 200*time.Millisecond)
	}
	res.Delivery, res.PublishMS = Summarise(lat), Summarise(publish)
	for _, s := range servers {
		if m, err := Metrics(s.DebugURL, "verbund_sse_dropped_total"); err == nil {
			res.Dropped += m["verbund_sse_dropped_total"]
		}
	}
	if replicas == 1 {
		res.Checks = []Check{
			atMost("(c) delivery to all subscribers, p99", res.Delivery.P99MS, 100, "ms"),
			atMost("(c) memory per idle subscriber (RSS)", res.RSSPerSubKB, 20, "KB"),
		}
	} else {
		// Issue "Shared incidents": 250 ms across two replicas.
		res.Checks = []Check{atMost(fmt.Sprintf("(c) delivery to all subscribers over %d replicas, p99", replicas), res.Delivery.P99MS, 250, "ms")}
	}
	res.Checks = append(res.Checks,
		atMost("(c) deliveries to unauthorised streams", float64(res.Leaked), 0, ""),
		atMost("(c) authorised streams missed", float64(res.Missed), 0, ""))
	if o.Recheck > 0 {
		cancel() // the streams of the measurement above
		if err := waitSubscribers(ctx, srv, 0); err != nil {
			return nil, err
		}
		allowed := make([]bool, len(distinct))
		for i, u := range distinct {
			allowed[i] = u.Org == "sme" || u.Org == "cloud" || u.Org == "cert"
		}
		res.Recheck, err = recheckRun(ctx, srv, api, writer, container, distinct, allowed, o, logf)
		if err != nil {
			return nil, err
		}
		res.Checks = append(res.Checks,
			atMost("(c) leaked to unauthorised during re-checks", float64(res.Recheck.Leaked), 0, ""),
			atMost("(c) authorised missed during re-checks", float64(res.Recheck.Missed), 0, ""))
	}
	return res, nil
}

// stream opens /events with token and forwards every data line's id to got
// (and, with pings, every heartbeat with id "") until ctx ends. ready is
// called once the stream is open (or failed).
func stream(ctx context.Context, c *http.Client, url, token string, i int, got chan<- delivery, pings bool, ready func()) error {
	once := sync.OnceFunc(ready)
	defer once()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	rd := bufio.NewReader(resp.Body)
	for {
		line, err := rd.ReadSlice('\n')
		if err != nil {
			return err
		}
		at := time.Now()
		if bytes.HasPrefix(line, []byte(": connected")) {
			once()
			continue
		}
		if pings && bytes.HasPrefix(line, []byte(": ping")) {
			got <- delivery{stream: i, at: at}
			continue
		}
		if data, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			var ev struct{ ID string }
			if json.Unmarshal(data, &ev) == nil {
				got <- delivery{stream: i, id: ev.ID, at: at}
			}
		}
	}
}

type mem struct {
	rss                     int64
	heap, stack, goroutines float64
}

func memory(s *Server) (mem, error) {
	rss, err := s.RSS()
	if err != nil {
		return mem{}, err
	}
	m, err := Metrics(s.DebugURL, "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_goroutines")
	if err != nil {
		return mem{}, err
	}
	return mem{rss: rss, heap: m["go_memstats_heap_inuse_bytes"], stack: m["go_memstats_stack_inuse_bytes"], goroutines: m["go_goroutines"]}, nil
}

// call sends a JSON request (no body when body is nil) with a bearer token
// and decodes the answer into out, if not nil.
func call(ctx context.Context, c *http.Client, token, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, url, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: status %d: %s", method, strings.TrimPrefix(url, "http://"), resp.StatusCode, rb)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(rb, out)
}

// fanoutTarget creates what the fan-out publishes to, as sme.analyst
// (writer): a TLP:AMBER thread in the circle's channel, or a TLP:AMBER
// incident shared with the circle. publish adds round r's reply or
// comment (TLP:AMBER to the circle) and returns its id, which is the id
// of the live event its readers receive.
func fanoutTarget(ctx context.Context, api *http.Client, url, writer string, w *World, target string) (publish func(r int) (string, error), container string, err error) {
	var path string
	switch target {
	case "post":
		var created struct {
			Thread struct{ ID string } `json:"thread"`
		}
		if err := call(ctx, api, writer, "POST", url+"/api/v1/channels/"+w.CircleChannel+"/threads",
			map[string]any{"title": "Fan-out", "body": "live", "tlp": "AMBER", "audience": "community"}, &created); err != nil {
			return nil, "", fmt.Errorf("create thread: %w", err)
		}
		container, path = created.Thread.ID, url+"/api/v1/threads/"+created.Thread.ID+"/posts"
	case "incident":
		var created struct{ ID string }
		if err := call(ctx, api, writer, "POST", url+"/api/v1/incidents",
			map[string]any{"title": "Fan-out", "description": "live", "category": "malware", "severity": "high",
				"tlp": "AMBER", "audience": "community", "community_id": w.Circle}, &created); err != nil {
			return nil, "", fmt.Errorf("create incident: %w", err)
		}
		container, path = created.ID, url+"/api/v1/incidents/"+created.ID+"/comments"
	default:
		return nil, "", fmt.Errorf("unknown fan-out target %q: use post or incident", target)
	}
	return func(r int) (string, error) {
		var p struct{ ID string }
		body := map[string]any{"body": fmt.Sprintf("round %d", r+1), "tlp": "AMBER", "audience": "community"}
		if target == "incident" {
			body["community_id"] = w.Circle
		}
		err := call(ctx, api, writer, "POST", path, body, &p)
		return p.ID, err
	}, container, nil
}
