package web

import (
	"encoding/json"
	"net/http"
	"time"

	"verbund/internal/db"
	"verbund/internal/events"
	"verbund/internal/policy"
)

// SubscriberBuffer is how many events may queue for one stream before the
// stream is dropped as too slow.
const SubscriberBuffer = 64

// serveEvents is the live-update stream (Server-Sent Events). Every event
// passes policy for this subscriber before it is written: share events
// through View.CanSee, org events by membership. When agreements,
// memberships or accounts change (events.PolicyChanged), the view is
// reloaded and the credentials re-checked at once; a subscriber who lost
// access gets a "revoked" event and the stream ends.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) error {
	actor := ActorFrom(r)
	ctx := r.Context()
	rc := http.NewResponseController(w)
	// Streams live longer than the server's write timeout.
	_ = rc.SetWriteDeadline(time.Time{})
	sub := s.Broker.Subscribe(SubscriberBuffer)
	defer sub.Close()
	topics := r.URL.Query()["topic"]
	epoch := s.Broker.Epoch()
	view, err := policy.LoadView(ctx, s.DB.R(), actor, db.Now())
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte("retry: 3000\n: connected\n\n")); err != nil {
		return nil
	}
	_ = rc.Flush()
	heartbeat := time.NewTicker(25 * time.Second)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.Done():
			return nil // dropped as slow; the browser reconnects
		case <-heartbeat.C:
			if _, err := w.Write([]byte(": ping\n\n")); err != nil {
				return nil
			}
			_ = rc.Flush()
		case e := <-sub.Events():
			if e.Type == events.PolicyChanged || s.Broker.Epoch() != epoch || (view.Expires != 0 && db.Now() >= view.Expires) {
				epoch = s.Broker.Epoch()
				if !s.stillValid(r, actor) {
					_, _ = w.Write([]byte("event: revoked\ndata: {\"type\":\"revoked\"}\n\n"))
					_ = rc.Flush()
					return nil
				}
				if view, err = policy.LoadView(ctx, s.DB.R(), actor, db.Now()); err != nil {
					return nil
				}
				if e.Type == events.PolicyChanged {
					continue
				}
			}
			if !deliverable(view, *e) || !wanted(topics, e.Topics) {
				continue
			}
			data := map[string]string{"type": e.Type}
			for k, v := range e.Data {
				data[k] = v
			}
			b, _ := json.Marshal(data)
			if _, err := w.Write(append(append([]byte("data: "), b...), '\n', '\n')); err != nil {
				return nil
			}
			_ = rc.Flush()
		}
	}
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

// stillValid re-checks the credentials the stream was opened with (the
// session may have been ended everywhere, the token revoked, the user
// deactivated).
func (s *Server) stillValid(r *http.Request, a policy.Actor) bool {
	ip := s.ClientIP(r)
	if tok, ok := bearer(r); ok {
		_, err := s.Auth.Token(r.Context(), tok, ip)
		return err == nil
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return false
	}
	got, sess, err := s.Auth.Session(r.Context(), c.Value, ip)
	return err == nil && !sess.MFAPending && got.UserID == a.UserID && got.OrgID == a.OrgID
}
