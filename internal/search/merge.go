package search

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"verbund/internal/db"
)

// The full-text index on SQLite (FTS5, migrations 0004 and 0013) is a set
// of b-trees, "segments": every write transaction that indexes a document
// adds one, and FTS5 merges them in the writers' own transactions, four
// of a level at a time. A search looks every word up in every segment, and
// SQLite prepares FTS5's look-up statement (… WHERE segid = ? …) again
// each time it is bound to another segment: since SQLite 3.47 a bound value
// the planner has read expires the statement. With the twenty-odd segments
// of 100,000 posts, half of a search's CPU went into parsing that one
// statement again and again; merged into one segment, a search costs half
// (docs/PERFORMANCE.md, the ninth session).
//
// So when the index is idle, unchanged for a look (mergeLook: FTS5's
// structure record, the list of its segments, is the same as a look
// before; bookkeeping commits such as a token's last use do not count),
// KeepIndexMerged merges segments, mergePages pages per write transaction,
// and stops when another write of this process has committed meanwhile
// (the next look goes on where it stopped; a write waiting for the writer
// waits for one step at most). Merging rewrites what it merges, so it
// merges like a log-structured store: all segments into one only when the
// smaller ones together have grown to a quarter of the largest (so the
// largest is rewritten each time the index has grown by a quarter, not
// after every post); until then only segments of the same level, two at a
// time (FTS5's usermerge 2), which keeps the smaller ones to about one per
// level. Under sustained writes nothing changes: FTS5 merges in the
// writers' transactions as before. PostgreSQL's index (a GIN over
// tsvector) has no segments.
const (
	mergeLook  = 2 * time.Second
	mergePages = 256 // FTS5 pages (4,000 bytes) written per transaction: tens of milliseconds
)

// Segments is how many segments the full-text index has (SQLite; 0 on
// PostgreSQL).
func Segments(ctx context.Context, d *db.DB) (int, error) {
	sizes, err := segmentSizes(ctx, d)
	return len(sizes), err
}

// segmentSizes lists the segments' sizes, largest first, as FTS5's b-tree
// index rows of each (a row per leaf page that starts a term: a measure,
// not pages).
func segmentSizes(ctx context.Context, d *db.DB) ([]int, error) {
	if d.Dialect != db.SQLite {
		return nil, nil
	}
	rows, err := d.R().Query(ctx, `SELECT count(*) FROM search_fts_idx GROUP BY segid ORDER BY 1 DESC`)
	if err != nil {
		return nil, fmt.Errorf("count index segments: %w", err)
	}
	return db.Collect(rows, "count index segments", func(sc db.Scanner) (n int, err error) {
		err = sc.Scan(&n)
		return n, err
	})
}

// wholeMerge reports whether merging every segment into one is worth its
// cost: the segments but the largest hold a quarter of its size or more.
func wholeMerge(sizes []int) bool {
	if len(sizes) < 2 {
		return false
	}
	rest := 0
	for _, n := range sizes[1:] {
		rest += n
	}
	return 4*rest >= sizes[0]
}

// MergeIndex merges the full-text index's segments, a transaction of
// mergePages pages at a time, until there is nothing left to merge or busy
// says that other writes have committed since the last step: every segment into one when
// wholeMerge says so, else the segments of each level. Each step is
// bookkeeping: it changes how the index is stored, not what it holds. It
// reports whether it finished.
func MergeIndex(ctx context.Context, d *db.DB, busy func() bool) (bool, error) {
	if d.Dialect != db.SQLite {
		return true, nil
	}
	sizes, err := segmentSizes(ctx, d)
	if err != nil {
		return false, err
	}
	if len(sizes) < 2 {
		return true, nil
	}
	// A negative page count merges every segment, whatever its level,
	// down to one; a positive one only levels with usermerge segments
	// (FTS5's "merge" command).
	pages := mergePages
	if wholeMerge(sizes) {
		pages = -mergePages
	}
	for {
		if busy != nil && busy() {
			return false, nil
		}
		worked := false
		err := d.Tx(ctx, func(tx *db.Tx) error {
			tx.Bookkeeping()
			if pages > 0 {
				if err := setUsermerge(ctx, tx); err != nil {
					return err
				}
			}
			var before, after int64
			if err := tx.QueryRow(ctx, `SELECT total_changes()`).Scan(&before); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO search_fts (search_fts, rank) VALUES ('merge', ?)`, pages); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `SELECT total_changes()`).Scan(&after); err != nil {
				return err
			}
			// FTS5's documentation: a merge that did work changes two
			// rows or more.
			worked = after-before >= 2
			return nil
		})
		if err != nil {
			return false, fmt.Errorf("merge the search index: %w", err)
		}
		if !worked {
			return true, nil
		}
	}
}

// setUsermerge makes FTS5's "merge" take two segments of a level (its
// default is four), once: writing the setting makes every connection read
// the index's configuration again.
func setUsermerge(ctx context.Context, tx *db.Tx) error {
	var v string
	err := tx.QueryRow(ctx, `SELECT CAST(v AS TEXT) FROM search_fts_config WHERE k = 'usermerge'`).Scan(&v)
	if err == nil && v == "2" {
		return nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO search_fts (search_fts, rank) VALUES ('usermerge', 2)`)
	return err
}

// structure is FTS5's structure record of the index: it changes whenever a
// segment is added, merged or removed ("" if there is none yet).
func structure(ctx context.Context, d *db.DB) (string, error) {
	var b []byte
	err := d.R().QueryRow(ctx, `SELECT block FROM search_fts_data WHERE id = 10`).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the index's structure: %w", db.Map(err))
	}
	return string(b), nil
}

// KeepIndexMerged merges the index whenever it is idle, looking every look
// (mergeLook if 0), until ctx ends (SQLite; it returns at once on
// PostgreSQL).
func KeepIndexMerged(ctx context.Context, d *db.DB, log *slog.Logger, look time.Duration) {
	if d.Dialect != db.SQLite {
		return
	}
	if look <= 0 {
		look = mergeLook
	}
	t := time.NewTicker(look)
	defer t.Stop()
	last := ""    // the structure at the last look
	settled := "" // a structure with nothing left to merge
	failing := "" // the last error logged: a database that refuses writes (a full disk) is logged once, not every look
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, err := structure(ctx, d)
		if err != nil || now != last || now == settled {
			last = now
			continue
		}
		// Writes of others show as commits beyond the merge's own one.
		mine := d.Commits()
		busy := func() bool {
			c := d.Commits()
			defer func() { mine = c + 1 }()
			return c != mine
		}
		done, err := MergeIndex(ctx, d, busy)
		switch {
		case err == nil:
			failing = ""
		case ctx.Err() == nil && err.Error() != failing:
			failing = err.Error()
			log.Warn("search index merge", "err", err)
		}
		if last, _ = structure(ctx, d); done {
			settled = last
		}
	}
}
