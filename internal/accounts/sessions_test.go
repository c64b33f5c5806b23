package accounts

import (
	"context"
	"errors"
	"strings"
	"testing"

	"verbund/internal/auth"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/events"
	"verbund/internal/policy"
)

// TestSignInRacingACredentialChange: a sign-in checks the password it read
// before the session is made. If the password changes in between (the
// change ends every session there is), the session that sign-in was about
// to make must not appear after it, signed in with the old password.
func TestSignInRacingACredentialChange(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := New(d, events.New("test"))
		s.Password = auth.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32}
		op := policy.System("test")
		org := db.NewID()
		if err := d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO orgs (id, name, name_key, kind, created_at) VALUES (?, 'O', 'o', 'company', 0)`, org)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		u, err := s.CreateUser(ctx, op, NewUser{OrgID: org, Email: "a@o.example", Name: "A", Role: "analyst", Password: "the first long password"})
		if err != nil {
			t.Fatal(err)
		}
		var mark int64 // what the sign-in read with the password
		if err := d.R().QueryRow(ctx, `SELECT sessions_valid_after FROM users WHERE id = ?`, u.ID).Scan(&mark); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPassword(ctx, op, u.ID, "", "the second long password", ""); err != nil {
			t.Fatal(err)
		}
		a := policy.Actor{UserID: u.ID, OrgID: org, Role: policy.Analyst, Via: "web"}
		if _, err := s.newSession(ctx, a, false, "", mark); !errors.Is(err, errSessionEnded) {
			t.Errorf("a sign-in that checked the old password made a session: %v", err)
		}
		if err := d.R().QueryRow(ctx, `SELECT sessions_valid_after FROM users WHERE id = ?`, u.ID).Scan(&mark); err != nil {
			t.Fatal(err)
		}
		if _, err := s.newSession(ctx, a, false, "", mark); err != nil {
			t.Errorf("a sign-in after the change: %v", err)
		}
	})
}

// TestSignInWithOddUserAgent (issue 7, item 22): the User-Agent header is
// stored with the session; one with a NUL, bytes that are not UTF-8, or a
// multi-byte character where it was cut to 300 bytes made PostgreSQL
// refuse the sign-in.
func TestSignInWithOddUserAgent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := New(d, events.New("test"))
		s.Password = auth.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32}
		org := db.NewID()
		if err := d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO orgs (id, name, name_key, kind, created_at) VALUES (?, 'O', 'o', 'company', 0)`, org)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateUser(ctx, policy.System("test"), NewUser{OrgID: org, Email: "a@o.example", Name: "A", Role: "analyst", Password: "the first long password"}); err != nil {
			t.Fatal(err)
		}
		for _, ua := range []string{"Mozilla\x00/5.0", "Mozilla/5.0 \xff\xfe", strings.Repeat("a", 299) + "ä"} {
			if _, _, err := s.Login(ctx, "a@o.example", "the first long password", "127.0.0.1", ua); err != nil {
				t.Errorf("sign-in with User-Agent %q: %v", ua, err)
			}
		}
	})
}
