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

// TestRelayKeepsOrder: events published on one replica in a burst (sent
// in batches, a NOTIFY statement each) reach the other replica all and in
// their order.
func TestRelayKeepsOrder(t *testing.T) {
	url := os.Getenv("VERBUND_TEST_POSTGRES")
	if url == "" {
		t.Skip("needs PostgreSQL (VERBUND_TEST_POSTGRES)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, b := New("a"), New("b")
	if err := StartPostgresRelay(ctx, url, a, log); err != nil {
		t.Fatal(err)
	}
	if err := StartPostgresRelay(ctx, url, b, log); err != nil {
		t.Fatal(err)
	}
	sub := b.Subscribe(2000)
	defer sub.Close()
	const n = 1000
	for i := range n {
		a.Publish(Event{Type: "test.burst", Everyone: true, Data: map[string]string{"i": strconv.Itoa(i)}})
	}
	timeout := time.After(10 * time.Second)
	for next := 0; next < n; {
		select {
		case e := <-sub.Events():
			if e.Type != "test.burst" {
				continue
			}
			if got := e.Data["i"]; got != strconv.Itoa(next) {
				t.Fatalf("event %s arrived where %d was due", got, next)
			}
			next++
		case <-timeout:
			t.Fatalf("only %d of %d events arrived", next, n)
		}
	}
}
