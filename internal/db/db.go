// Package db opens verbund's database (embedded SQLite or PostgreSQL) and
// hides the few differences between them, so that every store in the
// capability packages is written once, with `?` placeholders, and runs on
// both engines.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"verbund/internal/fault"
)

// Dialect names the engine.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open database: a writer and a reader pool (the same pool on
// PostgreSQL; one writer connection plus readers on SQLite, because SQLite
// allows one writer at a time and waiting on its lock is slower than queueing
// in Go).
type DB struct {
	Dialect Dialect
	URL     string // postgres URL or SQLite file path, for LISTEN connections and logs
	// Chaining shares the audit chain's passes among the writes of this
	// process (internal/audit): one pass at a time, each for everybody
	// who committed before it began.
	Chaining SharedRun
	// HoldChain (tests) leaves audit records waiting after their commit,
	// as a writer whose chaining pass failed does, until something else
	// chains them (another replica, the background round).
	HoldChain atomic.Bool
	writer    *sql.DB
	reader    *sql.DB
	rebinds   sync.Map     // query → rebound query (PostgreSQL; SQLite's LIMITs)
	rebound   atomic.Int64 // texts in rebinds (at most maxRebinds)
	// stmts caches prepared reads on SQLite: query → *sql.Stmt on the
	// reader pool. Parsing and planning the visibility predicate costs
	// more than running it (docs/PERFORMANCE.md).
	stmts  sync.Map
	wstmts sync.Map // the same for write transactions, on the writer
	// toPrepare are statements write transactions ran unprepared, to be
	// prepared on the writer once it is free.
	toPrepare sync.Map
	preparing atomic.Bool
	nstmts    atomic.Int32
	// trips and tripped count what write transactions sent on
	// PostgreSQL (pipeline.go): round trips and their statements.
	trips, tripped atomic.Int64
	hooks          atomic.Pointer[Hooks] // nil in production
	group          grouper               // SQLite: writes waiting to be committed together (group.go)
	wal            *walState             // SQLite: the log's keeper (wal.go)
	// checkpointer is SQLite's connection for the keeper's passive
	// checkpoints (nil on PostgreSQL).
	checkpointer *sql.DB
}

// Hooks watch write transactions. Only tests install them:
// internal/db/dbtest checks with them that every committed write is
// audited.
type Hooks struct {
	// Begin runs when a write transaction has begun, before its work. The
	// function it returns, if not nil, runs when the work has succeeded,
	// just before the commit. An error from either rolls the transaction
	// back and is what Tx returns.
	Begin func(ctx context.Context, tx *Tx) (beforeCommit func() error, err error)
}

// SetHooks installs h for the write transactions that begin from now on.
func (d *DB) SetHooks(h Hooks) { d.hooks.Store(&h) }

// maxStmts bounds the statement cache: queries are built from constant
// fragments, but IN lists vary in length; past the bound, reads are
// prepared per call as before.
const maxStmts = 256

// pgPool is how many connections a hub keeps to PostgreSQL by default
// (pool_max_conns in the URL sets it): one a core, at least two. More
// only queue inside the server, which serves each connection with a
// process of its own: under the mixed load on two cores (two hubs and the
// server on one machine), 2 connections a hub gave a reply's median
// 17.5–18.3 ms, 3 gave 19–20, 8 gave 28.5, all at the same throughput.
// A request holds at most one connection at a time (a write names other
// capabilities' objects before its transaction, an export gives its
// connection back between pages), so any size is free of deadlock;
// TestOneDatabaseConnection runs the demo on one.
func pgPool() int { return max(2, runtime.GOMAXPROCS(0)) }

