package live

import (
	"sync"
	"sync/atomic"
	"time"

	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/fault"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// Re-checks: when policy changes (a PolicyChanged event raises the broker
// epoch) and at every heartbeat, the credentials of open streams are
// checked again (once per credential) and views reloaded (once per user).
// Those are database queries: for a thousand users, 30 ms of them on an
// idle two-core machine, up to 300 ms on a busy one (docs/PERFORMANCE.md). They run beside the hub's loop (checker), without the hub's
// lock, two users at a time; results are applied under the lock a few
// users at a time as soon as they are known. Deliveries go on meanwhile.
//
// What keeps this safe (docs/SECURITY.md, item 4) is the epoch each
// result is tagged with and the stamp each event gets:
//
//   - every event is stamped, when the hub's loop takes it, with the broker
//     epoch read at that moment (deliver). The broker raises the epoch
//     before it queues a PolicyChanged event, and the epoch only grows, so
//     a policy change the hub has seen is at or below the stamp of every
//     later event;
//   - a view is tagged with the epoch read before it was loaded, and a
//     stream's credential with the epoch read before it was last found
//     good (here, and when the stream was opened). Both queries start
//     after that read, and the epoch is raised only after the change has
//     committed, so they see every change up to their tag;
//   - an event is offered to a stream only if both tags are at least the
//     event's stamp and the view has not expired (readyLocked). Otherwise
//     the stream waits: the event and every later one are held, in order,
//     and offered once the stream's re-check has been applied, filtered
//     with the view of that re-check — never with the view that predates
//     the change. A credential found gone queues "revoked" and ends the
//     stream; the held events are never offered to it.
//
// So a view loaded before a policy change the hub has already passed is
// never used for a later event, no event the hub processes after a
// revocation reaches the revoked stream, and credentials are re-checked
// after the epoch is read. Heartbeat re-checks raise no epoch: streams stay
// ready while they run, and only a credential or view found gone takes
// effect. Streams of users that were re-checked receive events while
// others are still waiting for theirs.
//
// A database that does not answer revokes nothing: only a definite answer
// (the session or token is gone) does. A credential check without an
// answer keeps the stream's old tag; a view that fails to load leaves its
// streams waiting: events are held for them (never judged by an old or an
// empty view) and the load is retried at the next event and heartbeat.
// When the database answers again the held events are delivered; when
// the outage outlasts maxHeld events the waiting streams are ended and
// browsers reconnect and reload.

const (
	// recheckWorkers is how many users are re-checked at once. The
	// queries are CPU work on SQLite and mostly waiting on PostgreSQL;
	// two shorten a re-check without taking every reader connection
	// from the requests.
	recheckWorkers = 2
	// Results are applied every recheckBatch users or recheckBatchTime,
	// whichever comes first: a lock acquisition and writer wake-ups per
	// batch instead of per user, and still soon.
	recheckBatch     = 16
	recheckBatchTime = 5 * time.Millisecond
)

// heldEvent is an event processed while some stream waited.
type heldEvent struct {
	e       *events.Event
	stamp   uint64 // broker epoch when the loop took it
	payload []byte // encoded on first use, shared by every receiver
}

// readyLocked reports whether st may be offered an event stamped stamp:
// its credential and view are not older than the policy the event was
// processed under, and the view has not expired by the clock.
func (h *Hub) readyLocked(st *stream, stamp uint64, now int64) bool {
	sv := st.view
	return !st.revoked && !sv.failed && st.credEpoch >= stamp && sv.epoch >= stamp &&
		(sv.view.Expires == 0 || now < sv.view.Expires)
}

// startWaitingLocked holds events from sequence number seq on for st.
func (h *Hub) startWaitingLocked(st *stream, seq uint64) {
	st.waiting, st.wait = true, seq
	h.waiting++
	h.requestLocked(false)
}

// stopWaitingLocked ends st's wait; with no stream waiting the held
// events are let go.
func (h *Hub) stopWaitingLocked(st *stream) {
	if !st.waiting {
		return
	}
	st.waiting = false
	if h.waiting--; h.waiting == 0 {
		h.heldBase += uint64(len(h.held))
		clear(h.held)
		h.held = h.held[:0]
	}
}

// holdLocked keeps he for the waiting streams. Past maxHeld held events
// the waiting streams are ended, as slow ones are (browsers reconnect and
// load a current view): the re-check is not keeping up.
func (h *Hub) holdLocked(he heldEvent) {
	if len(h.held) >= maxHeld {
		for st := range h.streams {
			if st.waiting {
				h.dropped.Add(1)
				h.removeLocked(st)
			}
		}
		return
	}
	h.held = append(h.held, he)
}

// replayLocked offers st the events held for it, in order, as far as it
// is ready for them.
func (h *Hub) replayLocked(st *stream, now int64) {
	for st.waiting {
		i := st.wait - h.heldBase
		if i >= uint64(len(h.held)) {
			h.stopWaitingLocked(st)
			return
		}
		he := &h.held[i]
		if !h.readyLocked(st, he.stamp, now) {
			// A later change or the clock: check again. A view that
			// failed to load is retried by the next event or heartbeat,
			// not at once: that would query a database that is down
			// without pause.
			if !st.revoked && !st.view.failed {
				h.requestLocked(false)
			}
			return
		}
		st.wait++
		h.offerLocked(st, he) // may drop st, which ends its wait
	}
}

// replayViewLocked replays every waiting stream of sv.
func (h *Hub) replayViewLocked(sv *sharedView, now int64) {
	for st := range sv.streams {
		if st.waiting {
			h.replayLocked(st, now)
		}
	}
}

// revokeLocked ends st with a "revoked" event once what is queued is
// written.
func (h *Hub) revokeLocked(st *stream) {
	st.revoked = true
	h.stopWaitingLocked(st)
	h.enqueueLocked(st, []byte("event: revoked\ndata: {\"type\":\"revoked\"}\n\n"), true)
}

// requestLocked asks the checker for a re-check; all: of every
// credential and view (the heartbeat), else of those behind.
func (h *Hub) requestLocked(all bool) {
	h.want = true
	h.wantAll = h.wantAll || all
	select {
	case h.kick <- struct{}{}:
	default: // one is pending already; it will see want
	}
}

// checker runs re-checks, one at a time, as they are requested.
func (h *Hub) checker() {
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.kick:
			h.recheck()
		}
	}
}

