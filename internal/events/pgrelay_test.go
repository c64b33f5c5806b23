package events

import (
	"context"
	"io"
	"log/slog"
	"net"
	neturl "net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// relayPair returns two brokers relayed through PostgreSQL, as two
// replicas on one database.
func relayPair(t *testing.T) (a, b *Broker) {
	t.Helper()
	url := os.Getenv("VERBUND_TEST_POSTGRES")
	if url == "" {
		t.Skip("needs PostgreSQL (VERBUND_TEST_POSTGRES)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, b = New("a"), New("b")
	if err := StartPostgresRelay(ctx, url, a, log); err != nil {
		t.Fatal(err)
	}
	if err := StartPostgresRelay(ctx, url, b, log); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// TestRelayKeepsOrder: events published on one replica in a burst (sent
// in batches, a NOTIFY statement each) reach the other replica all and in
// their order, identical ones too (PostgreSQL delivers identical
// notifications of one transaction once).
func TestRelayKeepsOrder(t *testing.T) {
	a, b := relayPair(t)
	sub := b.Subscribe(3000)
	defer sub.Close()
	const n = 1000
	for i := range n {
		a.Publish(Event{Type: "test.burst", Everyone: true, Data: map[string]string{"i": strconv.Itoa(i)}})
		a.Publish(Event{Type: "test.same", Everyone: true})
	}
	timeout := time.After(10 * time.Second)
	for next, same := 0, 0; next < n || same < n; {
		select {
		case e := <-sub.Events():
			switch e.Type {
			case "test.same":
				same++
				if same > next {
					t.Fatalf("identical event %d arrived before event %d", same, same-1)
				}
			case "test.burst":
				if got := e.Data["i"]; got != strconv.Itoa(next) {
					t.Fatalf("event %s arrived where %d was due", got, next)
				}
				next++
			}
		case <-timeout:
			t.Fatalf("only %d of %d events and %d of %d identical ones arrived", next, n, same, n)
		}
	}
}

// TestRelayOverflowRechecks: when events are published faster than the
// relay can send them, those its queue cannot take are lost to the other
// replica, which must then check every stream's view again (one of them
// may have been a policy change) and have pages reload their lists.
func TestRelayOverflowRechecks(t *testing.T) {
	a, b := relayPair(t)
	sub := b.Subscribe(100000)
	defer sub.Close()
	for range 30000 {
		a.Publish(Event{Type: "test.burst", Everyone: true})
	}
	timeout := time.After(20 * time.Second)
	for resynced := false; !resynced || b.Epoch() == 0; {
		select {
		case e := <-sub.Events():
			resynced = resynced || e.Type == Resync
		case <-timeout:
			t.Fatalf("after an overflow: resync %v, policy epoch %d (want a resync and a policy change)", resynced, b.Epoch())
		}
	}
}

// TestRelayLostPolicyChangeComesFirst: when a policy change could not be
// sent (the database unreachable through every attempt), the next batch
// carries a policy change before anything newer, so that the other
// replica checks its streams' views before it offers them a later event.
func TestRelayLostPolicyChangeComesFirst(t *testing.T) {
	url := os.Getenv("VERBUND_TEST_POSTGRES")
	if url == "" {
		t.Skip("needs PostgreSQL (VERBUND_TEST_POSTGRES)")
	}
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	// A proxy to the database that can be cut: while cut, it drops the
	// connections it has and refuses new ones.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	cut := false
	var open []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if cut {
				mu.Unlock()
				_ = c.Close()
				continue
			}
			s, err := net.Dial("tcp", u.Host)
			if err != nil {
				mu.Unlock()
				_ = c.Close()
				continue
			}
			open = append(open, c, s)
			mu.Unlock()
			go func() { _, _ = io.Copy(s, c); _ = s.Close() }()
			go func() { _, _ = io.Copy(c, s); _ = c.Close() }()
		}
	}()
	setCut := func(v bool) {
		mu.Lock()
		defer mu.Unlock()
		cut = v
		if v {
			for _, c := range open {
				_ = c.Close()
			}
			open = nil
		}
	}
	viaProxy := *u
	viaProxy.Host = ln.Addr().String()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, b := New("a"), New("b")
	if err := StartPostgresRelay(ctx, viaProxy.String(), a, log); err != nil {
		t.Fatal(err)
	}
	if err := StartPostgresRelay(ctx, url, b, log); err != nil {
		t.Fatal(err)
	}
	sub := b.Subscribe(100)
	defer sub.Close()
	// The relay's send connection is opened by its first event.
	a.Publish(Event{Type: "test.first", Everyone: true})
	select {
	case e := <-sub.Events():
		if e.Type != "test.first" {
			t.Fatalf("%s arrived first", e.Type)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first event did not arrive")
	}
	setCut(true)
	a.Publish(Event{Type: PolicyChanged}) // lost: three attempts fail
	time.Sleep(2 * time.Second)
	setCut(false)
	a.Publish(Event{Type: "test.after", Everyone: true})
	// Every event reaches the subscriber in the order it was delivered
	// (a policy change too, after it raised the epoch).
	var order []string
	timeout := time.After(10 * time.Second)
	for len(order) == 0 || order[len(order)-1] != "test.after" {
		select {
		case e := <-sub.Events():
			order = append(order, e.Type)
		case <-timeout:
			t.Fatalf("test.after did not arrive; arrived: %v", order)
		}
	}
	if !slices.Contains(order, PolicyChanged) {
		t.Errorf("an event published after a lost policy change arrived before any policy change: %v", order)
	}
}