// Open opens the database named by url: "" or a path or "sqlite:PATH" for
// SQLite (dataDir/verbund.db when url is empty), "postgres://…" for
// PostgreSQL. It does not migrate; call Migrate.
func Open(ctx context.Context, url, dataDir string) (*DB, error) {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		return openPostgres(ctx, url)
	}
	path := strings.TrimPrefix(url, "sqlite:")
	if path == "" {
		if dataDir == "" {
			dataDir = "verbund-data"
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data folder %s: %w", dataDir, err)
		}
		path = filepath.Join(dataDir, "verbund.db")
	}
	return openSQLite(ctx, path)
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	// busy_timeout makes a locked database wait instead of failing at once;
	// _txlock=immediate takes the write lock at BEGIN so two writers never
	// deadlock upgrading a read lock.
	pragmas := "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	// The writer keeps up to 64 MB of pages (SQLite's default is 2 MB): a
	// bulk import inserts into indexes in random order (a value's, a
	// reference's), and with the default most of those inserts read their
	// page back from the file. Memory is taken only as pages are used.
	// It never checkpoints in its commits (wal_autocheckpoint(0)): the
	// log's keeper copies frames on a connection of its own, on another
	// core, while the writer goes on (wal.go).
	w, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit("+strconv.Itoa(walSizeLimit)+")&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	// Readers map the file (up to 2 GB) instead of reading pages with a
	// system call each and copying them into their page cache: lookups
	// and TAXII pages over a million intel objects touch pages all over
	// the file. Only readers map it; the writer's errors (a full disk)
	// stay errors. The file never shrinks under them (no VACUUM, no
	// auto_vacuum), which is what makes a mapping safe.
	r, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=mmap_size(2147418112)&_pragma=cache_size(-16384)&mode=ro")
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	// The keeper's connection: passive checkpoints only, which never
	// block the writer or a reader.
	ck, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	ck.SetMaxOpenConns(1)
	ck.SetConnMaxIdleTime(0)
	d := &DB{Dialect: SQLite, URL: path, writer: w, reader: r, checkpointer: ck}
	// The writer must exist before a read-only connection can open the file.
	if err := w.PingContext(ctx); err != nil {
		_ = d.Close()
		return nil, Map(fmt.Errorf("open sqlite %s: %w", path, err))
	}
	d.startWALKeeper(ctx)
	return d, nil
}

func openPostgres(ctx context.Context, url string) (*DB, error) {
	url, pool, err := PoolSize(url)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, Map(fmt.Errorf("connect to postgres: %w", err))
	}
	// Generic plans: the hub's reads are one statement text each whose
	// values (ids, the reader's coverage) do not change the best plan, and
	// PostgreSQL's default re-plans a statement for each execution while
	// it guesses that a custom plan might be cheaper. The feed's statement
	// (six tables and the visibility predicate twice) took 19 ms to plan
	// and 3 ms to run. An operator's plan_cache_mode in the URL wins.
	if _, set := cfg.RuntimeParams["plan_cache_mode"]; !set {
		cfg.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	// No merge joins: a generic plan cannot see the ids a statement looks
	// up, and with statistics a little stale (ids grow with time, so every
	// new row lies past the histogram) PostgreSQL merged a few threads with
	// every share, expecting to stop early: 27 ms where the index look-ups
	// take 0.2. The hub's statements look up or page through few rows;
	// hash joins remain for the large ones. An operator's setting wins.
	if _, set := cfg.RuntimeParams["enable_mergejoin"]; !set {
		cfg.RuntimeParams["enable_mergejoin"] = "off"
	}
	p := stdlib.OpenDB(*cfg)
	// A few connections per hub, all kept open: a connection closed
	// because too many were idle is a new server process and a cold
	// statement cache when it is opened again (see pgPool).
	p.SetMaxOpenConns(pool)
	p.SetMaxIdleConns(pool)
	p.SetConnMaxIdleTime(5 * time.Minute)
	d := &DB{Dialect: Postgres, URL: url, writer: p, reader: p}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.PingContext(pctx); err != nil {
		_ = p.Close()
		return nil, Map(fmt.Errorf("connect to postgres: %w", err))
	}
	return d, nil
}

// PoolSize takes the hub's own parameter pool_max_conns (the name
// pgxpool gives it) out of a PostgreSQL URL: the server would refuse it
// as an unknown setting. It returns the URL without it, every other byte
// as given (decoding and encoding the query again changed what pgx reads:
// a space written %20 became "+"), and the pool size (pgPool's when
// absent).
func PoolSize(raw string) (string, int, error) {
	// The query starts at the first "?" after the user information,
	// which may hold one in a password.
	from := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		from = i + 3
		if j := strings.IndexByte(raw[from:], '/'); j >= 0 {
			from += strings.LastIndexByte(raw[from:from+j], '@') + 1
		}
	}
	q := strings.IndexByte(raw[from:], '?')
	if q < 0 {
		return raw, pgPool(), nil
	}
	base, query := raw[:from+q], raw[from+q+1:]
	n := pgPool()
	var kept []string
	for _, p := range strings.Split(query, "&") {
		name, v, _ := strings.Cut(p, "=")
		if name != "pool_max_conns" {
			kept = append(kept, p)
			continue
		}
		var err error
		if v, err = neturl.QueryUnescape(v); err == nil {
			n, err = strconv.Atoi(v)
		}
		if err != nil || n < 1 || n > 1000 {
			return "", 0, fault.New(fault.Invalid, "bad_pool_max_conns", "pool_max_conns in the PostgreSQL URL must be a number from 1 to 1000, not {value}").With("value", v)
		}
	}
	if len(kept) == 0 {
		return base, n, nil
	}
	return base + "?" + strings.Join(kept, "&"), n, nil
}

