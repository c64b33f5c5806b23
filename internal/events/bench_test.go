package events

import (
	"sync"
	"testing"

	"verbund/internal/policy"
)

// BenchmarkDeliver1000 is the broker's share of figure (c) in
// docs/PERFORMANCE.md: one event handed to 1000 subscribers, each a
// goroutine like an SSE stream, until every one has received it.
func BenchmarkDeliver1000(b *testing.B) {
	const n = 1000
	br := New("bench")
	var wg sync.WaitGroup
	subs := make([]*Sub, n)
	for i := range subs {
		subs[i] = br.Subscribe(64)
		go func(s *Sub) {
			for {
				select {
				case <-s.Events():
					wg.Done()
				case <-s.Done():
					return
				}
			}
		}(subs[i])
	}
	e := Event{Type: "forum.post", Share: &policy.Share{TLP: policy.Amber}, Topics: []string{"forum"}, Data: map[string]string{"id": "x"}}
	b.ReportAllocs()
	for b.Loop() {
		wg.Add(n)
		br.Publish(e)
		wg.Wait()
	}
	for _, s := range subs {
		s.Close()
	}
	if br.Dropped.Load() != 0 {
		b.Fatalf("%d dropped", br.Dropped.Load())
	}
}
