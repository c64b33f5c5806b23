package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// mixedRun is one run of the mix against its hubs.
type mixedRun struct {
	o       MixedOptions
	servers []*Server
	circle  string   // the circle's channel
	seeded  []string // the seeded circle threads (CLEAR or GREEN, visible to every client)
	wal     string   // SQLite's log file; "" on PostgreSQL
	dbPID   int      // the local PostgreSQL server's postmaster, 0 if none (postgresPID)

	client    *http.Client
	bodies    []string     // post texts, shared read-only
	measuring atomic.Bool  // requests that start and end while it is set are counted
	t0        atomic.Int64 // start of the measurement, Unix ns (set before measuring)
	stop      chan struct{}
}

// op is an operation of the mix.
type op int

const (
	opFeed op = iota
	opThreadPosts
	opThreadList
	opReply
	opNewThread
	numOps
)

func (o op) name() string {
	return [...]string{OpFeed, OpThreadPosts, OpThreadList, OpReply, OpNewThread}[o]
}

func (o op) path() string {
	return [...]string{"GET /api/v1/posts?limit=20…50", "GET /api/v1/threads/{id}/posts?limit=20…50",
		"GET /api/v1/channels/{circle}/threads?limit=20…50", "POST /api/v1/threads/{id}/posts",
		"POST /api/v1/channels/{circle}/threads"}[o]
}

// window is the length of a throughput window.
const window = 5 * time.Second

// clientStats is what one client measured; only it writes them while it
// runs, so they need no lock.
type clientStats struct {
	lat        [numOps][]time.Duration
	errs       [numOps]int
	firstErr   [numOps]string
	firstErrAt [numOps]time.Time
	windows    []int // answered requests per window, by the time the answer was complete
	served     []int // requests per hub
}

// thread is one a client may reply to; a reply may not be less restricted
// than its thread, so an AMBER thread gets AMBER replies.
type thread struct {
	id    string
	amber bool
}

