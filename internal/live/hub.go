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
	// epoch is the broker epoch read before the view was loaded: it
	// reflects every policy change up to that epoch.
	epoch   uint64
	failed  bool // the last load failed: its streams wait (events are held) until a retry works
	streams map[*stream]struct{}
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

	// Under Hub.mu.
	credEpoch uint64 // broker epoch read before the credential was last found good
	revoked   bool   // the credential is gone: "revoked" is queued, nothing else follows
	waiting   bool   // not ready for the latest event: held events wait for its re-check
	wait      uint64 // while waiting: sequence number of the first held event not yet offered

	mu         sync.Mutex
	pending    [][]byte // encoded events, shared with other streams: read only
	scheduled  bool     // queued for or held by a writer
	closeAfter bool     // end the stream once pending is written
	closed     bool
	wmu        sync.Mutex // held while writing, so an HTTP/2 handler can wait for the last write
	finished   bool       // under wmu: the HTTP/2 handler has returned, its writer is gone
}

// add registers a stream whose credential was checked and view loaded
// after reading broker epoch epoch. Events queue for it but are not
// written until release: the caller writes the response head first.
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
	switch {
	case sv == nil:
		sv = &sharedView{view: view, actor: st.actor, epoch: epoch, streams: map[*stream]struct{}{}}
		h.views[k] = sv
	case epoch > sv.epoch || epoch == sv.epoch && sv.failed:
		// The newer load serves every stream of the user.
		sv.view, sv.epoch, sv.failed = view, epoch, false
	}
	sv.streams[st] = struct{}{}
	st.view = sv
	st.credEpoch = epoch
	h.streams[st] = struct{}{}
	// A policy change between reading the epoch and now may already
	// have passed the hub: the stream waits at the next event until its
	// credential and view are checked again (recheck.go).
	if epoch < h.cfg.Broker.Epoch() {
		h.requestLocked(false)
	}
	h.replayViewLocked(sv, db.Now())
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
	h.stopWaitingLocked(st)
	if sv := st.view; sv != nil {
		delete(sv.streams, st)
		if len(sv.streams) == 0 && h.views[viewKey(st.actor)] == sv {
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
			// The re-check runs beside this loop; deliveries go on.
			h.mu.Lock()
			h.requestLocked(true)
			h.mu.Unlock()
			h.broadcast([]byte(": ping\n\n"))
		case <-reap.C:
			h.reap()
		}
	}
}

// deliver hands e to every stream that may and wants to receive it.
//
// The event is stamped with the broker epoch read now: every policy change
// the hub has seen before e (the broker raises the epoch before it queues
// PolicyChanged) is at or below the stamp. A stream receives e only when
// its credential was found good, and its view was loaded, after reading an
// epoch at least as high (readyLocked). A stream that is not ready waits:
// e and every later event are held for it until its re-check has been
// applied (recheck.go), then offered in order.
func (h *Hub) deliver(e *events.Event) {
	stamp := h.cfg.Broker.Epoch()
	now := db.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if stamp > h.epoch {
		h.epoch = stamp
		h.requestLocked(false)
	}
	if h.retry {
		h.requestLocked(false)
	}
	if e.Type == events.PolicyChanged {
		return // nothing to deliver: its effect is the new epoch
	}
	he := heldEvent{e: e, stamp: stamp}
	seq := h.heldBase + uint64(len(h.held))
	for st := range h.streams {
		if st.waiting || st.revoked {
			continue
		}
		if !h.readyLocked(st, stamp, now) {
			h.startWaitingLocked(st, seq)
			continue
		}
		h.offerLocked(st, &he)
	}
	if h.waiting > 0 {
		h.holdLocked(he)
	}
}

// offerLocked queues he for st if st may and wants to receive it.
func (h *Hub) offerLocked(st *stream, he *heldEvent) {
	if !deliverable(st.view.view, st.actor.Role, *he.e) || !wanted(st.topics, he.e.Topics) {
		return
	}
	if he.payload == nil {
		he.payload = encodeEvent(he.e)
	}
	h.enqueueLocked(st, he.payload, false)
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