// recheckJob is the work for one shared view: its reload, and the
// credentials of its streams (each distinct credential once); then its
// result.
type recheckJob struct {
	sv     *sharedView
	actor  policy.Actor
	reload bool
	creds  []credCheck

	epoch   uint64 // read before the queries
	view    *policy.View
	loadErr error
}

type credCheck struct {
	cred    web.Credential
	actor   policy.Actor // of the first stream opened with it
	streams []*stream
	err     error
}

// recheck runs one re-check: it notes under the lock what is behind (or
// everything, for the heartbeat), checks and loads it without the lock,
// and applies the results in small batches under the lock.
func (h *Hub) recheck() {
	now := db.Now()
	h.mu.Lock()
	if !h.want {
		h.mu.Unlock()
		return
	}
	all := h.wantAll
	h.want, h.wantAll, h.retry = false, false, false
	jobs := h.jobsLocked(h.cfg.Broker.Epoch(), now, all)
	h.mu.Unlock()
	// Workers take the next job themselves: no hand-over per job, which
	// on a busy machine costs a goroutine switch each.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(recheckWorkers, len(jobs)) {
		wg.Go(func() {
			var done []*recheckJob
			since := time.Now()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) || h.ctx.Err() != nil {
					break
				}
				h.runJob(&jobs[i])
				done = append(done, &jobs[i])
				if len(done) >= recheckBatch || time.Since(since) >= recheckBatchTime {
					h.apply(done)
					done, since = done[:0], time.Now()
				}
			}
			h.apply(done)
		})
	}
	wg.Wait()
}

