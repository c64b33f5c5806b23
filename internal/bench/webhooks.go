package bench

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/intel"
	"verbund/internal/notify"
	"verbund/internal/policy"
)

// WebhooksOptions configures Webhooks.
type WebhooksOptions struct {
	Exe        string
	Deliveries int // events waiting in the outbox when the hub starts (default 5,000)
	Log        io.Writer
}

// WebhooksResult is the webhook figure of issue "Shared incidents".
type WebhooksResult struct {
	Deliveries  int     `json:"deliveries"`
	PerSecond   float64 `json:"deliveries_per_second"` // from the first delivery to the last of the first run
	Seconds     float64 `json:"seconds"`
	KilledAfter int     `json:"killed_after"` // deliveries received when the hub was killed (SIGKILL)
	Received    int     `json:"received"`     // distinct deliveries received in the end
	Duplicates  int     `json:"duplicates"`   // deliveries received more than once (at least once: allowed)
	BadSigned   int     `json:"bad_signatures"`
	Lost        int     `json:"lost"`
	Checks      []Check `json:"checks"`
}

// Webhooks measures the deliverer: it builds the bench world in a fresh
// SQLite folder, gives sme a webhook to a receiver in this process on
// 127.0.0.1 (which checks every Standard Webhooks signature), writes
// Deliveries sighting events of an indicator sme holds into the outbox
// in one transaction, and starts the hub (with --webhook-allow-private):
// deliveries/s is the first run's rate from the first delivery to the
// last. A second world does the same, but the hub is killed (SIGKILL)
// when a third of the deliveries arrived, and started again: every
// delivery must arrive (at least once; receivers de-duplicate by
// webhook-id).
func Webhooks(ctx context.Context, o WebhooksOptions) (*WebhooksResult, error) {
	if o.Deliveries <= 0 {
		o.Deliveries = 5000
	}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format, args...)
		}
	}
	res := &WebhooksResult{Deliveries: o.Deliveries}
	logf("delivering %d webhooks from a hub's outbox …\n", o.Deliveries)
	first, err := webhookRun(ctx, o, false, logf)
	if err != nil {
		return nil, err
	}
	res.Seconds = round2(first.last.Sub(first.first).Seconds())
	if res.Seconds > 0 {
		res.PerSecond = round2(float64(first.received()) / res.Seconds)
	}
	logf("  %.0f deliveries/s; now again, with a kill -9 after a third …\n", res.PerSecond)
	second, err := webhookRun(ctx, o, true, logf)
	if err != nil {
		return nil, err
	}
	res.KilledAfter, res.Received, res.Duplicates = second.killedAfter, second.received(), second.dupes
	res.BadSigned = first.bad + second.bad
	res.Lost = o.Deliveries - second.received() + o.Deliveries - first.received()
	res.Checks = []Check{
		atLeast("webhook deliveries to a receiver on loopback", res.PerSecond, 1000, "deliveries/s"),
		atMost("webhook deliveries lost across a kill -9", float64(res.Lost), 0, ""),
		atMost("webhook deliveries with a bad signature", float64(res.BadSigned), 0, ""),
	}
	return res, nil
}

// receiver counts the distinct deliveries it gets with a valid signature.
type receiver struct {
	mu          sync.Mutex
	key         []byte
	got         map[string]bool
	dupes, bad  int
	first, last time.Time
	killedAfter int
}

func (rx *receiver) received() int {
	rx.mu.Lock()
	defer rx.mu.Unlock()
	return len(rx.got)
}

func (rx *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	m := hmac.New(sha256.New, rx.key)
	m.Write([]byte(id + "." + r.Header.Get("webhook-timestamp") + "." + string(body)))
	ok := r.Header.Get("webhook-signature") == "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil))
	rx.mu.Lock()
	defer rx.mu.Unlock()
	if !ok {
		rx.bad++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	now := time.Now()
	if rx.first.IsZero() {
		rx.first = now
	}
	rx.last = now
	if rx.got[id] {
		rx.dupes++
	}
	rx.got[id] = true
}

// webhookRun is one world: seeded outbox, hub started, all delivered
// (with kill: killed after a third and started again).
func webhookRun(ctx context.Context, o WebhooksOptions, kill bool, logf func(string, ...any)) (*receiver, error) {
	rx := &receiver{got: map[string]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: rx, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	dir, err := os.MkdirTemp("", "verbund-bench-webhooks-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// The seeding hub's own deliverer (and its other rounds) must not
	// send what this process writes into the outbox: they run on sctx,
	// which ends before anything is enqueued.
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	_, _, err = prepare(sctx, dir, 0, func(d *db.DB, w *World) (Seeded, error) {
		stop()
		time.Sleep(100 * time.Millisecond)
		a := w.App
		a.Notify.AllowPrivate = true // the receiver is on loopback
		admin := w.Users["sme.admin"].Actor
		hook, err := a.Notify.CreateWebhook(ctx, admin, notify.WebhookInput{URL: "http://" + ln.Addr().String() + "/hook", Events: []string{intel.EventSighting}})
		if err != nil {
			return Seeded{}, fmt.Errorf("create the webhook: %w", err)
		}
		if rx.key, err = base64.StdEncoding.DecodeString(strings.TrimPrefix(hook.Secret, "whsec_")); err != nil {
			return Seeded{}, fmt.Errorf("the webhook's secret: %w", err)
		}
		// A stored object: each attempt checks that the org may still see it.
		const ind = "indicator--77777777-0000-4000-8000-000000000001"
		bundle := `{"type":"bundle","id":"bundle--77777777-0000-4000-8000-000000000009","objects":[{"type":"indicator","spec_version":"2.1","id":"` + ind +
			`","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"bench","pattern":"[ipv4-addr:value = '198.51.100.77']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}`
		if _, err := a.Intel.Import(ctx, admin, strings.NewReader(bundle), intel.ImportOptions{Via: "bench"}); err != nil {
			return Seeded{}, err
		}
		objs, _, err := a.Intel.List(ctx, admin, intel.Filter{IDs: []string{ind}, Limit: 1})
		if err != nil || len(objs) != 1 {
			return Seeded{}, fmt.Errorf("the bench indicator: %v", err)
		}
		share := objs[0].Share
		return Seeded{}, d.Tx(ctx, func(tx *db.Tx) error {
			for i := range o.Deliveries {
				if err := a.Notify.Enqueue(ctx, tx, notify.Event{Type: intel.EventSighting, Share: share, Data: map[string]any{"id": objs[0].ID, "n": i}}); err != nil {
					return err
				}
			}
			return audit.Write(ctx, tx, policy.System("bench"), audit.Entry{Action: "bench.enqueue", Touches: audit.Nothing()})
		})
	})
	if err != nil {
		return nil, err
	}
	srv, err := StartServer(ctx, o.Exe, dir, "--webhook-allow-private")
	if err != nil {
		return nil, err
	}
	defer func() { _ = srv.Stop() }()
	deadline := time.Now().Add(2 * time.Minute)
	if kill {
		for rx.received() < o.Deliveries/3 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		rx.killedAfter = rx.received()
		if err := srv.Kill(); err != nil {
			return nil, err
		}
		logf("  killed after %d deliveries; starting again …\n", rx.killedAfter)
		if srv, err = StartServer(ctx, o.Exe, dir, "--webhook-allow-private"); err != nil {
			return nil, err
		}
	}
	for rx.received() < o.Deliveries && time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		time.Sleep(5 * time.Millisecond)
	}
	return rx, nil
}
