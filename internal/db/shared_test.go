package db_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"verbund/internal/db"
)

// TestSharedRun: every caller returns only after a run that started after
// its call has ended, and concurrent callers share runs.
func TestSharedRun(t *testing.T) {
	var s db.SharedRun
	var runs atomic.Int64
	var mu sync.Mutex
	var starts, ends []time.Time
	fn := func(context.Context) error {
		runs.Add(1)
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		ends = append(ends, time.Now())
		mu.Unlock()
		return nil
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			called := time.Now()
			if err := s.Do(context.Background(), fn); err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for i := range ends {
				if starts[i].After(called) && !ends[i].After(time.Now()) {
					return
				}
			}
			t.Errorf("a caller returned without a run that started after its call")
		})
	}
	wg.Wait()
	if n := runs.Load(); n < 1 || n > 10 {
		t.Errorf("%d runs for 50 concurrent callers, want a few", n)
	}
}
