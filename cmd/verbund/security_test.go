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
