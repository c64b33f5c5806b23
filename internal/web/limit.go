package web

import (
	"sync"
	"time"
)

// Limiter lets each key (a user) make a burst of calls, refilled at a
// steady rate: for requests whose time can say something about data the
// caller may not see (a full-text search runs longer the more documents
// match, visible or not), so that measuring it takes too long to pay.
type Limiter struct {
	mu      sync.Mutex
	burst   float64
	rate    float64 // per second
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter allows burst calls at once and perSecond after that.
func NewLimiter(burst int, perSecond float64) *Limiter {
	return &Limiter{burst: float64(burst), rate: perSecond, buckets: map[string]*bucket{}}
}

// Allow reports whether key may make a call now, and counts it.
func (l *Limiter) Allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) > 100000 {
			l.forget(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	// Callers read the clock before they take the lock: a call may come
	// in with an earlier time than the one before it, which must not
	// take tokens away (at a high rate, a millisecond is many of them).
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.at = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// forget drops the buckets that are full again (nothing to remember).
// Callers hold l.mu.
func (l *Limiter) forget(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}
