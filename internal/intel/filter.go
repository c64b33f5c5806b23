package intel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"slices"
	"sync"

	"verbund/internal/db"
)

// valueFilter knows which (kind, value) pairs are stored at all, by any
// org, as 64-bit hashes in memory, so that a lookup asks the database only
// for values that may be there. Most values a batch lookup brings (a
// day's addresses from a log) are stored nowhere, and each would cost an
// index probe. The filter never answers a match itself: a hash that is
// present (a stored value, a hash collision, a value since deleted) is
// looked up through the visibility predicate like before; a hash that is
// absent is a value no org stores, and its answer ("no matches") is the
// same for every reader.
//
// It follows the table by rowid. On SQLite new rows take rowids above
// every row there is, so the filter reads the rows above the last one it
// has seen. A rowid is reused only after the rows above it are deleted;
// the filter then no longer finds its last row as it left it and reads
// the table again. Rows deleted elsewhere stay in the filter (they cost a
// probe, never a wrong answer). On PostgreSQL there is no such order
// (sequence values commit out of order), so there is no filter and every
// value is probed.
type valueFilter struct {
	mu   sync.RWMutex
	seed maphash.Seed
	set  map[uint64]struct{}
	// lengths are the prefix lengths of the stored ranges (IPv6 as
	// 128+length, as intel_cidr_lengths keeps them): a looked-up address
	// is compared with its prefixes of these lengths.
	lengths []int
	lastRow int64  // the highest rowid read, 0 for none
	lastObj string // its object_id, to notice a rowid given out again
	valid   bool
}

func newValueFilter() *valueFilter {
	return &valueFilter{seed: maphash.MakeSeed(), set: map[uint64]struct{}{}}
}

func (f *valueFilter) hash(kind, value string) uint64 {
	var h maphash.Hash
	h.SetSeed(f.seed)
	_, _ = h.WriteString(kind) // never fails
	_ = h.WriteByte(0)
	_, _ = h.WriteString(value)
	return h.Sum64()
}

// mayHold says whether (kind, value) may be stored. Call after refresh.
func (f *valueFilter) mayHold(kind, value string) bool {
	_, ok := f.set[f.hash(kind, value)]
	return ok
}

// refresh brings the filter up to the table and returns it read-locked
// (the caller unlocks with f.mu.RUnlock), or nil on PostgreSQL.
func (f *valueFilter) refresh(ctx context.Context, h db.Handle) (*valueFilter, error) {
	if f == nil || h.Dialect() != db.SQLite {
		return nil, nil
	}
	var top int64
	var topObj string
	err := h.QueryRow(ctx, `SELECT rowid, object_id FROM intel_values ORDER BY rowid DESC LIMIT 1`).Scan(&top, &topObj)
	if errors.Is(err, sql.ErrNoRows) {
		top, topObj = 0, ""
	} else if err != nil {
		return nil, fmt.Errorf("value filter: %w", err)
	}
	f.mu.RLock()
	if f.valid && top == f.lastRow && topObj == f.lastObj {
		return f, nil
	}
	f.mu.RUnlock()
	f.mu.Lock()
	if err := f.catchUp(ctx, h); err != nil {
		f.mu.Unlock()
		return nil, err
	}
	f.mu.Unlock()
	f.mu.RLock()
	return f, nil
}

// catchUp reads the rows added since the last refresh, or all of them if
// the last row it read is gone or another (its rowid given out again).
// Called with f.mu held.
func (f *valueFilter) catchUp(ctx context.Context, h db.Handle) error {
	from := f.lastRow
	if f.valid && f.lastRow > 0 {
		var obj string
		err := h.QueryRow(ctx, `SELECT object_id FROM intel_values WHERE rowid = ?`, f.lastRow).Scan(&obj)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("value filter: %w", err)
		}
		if obj != f.lastObj {
			from = 0
		}
	} else {
		from = 0
	}
	if from == 0 {
		clear(f.set)
		f.lastRow, f.lastObj, f.lengths = 0, "", nil
	}
	rows, err := h.Query(ctx, `SELECT rowid, object_id, kind, value FROM intel_values WHERE rowid > ? ORDER BY rowid`, from)
	if err != nil {
		return fmt.Errorf("value filter: %w", err)
	}
	defer rows.Close()
	var kind, value string
	for rows.Next() {
		if err := rows.Scan(&f.lastRow, &f.lastObj, &kind, &value); err != nil {
			f.valid = false
			return fmt.Errorf("value filter: %w", err)
		}
		f.set[f.hash(kind, value)] = struct{}{}
		if kind == "cidr" {
			f.addLength(value)
		}
	}
	if err := rows.Err(); err != nil {
		f.valid = false
		return fmt.Errorf("value filter: %w", err)
	}
	f.valid = true
	return nil
}

// addLength notes the prefix length of range value. Called with f.mu held.
func (f *valueFilter) addLength(value string) {
	p, err := netip.ParsePrefix(value)
	if err != nil {
		return
	}
	bits := p.Bits()
	if p.Addr().Is6() {
		bits += 128
	}
	if !slices.Contains(f.lengths, bits) {
		f.lengths = append(f.lengths, bits)
	}
}
