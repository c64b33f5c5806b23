package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"verbund/internal/fault"
)

//go:embed migrations
var migrationFS embed.FS

// Migration is one numbered, forward-only schema step.
type Migration struct {
	Version int
	Name    string // recorded in schema_migrations; the same on every engine
	File    string // the file it was read from, for messages
	SQL     string
}

// dialects are the engines a migration file may be written for.
var dialects = []Dialect{SQLite, Postgres}

// Migrations lists the embedded migrations for a dialect in order.
func Migrations(d Dialect) ([]Migration, error) {
	return LoadMigrations(migrationFS, "migrations", d)
}

// LoadMigrations reads the migrations for dialect d from folder dir of
// fsys. The folder holds one file per step for both engines,
// NNNN_name.sql; where the engines must differ, NNNN_name.<dialect>.sql
// (e.g. 0003_search.postgres.sql) replaces the common file of that number
// for that dialect. The whole folder is checked for every dialect, so a
// test run on SQLite alone still finds a gap that only PostgreSQL would
// hit: numbers run 1, 2, 3… without gaps or repeats, and the files of one
// number share one name (it is recorded in schema_migrations).
func LoadMigrations(fsys fs.FS, dir string, d Dialect) ([]Migration, error) {
	if !slices.Contains(dialects, d) {
		return nil, fmt.Errorf("migrations: unknown dialect %q", d)
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	common := map[int]Migration{}
	special := map[Dialect]map[int]Migration{}
	for _, e := range entries {
		file := e.Name()
		if e.IsDir() {
			// The old layout had one folder per engine; a file added there
			// on a branch must not be skipped silently.
			return nil, fmt.Errorf("migration folder %s/%s: migrations are files directly in %s (NNNN_name.sql, NNNN_name.<dialect>.sql)", dir, file, dir)
		}
		if !strings.HasSuffix(file, ".sql") {
			continue
		}
		v, name, dialect, err := parseMigrationName(file)
		if err != nil {
			return nil, err
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, file))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", file, err)
		}
		m := Migration{Version: v, Name: name, File: file, SQL: string(body)}
		set := common
		if dialect != "" {
			if special[dialect] == nil {
				special[dialect] = map[int]Migration{}
			}
			set = special[dialect]
		}
		if prev, ok := set[v]; ok {
			return nil, fmt.Errorf("migrations %s and %s have the same number", prev.File, file)
		}
		set[v] = m
	}
	// Every number exists for every engine under one name, so that schema
	// version N means the same on both.
	for dd, set := range special {
		for v, m := range set {
			if c, ok := common[v]; ok {
				if c.Name != m.Name {
					return nil, fmt.Errorf("%s replaces %s but has another name: the name is recorded in schema_migrations and must be the same", m.File, c.File)
				}
				continue
			}
			for _, other := range dialects {
				o, ok := special[other][v]
				switch {
				case other == dd:
				case !ok:
					return nil, fmt.Errorf("%s has no counterpart for %s: add %04d_%s.sql for the other engines (a comment is enough when they need nothing)", m.File, other, v, m.Name)
				case o.Name != m.Name:
					return nil, fmt.Errorf("%s and %s have the same number but different names: the name is recorded in schema_migrations and must be the same", o.File, m.File)
				}
			}
		}
	}
	var out []Migration
	for _, dd := range dialects {
		ms, err := mergeMigrations(common, special[dd])
		if err != nil {
			return nil, err
		}
		if dd == d {
			out = ms
		}
	}
	return out, nil
}

// parseMigrationName splits NNNN_name.sql or NNNN_name.<dialect>.sql; name
// is lower-case letters, digits and underscores.
func parseMigrationName(file string) (version int, name string, d Dialect, err error) {
	bad := func(why string) (int, string, Dialect, error) {
		return 0, "", "", fmt.Errorf("migration %s: %s; name it NNNN_name.sql or NNNN_name.<dialect>.sql (dialect sqlite or postgres)", file, why)
	}
	base := strings.TrimSuffix(file, ".sql")
	if stem, ext, ok := strings.Cut(base, "."); ok {
		d = Dialect(ext)
		if !slices.Contains(dialects, d) {
			return bad(fmt.Sprintf("unknown dialect %q", ext))
		}
		base = stem
	}
	num, name, ok := strings.Cut(base, "_")
	if !ok || len(num) != 4 || strings.Trim(num, "0123456789") != "" {
		return bad("it does not start with a four-digit number and _")
	}
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		return bad("the name after the number must be lower-case letters, digits and _")
	}
	version, _ = strconv.Atoi(num) // four digits: cannot fail
	if version == 0 {
		return bad("numbers start at 0001")
	}
	return version, name, d, nil
}

// mergeMigrations lays one dialect's files over the common ones and checks
// that the numbers run 1, 2, 3….
func mergeMigrations(common, special map[int]Migration) ([]Migration, error) {
	var out []Migration
	for v, m := range common {
		if _, ok := special[v]; !ok {
			out = append(out, m)
		}
	}
	for _, m := range special {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration numbers must run 1, 2, 3… without gaps: %s is number %d at position %d", m.File, m.Version, i+1)
		}
	}
	return out, nil
}

// Version returns the schema version of the database (0 when empty).
func (d *DB) Version(ctx context.Context) (int, error) {
	if _, err := d.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return 0, Map(fmt.Errorf("create schema_migrations: %w", err))
	}
	var v int
	err := d.writer.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, Map(err)
}

// Migrate applies the missing migrations, each in its own transaction. It
// refuses a database written by a newer binary: running old code against a
// newer schema could silently lose data. It returns how many it applied.
func (d *DB) Migrate(ctx context.Context) (int, error) {
	ms, err := Migrations(d.Dialect)
	if err != nil {
		return 0, err
	}
	if d.Dialect == Postgres {
		// Several replicas may start at once; one migrates, the others
		// wait. The lock is held on a connection outside the pool, which
		// may have a single connection (pool_max_conns) that the
		// migrations need.
		conn, err := pgx.Connect(ctx, d.URL)
		if err != nil {
			return 0, Map(fmt.Errorf("connect to lock for migration: %w", err))
		}
		defer conn.Close(context.WithoutCancel(ctx)) // closing the session drops the lock
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7240001)`); err != nil {
			return 0, Map(fmt.Errorf("lock for migration: %w", err))
		}
	}
	cur, err := d.Version(ctx)
	if err != nil {
		return 0, err
	}
	if cur > len(ms) {
		return 0, fault.New(fault.Unsupported, "database_too_new",
			"the database has schema version {version} but this verbund knows only up to {known}: run a newer verbund").
			With("version", cur).With("known", len(ms))
	}
	applied := 0
	for _, m := range ms[cur:] {
		// No hooks: a schema step is no change of the hub's data (and
		// the audit tables may not exist yet).
		err := d.tx(ctx, func(tx *Tx) error {
			if err := tx.Begin(ctx); err != nil { // the statements below go around the batches
				return err
			}
			for _, stmt := range splitStatements(m.SQL) {
				if _, err := tx.q.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("migration %s: %w", m.File, err)
				}
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, m.Version, m.Name, Now())
			return err
		}, nil)
		if err != nil {
			return applied, err
		}
		applied++
	}
	return applied, nil
}

// splitStatements splits a migration on semicolons at line ends. Migrations
// are ours and contain no procedural code, so this suffices.
func splitStatements(sqlText string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sqlText, "\n") {
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "--") || trim == "" {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trim, ";") {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
