package live

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"verbund/internal/events"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// testHub is a hub with only what it needs when no policy changes: a
// broker and a log (no database, no authenticator).
func testHub(t *testing.T) *Hub {
	t.Helper()
	h := New(Config{Broker: events.New("test"), Log: slog.New(slog.DiscardHandler), Heartbeat: time.Hour})
	t.Cleanup(func() { h.Close(0) })
	return h
}

// adopt hands the server side of a connection to the hub as adoptConn
// does for a taken-over request, for an actor of org "o".
func adopt(t *testing.T, s *Hub, conn net.Conn) {
	t.Helper()
	a := policy.Actor{UserID: "u", OrgID: "o"}
	st := &stream{actor: a, cred: web.Credential{Token: "t"}, done: make(chan struct{})}
	h := http.Header{}
	h.Set("Content-Type", "text/event-stream")
	brw := bufio.NewReadWriter(bufio.NewReader(conn), bufio.NewWriter(conn))
	if err := s.adoptConn(conn, brw, h, st, &policy.View{UserID: a.UserID, OrgID: a.OrgID}, s.cfg.Broker.Epoch()); err != nil {
		t.Fatal(err)
	}
}

// readHead reads a stream's response head and hello.
func readHead(t *testing.T, rd *bufio.Reader) {
	t.Helper()
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("before connected: %v", err)
		}
		if strings.HasPrefix(line, ": connected") {
			return
		}
	}
}

// TestStreamTLSNotReadingDelaysNobody: a client on a TLS connection (an
// HTTP/1.1 client of a hub that serves TLS itself) stops reading. Its
// stream must be dropped without holding back the others: closing a TLS
// connection normally writes close_notify, which to this client blocks
// for crypto/tls's 5 s, and the hub closes streams under its lock.
func TestStreamTLSNotReadingDelaysNobody(t *testing.T) {
	s := testHub(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cert := selfSigned(t)

	// The stream that stops reading, over TLS.
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if err := tc.Handshake(); err != nil {
			c.Close()
			close(accepted)
			return
		}
		accepted <- tc
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.(*net.TCPConn).SetReadBuffer(1024); err != nil {
		t.Fatal(err)
	}
	slow := tls.Client(raw, &tls.Config{InsecureSkipVerify: true}) // #nosec G402 -- the test's own self-signed certificate
	if err := slow.Handshake(); err != nil {
		t.Fatal(err)
	}
	sc, ok := <-accepted
	if !ok {
		t.Fatal("TLS handshake failed")
	}
	adopt(t, s, sc)
	readHead(t, bufio.NewReader(slow)) // and never read again

	// A stream that reads, over plain TCP.
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	fast, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	fc, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	adopt(t, s, fc)
	rd := bufio.NewReader(fast)
	readHead(t, rd)
	if n := s.Streams(); n != 2 {
		t.Fatalf("%d streams, want 2", n)
	}

	var mu sync.Mutex
	sent := map[int]time.Time{}
	var worst time.Duration
	received := 0
	go func() {
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			var m map[string]string
			if json.Unmarshal([]byte(data), &m) != nil {
				continue
			}
			i, _ := strconv.Atoi(m["n"])
			mu.Lock()
			worst = max(worst, time.Since(sent[i]))
			received++
			mu.Unlock()
		}
	}()

	// Events of 8 KB fill the slow client's buffers after a few; its write
	// then times out (streamWriteTimeout) and the stream is dropped.
	pad := strings.Repeat("x", 8<<10)
	const n = 80
	for i := range n {
		mu.Lock()
		sent[i] = time.Now()
		mu.Unlock()
		s.cfg.Broker.Publish(events.Event{Type: "test", Orgs: []string{"o"}, Data: map[string]string{"n": strconv.Itoa(i), "pad": pad}})
		time.Sleep(50 * time.Millisecond)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		done := received == n
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reading stream got %d of %d events", received, n)
		}
	}
	if got := s.Streams(); got != 1 {
		t.Errorf("%d streams after the slow one should have been dropped, want 1", got)
	}
	if s.Dropped() == 0 {
		t.Error("the stream that stopped reading was not counted as dropped")
	}
	mu.Lock()
	defer mu.Unlock()
	if worst > time.Second {
		t.Errorf("an event reached the reading stream after %v: the slow TLS stream held it back", worst)
	}
}

// TestStreamsShareViewPerUserAndOrg: streams of one user share one view;
// an actor of another org never gets that view.
func TestStreamsShareViewPerUserAndOrg(t *testing.T) {
	s := testHub(t)
	add := func(a policy.Actor) *stream {
		c1, c2 := net.Pipe()
		t.Cleanup(func() { c1.Close(); c2.Close() })
		st := &stream{actor: a, done: make(chan struct{}), out: connOut{c: c1}}
		s.add(st, &policy.View{UserID: a.UserID, OrgID: a.OrgID}, s.cfg.Broker.Epoch())
		s.release(st)
		return st
	}
	a := add(policy.Actor{UserID: "u", OrgID: "o"})
	b := add(policy.Actor{UserID: "u", OrgID: "o"})
	c := add(policy.Actor{UserID: "u", OrgID: "p"})
	if a.view != b.view {
		t.Error("two streams of one user and org have two views")
	}
	if c.view == a.view || c.view.view.OrgID != "p" {
		t.Errorf("a stream for org p got the view of org %s", c.view.view.OrgID)
	}
	s.remove(a)
	s.remove(b)
	s.mu.Lock()
	n := len(s.views)
	s.mu.Unlock()
	if n != 1 {
		t.Errorf("%d views kept for one open stream", n)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
