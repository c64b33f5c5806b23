package web

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
)

// Live streams (Server-Sent Events) are long and mostly idle: a browser tab
// keeps one open for hours and receives a few events. Parking a goroutine
// with net/http's buffers per stream cost ≈ 45 KB each
// (docs/PERFORMANCE.md, figure (c)). So an HTTP/1.1 stream is taken over
// from net/http once it is authorised (hijacked), and all streams are served
// by one hub: one broker subscription and one goroutine decide for every
// stream whether it may receive an event (the same policy check as before:
// View.CanSee or org membership), and a small pool of writers sends the
// bytes. An idle stream is then only its connection, a small struct and a
// share of its user's policy view.
//
// Over HTTP/2 a connection carries many streams and cannot be taken over;
// there the handler's goroutine waits while the same hub writes through the
// ResponseWriter.

const (
	// StreamBuffer is how many events may wait for one stream before the
	// stream is dropped as too slow (the browser reconnects).
	StreamBuffer = 64
	// hubBuffer is the hub's own queue at the broker: all streams are
	// served from it, so it is large.
	hubBuffer = 4096
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

// streamOut is where a stream's bytes go.
type streamOut interface {
	write(b []byte) error
	close()
	// alive reports whether the peer may still be there; false once it
	// has closed the connection.
	alive() bool
}

// credential is what a stream was opened with, re-checked when policy
// changes (the session may end, the token be revoked).
type credential struct {
	token, session, ip string
}

func (c credential) key() string { return c.token + "\x00" + c.session + "\x00" + c.ip }

// sharedView is one user's policy view, shared by all their streams.
type sharedView struct {
	view  *policy.View
	actor policy.Actor // what the view is loaded for (user and org)
	refs  int
}

// viewKey names the view a stream shares. A view depends on the user and
// their org; keying by both keeps two streams apart that were opened for
// different orgs, should a user ever move.
func viewKey(a policy.Actor) string { return a.UserID + "\x00" + a.OrgID }

// stream is one open live stream.
type stream struct {
	out    streamOut
	actor  policy.Actor
	cred   credential
	topics []string
	view   *sharedView
	done   chan struct{} // closed when the stream ends

	mu         sync.Mutex
	pending    [][]byte // encoded events, shared with other streams: read only
	scheduled  bool     // queued for or held by a writer
	closeAfter bool     // end the stream once pending is written
	closed     bool
	wmu        sync.Mutex // held while writing, so an HTTP/2 handler can wait for the last write
	finished   bool       // under wmu: the HTTP/2 handler has returned, its writer is gone
}

// streamHub serves every live stream of this replica.
type streamHub struct {
	s       *Server
	start   sync.Once
	ctx     context.Context
	stop    context.CancelFunc
	stopped chan struct{}

	mu      sync.Mutex
	streams map[*stream]struct{}
	views   map[string]*sharedView // by viewKey
	epoch   uint64                 // broker epoch the views were last loaded at
	stale   bool                   // a view may predate a policy change: reload before delivering

	qmu   sync.Mutex
	qcond *sync.Cond
	queue []*stream

	dropped atomic.Uint64
}

func newStreamHub(s *Server) *streamHub {
	h := &streamHub{s: s, streams: map[*stream]struct{}{}, views: map[string]*sharedView{}, stopped: make(chan struct{})}
	h.qcond = sync.NewCond(&h.qmu)
	h.ctx, h.stop = context.WithCancel(context.Background())
	return h
}

// run starts the hub's goroutines on first use.
func (h *streamHub) run() {
	h.start.Do(func() {
		sub := h.s.Broker.Subscribe(hubBuffer)
		h.epoch = h.s.Broker.Epoch()
		for range streamWriters {
			go h.writer()
		}
		go h.loop(sub)
	})
}

// Streams counts open live streams.
func (s *Server) Streams() int {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return len(s.hub.streams)
}

// StreamsDropped counts streams dropped for being too slow.
func (s *Server) StreamsDropped() uint64 { return s.hub.dropped.Load() }

// CloseStreams ends every live stream and stops the hub (at shutdown:
// http.Server.Shutdown does not know taken-over connections).
func (s *Server) CloseStreams() {
	h := s.hub
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

// add registers a stream whose view was loaded at broker epoch epoch.
// Events queue for it but are not written until release: the caller
// writes the response head first.
func (h *streamHub) add(st *stream, view *policy.View, epoch uint64) {
	st.scheduled = true // held by the caller until release
	h.run()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctx.Err() != nil {
		st.closed = true
		st.out.close()
		close(st.done)
		return
	}
	k := viewKey(st.actor)
	sv := h.views[k]
	if sv == nil {
		sv = &sharedView{view: view, actor: st.actor}
		h.views[k] = sv
	}
	sv.refs++
	st.view = sv
	// A policy change between loading the view and now may already have
	// passed the hub: reload before the next delivery.
	if epoch != h.s.Broker.Epoch() || epoch != h.epoch {
		h.stale = true
	}
	h.streams[st] = struct{}{}
}

// release lets writers serve a stream that add registered.
func (h *streamHub) release(st *stream) {
	st.mu.Lock()
	st.scheduled = false
	st.mu.Unlock()
	h.schedule(st)
}

// schedule hands st to a writer unless one has it already.
func (h *streamHub) schedule(st *stream) {
	st.mu.Lock()
	if st.scheduled || st.closed || len(st.pending) == 0 {
		st.mu.Unlock()
		return
	}
	st.scheduled = true
	st.mu.Unlock()
	h.qmu.Lock()
	h.queue = append(h.queue, st)
	h.qmu.Unlock()
	h.qcond.Signal()
}

// removeLocked ends a stream. Callers hold h.mu.
func (h *streamHub) removeLocked(st *stream) {
	if _, ok := h.streams[st]; !ok {
		return
	}
	delete(h.streams, st)
	if st.view != nil {
		if st.view.refs--; st.view.refs == 0 {
			delete(h.views, viewKey(st.actor))
		}
	}
	st.mu.Lock()
	st.closed = true
	st.pending = nil
	st.mu.Unlock()
	st.out.close()
	close(st.done)
}

func (h *streamHub) remove(st *stream) {
	h.mu.Lock()
	h.removeLocked(st)
	h.mu.Unlock()
}

// loop is the hub's goroutine: it filters every event for every stream.
func (h *streamHub) loop(sub *events.Sub) {
	every := h.s.StreamHeartbeat
	if every <= 0 {
		every = DefaultHeartbeat
	}
	heartbeat := time.NewTicker(every)
	reap := time.NewTicker(reapEvery)
	defer heartbeat.Stop()
	defer reap.Stop()
	defer func() { sub.Close() }()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-sub.Done():
			// The hub itself fell behind: end every stream (browsers
			// reconnect and reload) and start over.
			h.mu.Lock()
			for st := range h.streams {
				h.dropped.Add(1)
				h.removeLocked(st)
			}
			h.mu.Unlock()
			sub = h.s.Broker.Subscribe(hubBuffer)
		case e := <-sub.Events():
			h.deliver(e)
		case <-heartbeat.C:
			// Sessions and tokens also end by the clock: re-check them
			// (once per credential) as often as the heartbeat goes out.
			h.mu.Lock()
			h.revalidateLocked(db.Now())
			h.mu.Unlock()
			h.broadcast([]byte(": ping\n\n"))
		case <-reap.C:
			h.reap()
		}
	}
}