// Close closes both pools.
func (d *DB) Close() error {
	d.stopWALKeeper()
	for _, m := range []*sync.Map{&d.stmts, &d.wstmts} {
		m.Range(func(k, v any) bool {
			_ = v.(*sql.Stmt).Close()
			m.Delete(k)
			return true
		})
	}
	err := d.writer.Close()
	if d.reader != d.writer {
		err = errors.Join(err, d.reader.Close())
	}
	if d.checkpointer != nil {
		err = errors.Join(err, d.checkpointer.Close())
	}
	return err
}

// Ping checks that the database answers (for /readyz).
func (d *DB) Ping(ctx context.Context) error {
	return Map(d.reader.PingContext(ctx))
}

// SetQueryOnly makes SQLite's writer refuse writes (or take them again),
// as a read-only database file would: for the tests of how the hub
// answers then.
func (d *DB) SetQueryOnly(ctx context.Context, on bool) error {
	if d.Dialect != SQLite {
		return fmt.Errorf("query_only: SQLite only")
	}
	v := 0
	if on {
		v = 1
	}
	_, err := d.writer.ExecContext(ctx, fmt.Sprintf("PRAGMA query_only = %d", v))
	return err
}

// ProbeWrite checks that the database takes a write: a full disk, a
// read-only file or server, or a writer that does not get its turn answer
// with their fault (for /readyz).
func (d *DB) ProbeWrite(ctx context.Context) error {
	return d.Tx(ctx, func(tx *Tx) error {
		tx.Bookkeeping()
		_, err := tx.Exec(ctx, `UPDATE health_probe SET at = ? WHERE id = 1`, Now())
		return err
	})
}

// NewID returns a new random, time-ordered identifier (UUIDv7). Time order
// keeps inserts local in B-trees and makes "newest first" a plain ORDER BY id.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// Now returns the current time as stored: Unix microseconds. Timestamps are
// integers on both engines so comparisons and sorting are identical.
func Now() int64 { return time.Now().UnixMicro() }

// Time converts a stored timestamp back.
func Time(us int64) time.Time { return time.UnixMicro(us).UTC() }

// queryer is what *sql.DB, *sql.Conn and *sql.Tx share.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Handle runs queries written with `?` placeholders on either engine.
type Handle struct {
	q      queryer
	db     *DB
	reader bool    // the reader pool: queries may use the statement cache
	tx     *sql.Tx // a write transaction: statements prepared on the writer serve it
	// detached: a grouped write's statements keep their context's values
	// but not its end (group.go: an interrupted statement would roll back
	// the other writes of its group).
	detached bool
	// memo: what a write transaction read and may take again unchanged
	// until it writes (nil outside write transactions).
	memo *memo
	// pipe: a PostgreSQL write transaction's statements sent later
	// (pipeline.go; nil elsewhere).
	pipe *pipeline
}

// memo holds values a write read in its transaction (policy's views: a
// reply's checks read the writer's view three times). Any statement but a
// SELECT empties it, so a value read back has been read since the
// transaction last wrote: it is what a new read would find, on SQLite
// (one writer) and on PostgreSQL alike (read committed: a concurrent
// commit in between could as well have come just after the read).
type memo struct {
	mu sync.Mutex
	m  map[any]any
}

// Recall returns the value remembered under key in h's write, if there is
// one and nothing was written since it was remembered.
func (h Handle) Recall(key any) (any, bool) {
	if h.memo == nil {
		return nil, false
	}
	h.memo.mu.Lock()
	defer h.memo.mu.Unlock()
	v, ok := h.memo.m[key]
	return v, ok
}