// load runs the clients for Warmup+Duration and fills res with what was
// measured after the warm-up.
func (r *mixedRun) load(ctx context.Context, writers []*User, res *MixedResult) error {
	n := r.o.Clients
	// One pool for all clients; each keeps its connection to each hub
	// (MaxIdleConnsPerHost = clients), as a keep-alive API client would.
	tr := &http.Transport{MaxIdleConns: n * len(r.servers), MaxIdleConnsPerHost: n, DisableCompression: true, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	r.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	rng := rand.New(rand.NewPCG(r.o.Seed, 0)) // #nosec G404 -- fixed seed on purpose: the same texts in every run
	r.bodies = make([]string, 128)
	for i := range r.bodies {
		r.bodies[i] = body(rng, 80+rng.IntN(521))
	}
	r.stop = make(chan struct{})
	stopWAL := sampleWAL(r.wal, 250*time.Millisecond)
	stats := make([]clientStats, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.run(ctx, i, writers[i], &stats[i])
		}()
	}
	sleep(ctx, r.o.Warmup)
	type cpu struct{ user, sys time.Duration }
	before := make([]cpu, len(r.servers))
	m0 := make([]map[string]float64, len(r.servers))
	for i, s := range r.servers {
		before[i].user, before[i].sys, _ = s.CPU()
		m0[i], _ = Metrics(s.DebugURL, cacheHits, cacheMisses, threadHits, threadMisses, viewHits, viewMisses, writeGroups, groupWrites)
	}
	own0 := ownCPU()
	var db0 time.Duration
	if r.dbPID != 0 {
		db0, _ = treeCPU(r.dbPID)
	}
	t0 := time.Now()
	r.t0.Store(t0.UnixNano())
	r.measuring.Store(true)
	profiled := make(chan error, 1)
	if r.o.CPUProfile != "" {
		go func() { profiled <- cpuProfile(ctx, r.servers[0].DebugURL, r.o.Duration, r.o.CPUProfile) }()
	} else {
		profiled <- nil
	}
	sleep(ctx, r.o.Duration)
	r.measuring.Store(false)
	elapsed := time.Since(t0)
	if err := <-profiled; err != nil {
		return fmt.Errorf("CPU profile: %w", err)
	}
	own1 := ownCPU()
	if r.dbPID != 0 {
		if db1, err := treeCPU(r.dbPID); err == nil && db0 > 0 {
			res.DBServerCPUPct = round2(100 * float64(db1-db0) / float64(elapsed))
		}
	}
	res.Servers = make([]ServerLoad, len(r.servers))
	used := make([]time.Duration, len(r.servers))
	var hits, misses float64
	for i, s := range r.servers {
		u, sy, _ := s.CPU()
		sl := &res.Servers[i]
		used[i] = u + sy - before[i].user - before[i].sys
		sl.CPUPct = round2(100 * float64(used[i]) / float64(elapsed))
		sl.SysPct = round2(100 * float64(sy-before[i].sys) / float64(elapsed))
		m1, _ := Metrics(s.DebugURL, cacheHits, cacheMisses, threadHits, threadMisses, viewHits, viewMisses, writeGroups, groupWrites)
		h, mi := m1[cacheHits]-m0[i][cacheHits], m1[cacheMisses]-m0[i][cacheMisses]
		if h+mi > 0 {
			sl.CacheHitPct = round2(100 * h / (h + mi))
		}
		hits, misses = hits+h, misses+mi
		if th, tm := m1[threadHits]-m0[i][threadHits], m1[threadMisses]-m0[i][threadMisses]; th+tm > 0 {
			sl.ThreadHitPct = round2(100 * th / (th + tm))
		}
		if vh, vm := m1[viewHits]-m0[i][viewHits], m1[viewMisses]-m0[i][viewMisses]; vh+vm > 0 {
			sl.ViewHitPct = round2(100 * vh / (vh + vm))
		}
		if g := m1[writeGroups] - m0[i][writeGroups]; g > 0 {
			sl.WritesPerGroup = round2((m1[groupWrites] - m0[i][groupWrites]) / g)
		}
		if rss, err := s.RSS(); err == nil {
			sl.RSSMB = mb(rss)
		}
	}
	close(r.stop)
	wg.Wait()
	res.WAL = stopWAL()
	if err := ctx.Err(); err != nil {
		return err
	}
	if hits+misses > 0 {
		res.CacheHitPct = round2(100 * hits / (hits + misses))
	}
	res.LoadCPUPct = round2(100 * float64(own1-own0) / float64(elapsed))
	res.Seconds = round2(elapsed.Seconds())
	summarise(res, stats, elapsed)
	for i, sl := range res.Servers {
		if sl.Requests > 0 {
			res.Servers[i].CPUUS = round2(float64(used[i]) / float64(time.Microsecond) / float64(sl.Requests))
		}
	}
	return nil
}

