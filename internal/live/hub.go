package live

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/policy"
	"verbund/internal/web"
)

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
	cred   web.Credential
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

// add registers a stream whose view was loaded at broker epoch epoch.
// Events queue for it but are not written until release: the caller
// writes the response head first.
func (h *Hub) add(st *stream, view *policy.View, epoch uint64) {
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
	if epoch != h.cfg.Broker.Epoch() || epoch != h.epoch {
		h.stale = true
	}
	h.streams[st] = struct{}{}
}

// release lets writers serve a stream that add registered.
func (h *Hub) release(st *stream) {
	st.mu.Lock()
	st.scheduled = false
	st.mu.Unlock()
	h.schedule(st)
}

// schedule hands st to a writer unless one has it already.
func (h *Hub) schedule(st *stream) {
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
func (h *Hub) removeLocked(st *stream) {
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

func (h *Hub) remove(st *stream) {
	h.mu.Lock()
	h.removeLocked(st)
	h.mu.Unlock()
}

// loop is the hub's goroutine: it filters every event for every stream.
func (h *Hub) loop(sub *events.Sub) {
	heartbeat := time.NewTicker(h.cfg.Heartbeat)
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
			sub = h.cfg.Broker.Subscribe(hubBuffer)
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
func (h *Hub) deliver(e *events.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := db.Now()
	if e.Type == events.PolicyChanged || h.cfg.Broker.Epoch() != h.epoch || h.stale || h.expired(now) {
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

func (h *Hub) expired(now int64) bool {
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
func (h *Hub) revalidateLocked(now int64) {
	h.epoch = h.cfg.Broker.Epoch()
	h.stale = false
	valid := map[web.Credential]bool{}
	for st := range h.streams {
		ok, seen := valid[st.cred]
		if !seen {
			ok = h.cfg.CheckCredential(h.ctx, st.cred, st.actor) == nil
			valid[st.cred] = ok
		}
		if !ok {
			h.enqueueLocked(st, []byte("event: revoked\ndata: {\"type\":\"revoked\"}\n\n"), true)
		}
	}
	for _, sv := range h.views {
		v, err := h.cfg.LoadView(h.ctx, sv.actor, now)
		if err != nil {
			// Without a current view nothing may be delivered to this
			// user: an empty view sees nothing; retry at the next event.
			h.cfg.Log.Warn("live streams: reload view", "user", sv.actor.UserID, "err", err)
			v = &policy.View{}
			h.stale = true
		}
		sv.view = v
	}
}

// broadcast queues b (a heartbeat) on every stream.
func (h *Hub) broadcast(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for st := range h.streams {
		h.enqueueLocked(st, b, false)
	}
}

// enqueueLocked queues b for st and hands st to a writer; a stream with a
// full queue is dropped. Callers hold h.mu.
func (h *Hub) enqueueLocked(st *stream, b []byte, last bool) {
	st.mu.Lock()
	if st.closed || st.closeAfter {
		st.mu.Unlock()
		return
	}
	if len(st.pending) >= streamBuffer {
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
func (h *Hub) writer() {
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
func (h *Hub) flush(st *stream) {
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
func (h *Hub) reap() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for st := range h.streams {
		if !st.out.alive() {
			h.removeLocked(st)
		}
	}
}