// Remember keeps v under key for Recall until h's write writes anything
// (outside a write transaction it keeps nothing).
func (h Handle) Remember(key, v any) {
	if h.memo == nil {
		return
	}
	h.memo.mu.Lock()
	defer h.memo.mu.Unlock()
	if h.memo.m == nil {
		h.memo.m = map[any]any{}
	}
	h.memo.m[key] = v
}

// forget empties the memo before any statement that may write: every one
// but a SELECT.
func (h Handle) forget(query string) {
	if h.memo == nil || strings.HasPrefix(strings.TrimLeft(query, " \t\r\n"), "SELECT ") {
		return
	}
	h.memo.mu.Lock()
	h.memo.m = nil
	h.memo.mu.Unlock()
}

// ctx is the context h's statements run with.
func (h Handle) ctx(ctx context.Context) context.Context {
	if h.detached {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// R returns a handle for reads outside a transaction.
func (d *DB) R() Handle { return Handle{q: d.reader, db: d, reader: true} }

// Pooled reports whether h reads from the reader pool, outside any
// transaction: what it reads may be older than what a transaction of the
// same request would (caches may answer for it).
func (h Handle) Pooled() bool { return h.reader && h.tx == nil }

// Exec runs a statement.
func (h Handle) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	h.forget(query)
	ctx = h.ctx(ctx)
	if p := h.pipe; p != nil && len(args) > 0 {
		// With the waiting statements (pipeline.go). Without arguments a
		// statement may be several (a migration's), which only the
		// simple protocol below takes.
		if p.err != nil {
			return nil, p.err
		}
		tag, err := p.send(ctx, &queued{query: h.db.rebind(query), args: args})
		if err != nil {
			return nil, err
		}
		return batchResult(tag.RowsAffected()), nil
	}
	if err := h.flush(ctx, query); err != nil {
		return nil, err
	}
	if st := h.prepared(ctx, query); st != nil {
		res, err := st.ExecContext(ctx, args...)
		return res, Map(err)
	}
	h.trips(1)
	res, err := h.q.ExecContext(ctx, h.db.rebind(query), args...)
	return res, Map(err)
}

// Query runs a query returning rows.
func (h Handle) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	h.forget(query)
	ctx = h.ctx(ctx)
	if err := h.flush(ctx, query); err != nil {
		return nil, err
	}
	if st := h.prepared(ctx, query); st != nil {
		rows, err := st.QueryContext(ctx, args...)
		return rows, Map(err)
	}
	h.trips(1)
	rows, err := h.q.QueryContext(ctx, h.db.rebind(query), args...)
	return rows, Map(err)
}

// QueryRow runs a query returning at most one row; Scan reports sql.ErrNoRows.
func (h Handle) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	h.forget(query)
	ctx = h.ctx(ctx)
	// A failure of the statements sent first fails this query too (the
	// transaction is aborted); the transaction then returns that
	// failure, not this one (DB.tx).
	_ = h.flush(ctx, query)
	if st := h.prepared(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	h.trips(1)
	return h.q.QueryRowContext(ctx, h.db.rebind(query), args...)
}

// prepared returns the cached prepared statement for query on SQLite
// (preparing it on first use), or nil to run the query unprepared: on
// PostgreSQL (pgx caches statements per connection itself), when the cache
// is full or preparing fails (the unprepared call then reports the error).
// Reads outside transactions use statements on the reader pool; a write
// transaction uses statements prepared on the writer, whose one connection
// it holds (database/sql finds the statement already prepared there).
// Parsing and planning the visibility predicate costs more than running
// it, and a write runs a dozen statements.
func (h Handle) prepared(ctx context.Context, query string) *sql.Stmt {
	d := h.db
	if d.Dialect != SQLite || (!h.reader && h.tx == nil) {
		return nil
	}
	if h.tx == nil {
		return d.statement(ctx, &d.stmts, d.reader, query)
	}
	// The transaction holds the writer's one connection, so a statement
	// cannot be prepared on the writer now: the first use runs unprepared
	// and the statement is prepared once the transaction has ended.
	v, ok := d.wstmts.Load(query)
	if !ok {
		d.toPrepare.Store(query, true)
		return nil
	}
	return h.tx.StmtContext(ctx, v.(*sql.Stmt))
}

// afterTx starts preparing the statements the transaction that just ended
// ran unprepared, unless that is already under way.
func (d *DB) afterTx() {
	pending := false
	d.toPrepare.Range(func(any, any) bool { pending = true; return false })
	if pending && d.preparing.CompareAndSwap(false, true) {
		go func() {
			defer d.preparing.Store(false)
			d.prepareWrites()
		}()
	}
}