// summarise merges the clients' figures into res.
func summarise(res *MixedResult, stats []clientStats, elapsed time.Duration) {
	var all []time.Duration
	attempts := 0
	for o := range numOps {
		m := MixedOp{Name: o.name(), Path: o.path()}
		var lat []time.Duration
		var firstAt time.Time
		for i := range stats {
			lat = append(lat, stats[i].lat[o]...)
			m.Errors += stats[i].errs[o]
			if e := stats[i].firstErr[o]; e != "" && (firstAt.IsZero() || stats[i].firstErrAt[o].Before(firstAt)) {
				m.FirstError, firstAt = e, stats[i].firstErrAt[o]
			}
		}
		all = append(all, lat...)
		m.Requests = len(lat)
		m.RPS = round2(float64(len(lat)) / elapsed.Seconds())
		m.Latency = Summarise(lat)
		res.Errors += m.Errors
		attempts += m.Requests + m.Errors
		res.Ops = append(res.Ops, m)
	}
	for i := range res.Ops {
		if attempts > 0 {
			res.Ops[i].SharePct = round2(100 * float64(res.Ops[i].Requests+res.Ops[i].Errors) / float64(attempts))
		}
	}
	res.Requests = len(all)
	res.RPS = round2(float64(len(all)) / elapsed.Seconds())
	res.Latency = Summarise(all)
	res.Created, res.Replies = res.Op(OpNewThread).Requests, res.Op(OpReply).Requests

	// Throughput per window; the last one may be shorter. Answers that
	// completed a hair after the end are counted in the last window.
	res.WindowSeconds = window.Seconds()
	res.FullWindows = int(elapsed / window)
	nw := res.FullWindows
	rest := elapsed - time.Duration(nw)*window
	if rest >= time.Second || nw == 0 {
		nw++
	}
	counts := make([]int, nw)
	for i := range stats {
		for w, c := range stats[i].windows {
			counts[min(w, nw-1)] += c
		}
		for h, c := range stats[i].served {
			res.Servers[h].Requests += c
		}
	}
	for w, c := range counts {
		secs := window.Seconds()
		if w == res.FullWindows {
			secs = rest.Seconds()
		}
		res.Windows = append(res.Windows, round2(float64(c)/secs))
	}
	if res.FullWindows >= 2 && res.Windows[0] > 0 {
		res.LastFirstPct = round2(100 * res.Windows[res.FullWindows-1] / res.Windows[0])
	}
}

// run is one client: one request after the other until the run stops.
// Client i draws its operations from its own generator (seed Seed, stream
// i); every choice is drawn whatever the answers were, so the sequence of
// operations depends on the seed alone. Which threads exist depends on
// timing (their ids), not which of them a client picks.
func (r *mixedRun) run(ctx context.Context, i int, u *User, st *clientStats) {
	rng := rand.New(rand.NewPCG(r.o.Seed, uint64(i)+1)) // #nosec G404 G115 -- fixed seed on purpose: reproducible load; i is a client index, never negative
	// The seeded circle threads and the ones this client starts: others'
	// new threads are not known to it (as an API client learns of them
	// only by listing), and keeping them apart keeps each client's choices
	// independent of the others'.
	threads := make([]thread, 0, len(r.seeded)+64)
	for _, id := range r.seeded {
		threads = append(threads, thread{id: id})
	}
	st.served = make([]int, len(r.servers))
	auth := "Bearer " + u.WriteToken
	for k := 0; ; k++ {
		select {
		case <-r.stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		o := r.pick(rng)
		limit := strconv.Itoa(20 + rng.IntN(31))
		t := threads[rng.IntN(len(threads))]
		amber := rng.IntN(100) < 40 // writes: TLP:AMBER 40 %, GREEN 60 %, to the circle
		text := r.bodies[rng.IntN(len(r.bodies))]
		// Requests go to the hubs in turn, as a round-robin load balancer
		// in front of keep-alive connections sends them.
		hub := (i + k) % len(r.servers)
		var method, path string
		var payload any
		want := http.StatusOK
		switch o {
		case opFeed:
			method, path = http.MethodGet, "/api/v1/posts?limit="+limit
		case opThreadPosts:
			method, path = http.MethodGet, "/api/v1/threads/"+t.id+"/posts?limit="+limit
		case opThreadList:
			method, path = http.MethodGet, "/api/v1/channels/"+r.circle+"/threads?limit="+limit
		case opReply:
			tlp := "GREEN"
			if amber || t.amber {
				tlp = "AMBER"
			}
			method, path, want = http.MethodPost, "/api/v1/threads/"+t.id+"/posts", http.StatusCreated
			payload = map[string]string{"body": text, "tlp": tlp, "audience": "community"}
		case opNewThread:
			tlp := "GREEN"
			if amber {
				tlp = "AMBER"
			}
			method, path, want = http.MethodPost, "/api/v1/channels/"+r.circle+"/threads", http.StatusCreated
			payload = map[string]string{"title": fmt.Sprintf("Incident %d-%d: %s", i, k, text[:40]), "body": text, "tlp": tlp, "audience": "community"}
		}
		on := r.measuring.Load()
		start := time.Now()
		id, err := r.do(ctx, r.servers[hub].URL, method, path, auth, payload, want, o == opNewThread)
		done := time.Now()
		if o == opNewThread && err == nil {
			threads = append(threads, thread{id: id, amber: amber})
		}
		if !on || !r.measuring.Load() {
			continue
		}
		st.served[hub]++
		if err != nil {
			if st.errs[o]++; st.firstErr[o] == "" {
				st.firstErr[o], st.firstErrAt[o] = err.Error(), done
			}
			continue
		}
		st.lat[o] = append(st.lat[o], done.Sub(start))
		w := int(done.Sub(time.Unix(0, r.t0.Load())) / window)
		for len(st.windows) <= w {
			st.windows = append(st.windows, 0)
		}
		st.windows[w]++
	}
}

// pick draws the next operation: WriteShare writes (85 % replies, 15 %
// new threads), the rest reads (40 % feed, 40 % a thread's posts, 20 % the
// circle's thread list).
func (r *mixedRun) pick(rng *rand.Rand) op {
	if rng.Float64() < r.o.WriteShare {
		if rng.IntN(100) < 85 {
			return opReply
		}
		return opNewThread
	}
	switch x := rng.IntN(100); {
	case x < 40:
		return opFeed
	case x < 80:
		return opThreadPosts
	default:
		return opThreadList
	}
}

// do sends one request and reads the whole answer, so that the connection
// is used again. An answer other than want is an error (4xx too: every
// request of the mix is one the client may make). With thread, it returns
// the id of the thread the answer created.
func (r *mixedRun) do(ctx context.Context, base, method, path, auth string, payload any, want int, thread bool) (string, error) {
	var rd io.Reader
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return "", err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", auth)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		_, _ = io.Copy(io.Discard, resp.Body)
		return "", fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if !thread {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return "", fmt.Errorf("%s %s: read the answer: %w", method, path, err)
		}
		return "", nil
	}
	var created struct {
		Thread struct {
			ID string `json:"id"`
		} `json:"thread"`
	}
	err = json.NewDecoder(resp.Body).Decode(&created)
	_, _ = io.Copy(io.Discard, resp.Body)
	if err != nil || created.Thread.ID == "" {
		return "", fmt.Errorf("%s %s: no thread id in the answer (%v)", method, path, err)
	}
	return created.Thread.ID, nil
}

