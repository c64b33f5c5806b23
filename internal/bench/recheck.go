package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// RecheckResult is the delivery of posts while the hub re-checks its
// streams. With one stream per user, a re-check is a token query and a
// view load for every stream: after a policy change (before the next
// delivery to each stream) and at every heartbeat (sessions and tokens
// that expire by the clock).
type RecheckResult struct {
	Streams      int     `json:"streams"` // each of a distinct user with its own read token
	Authorised   int     `json:"authorised"`
	Unauthorised int     `json:"unauthorised"`
	Changes      int     `json:"policy_changes"` // token revocations, each publishing policy.changed
	WindowMS     float64 `json:"window_ms"`      // posts sent this long after each change are measured
	IntervalMS   float64 `json:"interval_ms"`    // one post this often
	// Baseline is the same pace without a policy change or heartbeat.
	Baseline Latencies `json:"baseline"`
	// AfterChange is every post sent in the windows after the changes.
	AfterChange Latencies `json:"after_policy_change"`
	// FirstPost is the first post sent after each change (as soon as the
	// revocation has returned): it waits longest for the re-check.
	FirstPost   Latencies `json:"first_post"`
	ChangeMaxMS []float64 `json:"change_max_ms"` // slowest delivery per window
	// Heartbeat is every post sent within the window before and after
	// the first heartbeat the streams received (zero when not measured).
	Heartbeat Latencies `json:"heartbeat"`
	Missed    int       `json:"missed"` // authorised deliveries that did not arrive within 5 s
	Leaked    int       `json:"leaked"` // deliveries to unauthorised streams
}

// recheckBench measures deliveries to streams of many distinct users.
type recheckBench struct {
	srv            *Server
	api            *http.Client
	writer, thread string
	every          time.Duration
	ok             []bool // per stream: may see the circle's posts
	res            *RecheckResult

	mu     sync.Mutex
	byPost map[string][]delivery // deliveries by post id; heartbeats under ""
}

type sentPost struct {
	id string
	at time.Time
}

// recheckRun is the re-check measurement of Fanout: it opens a stream for
// each of users (ok[i]: may see the circle's posts); waits for the next
// heartbeat while posting at a steady pace (unless o.RecheckHeartbeat is
// off); posts for o.RecheckWindow without a change (the baseline) and
// after each of o.RecheckChanges token revocations; and measures each
// post's delivery to every authorised stream from the moment its POST was
// sent.
func recheckRun(ctx context.Context, srv *Server, api *http.Client, writer, thread string, users []*User, ok []bool, o FanoutOptions, logf func(string, ...any)) (*RecheckResult, error) {
	b := &recheckBench{srv: srv, api: api, writer: writer, thread: thread, every: o.RecheckEvery, ok: ok,
		byPost: map[string][]delivery{},
		res: &RecheckResult{Streams: len(users), Changes: o.RecheckChanges,
			WindowMS: ms(o.RecheckWindow), IntervalMS: ms(o.RecheckEvery)}}
	for _, a := range ok {
		if a {
			b.res.Authorised++
		}
	}
	b.res.Unauthorised = b.res.Streams - b.res.Authorised

	logf("re-check: opening %d streams of %d distinct users …\n", len(users), len(users))
	streamCtx, cancel := context.WithCancel(ctx)
	collected, err := b.open(streamCtx, users)
	defer func() { cancel(); <-collected }()
	if err != nil {
		return nil, err
	}

	if o.RecheckHeartbeat {
		logf("  waiting for the next heartbeat (every 25 s), posting meanwhile …\n")
		posts, ping, err := b.postUntilHeartbeat(ctx, o.RecheckWindow, 40*time.Second)
		if err != nil {
			return nil, err
		}
		var window []sentPost
		for _, p := range posts {
			if p.at.After(ping.Add(-o.RecheckWindow)) {
				window = append(window, p)
			}
		}
		lat, _ := b.measure(ctx, window)
		b.res.Heartbeat = Summarise(lat)
		logf("  around the heartbeat: %s\n", b.res.Heartbeat)
	}

	posts, err := b.postFor(ctx, o.RecheckWindow, "baseline")
	if err != nil {
		return nil, err
	}
	lat, _ := b.measure(ctx, posts)
	b.res.Baseline = Summarise(lat)
	logf("  without a policy change: %s\n", b.res.Baseline)

	var after, first []time.Duration
	for c := range o.RecheckChanges {
		// A token of the writer's own, revoked: it publishes
		// policy.changed and changes no stream's access.
		var tok struct {
			Token struct{ ID string } `json:"token"`
		}
		if err := call(ctx, api, writer, "POST", srv.URL+"/api/v1/tokens", map[string]any{"name": "bench re-check", "scope": "read"}, &tok); err != nil {
			return nil, fmt.Errorf("create token: %w\n%s", err, srv.Log())
		}
		if err := call(ctx, api, writer, "DELETE", srv.URL+"/api/v1/tokens/"+tok.Token.ID, nil, nil); err != nil {
			return nil, fmt.Errorf("revoke token: %w\n%s", err, srv.Log())
		}
		posts, err := b.postFor(ctx, o.RecheckWindow, fmt.Sprintf("re-check %d", c+1))
		if err != nil {
			return nil, err
		}
		lat, firsts := b.measure(ctx, posts)
		after, first = append(after, lat...), append(first, firsts...)
		l, f := Summarise(lat), Summarise(firsts)
		b.res.ChangeMaxMS = append(b.res.ChangeMaxMS, l.MaxMS)
		logf("  policy change %d: %d posts, %s; first post p50 %.1f ms, all in %.1f ms\n", c+1, len(posts), l, f.P50MS, f.MaxMS)
		sleep(ctx, 500*time.Millisecond)
	}
	b.res.AfterChange, b.res.FirstPost = Summarise(after), Summarise(first)
	return b.res, nil
}

