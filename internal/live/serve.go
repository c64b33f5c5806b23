package live

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// Serve is the live-update stream (Server-Sent Events) of an authorised
// request: actor signed in with cred. Every event passes policy for this
// subscriber before it is written: share events through View.CanSee, org
// events by membership. When agreements, memberships or accounts change
// (events.PolicyChanged), the view is reloaded and the credential
// re-checked before the next delivery to this stream; a subscriber who
// lost access gets a "revoked" event and the stream ends.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, actor policy.Actor, cred web.Credential) error {
	ctx := r.Context()
	epoch := h.cfg.Broker.Epoch() // before the credential and view: a change after it re-checks both
	st := &stream{actor: actor, cred: cred, done: make(chan struct{})}
	// The credentials were checked before the epoch was read: a token
	// revoked in between would raise the epoch before this stream's view
	// is loaded, and nothing would re-check it. Check again now.
	if err := h.cfg.CheckCredential(ctx, cred, actor); err != nil {
		return err
	}
	view, err := h.cfg.LoadView(ctx, actor, db.Now())
	if err != nil {
		return fmt.Errorf("load view for live stream: %w", err)
	}
	if f := r.URL.Query()["topic"]; len(f) > 0 {
		st.topics = make([]string, len(f))
		for i, t := range f {
			st.topics[i] = strings.Clone(t) // the request is not kept
		}
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK) // a HEAD answer has no body: nothing to stream
		return nil
	}
	rc := http.NewResponseController(w)
	if r.ProtoMajor == 1 {
		conn, brw, err := rc.Hijack()
		if err == nil {
			return h.adoptConn(conn, brw, hd, st, view, epoch)
		}
		if !errors.Is(err, http.ErrNotSupported) {
			return fmt.Errorf("take over live stream: %w", err)
		}
	}
	// HTTP/2 (or a writer that cannot be taken over): this goroutine
	// waits while the hub writes.
	_ = rc.SetWriteDeadline(time.Time{}) // streams outlive the server's write timeout
	st.out = writerOut{w: w, rc: rc}
	h.add(st, view, epoch) // before the hello: no event after it is missed
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte(streamHello)); err != nil {
		h.remove(st)
		return nil
	}
	_ = rc.Flush()
	h.release(st)
	select {
	case <-st.done:
	case <-ctx.Done():
		h.remove(st)
	}
	// No write may follow the handler's return: wait for one in progress
	// and stop any later one.
	st.wmu.Lock()
	st.finished = true
	st.wmu.Unlock()
	return nil
}

// streamHello opens every stream: the browser's reconnection delay, and a
// comment that tells clients (and tests) the stream is live.
const streamHello = "retry: 3000\n: connected\n\n"

// adoptConn answers an HTTP/1.1 stream on the taken-over connection and
// hands it to the hub. net/http's goroutine and buffers for the connection
// are released when the handler returns.
func (h *Hub) adoptConn(conn net.Conn, brw *bufio.ReadWriter, hd http.Header, st *stream, view *policy.View, epoch uint64) error {
	_ = conn.SetDeadline(time.Time{})
	// The body ends when the connection closes (no length, no chunking).
	hd.Set("Connection", "close")
	w := brw.Writer
	_, _ = w.WriteString("HTTP/1.1 200 OK\r\n")
	_ = hd.Write(w)
	_, _ = w.WriteString("\r\n" + streamHello)
	_ = conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	// A small send buffer: events are small, and a client that stops
	// reading should fill it (and be dropped) after some hundred events,
	// not hold megabytes of kernel memory first.
	if tc, ok := netConn(conn).(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(streamSendBuffer)
	}
	st.out = connOut{c: conn}
	h.add(st, view, epoch) // before the hello: no event after it is missed
	if err := w.Flush(); err != nil {
		h.remove(st)
		return nil
	}
	h.release(st)
	return nil
}

// deliverable decides whether the view's user, of role role, may receive
// e. An event's restrictions all apply: the object it carries must be
// visible (Share, and Container with it), and the reader among its orgs,
// roles and people where it names them; an event that carries no object
// must name its orgs.
func deliverable(v *policy.View, role policy.Role, e events.Event) bool {
	if e.Everyone {
		return e.Share == nil && e.Container == nil && len(e.Data) == 0 // never a carrier of data
	}
	if e.Share == nil && len(e.Orgs) == 0 {
		return false
	}
	if e.Share != nil && !(v.CanSee(*e.Share) && (e.Container == nil || v.CanSee(*e.Container))) {
		return false
	}
	if len(e.Orgs) > 0 && !slices.Contains(e.Orgs, v.OrgID) {
		return false
	}
	if len(e.Roles) > 0 && !slices.Contains(e.Roles, role) {
		return false
	}
	return len(e.Users) == 0 || slices.Contains(e.Users, v.UserID)
}

// wanted reports whether an event matches the stream's topic filter (no
// filter: every event).
func wanted(filter, topics []string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		for _, t := range topics {
			if f == t {
				return true
			}
		}
	}
	return false
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
