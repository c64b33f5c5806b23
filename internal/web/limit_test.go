package web

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := NewLimiter(3, 1)
	now := time.Unix(1000, 0)
	for i := range 3 {
		if !l.Allow("u", now) {
			t.Fatalf("call %d of the burst refused", i+1)
		}
	}
	if l.Allow("u", now) {
		t.Fatal("a call past the burst allowed")
	}
	if !l.Allow("v", now) {
		t.Fatal("another key is limited by the first")
	}
	if !l.Allow("u", now.Add(1100*time.Millisecond)) || l.Allow("u", now.Add(1200*time.Millisecond)) {
		t.Fatal("the refill is not one call a second")
	}
}
