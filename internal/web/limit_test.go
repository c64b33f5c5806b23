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

// TestLimiterTakesNothingForAnEarlierClock: callers read the clock before
// the lock, so calls arrive out of order by a little; at a high rate an
// earlier time took many tokens away (a 429 under a limit of a million a
// minute).
func TestLimiterTakesNothingForAnEarlierClock(t *testing.T) {
	l := NewLimiter(20, 1_000_000/60.0)
	now := time.Unix(1000, 0)
	for i := range 1000 {
		at := now.Add(time.Duration(i) * time.Millisecond)
		if i%2 == 1 {
			at = at.Add(-3 * time.Millisecond) // came in late
		}
		if !l.Allow("u", at) {
			t.Fatalf("call %d refused", i)
		}
	}
}
