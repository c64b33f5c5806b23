package app_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
)

// pgProxy stands between the hub and PostgreSQL on loopback, so that a test
// can take the database away: cut (connections closed, new ones refused,
// as when the server dies) or stall (connections held, nothing passes, as
// when it is stopped with SIGSTOP).
type pgProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	stall  chan struct{} // closed while traffic flows
	conns  map[net.Conn]bool
}

func startPGProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: target, stall: make(chan struct{}), conns: map[net.Conn]bool{}}
	close(p.stall)
	t.Cleanup(func() { _ = ln.Close(); p.closeAll() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			cut := p.cut
			p.mu.Unlock()
			if cut {
				_ = c.Close()
				continue
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *pgProxy) serve(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.mu.Lock()
				gate := p.stall
				p.mu.Unlock()
				<-gate
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		_ = dst.Close()
		_ = src.Close()
	}
	go pipe(s, c)
	pipe(c, s)
}

func (p *pgProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// down closes every connection and refuses new ones; up lets them in.
func (p *pgProxy) down() {
	p.mu.Lock()
	p.cut = true
	p.mu.Unlock()
	p.closeAll()
}

func (p *pgProxy) up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	select {
	case <-p.stall:
	default:
		close(p.stall)
	}
}

// freeze holds every byte on the connections it has, as a stopped server.
func (p *pgProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stall = make(chan struct{})
}

func (p *pgProxy) url(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

// TestDatabaseOutage: PostgreSQL goes away for longer than a heartbeat
// while live streams are open. Requests get 503 (not 500) at once; no
// stream is told "revoked"; once the database is back the hub is ready
// and the streams deliver again. A stalled database (nothing answers)
// gives 503 within the request deadline instead of hanging.
func TestDatabaseOutage(t *testing.T) {
	if os.Getenv("VERBUND_TEST_POSTGRES") == "" {
		t.Skip("needs PostgreSQL (VERBUND_TEST_POSTGRES)")
	}
	raw := dbtest.NewPostgresDB(t)
	u, _ := url.Parse(raw)
	proxy := startPGProxy(t, u.Host)
	ctx := context.Background()
	d, err := db.Open(ctx, proxy.url(t, raw), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	dbtest.CheckAudited(d)
	h := apptest.WorldOn(t, d)
	h.App.Web.RequestTimeout = 2 * time.Second
	cloud := openStream(t, h.URL, h.Users["cloud.analyst"].ReadToken, "")

	proxy.down()
	r := h.API(t, h.Users["cloud.analyst"].ReadToken, "GET", "/api/v1/posts", nil)
	if r.Status != http.StatusServiceUnavailable {
		t.Errorf("a read while the database is down: %d %s", r.Status, r.Body)
	}
	w := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/channels/"+h.CircleChannel+"/threads",
		map[string]any{"title": "t", "body": "b", "tlp": "AMBER", "audience": "community"})
	if w.Status != http.StatusServiceUnavailable {
		t.Errorf("a write while the database is down: %d %s", w.Status, w.Body)
	}
	if cloud.revoked(t, 3*time.Second) { // three heartbeats of the test hub
		t.Fatal("a live stream was revoked because the database did not answer")
	}
	proxy.up()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if h.API(t, "", "GET", "/readyz", nil).Status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hub did not become ready again")
		}
	}
	after := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "after", "body": "b", "tlp": "AMBER", "audience": "community"})
	cloud.waitFor(t, after.thread, 10*time.Second)

	proxy.freeze()
	start := time.Now()
	r = h.API(t, h.Users["cloud.analyst"].ReadToken, "GET", "/api/v1/posts", nil)
	took := time.Since(start)
	proxy.up()
	if r.Status != http.StatusServiceUnavailable || took > 6*time.Second {
		t.Errorf("a read while the database stalls: %d after %v (%s)", r.Status, took, r.Body)
	}
}
