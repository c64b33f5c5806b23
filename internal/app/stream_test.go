package app_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
)

// rawStream opens /events over a plain TCP connection (HTTP/1.1, the path
// on which the hub takes the connection over from net/http) and returns
// the connection, the response head and a reader positioned after the
// ": connected" comment.
func rawStream(t *testing.T, h *apptest.Hub, token string) (net.Conn, *http.Response, *bufio.Reader) {
	t.Helper()
	addr := strings.TrimPrefix(h.URL, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte("GET /events HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + token + "\r\nAccept: text/event-stream\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatalf("read response head: %v", err)
	}
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("before connected: %v", err)
		}
		if strings.HasPrefix(line, ": connected") {
			break
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, resp, rd
}

func waitStreams(t *testing.T, h *apptest.Hub, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for h.App.Live.Streams() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d open streams after %v, want %d", h.App.Live.Streams(), within, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStreamTakenOver: the hub answers a stream itself once net/http has
// handed it the connection. The head must still carry the security headers
// every response has, and a client that hangs up is noticed without a
// goroutine reading each connection.
func TestStreamTakenOver(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	c, resp, _ := rawStream(t, h, h.Users["sme.analyst"].ReadToken)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("head: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, k := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if resp.Header.Get(k) == "" {
			t.Errorf("stream head lacks %s: %v", k, resp.Header)
		}
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	waitStreams(t, h, 1, time.Second)
	c.Close()
	waitStreams(t, h, 0, 3*time.Second)

	// HEAD answers the head only.
	head := h.API(t, h.Users["sme.analyst"].ReadToken, "HEAD", "/events", nil)
	if head.Status != 200 || len(head.Body) != 0 || h.App.Live.Streams() != 0 {
		t.Errorf("HEAD /events: %d, %d bytes, %d streams", head.Status, len(head.Body), h.App.Live.Streams())
	}

	// Unauthenticated: an ordinary 401 from net/http, nothing taken over.
	r := h.API(t, "", "GET", "/events", nil)
	if r.Status != http.StatusUnauthorized {
		t.Errorf("anonymous stream: %d", r.Status)
	}
}

// TestStreamNotReadingDelaysNobody: a client that never reads its stream
// must not hold back the others.
func TestStreamNotReadingDelaysNobody(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	for range 3 {
		rawStream(t, h, h.Users["cloud.analyst"].ReadToken) // never read
	}
	live := openStream(t, h.URL, h.Users["cert.analyst"].ReadToken, "")
	c := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "t", "body": "b", "tlp": "GREEN", "audience": "community"})
	var last string
	for i := range 100 {
		r := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/threads/"+c.thread+"/posts",
			map[string]any{"body": strings.Repeat("x", 100) + string(rune('a'+i%26)), "tlp": "GREEN", "audience": "community"})
		if r.Status != http.StatusCreated {
			t.Fatalf("reply: %d %s", r.Status, r.Body)
		}
		var p struct{ ID string }
		r.JSON(t, &p)
		last = p.ID
	}
	live.waitFor(t, last, 5*time.Second)
}

// TestStreamEndsWhenTokenExpires: a token that expires by the clock (no
// write, no policy event) ends its open streams at the next heartbeat
// (1 s in tests, 25 s by default).
func TestStreamEndsWhenTokenExpires(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	u := h.Users["cert.analyst"]
	_, secret, err := h.App.Accounts.CreateToken(context.Background(), u.Actor, u.ID, accounts.NewToken{Name: "short", Scope: "read", Expires: "2s"})
	if err != nil {
		t.Fatal(err)
	}
	s := openStream(t, h.URL, secret, "")
	if !s.revoked(t, 5*time.Second) {
		t.Error("the stream of an expired token was not ended with a revoked event")
	}
	waitStreams(t, h, 0, 2*time.Second)
}

// TestStreamNotReadingIsDropped: a client that stops reading fills its
// small socket buffer and is dropped, while a reading client gets every
// event.
func TestStreamNotReadingIsDropped(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	c, _, _ := rawStream(t, h, h.Users["cloud.analyst"].ReadToken)
	if err := c.(*net.TCPConn).SetReadBuffer(1024); err != nil {
		t.Fatal(err)
	}
	live := openStream(t, h.URL, h.Users["cert.analyst"].ReadToken, "")
	waitStreams(t, h, 2, time.Second)
	th := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "t", "body": "b", "tlp": "GREEN", "audience": "community"})
	var last string
	n := 0
	for ; n < 2000 && h.App.Live.Streams() == 2; n++ {
		r := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/threads/"+th.thread+"/posts",
			map[string]any{"body": "reply", "tlp": "GREEN", "audience": "community"})
		if r.Status != http.StatusCreated {
			t.Fatalf("reply: %d %s", r.Status, r.Body)
		}
		var p struct{ ID string }
		r.JSON(t, &p)
		last = p.ID
	}
	waitStreams(t, h, 1, 5*time.Second)
	t.Logf("dropped after %d posts", n)
	if h.App.Live.Dropped() == 0 {
		t.Error("the stream that stopped reading ended, but not as dropped")
	}
	live.waitFor(t, last, 5*time.Second)
}