// jobsLocked lists what to re-check, per user: the credentials of streams
// and the views that are older than epoch, views that failed or expired;
// with all (the heartbeat), everything.
func (h *Hub) jobsLocked(epoch uint64, now int64, all bool) []recheckJob {
	var jobs []recheckJob
	for _, sv := range h.views {
		j := recheckJob{sv: sv, actor: sv.actor,
			reload: all || sv.failed || sv.epoch < epoch || sv.view.Expires != 0 && now >= sv.view.Expires}
	streams:
		for st := range sv.streams {
			if st.revoked || !all && st.credEpoch >= epoch {
				continue
			}
			for i := range j.creds { // a user has a few credentials at most
				if j.creds[i].cred == st.cred {
					j.creds[i].streams = append(j.creds[i].streams, st)
					continue streams
				}
			}
			j.creds = append(j.creds, credCheck{cred: st.cred, actor: st.actor, streams: []*stream{st}})
		}
		if j.reload || len(j.creds) > 0 {
			jobs = append(jobs, j)
		}
	}
	return jobs
}

// runJob re-checks one user's credentials and view, without the hub's
// lock.
func (h *Hub) runJob(j *recheckJob) {
	// Read before the queries: a change after this read raises the epoch
	// past the tag and is caught by the next re-check.
	j.epoch = h.cfg.Broker.Epoch()
	for i := range j.creds {
		c := &j.creds[i]
		c.err = h.cfg.CheckCredential(h.ctx, c.cred, c.actor)
	}
	if j.reload {
		j.view, j.loadErr = h.cfg.LoadView(h.ctx, j.actor, db.Now())
	}
}

// apply takes the results of jobs into the hub, under its lock, and
// offers the waiting streams of those users what was held for them.
func (h *Hub) apply(jobs []*recheckJob) {
	if len(jobs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctx.Err() != nil {
		return
	}
	now := db.Now()
	for _, j := range jobs {
		h.applyLocked(j, now)
	}
}

func (h *Hub) applyLocked(j *recheckJob, now int64) {
	for _, c := range j.creds {
		for _, st := range c.streams {
			if _, open := h.streams[st]; !open || st.revoked {
				continue
			}
			switch {
			case c.err == nil:
				if j.epoch > st.credEpoch {
					st.credEpoch = j.epoch
				}
			case credentialGone(c.err):
				h.revokeLocked(st)
			default:
				// No answer (the database is down or slow): the stream
				// stays open and keeps its old tag, so events after a
				// policy change wait for it, and the check is retried.
				// Only a definite "gone" revokes: an outage must not send
				// every browser to the error page.
				h.cfg.Log.Warn("live streams: re-check credential", "user", c.actor.UserID, "err", c.err)
				h.retry = true
			}
		}
	}
	sv := j.sv
	// The view may have ended with its last stream, or a stream opened
	// meanwhile may have brought a newer one.
	if j.reload && h.views[viewKey(sv.actor)] == sv && j.epoch >= sv.epoch {
		view := j.view
		if j.loadErr != nil {
			// Without a current view nothing may be delivered to this
			// user: its streams wait (readyLocked) and the empty view
			// sees nothing should anything look at it; retry later.
			h.cfg.Log.Warn("live streams: reload view", "user", sv.actor.UserID, "err", j.loadErr)
			view = &policy.View{}
			h.retry = true
		}
		changed := j.loadErr == nil && sv.view != nil && !sv.view.SameReach(view)
		sv.view, sv.epoch, sv.failed = view, j.epoch, j.loadErr != nil
		if changed {
			// What this user may see or send changed (an agreement, a
			// membership): their open pages refresh what depends on it,
			// such as a compose form's recipients line. Only the user's
			// own streams hear of it, and nothing about what changed.
			for st := range sv.streams {
				if !st.revoked {
					h.enqueueLocked(st, []byte("data: {\"type\":\"view\"}\n\n"), false)
				}
			}
		}
	}
	h.replayViewLocked(sv, now)
}

// credentialGone reports whether a credential check answered that the
// session or token no longer holds (as opposed to not answering).
func credentialGone(err error) bool {
	return fault.Is(err, fault.Unauthenticated) || fault.Is(err, fault.Forbidden)
}
