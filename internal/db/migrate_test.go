package db_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"verbund/internal/db"
)

func migrationFS(files ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, f := range files {
		fsys["m/"+f] = &fstest.MapFile{Data: []byte("-- " + f + "\n")}
	}
	return fsys
}

// A common file serves both engines; a dialect file replaces it for its
// engine only and keeps its name (schema_migrations records the name).
func TestLoadMigrations(t *testing.T) {
	fsys := migrationFS("0001_core.sql", "0002_search.sql", "0002_search.postgres.sql",
		"0003_index.sqlite.sql", "0003_index.postgres.sql", "README.md")
	want := map[db.Dialect][]string{
		db.SQLite:   {"0001_core.sql", "0002_search.sql", "0003_index.sqlite.sql"},
		db.Postgres: {"0001_core.sql", "0002_search.postgres.sql", "0003_index.postgres.sql"},
	}
	for d, files := range want {
		ms, err := db.LoadMigrations(fsys, "m", d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if len(ms) != len(files) {
			t.Fatalf("%s: %d migrations, want %d", d, len(ms), len(files))
		}
		for i, m := range ms {
			name := strings.SplitN(strings.SplitN(files[i], "_", 2)[1], ".", 2)[0]
			if m.Version != i+1 || m.File != files[i] || m.Name != name || m.SQL != "-- "+files[i]+"\n" {
				t.Errorf("%s #%d: %+v, want file %s name %s", d, i+1, m, files[i], name)
			}
		}
	}
}

func TestLoadMigrationsRefuses(t *testing.T) {
	for _, c := range []struct {
		name  string
		files []string
		want  string
	}{
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, "without gaps"},
		{"gap on one engine", []string{"0001_a.sql", "0002_b.sqlite.sql", "0002_b.postgres.sql", "0004_d.postgres.sql", "0004_d.sqlite.sql"}, "without gaps"},
		{"no first", []string{"0002_b.sql"}, "without gaps"},
		{"zero", []string{"0000_a.sql"}, "start at 0001"},
		{"repeat", []string{"0001_a.sql", "0001_b.sql"}, "same number"},
		{"repeat dialect", []string{"0001_a.sql", "0001_a.postgres.sql", "0001_b.postgres.sql"}, "same number"},
		{"override renames", []string{"0001_a.sql", "0001_b.postgres.sql"}, "another name"},
		{"dialects disagree", []string{"0001_a.sqlite.sql", "0001_b.postgres.sql"}, "different names"},
		{"one engine only", []string{"0001_a.sql", "0002_b.postgres.sql"}, "no counterpart for sqlite"},
		{"unknown dialect", []string{"0001_a.mysql.sql"}, `unknown dialect "mysql"`},
		{"three digits", []string{"001_a.sql"}, "four-digit"},
		{"sign", []string{"+001_a.sql"}, "four-digit"},
		{"no name", []string{"0001.sql"}, "four-digit"},
		{"empty name", []string{"0001_.sql"}, "lower-case"},
		{"upper case", []string{"0001_Core.sql"}, "lower-case"},
		{"old layout", []string{"0001_a.sql", "sqlite/0002_b.sql"}, "migrations are files directly in m"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := db.LoadMigrations(migrationFS(c.files...), "m", db.SQLite)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// The embedded folder loads on every engine, and the versions and names
// recorded by databases migrated before the folders were merged
// (0001 core, 0002 login_throttle) stay the same.
func TestEmbeddedMigrations(t *testing.T) {
	for _, d := range []db.Dialect{db.SQLite, db.Postgres} {
		ms, err := db.Migrations(d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if len(ms) < 2 || ms[0].Name != "core" || ms[1].Name != "login_throttle" {
			t.Fatalf("%s: %+v", d, ms[:min(2, len(ms))])
		}
	}
	if _, err := db.Migrations("mysql"); err == nil {
		t.Fatal("unknown dialect accepted")
	}
}