// prepareWrites prepares on the writer the statements that write
// transactions ran unprepared (after a transaction, in the background: the
// writer's connection must be free).
func (d *DB) prepareWrites() {
	d.toPrepare.Range(func(k, _ any) bool {
		d.toPrepare.Delete(k)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.statement(ctx, &d.wstmts, d.writer, k.(string))
		return true
	})
}

// statement returns the statement for query from cache, preparing it on
// pool if it is not there yet and the cache has room.
func (d *DB) statement(ctx context.Context, cache *sync.Map, pool *sql.DB, query string) *sql.Stmt {
	if v, ok := cache.Load(query); ok {
		return v.(*sql.Stmt)
	}
	if d.nstmts.Load() >= maxStmts {
		return nil
	}
	st, err := pool.PrepareContext(ctx, d.rebind(query))
	if err != nil {
		return nil
	}
	if v, loaded := cache.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return v.(*sql.Stmt)
	}
	d.nstmts.Add(1)
	return st
}

// Dialect tells stores which engine runs (rarely needed).
func (h Handle) Dialect() Dialect { return h.db.Dialect }

// rebind turns `?` into `$1…$n` for PostgreSQL. It skips quoted strings so
// a literal '?' stays literal.
//
// On SQLite it writes `LIMIT ?` as `LIMIT +?`: since SQLite 3.47 the
// planner reads the value bound to a LIMIT's placeholder and marks the
// statement to be re-prepared whenever another value is bound to it
// (sqlite3ExprIsInteger, "reprepare on bind"). Pages ask for 20, 50 or
// 201 rows by turns, so every cached list statement was parsed and planned
// again on almost every use: 11 % of the hub's CPU under the mixed load.
// The unary plus hides the value from the planner (it never needed it: the
// lists walk an index in order) and keeps one plan per statement.
func (d *DB) rebind(q string) string {
	if d.Dialect != Postgres && !strings.Contains(q, "LIMIT ?") {
		return q
	}
	if v, ok := d.rebinds.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n, inStr := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			inStr = !inStr
			b.WriteByte(c)
		case c == '?' && !inStr && d.Dialect == Postgres:
			n++
			fmt.Fprintf(&b, "$%d", n)
		case c == '?' && !inStr && strings.HasSuffix(q[:i], "LIMIT "):
			b.WriteString("+?")
		default:
			b.WriteByte(c)
		}
	}
	out := b.String()
	// Lists of ids make a text for every length: past maxRebinds texts
	// the rest are rebound at every use rather than kept for ever.
	if d.rebound.Add(1) <= maxRebinds {
		d.rebinds.Store(q, out)
	}
	return out
}

// maxRebinds is how many rebound statement texts a DB keeps.
const maxRebinds = 8192

// Rebind is exported for tests of the rebinding itself.
func (d *DB) Rebind(q string) string { return d.rebind(q) }

// Tx is a write transaction. Functions registered with AfterCommit run once
// it has committed: that is where events are published, so that nobody is
// told about a change that was rolled back.
type Tx struct {
	Handle
	before      []beforeCommit
	grouped     bool         // one write of several in a GroupTx transaction
	batched     []batchedRow // InsertBatched rows, for the group's end
	after       []func()
	bookkeeping bool
	audited     bool
}

// DB is the database the transaction runs on (for work that must follow
// its commit in a transaction of its own).
func (t *Tx) DB() *DB { return t.db }

// MarkAudited notes that the transaction wrote an audit record; it
// reports whether it is the first (internal/audit then arranges the
// chaining once per transaction).
func (t *Tx) MarkAudited() (first bool) {
	first = !t.audited
	t.audited = true
	return first
}

// Audited reports whether the transaction wrote an audit record (for the
// tests' check).
func (t *Tx) Audited() bool { return t.audited }

// InsertMany inserts rows into, e.g. "posts (id, thread_id, …)", given as one
// flat list of values, width per row, in statements of up to 100 rows (a
// bulk write costs one statement a hundred rows instead of one a row). The
// rows past the last hundred go in statements of 64, 32, … 1 rows: eight
// statement texts at most, all of which stay prepared, where one of any
// length from 1 to 99 would be a new text nearly every call, prepared in
// the writer's time and filling the statement cache (maxStmts) for every
// other query.
func (t *Tx) InsertMany(ctx context.Context, into string, width int, values []any) error {
	return t.insertRows(ctx, into, "", width, values, false)
}

