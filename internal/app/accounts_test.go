package app_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/auth"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/policy"
)

func TestSessionCookieAndCSRF(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	b := h.Login(t, h.Users["sme.analyst"])
	u, _ := url.Parse(h.URL)
	var session *http.Cookie
	for _, c := range b.Client.Jar.Cookies(u) {
		if c.Name == "vb_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	// The jar hides attributes; check them on a fresh login response.
	resp := loginRaw(t, h, h.Users["sme.viewer"].Email, apptest.Password)
	sc := resp.Header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sc, attr) {
			t.Errorf("session cookie lacks %s: %s", attr, sc)
		}
	}
	// A state change without the CSRF token is refused and changes nothing.
	r := b.PostForm(t, "/profile", url.Values{"_csrf": {"forged"}, "name": {"Mallory"}, "lang": {"en"}})
	if r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "csrf_failed") {
		t.Errorf("forged CSRF: %d", r.Status)
	}
	me, _ := h.App.Accounts.FindUserByID(context.Background(), h.Users["sme.analyst"].Actor, h.Users["sme.analyst"].ID)
	if me.Name == "Mallory" {
		t.Error("forged request changed the name")
	}
	// With the token it works.
	if r := b.PostForm(t, "/profile", url.Values{"name": {"Jonas"}, "lang": {"de"}}); r.Status != http.StatusSeeOther {
		t.Errorf("profile with CSRF: %d", r.Status)
	}
	// A cross-site form post is refused by origin checks as well.
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/profile", strings.NewReader(url.Values{"_csrf": {b.CSRF}, "name": {"X"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp2, err := b.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: %d", resp2.StatusCode)
	}
	// German user gets German pages.
	page := b.Get(t, "/")
	if !strings.Contains(string(page.Body), `lang="de"`) || !strings.Contains(string(page.Body), "Abmelden") {
		t.Errorf("German user does not get German pages")
	}
	// Security headers.
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP: %q", csp)
	}
	// Sign out everywhere ends this session.
	if r := b.PostForm(t, "/logout/all", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("logout all: %d", r.Status)
	}
	if r := b.Get(t, "/"); r.Status != http.StatusSeeOther {
		t.Errorf("after logout everywhere: %d, want redirect to login", r.Status)
	}
}

func loginRaw(t *testing.T, h *apptest.Hub, email, password string) *http.Response {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	pre, err := client.Get(h.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	pre.Body.Close()
	var preCookie *http.Cookie
	for _, c := range pre.Cookies() {
		if c.Name == "vb_pre" {
			preCookie = c
		}
	}
	if preCookie == nil {
		t.Fatal("login page sets no pre-session CSRF cookie")
	}
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/login", strings.NewReader(url.Values{"_csrf": {preCookie.Value}, "email": {email}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(preCookie)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestLoginThrottleAndAudit(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	email := h.Users["cloud.viewer"].Email
	for i := range 5 {
		if r := loginRaw(t, h, email, "wrong password "+string(rune('a'+i))); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
	}
	// Now even the right password waits.
	if r := loginRaw(t, h, email, apptest.Password); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("after 5 failures: %d, want 429", r.StatusCode)
	}
	// Unknown accounts fail the same way as wrong passwords.
	if r := loginRaw(t, h, "nobody@nowhere.example", "whatever is long"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown account: %d", r.StatusCode)
	}
	var list struct{ Items []struct{ Action string } }
	h.API(t, h.Users["cloud.admin"].ReadToken, "GET", "/api/v1/audit?action=auth.login.failed", nil).JSON(t, &list)
	if len(list.Items) != 5 {
		t.Errorf("failed logins audited for the org: %d, want 5", len(list.Items))
	}
}

var secretRe = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
var codesRe = regexp.MustCompile(`<li>([a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{5})</li>`)

