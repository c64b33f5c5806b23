package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"verbund/internal/accounts"
	"verbund/internal/auth"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/events"
)

// TestOperatorPasswordEndsSessions (issue 7, item 18): the operator's
// `verbund user password` left the person's sessions signed in, so
// whoever had taken one over kept it after the reset.
func TestOperatorPasswordEndsSessions(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			env := map[string]string{"VERBUND_DATA": t.TempDir()}
			if e == db.Postgres {
				env["VERBUND_DB"] = dbtest.NewPostgresDB(t)
			}
			pw := filepath.Join(t.TempDir(), "pw")
			if err := os.WriteFile(pw, []byte("the first long password\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"migrate"}, {"org", "create", "--name", "CERT Süd", "--kind", "cert"},
				{"user", "create", "--org", "CERT Süd", "--email", "max@cert.example", "--role", "analyst", "--password-file", pw}} {
				if out, err := cmd(t, env, args...); err != nil {
					t.Fatalf("verbund %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			ctx := context.Background()
			d, err := db.Open(ctx, env["VERBUND_DB"], env["VERBUND_DATA"])
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			acc := accounts.New(d, events.New("test"))
			acc.Password = auth.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32}
			sid, _, err := acc.Login(ctx, "max@cert.example", "the first long password", "127.0.0.1", "")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(pw, []byte("the second long password\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := cmd(t, env, "user", "password", "--email", "max@cert.example", "--password-file", pw); err != nil {
				t.Fatalf("user password: %v\n%s", err, out)
			}
			if _, _, err := acc.Session(ctx, sid, "127.0.0.1"); err == nil {
				t.Error("a session survived the operator's password reset")
			}
		})
	}
}

// TestAdminCommandsNeedTheDatabase (issue 7, item 22): an admin command
// on a missing or mistyped data folder created an empty database there and
// reported on it (`audit verify --data /missing`: an intact trail of no
// records) or wrote into it. Only serve and migrate create a database.
func TestAdminCommandsNeedTheDatabase(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	empty := t.TempDir()
	commands := [][]string{{"audit", "verify"}, {"org", "list"}, {"org", "create", "--name", "X", "--kind", "company"},
		{"user", "create", "--org", "X", "--email", "a@x.example", "--role", "viewer"}}
	for _, dir := range []string{missing, empty} {
		for _, args := range commands {
			out, err := cmd(t, map[string]string{"VERBUND_DATA": dir}, args...)
			if err == nil || !strings.Contains(message(err), dir) {
				t.Errorf("verbund %s --data %s: %v %s, want an error naming the folder", strings.Join(args, " "), dir, err, out)
			}
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("an admin command created the missing data folder: %v", err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("an admin command created files in an empty data folder: %v", entries)
	}
	// An empty file where the database should be is no database either,
	// and stays as it was.
	zero := t.TempDir()
	if err := os.WriteFile(filepath.Join(zero, "verbund.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cmd(t, map[string]string{"VERBUND_DATA": zero}, "audit", "verify"); err == nil || !strings.Contains(message(err), "empty file") {
		t.Errorf("audit verify on an empty database file: %v %s, want a refusal", err, out)
	}
	if entries, _ := os.ReadDir(zero); len(entries) != 1 {
		t.Errorf("audit verify on an empty database file left %v", entries)
	} else if fi, _ := os.Stat(filepath.Join(zero, "verbund.db")); fi.Size() != 0 {
		t.Errorf("audit verify wrote %d bytes into the empty database file", fi.Size())
	}
	// migrate creates the database; then the commands work.
	if out, err := cmd(t, map[string]string{"VERBUND_DATA": empty}, "migrate"); err != nil {
		t.Fatalf("migrate: %v %s", err, out)
	}
	if out, err := cmd(t, map[string]string{"VERBUND_DATA": empty}, "audit", "verify"); err != nil {
		t.Errorf("audit verify after migrate: %v %s", err, out)
	}
	// A PostgreSQL database without the hub's schema is refused the same way.
	for _, e := range dbtest.Engines(t) {
		if e != db.Postgres {
			continue
		}
		url := dbtest.NewPostgresDB(t)
		for _, args := range commands {
			if _, err := cmd(t, map[string]string{"VERBUND_DATA": empty, "VERBUND_DB": url}, args...); err == nil || !strings.Contains(message(err), "verbund migrate") {
				t.Errorf("verbund %s on an empty PostgreSQL database: %v, want a refusal", strings.Join(args, " "), err)
			}
		}
		d, err := db.Open(context.Background(), url, "")
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := d.R().QueryRow(context.Background(), `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		_ = d.Close()
		if n != 0 {
			t.Errorf("admin commands created %d tables in an empty PostgreSQL database", n)
		}
	}
}

// TestHelpHidesTheDatabasePassword: --help prints each flag's default,
// which for --db is the environment's VERBUND_DB, password included.
func TestHelpHidesTheDatabasePassword(t *testing.T) {
	out, _ := cmd(t, map[string]string{"VERBUND_DB": "postgres://hub:s3cret-pw@127.0.0.1/verbund"}, "org", "list", "--help")
	if strings.Contains(out, "s3cret-pw") || !strings.Contains(out, "postgres://hub:xxxxx@127.0.0.1/verbund") {
		t.Errorf("--help shows: %s", out)
	}
}
