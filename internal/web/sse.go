package web

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/policy"
)

// serveEvents is the live-update stream (Server-Sent Events). Every event
// passes policy for this subscriber before it is written: share events
// through View.CanSee, org events by membership. When agreements,
// memberships or accounts change (events.PolicyChanged), views are
// reloaded and credentials re-checked before the next delivery; a
// subscriber who lost access gets a "revoked" event and the stream ends.
// The stream itself is served by the stream hub (stream.go).
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) error {
	actor := ActorFrom(r)
	ctx := r.Context()
	epoch := s.Broker.Epoch() // before the view: a change after it reloads the view
	st := &stream{actor: actor, cred: s.streamCredential(r), done: make(chan struct{})}
	// The credentials were checked before the epoch was read: a token
	// revoked in between would raise the epoch before this stream's view
	// is loaded, and nothing would re-check it. Check again now.
	if err := s.checkCredential(ctx, st.cred, actor); err != nil {
		return err
	}
	view, err := policy.LoadView(ctx, s.DB.R(), actor, db.Now())
	if err != nil {
		return err
	}
	if f := r.URL.Query()["topic"]; len(f) > 0 {
		st.topics = make([]string, len(f))
		for i, t := range f {
			st.topics[i] = strings.Clone(t)
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK) // a HEAD answer has no body: nothing to stream
		return nil
	}
	rc := http.NewResponseController(w)
	if r.ProtoMajor == 1 {
		conn, brw, err := rc.Hijack()
		if err == nil {
			return s.adoptConn(conn, brw, h, st, view, epoch)
		}
		if !errors.Is(err, http.ErrNotSupported) {
			return fmt.Errorf("take over live stream: %w", err)
		}
	}
	// HTTP/2 (or a writer that cannot be taken over): this goroutine
	// waits while the hub writes.
	_ = rc.SetWriteDeadline(time.Time{}) // streams outlive the server's write timeout
	st.out = writerOut{w: w, rc: rc}
	s.hub.add(st, view, epoch) // before the hello: no event after it is missed
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte(streamHello)); err != nil {
		s.hub.remove(st)
		return nil
	}
	_ = rc.Flush()
	s.hub.release(st)
	select {
	case <-st.done:
	case <-ctx.Done():
		s.hub.remove(st)
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
func (s *Server) adoptConn(conn net.Conn, brw *bufio.ReadWriter, h http.Header, st *stream, view *policy.View, epoch uint64) error {
	_ = conn.SetDeadline(time.Time{})
	// The body ends when the connection closes (no length, no chunking).
	h.Set("Connection", "close")
	w := brw.Writer
	_, _ = w.WriteString("HTTP/1.1 200 OK\r\n")
	_ = h.Write(w)
	_, _ = w.WriteString("\r\n" + streamHello)
	_ = conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	// A small send buffer: events are small, and a client that stops
	// reading should fill it (and be dropped) after some hundred events,
	// not hold megabytes of kernel memory first.
	if tc, ok := netConn(conn).(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(streamSendBuffer)
	}
	st.out = connOut{c: conn}
	s.hub.add(st, view, epoch) // before the hello: no event after it is missed
	if err := w.Flush(); err != nil {
		s.hub.remove(st)
		return nil
	}
	s.hub.release(st)
	return nil
}

// streamCredential copies what the stream was opened with out of the
// request, which is not kept.
func (s *Server) streamCredential(r *http.Request) credential {
	c := credential{ip: strings.Clone(s.ClientIP(r))}
	if tok, ok := bearer(r); ok {
		c.token = strings.Clone(tok)
	} else if ck, err := r.Cookie(SessionCookie); err == nil {
		c.session = strings.Clone(ck.Value)
	}
	return c
}

// deliverable decides whether the view's user may receive e.
func deliverable(v *policy.View, e events.Event) bool {
	if e.Share != nil {
		return v.CanSee(*e.Share)
	}
	for _, o := range e.Orgs {
		if o == v.OrgID {
			return true
		}
	}
	return false
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
