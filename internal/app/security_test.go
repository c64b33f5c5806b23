package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/auth"
	"verbund/internal/db"
	"verbund/internal/fault"
)

// The security review's findings (issue 7, items 15–22), each with a test
// that failed before its fix.

// TestLoginRedirectStaysOnSite (item 15): a tab in ?next= passed the
// check, and browsers drop tabs, so "/\t/evil.example" sent the person to
// another site right after signing in.
func TestLoginRedirectStaysOnSite(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	u := h.Users["sme.analyst"]
	b := h.Login(t, u) // a browser with the login page's CSRF cookie
	page := b.Get(t, "/login?next=/%09/evil.example")
	if page.Status != http.StatusSeeOther { // already signed in: home
		t.Fatalf("login page when signed in: %d", page.Status)
	}
	anon := h.Anonymous(t)
	page = anon.Get(t, "/login?next=/%09/evil.example")
	if strings.Contains(string(page.Body), "evil.example") {
		t.Errorf("the login form carries the foreign target on: %s", page.Body)
	}
	for _, next := range []string{"/\t/evil.example/x", "/\n/evil.example", "/\\evil.example", "//evil.example"} {
		r := h.Anonymous(t).PostForm(t, "/login", url.Values{"email": {u.Email}, "password": {apptest.Password}, "next": {next}})
		if loc := r.Header.Get("Location"); r.Status != http.StatusSeeOther || loc != "/" {
			t.Errorf("sign-in with next=%q: %d to %q, want 303 to /", next, r.Status, loc)
		}
	}
	r := h.Anonymous(t).PostForm(t, "/login", url.Values{"email": {u.Email}, "password": {apptest.Password}, "next": {"/forum?x=1"}})
	if loc := r.Header.Get("Location"); loc != "/forum?x=1" {
		t.Errorf("a local target is lost: %q", loc)
	}
}

// enableTOTP turns the second factor on for u through the service and
// returns its secret.
func enableTOTP(t *testing.T, h *apptest.Hub, u *apptest.User) string {
	t.Helper()
	ctx := context.Background()
	secret, _, err := h.App.Accounts.StartTOTP(ctx, u.Actor)
	if err != nil {
		t.Fatal(err)
	}
	code, err := auth.TOTPCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.App.Accounts.EnableTOTP(ctx, u.Actor, code); err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestTOTPCodeOnceUnderConcurrency (item 17): the "already used" check
// read the last step before the transaction that stored it, so several
// sign-ins sent at once with one code all got in.
func TestTOTPCodeOnceUnderConcurrency(t *testing.T) {
	eachEngine(t, func(t *testing.T, e db.Dialect) {
		h := apptest.World(t, e)
		ctx := context.Background()
		u := h.Users["cloud.analyst"]
		secret := enableTOTP(t, h, u)
		// The next step's code (the current one enabled the factor; ±1
		// step is accepted).
		code, err := auth.TOTPCode(secret, time.Now().Add(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		halves := make([]string, n)
		for i := range halves {
			sid, mfa, err := h.App.Accounts.Login(ctx, u.Email, apptest.Password, "127.0.0.1", "")
			if err != nil || !mfa {
				t.Fatalf("login %d: %v (second factor %v)", i, err, mfa)
			}
			halves[i] = sid
		}
		var wg sync.WaitGroup
		var ok atomic.Int32
		start := make(chan struct{})
		for _, sid := range halves {
			wg.Go(func() {
				<-start
				if _, err := h.App.Accounts.VerifyMFA(ctx, sid, code, "", "127.0.0.1", ""); err == nil {
					ok.Add(1)
				} else if !fault.Is(err, fault.Unauthenticated) && !fault.Is(err, fault.RateLimited) {
					t.Errorf("verify: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if got := ok.Load(); got != 1 {
			t.Errorf("one TOTP code signed in %d sessions, want 1", got)
		}
	})
}
