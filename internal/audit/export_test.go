package audit

import (
	"context"

	"verbund/internal/db"
)

// NewTrailForTest is NewTrail keeping at most keep records.
func NewTrailForTest(d *db.DB, keep int) *Trail {
	t := NewTrail(d)
	t.maxKept = keep
	return t
}

// SetReadState replaces how t reads the state (tests of sharing it).
func (t *Trail) SetReadState(f func(ctx context.Context) (State, error)) { t.readState = f }

// NextTakers is how many requests wait for the state read that begins
// when the one under way ends.
func (t *Trail) NextTakers() int {
	t.reading.Lock()
	defer t.reading.Unlock()
	if t.next == nil {
		return 0
	}
	return t.next.takers
}