// deliver hands e to every stream that may and wants to receive it.
func (h *streamHub) deliver(e *events.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := db.Now()
	if e.Type == events.PolicyChanged || h.s.Broker.Epoch() != h.epoch || h.stale || h.expired(now) {
		h.revalidateLocked(now)
		if e.Type == events.PolicyChanged {
			return
		}
	}
	var payload []byte
	for st := range h.streams {
		if !deliverable(st.view.view, *e) || !wanted(st.topics, e.Topics) {
			continue
		}
		if payload == nil {
			payload = encodeEvent(e)
		}
		h.enqueueLocked(st, payload, false)
	}
}

// encodeEvent is the SSE message of e; it is the same for every receiver.
func encodeEvent(e *events.Event) []byte {
	data := make(map[string]string, len(e.Data)+1)
	for k, v := range e.Data {
		data[k] = v
	}
	data["type"] = e.Type
	b, _ := json.Marshal(data)
	return append(append([]byte("data: "), b...), '\n', '\n')
}

func (h *streamHub) expired(now int64) bool {
	for _, sv := range h.views {
		if sv.view.Expires != 0 && now >= sv.view.Expires {
			return true
		}
	}
	return false
}

// revalidateLocked re-checks every stream's credentials and reloads every
// user's view: once per credential and per user, not per stream. A stream
// that lost access gets "revoked" and ends. Callers hold h.mu.
func (h *streamHub) revalidateLocked(now int64) {
	h.epoch = h.s.Broker.Epoch()
	h.stale = false
	valid := map[string]bool{}
	for st := range h.streams {
		k := st.cred.key()
		ok, seen := valid[k]
		if !seen {
			ok = h.s.credentialValid(h.ctx, st.cred, st.actor)
			valid[k] = ok
		}
		if !ok {
			h.enqueueLocked(st, []byte("event: revoked\ndata: {\"type\":\"revoked\"}\n\n"), true)
		}
	}
	for _, sv := range h.views {
		v, err := policy.LoadView(h.ctx, h.s.DB.R(), sv.actor, now)
		if err != nil {
			// Without a current view nothing may be delivered to this
			// user: an empty view sees nothing; retry at the next event.
			h.s.Log.Warn("live streams: reload view", "user", sv.actor.UserID, "err", err)
			v = &policy.View{}
			h.stale = true
		}
		sv.view = v
	}
}

