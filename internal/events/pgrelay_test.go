package events

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
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