// InsertManyLater is InsertMany with its statements sent later
// (ExecLater): for rows whose insert no caller checks on its own.
func (t *Tx) InsertManyLater(ctx context.Context, into string, width int, values []any) error {
	return t.insertRows(ctx, into, "", width, values, true)
}

// insertRows is InsertMany with a suffix after the rows (ON CONFLICT …),
// later: with ExecLater.
func (t *Tx) insertRows(ctx context.Context, into, suffix string, width int, values []any, later bool) error {
	const rowsPer = 100
	if width <= 0 || len(values)%width != 0 {
		return fmt.Errorf("insert into %s: %d values are no whole rows of %d", into, len(values), width)
	}
	row := "(" + Placeholders(width) + ")"
	for len(values) > 0 {
		n := len(values) / width
		if n < rowsPer {
			n = 1 << (bits.Len(uint(n)) - 1) // the largest power of two ≤ n
		}
		n = min(n, rowsPer)
		q := "INSERT INTO " + into + " VALUES " + strings.Repeat(row+",", n-1) + row
		if suffix != "" {
			q += " " + suffix
		}
		what := "insert into " + strings.Fields(into)[0]
		if later {
			if err := t.ExecLater(ctx, what, q, values[:n*width]...); err != nil {
				return err
			}
		} else if _, err := t.Exec(ctx, q, values[:n*width]...); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		values = values[n*width:]
	}
	return nil
}

// AfterCommit registers f to run after a successful commit.
func (t *Tx) AfterCommit(f func()) { t.after = append(t.after, f) }

// BeforeCommit registers f to run inside the transaction once its work is
// done, just before the commit; an error rolls it back.
func (t *Tx) BeforeCommit(f func() error) { t.before = append(t.before, beforeCommit{f: f}) }

// BeforeCommitOnce is BeforeCommit for work a transaction needs once,
// however many writes it holds (GroupTx): of the functions registered
// under key by the writes committed together, only the first runs.
func (t *Tx) BeforeCommitOnce(key string, f func() error) {
	t.before = append(t.before, beforeCommit{key: key, f: f})
}

// InsertBatched inserts one row, given as values, with statement
// "INSERT INTO <into> VALUES (…) <suffix>" (suffix: an ON CONFLICT
// clause, or ""): now, or, when the transaction is a group of writes
// (GroupTx), once every write of the group is done, together with the
// rows of the same into and suffix of the group's other kept writes, in
// InsertMany's statements (100, 64, 32, … rows), outside the writes'
// savepoints.
// Why: SQLite's full-text index writes its pending terms to a segment of
// its own at every savepoint and at every statement that fires its
// trigger, so indexing inside each write wrote a segment a write (and
// the merging that follows); a group's documents in one statement write
// one. An error then fails every write of the group. Only for rows no
// later statement of the same write reads or changes (search documents).
func (t *Tx) InsertBatched(ctx context.Context, into, suffix string, values ...any) error {
	if t.grouped {
		t.batched = append(t.batched, batchedRow{into: into, suffix: suffix, values: values})
		return nil
	}
	if t.pipe != nil {
		// PostgreSQL: with the transaction's next statement (pipeline.go).
		q := "INSERT INTO " + into + " VALUES (" + Placeholders(len(values)) + ")"
		if suffix != "" {
			q += " " + suffix
		}
		return t.ExecLater(ctx, "insert into "+strings.Fields(into)[0], q, values...)
	}
	return t.insertRows(ctx, into, suffix, len(values), values, false)
}

type batchedRow struct {
	into, suffix string
	values       []any
}

type beforeCommit struct {
	key string // "" for every time
	f   func() error
}

// Bookkeeping marks the transaction as writing only bookkeeping that
// changes no right and no data, so that it writes no audit record: the
// login throttle counters (every failure they count is audited on its
// own), a token's last-use time, and the audit chain itself (records
// moved from waiting to chained by internal/audit's sequencer). docs/SECURITY.md (point 6) lists
// these; every other write is audited in its transaction, and the tests
// enforce both (internal/db/dbtest).
func (t *Tx) Bookkeeping() { t.bookkeeping = true }

// IsBookkeeping reports whether Bookkeeping was called (for the tests'
// check).
func (t *Tx) IsBookkeeping() bool { return t.bookkeeping }