// broadcast queues b (a heartbeat) on every stream.
func (h *streamHub) broadcast(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for st := range h.streams {
		h.enqueueLocked(st, b, false)
	}
}

// enqueueLocked queues b for st and hands st to a writer; a stream with a
// full queue is dropped. Callers hold h.mu.
func (h *streamHub) enqueueLocked(st *stream, b []byte, last bool) {
	st.mu.Lock()
	if st.closed || st.closeAfter {
		st.mu.Unlock()
		return
	}
	if len(st.pending) >= StreamBuffer {
		st.mu.Unlock()
		h.dropped.Add(1)
		h.removeLocked(st)
		return
	}
	st.pending = append(st.pending, b)
	st.closeAfter = last
	st.mu.Unlock()
	h.schedule(st)
}

// writer writes queued events, one stream at a time.
func (h *streamHub) writer() {
	for {
		h.qmu.Lock()
		for len(h.queue) == 0 && h.ctx.Err() == nil {
			h.qcond.Wait()
		}
		if h.ctx.Err() != nil {
			h.qmu.Unlock()
			return
		}
		st := h.queue[0]
		h.queue[0] = nil
		h.queue = h.queue[1:]
		h.qmu.Unlock()
		h.flush(st)
	}
}

// flush writes everything pending on st, in order.
func (h *streamHub) flush(st *stream) {
	for {
		st.mu.Lock()
		if st.closed || len(st.pending) == 0 {
			st.scheduled = false
			st.mu.Unlock()
			return
		}
		batch, last := st.pending, st.closeAfter
		st.pending = nil
		st.mu.Unlock()
		st.wmu.Lock()
		var err error
		if st.finished {
			err = net.ErrClosed
		}
		for _, b := range batch {
			if err != nil {
				break
			}
			err = st.out.write(b)
		}
		st.wmu.Unlock()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			h.dropped.Add(1) // stopped reading: as slow as a full queue
		}
		if err != nil || last {
			h.remove(st)
			return
		}
	}
}

// reap ends the streams whose client has gone.
func (h *streamHub) reap() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for st := range h.streams {
		if !st.out.alive() {
			h.removeLocked(st)
		}
	}
}

// credentialValid re-checks the credentials a stream was opened with.
func (s *Server) credentialValid(ctx context.Context, c credential, a policy.Actor) bool {
	return s.checkCredential(ctx, c, a) == nil
}

// checkCredential is credentialValid with the reason: nil while the
// token or session is still good for the actor.
func (s *Server) checkCredential(ctx context.Context, c credential, a policy.Actor) error {
	if c.token != "" {
		_, err := s.Auth.Token(ctx, c.token, c.ip)
		return err
	}
	ended := fault.New(fault.Unauthenticated, "session_expired", "your session has ended: sign in again")
	if c.session == "" {
		return ended
	}
	got, sess, err := s.Auth.Session(ctx, c.session, c.ip)
	switch {
	case err != nil:
		return err
	case sess.MFAPending || got.UserID != a.UserID || got.OrgID != a.OrgID:
		return ended
	}
	return nil
}

// connOut is a taken-over HTTP/1.1 connection.
type connOut struct{ c net.Conn }

func (o connOut) write(b []byte) error {
	if err := o.c.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil {
		return err
	}
	_, err := o.c.Write(b)
	return err
}

// close never blocks. Closing a TLS connection sends close_notify first,
// with a 5 s deadline of crypto/tls's own; to a client that has stopped
// reading (the usual reason a stream is ended) that write would block the
// caller, who holds the hub's lock, and with it every stream. The stream
// body ends with the connection anyway, so the TCP connection is closed
// without it.
func (o connOut) close() { _ = netConn(o.c).Close() }

func (o connOut) alive() bool { return connAlive(o.c) }

// netConn is the TCP connection under c (itself unless c is TLS).
func netConn(c net.Conn) net.Conn {
	if t, ok := c.(*tls.Conn); ok {
		return t.NetConn()
	}
	return c
}

// writerOut writes through a ResponseWriter (HTTP/2), whose handler waits.
type writerOut struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (o writerOut) write(b []byte) error {
	_ = o.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if _, err := o.w.Write(b); err != nil {
		return err
	}
	return o.rc.Flush()
}

func (o writerOut) close()      {}
func (o writerOut) alive() bool { return true } // the handler sees the request end