func TestTOTPEnrolAndSignIn(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	u := h.Users["cert.analyst"]
	b := h.Login(t, u)
	page := b.PostForm(t, "/profile/totp/start", nil)
	m := secretRe.FindSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no secret shown: %d", page.Status)
	}
	secret := string(m[1])
	if !strings.Contains(string(page.Body), `id="totp-qr"><svg`) {
		t.Error("no QR code on the set-up page")
	}
	// A wrong code does not enable it, and keeps the set-up in front of
	// the user: the same secret and its QR code, the error beside the code.
	r := b.PostForm(t, "/profile/totp/enable", url.Values{"code": {"000000"}})
	if r.Status != http.StatusBadRequest {
		t.Errorf("wrong code: %d", r.Status)
	}
	if m := secretRe.FindSubmatch(r.Body); m == nil || string(m[1]) != secret || !strings.Contains(string(r.Body), `id="totp-qr"><svg`) {
		t.Errorf("after a wrong code the set-up (secret %s and its QR code) is gone", secret)
	}
	if !regexp.MustCompile(`(?s)action="/profile/totp/enable".*data-code="invalid_code".*id="code"`).Match(r.Body) {
		t.Error("the wrong code's error is not shown in the set-up form, before the code field")
	}
	code, _ := auth.TOTPCode(secret, time.Now())
	r = b.PostForm(t, "/profile/totp/enable", url.Values{"code": {code}})
	codes := codesRe.FindAllSubmatch(r.Body, -1)
	if r.Status != http.StatusOK || len(codes) != 10 {
		t.Fatalf("enable: %d, %d recovery codes", r.Status, len(codes))
	}
	// Password alone now leads to the second step, not into the hub.
	resp := loginRaw(t, h, u.Email, apptest.Password)
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/login/mfa") {
		t.Fatalf("after password: %d %s", resp.StatusCode, loc)
	}
	var half *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "vb_session" {
			half = c
		}
	}
	// The half session cannot read anything.
	req, _ := http.NewRequest(http.MethodGet, h.URL+"/api/v1/me", nil)
	req.AddCookie(half)
	res, _ := http.DefaultClient.Do(req)
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("half-signed-in session reads /api/v1/me: %d", res.StatusCode)
	}
	// The same TOTP code cannot be used twice (it was used to enable).
	actor, sess, err := h.App.Accounts.Session(context.Background(), half.Value, "127.0.0.1")
	if err != nil || !sess.MFAPending || actor.UserID != u.ID {
		t.Fatalf("half session: %v %+v", err, sess)
	}
	if _, err := h.App.Accounts.VerifyMFA(context.Background(), half.Value, code, "", "127.0.0.1", ""); err == nil {
		t.Error("a used TOTP code was accepted again")
	}
	// A recovery code works once.
	rc := string(codes[0][1])
	sid, err := h.App.Accounts.VerifyMFA(context.Background(), half.Value, "", strings.ToUpper(rc), "127.0.0.1", "")
	if err != nil || sid == "" || sid == half.Value {
		t.Fatalf("recovery code: %v (new session id must differ)", err)
	}
	if _, _, err := h.App.Accounts.Session(context.Background(), half.Value, ""); err == nil {
		t.Error("the half session survived the second factor (session fixation)")
	}
	resp = loginRaw(t, h, u.Email, apptest.Password)
	for _, c := range resp.Cookies() {
		if c.Name == "vb_session" {
			half = c
		}
	}
	if _, err := h.App.Accounts.VerifyMFA(context.Background(), half.Value, "", rc, "127.0.0.1", ""); err == nil {
		t.Error("a recovery code worked twice")
	}
}

func TestTokenErrors(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	ctx := context.Background()
	u := h.Users["sme.analyst"]
	tok, secret, err := h.App.Accounts.CreateToken(ctx, u.Actor, u.ID, accountsTokenExpiring("1h"))
	if err != nil {
		t.Fatal(err)
	}
	// Its expiry moved to a second ahead before its first use (as if it
	// had been made so), then let pass: an answer kept in memory
	// (internal/accounts, tokencache.go) expires with the token.
	expires := db.Now() + 1_000_000
	if err := h.App.DB.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE tokens SET expires_at = ? WHERE id = ?`, expires, tok.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if r := h.API(t, secret, "GET", "/api/v1/me", nil); r.Status != 200 {
			t.Fatalf("fresh token: %d", r.Status)
		}
	}
	time.Sleep(time.Until(db.Time(expires)) + 10*time.Millisecond)
	if r := h.API(t, secret, "GET", "/api/v1/me", nil); r.Status != 401 || r.ErrorCode() != "token_expired" {
		t.Errorf("expired token: %d %s", r.Status, r.Body)
	}
	if err := h.App.Accounts.RevokeToken(ctx, u.Actor, tok.ID); err != nil {
		t.Fatal(err)
	}
	if r := h.API(t, secret, "GET", "/api/v1/me", nil); r.Status != 401 || r.ErrorCode() != "token_revoked" {
		t.Errorf("revoked token: %d %s", r.Status, r.Body)
	}
	if r := h.API(t, "vbt_nonsense", "GET", "/api/v1/me", nil); r.Status != 401 || r.ErrorCode() != "token_invalid" {
		t.Errorf("unknown token: %d %s", r.Status, r.Body)
	}
	// Tokens are stored as hashes only.
	var stored string
	if err := h.App.DB.R().QueryRow(ctx, `SELECT hash FROM tokens WHERE id = ?`, tok.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored == secret || strings.Contains(stored, secret) {
		t.Error("token stored in clear")
	}
	// A write through a token is audited with the token.
	r := h.API(t, u.WriteToken, "PATCH", "/api/v1/me", map[string]any{"name": "Via Token"})
	if r.Status != 200 {
		t.Fatalf("patch me: %d", r.Status)
	}
	var via string
	if err := h.App.DB.R().QueryRow(ctx, `SELECT via FROM audit_log WHERE action = 'user.update' ORDER BY seq DESC LIMIT 1`).Scan(&via); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(via, "token:") {
		t.Errorf("token write audited via %q", via)
	}
	_ = policy.Admin
}