// sampleWAL reads the size of SQLite's log file every interval until the
// returned function is called, which returns the series (nil without a
// file to watch). The keeper truncates the log within 250 ms of it
// passing 16 MB, so sampling once a second could miss the peaks; the
// series keeps each second's largest size.
func sampleWAL(path string, every time.Duration) func() *WALSeries {
	if path == "" {
		return func() *WALSeries { return nil }
	}
	size := func() int64 {
		if st, err := os.Stat(path); err == nil {
			return st.Size()
		}
		return 0 // no log at all: nothing to replay
	}
	stop, done := make(chan struct{}), make(chan *WALSeries)
	go func() {
		s := &WALSeries{SampleMS: float64(every) / float64(time.Millisecond)}
		var peak int64
		var perSec []int64
		start := time.Now()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			b := size()
			sec := int(time.Since(start) / time.Second)
			for len(perSec) <= sec {
				perSec = append(perSec, 0)
			}
			perSec[sec] = max(perSec[sec], b)
			peak = max(peak, b)
			select {
			case <-stop:
				b = size()
				s.MaxMB, s.EndMB = mb(max(peak, b)), mb(b)
				for _, v := range perSec {
					s.PerSecondMB = append(s.PerSecondMB, mb(v))
				}
				done <- s
				return
			case <-t.C:
			}
		}
	}()
	return func() *WALSeries { close(stop); return <-done }
}