// Tx runs fn in a write transaction; it commits when fn returns nil and
// rolls back otherwise.
func (d *DB) Tx(ctx context.Context, fn func(*Tx) error) error {
	return d.tx(ctx, fn, d.hooks.Load())
}

// tx is Tx with the hooks to run (nil: none).
func (d *DB) tx(ctx context.Context, fn func(*Tx) error, hooks *Hooks) error {
	var tx *Tx
	// commit commits; rollback rolls back and gives the connection back
	// (after a commit it only gives it back): both before the AfterCommit
	// functions, which may take a connection of their own (a request never
	// holds two). A panic in fn rolls back too (deferred).
	var commit func() error
	var rollback func()
	if d.Dialect == Postgres {
		// A connection of its own, whose statements go in batches, with
		// BEGIN and COMMIT (pipeline.go).
		conn, err := d.writer.Conn(ctx)
		if err != nil {
			return Map(fmt.Errorf("begin: %w", err))
		}
		pipe := &pipeline{db: d, conn: conn}
		tx = &Tx{Handle: Handle{q: conn, db: d, memo: &memo{}, pipe: pipe}}
		commit = func() error { return pipe.commit(ctx) }
		rollback = func() { pipe.end(ctx) }
	} else {
		sqlTx, err := d.writer.BeginTx(ctx, nil)
		if err != nil {
			return Map(fmt.Errorf("begin: %w", err))
		}
		tx = &Tx{Handle: Handle{q: sqlTx, db: d, tx: sqlTx, memo: &memo{}}}
		commit = func() error {
			if err := sqlTx.Commit(); err != nil {
				return Map(fmt.Errorf("commit: %w", err))
			}
			return nil
		}
		rollback = func() { _ = sqlTx.Rollback() } // after a commit it does nothing
	}
	defer rollback()
	defer d.afterTx()
	// failed is a failure to give back: the first of the statements sent
	// later (ExecLater) if one failed, since what followed it failed
	// only because the transaction was aborted.
	failed := func(err error) error {
		rollback()
		if tx.pipe != nil && tx.pipe.err != nil {
			return tx.pipe.err
		}
		return err
	}
	var beforeCommit func() error
	if hooks != nil && hooks.Begin != nil {
		var err error
		if beforeCommit, err = hooks.Begin(ctx, tx); err != nil {
			return failed(err)
		}
	}
	if err := fn(tx); err != nil {
		return failed(err)
	}
	once := map[string]bool{}
	for _, b := range tx.before {
		if b.key != "" {
			if once[b.key] {
				continue
			}
			once[b.key] = true
		}
		if err := b.f(); err != nil {
			return failed(err)
		}
	}
	if beforeCommit != nil {
		if err := beforeCommit(); err != nil {
			return failed(err)
		}
	}
	err := commit()
	rollback()
	if err != nil {
		return err
	}
	if d.wal != nil {
		d.wal.commits.Add(1)
	}
	for _, f := range tx.after {
		f()
	}
	return nil
}

// Begin makes sure the transaction has begun on the database (PostgreSQL
// sends BEGIN with the first statement that needs it): for a check that
// reads what the transaction itself has done (the tests' audit hook).
func (t *Tx) Begin(ctx context.Context) error {
	if t.pipe == nil || t.pipe.begun {
		return nil
	}
	return t.flush(ctx, "")
}

// Affected returns how many rows the statement behind res changed. An
// error is the driver's, never "no rows": callers that answer not found
// for n == 0 must not give that answer for a failure.
func Affected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", Map(err))
	}
	return n, nil
}

// Placeholders returns "?,?,…" with n marks, for IN lists.
func Placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}

// Scanner is what *sql.Row and *sql.Rows share: scan functions take it so
// that one function reads a row from either.
type Scanner interface{ Scan(dest ...any) error }

// Collect reads every row of rows through scan and closes rows. what names
// the list in errors ("list orgs").
func Collect[T any](rows *sql.Rows, what string, scan func(Scanner) (T, error)) ([]T, error) {
	return CollectN(rows, 0, what, scan)
}

// CollectN is Collect for about n rows (a page): the list is made for n at
// once instead of growing row by row.
func CollectN[T any](rows *sql.Rows, n int, what string, scan func(Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := make([]T, 0, n)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: scan: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, Map(err))
	}
	return out, nil
}
