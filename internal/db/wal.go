package db

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// SQLite's write-ahead log grows while readers keep using it: a
// checkpoint copies frames into the database file but can only start the
// log over when no reader still reads an older snapshot, and under steady
// reads there always is one. Measured under an incident-like load
// (docs/PERFORMANCE.md), the log reached 111–144 MB next to an 8.5 MB
// database within 30 s, never shrank, and throughput halved as readers
// searched the ever longer log.
//
// So the writer side keeps it bounded itself (walKeeper), in two ways:
//   - Copying: the writer never checkpoints in its commits
//     (wal_autocheckpoint(0)); every walCopyLook after commits the keeper
//     runs a PASSIVE checkpoint on a connection of its own, which copies
//     the frames no reader still needs while the writer goes on — on
//     the other core, not inside a commit (a tenth of a bulk import's
//     time went into checkpoints in its commits).
//   - Truncating: when the log passes walCheckpointAt (looked at every
//     walCopyLook), or when writes stop for a moment (walLook) and a log
//     is left, it runs a TRUNCATE checkpoint
//     on the one writer connection (so it waits for the write in
//     progress and no write starts meanwhile): it copies what is left,
//     waits (busy_timeout) for readers to leave the old snapshot — reads
//     take milliseconds — and truncates the file.
//
// journal_size_limit caps what any other checkpoint leaves behind. At open
// the log of a previous run is checkpointed away.
const (
	walCheckpointAt = 16 << 20 // bytes of log that trigger a truncating checkpoint
	walSizeLimit    = 64 << 20 // journal_size_limit: what a reset log may keep
	walLook         = 250 * time.Millisecond
	walCopyLook     = 50 * time.Millisecond
)

// WALStats are the write-ahead log's figures (SQLite; zero on PostgreSQL).
type WALStats struct {
	Bytes       int64  // size of the log file now
	Checkpoints uint64 // truncating checkpoints run
	Failed      uint64 // of those, how many could not finish (busy readers); the next look retries
}

// walState is the keeper's bookkeeping.
type walState struct {
	commits     atomic.Uint64 // write transactions committed (to notice a pause)
	checkpoints atomic.Uint64
	failed      atomic.Uint64
	stop        chan struct{}
	done        chan struct{}
	stopOnce    sync.Once
}

// Commits is how many write transactions this process has committed
// (SQLite; 0 on PostgreSQL): background work looks at it to notice
// that other writes came in (internal/search, merge.go).
func (d *DB) Commits() uint64 {
	if d.wal == nil {
		return 0
	}
	return d.wal.commits.Load()
}

// WAL returns the log's figures.
func (d *DB) WAL() WALStats {
	if d.Dialect != SQLite || d.wal == nil {
		return WALStats{}
	}
	s := WALStats{Checkpoints: d.wal.checkpoints.Load(), Failed: d.wal.failed.Load()}
	if fi, err := os.Stat(d.URL + "-wal"); err == nil {
		s.Bytes = fi.Size()
	}
	return s
}

// startWALKeeper checkpoints the log left by an earlier run and starts the
// keeper.
func (d *DB) startWALKeeper(ctx context.Context) {
	d.wal = &walState{stop: make(chan struct{}), done: make(chan struct{})}
	d.checkpoint(ctx)
	go d.walKeeper(context.WithoutCancel(ctx))
}

// walKeeper runs until the database is closed (ctx carries no deadline of
// the opener's: the keeper outlives the call that opened the database).
func (d *DB) walKeeper(ctx context.Context) {
	defer close(d.wal.done)
	t := time.NewTicker(walCopyLook)
	defer t.Stop()
	copied := d.wal.commits.Load() // commits up to which frames were copied
	last := copied                 // commits at the last truncating look
	lastLook := time.Now()
	for {
		select {
		case <-d.wal.stop:
			return
		case <-t.C:
		}
		commits := d.wal.commits.Load()
		if commits != copied && d.checkpointer != nil {
			// Errors are not kept: a passive checkpoint that cannot
			// copy (a reader's snapshot) leaves the frames for the next.
			_, _ = d.checkpointer.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
			copied = commits
		}
		// The mark is looked at every tick (a stat): a bulk writer
		// fills tens of MB a second, and a look every walLook let the
		// log run to two or three times the mark before it was cut.
		// A pause is judged over the longer walLook.
		size := d.WAL().Bytes
		pauseLook := time.Since(lastLook) >= walLook
		if size > walCheckpointAt || (pauseLook && size > 0 && commits == last) {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			d.checkpoint(cctx)
			cancel()
		}
		if pauseLook {
			lastLook, last = time.Now(), commits
		}
	}
}

// checkpoint runs a truncating checkpoint on the writer connection.
func (d *DB) checkpoint(ctx context.Context) {
	var busy, logFrames, copied int
	err := d.writer.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &copied)
	d.wal.checkpoints.Add(1)
	if err != nil || busy != 0 {
		d.wal.failed.Add(1)
	}
}

// stopWALKeeper ends the keeper (Close).
func (d *DB) stopWALKeeper() {
	if d.wal == nil {
		return
	}
	d.wal.stopOnce.Do(func() { close(d.wal.stop) })
	<-d.wal.done
}
