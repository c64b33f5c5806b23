// Package live serves the live-update streams (Server-Sent Events on
// GET /events) of this replica: one stream hub filters every broker event
// for every open stream through policy and writes it.
//
// Live streams are long and mostly idle: a browser tab keeps one open for
// hours and receives a few events. Parking a goroutine with net/http's
// buffers per stream cost ≈ 45 KB each (docs/PERFORMANCE.md, figure (c)).
// So an HTTP/1.1 stream is taken over from net/http once it is authorised
// (hijacked), and all streams are served by one hub: one broker
// subscription and one goroutine decide for every stream whether it may
// receive an event (View.CanSee or org membership, then the topic), and a
// small pool of writers sends the bytes. An idle stream is then only its
// connection, a small struct and a share of its user's policy view.
//
// Over HTTP/2 a connection carries many streams and cannot be taken over;
// there the handler's goroutine waits while the same hub writes through
// the ResponseWriter.
//
// When policy changes (events.PolicyChanged) and at every heartbeat the
// hub re-checks credentials and reloads views. Those are database queries,
// once per credential and per user; they run on a goroutine of their own
// without the hub's lock, so deliveries go on meanwhile. How that keeps
// the security rules is explained in recheck.go and docs/SECURITY.md,
// item 4.
package live

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"verbund/internal/events"
	"verbund/internal/policy"
	"verbund/internal/web"
)

const (
	// streamBuffer is how many events may wait for one stream before the
	// stream is dropped as too slow (the browser reconnects).
	streamBuffer = 64
	// hubBuffer is the hub's own queue at the broker: all streams are
	// served from it, so it is large.
	hubBuffer = 4096
	// maxHeld is how many events may be held back for streams that wait
	// for their re-check (recheck.go) before those streams are ended as
	// if the hub had fallen behind: the same bound as the broker queue
	// that used to fill while the hub re-checked.
	maxHeld = hubBuffer
	// streamWriters is the number of goroutines that write to streams. A
	// write blocks only when a client has stopped reading long enough to
	// fill its socket buffer (hundreds of events); it then fails after
	// streamWriteTimeout and the stream ends. Several writers keep a few
	// such clients from holding back everyone else.
	streamWriters      = 16
	streamWriteTimeout = 2 * time.Second
	// streamSendBuffer is the socket send buffer of a taken-over stream.
	streamSendBuffer = 32 << 10
	// DefaultHeartbeat is how often an idle stream gets a comment (so
	// proxies keep it open and dead clients are found) and its
	// credentials are re-checked.
	DefaultHeartbeat = 25 * time.Second
	// reapEvery is how often closed connections are looked for: without a
	// goroutine reading each connection, a client that went away is
	// noticed by looking (see connAlive) or at the next write.
	reapEvery = time.Second
)

// Config is what the hub needs from the rest of the hub.
type Config struct {
	Broker *events.Broker
	// LoadView loads the reader's policy view at time now (policy.LoadView
	// on the database).
	LoadView func(ctx context.Context, a policy.Actor, now int64) (*policy.View, error)
	// CheckCredential is nil while the token or session a stream was
	// opened with is still good for a (web.Server.CheckCredential).
	CheckCredential func(ctx context.Context, c web.Credential, a policy.Actor) error
	// Heartbeat is how often streams get a heartbeat and have their
	// credentials re-checked; 0: DefaultHeartbeat.
	Heartbeat time.Duration
	Log       *slog.Logger
}

// Hub serves every live stream of this replica.
type Hub struct {
	cfg   Config
	start sync.Once
	ctx   context.Context
	stop  context.CancelFunc
	kick  chan struct{} // wakes the re-check goroutine; buffer 1

	mu      sync.Mutex
	streams map[*stream]struct{}
	views   map[string]*sharedView // by viewKey
	// epoch is the highest broker epoch stamped on an event so far: the
	// policy changes the hub has passed.
	epoch uint64
	// held are the events processed while some stream waited for its
	// re-check; heldBase is the sequence number of held[0].
	held     []heldEvent
	heldBase uint64
	waiting  int  // streams waiting for their re-check
	want     bool // a re-check of what is behind is wanted
	wantAll  bool // the heartbeat wants every credential and view re-checked
	retry    bool // a credential or view got no answer: try again at the next event

	qmu   sync.Mutex
	qcond *sync.Cond
	queue []*stream

	dropped atomic.Uint64
}

// New returns a hub; its goroutines start with the first stream.
func New(cfg Config) *Hub {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{cfg: cfg, streams: map[*stream]struct{}{}, views: map[string]*sharedView{}, kick: make(chan struct{}, 1)}
	h.qcond = sync.NewCond(&h.qmu)
	h.ctx, h.stop = context.WithCancel(context.Background())
	return h
}

// Register puts the stream on srv's router: GET /events for every
// signed-in user, authenticated by the router's guard like every route.
func Register(srv *web.Server, h *Hub) {
	srv.Router.HandleLong("GET /events", web.Read, func(w http.ResponseWriter, r *http.Request) error {
		return h.Serve(w, r, web.ActorFrom(r), srv.Credential(r))
	})
}

// run starts the hub's goroutines on first use.
func (h *Hub) run() {
	h.start.Do(func() {
		sub := h.cfg.Broker.Subscribe(hubBuffer)
		h.mu.Lock()
		h.epoch = h.cfg.Broker.Epoch()
		h.mu.Unlock()
		for range streamWriters {
			go h.writer()
		}
		go h.checker()
		go h.loop(sub)
	})
}

// Streams counts open live streams.
func (h *Hub) Streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.streams)
}

// Dropped counts streams dropped for being too slow.
func (h *Hub) Dropped() uint64 { return h.dropped.Load() }

// Close ends every live stream and stops the hub (at shutdown:
// http.Server.Shutdown does not know taken-over connections). Each stream
// first gets what was queued for it and a last "shutdown" event, which
// tells the browser that the hub is going away (it reconnects, to another
// replica or to this one once it is back) rather than that something
// failed; what cannot be written within grace is dropped.
func (h *Hub) Close(grace time.Duration) {
	h.mu.Lock()
	for st := range h.streams {
		h.enqueueLocked(st, []byte("event: shutdown\ndata: {\"type\":\"shutdown\"}\n\n"), true)
	}
	h.mu.Unlock()
	for deadline := time.Now().Add(grace); h.Streams() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	h.stop()
	h.mu.Lock()
	for st := range h.streams {
		h.removeLocked(st)
	}
	h.mu.Unlock()
	h.qmu.Lock()
	h.qcond.Broadcast()
	h.qmu.Unlock()
}
