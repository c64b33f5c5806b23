package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"verbund/internal/fault"
)

//go:embed migrations
var migrationFS embed.FS

// Migration is one numbered, forward-only schema step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists the embedded migrations for a dialect in order.
func Migrations(d Dialect) ([]Migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		body, err := fs.ReadFile(migrationFS, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: rest, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration numbers must run 1,2,3…: found %d at position %d", m.Version, i+1)
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
		// Several replicas may start at once; one migrates, the others wait.
		conn, err := d.writer.Conn(ctx)
		if err != nil {
			return 0, Map(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7240001)`); err != nil {
			return 0, Map(fmt.Errorf("lock for migration: %w", err))
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7240001)`) //nolint:errcheck
	}
	cur, err := d.Version(ctx)
	if err != nil {
		return 0, err
	}
	if cur > len(ms) {
		return 0, fault.New(fault.Unsupported, "database_too_new",
			fmt.Sprintf("the database has schema version %d but this verbund knows only up to %d: run a newer verbund", cur, len(ms)))
	}
	applied := 0
	for _, m := range ms[cur:] {
		err := d.Tx(ctx, func(tx *Tx) error {
			for _, stmt := range splitStatements(m.SQL) {
				if _, err := tx.q.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
				}
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, m.Version, m.Name, Now())
			return err
		})
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
