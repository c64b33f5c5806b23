package db

import (
	"context"
	"sync"
)

// SharedRun runs one function for many callers, group-commit style: a
// caller's run starts after its call, and callers that arrive while a run
// is in flight share the next one. The audit chain uses it: every write
// waits until a chaining pass that began after its commit has ended, and a
// burst of writes is chained by two passes, not one each.
type SharedRun struct {
	mu                sync.Mutex
	cond              *sync.Cond
	started, finished uint64
	running           bool
}

// Do returns once fn has run completely, started after Do was called
// (by this caller or another one). fn gets the context of the caller that
// runs it; an error is that run's, reported to the caller that ran it.
func (s *SharedRun) Do(ctx context.Context, fn func(context.Context) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cond == nil {
		s.cond = sync.NewCond(&s.mu)
	}
	want := s.started + 1 // a run in flight may have begun before the call
	for s.finished < want {
		if s.running {
			s.cond.Wait()
			continue
		}
		s.running = true
		s.started++
		n := s.started
		s.mu.Unlock()
		err := fn(ctx)
		s.mu.Lock()
		s.running, s.finished = false, n
		s.cond.Broadcast()
		if err != nil {
			return err
		}
	}
	return nil
}
