package events

import (
	"testing"
	"time"
)

func TestSlowSubscriberIsDroppedNotWaitedFor(t *testing.T) {
	b := New("test")
	slow := b.Subscribe(2)
	fast := b.Subscribe(100)
	done := make(chan struct{})
	go func() {
		for i := 0; i < 50; i++ {
			b.Publish(Event{Type: "x"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publisher blocked on a slow subscriber")
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("slow subscriber was not dropped")
	}
	if got := len(fast.Events()); got != 50 {
		t.Fatalf("fast subscriber got %d of 50 events", got)
	}
	if b.Dropped.Load() != 1 || b.Subscribers() != 1 {
		t.Fatalf("dropped %d, subscribers %d", b.Dropped.Load(), b.Subscribers())
	}
	fast.Close()
	fast.Close() // closing twice is harmless
	if b.Subscribers() != 0 {
		t.Fatal("closed subscriber still registered")
	}
}

func TestPolicyChangedAdvancesEpochAndRelays(t *testing.T) {
	b := New("a")
	var relayed []Event
	b.SetRelay(func(e Event) { relayed = append(relayed, e) })
	e0 := b.Epoch()
	b.Publish(Event{Type: PolicyChanged})
	if b.Epoch() != e0+1 {
		t.Fatal("epoch did not advance")
	}
	// Events from other replicas are delivered locally, not relayed again.
	b.Deliver(Event{Type: PolicyChanged, Origin: "b"})
	if b.Epoch() != e0+2 || len(relayed) != 1 || relayed[0].Origin != "a" {
		t.Fatalf("epoch %d relayed %+v", b.Epoch(), relayed)
	}
}
