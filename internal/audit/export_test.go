package audit

import "verbund/internal/db"

// NewTrailForTest is NewTrail keeping at most keep records.
func NewTrailForTest(d *db.DB, keep int) *Trail { return &Trail{db: d, maxKept: keep} }