// open opens a stream for each user and collects what they receive until
// ctx ends; the returned channel is closed when collecting has stopped.
func (b *recheckBench) open(ctx context.Context, users []*User) (<-chan struct{}, error) {
	tr := &http.Transport{DisableCompression: true}
	sse := &http.Client{Transport: tr}
	got := make(chan delivery, 16*len(users))
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		defer tr.CloseIdleConnections()
		for {
			select {
			case d := <-got:
				b.mu.Lock()
				b.byPost[d.id] = append(b.byPost[d.id], d)
				b.mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	}()
	var opened sync.WaitGroup
	var openMu sync.Mutex
	var openErr error
	gate := make(chan struct{}, 32)
	for i, u := range users {
		opened.Add(1)
		gate <- struct{}{}
		go func() {
			err := stream(ctx, sse, b.srv.URL, u.ReadToken, i, got, true, func() { <-gate; opened.Done() })
			if err != nil && ctx.Err() == nil {
				openMu.Lock()
				if openErr == nil {
					openErr = err
				}
				openMu.Unlock()
			}
		}()
	}
	opened.Wait()
	if openErr != nil {
		return collected, fmt.Errorf("open stream: %w\n%s", openErr, b.srv.Log())
	}
	return collected, waitSubscribers(ctx, b.srv, len(users))
}

// post publishes one reply and notes when its POST was sent.
func (b *recheckBench) post(ctx context.Context, label string) (sentPost, error) {
	var p struct{ ID string }
	at := time.Now()
	if err := call(ctx, b.api, b.writer, "POST", b.srv.URL+"/api/v1/threads/"+b.thread+"/posts",
		map[string]any{"body": label, "tlp": "AMBER", "audience": "community"}, &p); err != nil {
		return sentPost{}, fmt.Errorf("publish: %w\n%s", err, b.srv.Log())
	}
	return sentPost{p.ID, at}, nil
}

// postWhile posts at the pace while more(now) holds.
func (b *recheckBench) postWhile(ctx context.Context, label string, more func(time.Time) bool) ([]sentPost, error) {
	var out []sentPost
	tick := time.NewTicker(b.every)
	defer tick.Stop()
	for more(time.Now()) {
		p, err := b.post(ctx, label)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}

func (b *recheckBench) postFor(ctx context.Context, d time.Duration, label string) ([]sentPost, error) {
	end := time.Now().Add(d)
	return b.postWhile(ctx, label, func(now time.Time) bool { return now.Before(end) })
}

// postUntilHeartbeat posts until a heartbeat has reached a stream and
// after more has passed; it returns the posts and when the heartbeat
// arrived. The hub's heartbeat also re-checks every stream: the old hub
// sent it once the re-check was done, the current one at once.
func (b *recheckBench) postUntilHeartbeat(ctx context.Context, after, limit time.Duration) ([]sentPost, time.Time, error) {
	b.mu.Lock()
	seen := len(b.byPost[""])
	b.mu.Unlock()
	var ping time.Time
	giveUp := time.Now().Add(limit)
	posts, err := b.postWhile(ctx, "heartbeat", func(now time.Time) bool {
		if ping.IsZero() {
			b.mu.Lock()
			for _, d := range b.byPost[""][seen:] {
				if ping.IsZero() || d.at.Before(ping) {
					ping = d.at
				}
			}
			b.mu.Unlock()
		}
		return now.Before(giveUp) && (ping.IsZero() || now.Before(ping.Add(after)))
	})
	if err == nil && ping.IsZero() {
		err = fmt.Errorf("no heartbeat within %s", limit)
	}
	return posts, ping, err
}

// measure waits until every authorised stream has each post (or 5 s have
// passed), counts what was missed and leaked, and returns the latencies of
// all posts and of the first one.
func (b *recheckBench) measure(ctx context.Context, posts []sentPost) (all, first []time.Duration) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil && !b.allArrived(posts) {
		sleep(ctx, 20*time.Millisecond)
	}
	sleep(ctx, 300*time.Millisecond) // leaks to unauthorised streams would show up by now
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, p := range posts {
		seen := make([]bool, len(b.ok))
		n := 0
		for _, d := range b.byPost[p.id] {
			if !b.ok[d.stream] {
				b.res.Leaked++
				continue
			}
			if seen[d.stream] {
				continue
			}
			seen[d.stream] = true
			n++
			l := d.at.Sub(p.at)
			all = append(all, l)
			if i == 0 {
				first = append(first, l)
			}
		}
		b.res.Missed += b.res.Authorised - n
	}
	return all, first
}

func (b *recheckBench) allArrived(posts []sentPost) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range posts {
		n := 0
		for _, d := range b.byPost[p.id] {
			if b.ok[d.stream] {
				n++
			}
		}
		if n < b.res.Authorised {
			return false
		}
	}
	return true
}

// waitSubscribers waits until the hub counts n streams.
func waitSubscribers(ctx context.Context, srv *Server, n int) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := Metrics(srv.DebugURL, "verbund_sse_subscribers")
		if err != nil {
			return err
		}
		if int(m["verbund_sse_subscribers"]) == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the hub counts %v streams, want %d", m["verbund_sse_subscribers"], n)
		}
		if sleep(ctx, 50*time.Millisecond); ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
