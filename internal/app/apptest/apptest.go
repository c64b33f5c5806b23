// Package apptest starts a complete hub on a fresh database (SQLite or
// PostgreSQL) behind a real HTTP server on 127.0.0.1, with a small world of
// organisations, people, a trust circle and agreements that tests refer to
// by short names. Nothing in it is mocked.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"verbund/internal/accounts"
	"verbund/internal/agreements"
	"verbund/internal/app"
	"verbund/internal/auth"
	"verbund/internal/config"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/policy"
)

// Password is every test user's password.
const Password = "correct horse battery staple"

// User is a test account with tokens.
type User struct {
	Key        string // short name, e.g. "sme.analyst"
	ID, OrgID  string
	Email      string
	Role       policy.Role
	WriteToken string
	ReadToken  string
	Actor      policy.Actor
}

// Hub is a running hub.
type Hub struct {
	App    *app.App
	Server *httptest.Server
	URL    string
	Orgs   map[string]string // short name → org id
	Users  map[string]*User
	// World ids:
	Circle        string // community "Mittelstand Süd"
	CircleChannel string // its forum channel
	OrgChannel    map[string]string
	Charter       string
	Bilateral     string // sme ↔ cloud
}

// Start builds a hub on an empty database of engine e.
func Start(t testing.TB, e db.Dialect) *Hub {
	t.Helper()
	d := dbtest.Open(t, e)
	return StartOn(t, d)
}

// StartOn builds a hub on an open, migrated database.
func StartOn(t testing.TB, d *db.DB) *Hub {
	t.Helper()
	return StartWith(t, d, nil)
}

// StartWith is StartOn with settings changed by configure (e.g. behind a
// proxy) before the hub is built.
func StartWith(t testing.TB, d *db.DB, configure func(*config.Config)) *Hub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// Webhooks may reach loopback: the tests' receivers listen there, and no
	// test sends anything anywhere else.
	cfg := &config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LogLevel: "error", ReadCache: 16, ThreadCache: 16, ViewCache: true, StreamHeartbeat: time.Second, TraceKinds: true, WebhookAllowPrivate: true}
	if configure != nil {
		configure(cfg)
	}
	var logTo io.Writer = io.Discard
	if os.Getenv("VERBUND_TEST_LOG") != "" {
		logTo = os.Stderr // VERBUND_TEST_LOG=1 shows the hub's log while debugging a test
	}
	log := slog.New(slog.NewTextHandler(logTo, nil))
	a, err := app.New(ctx, cfg, d, log)
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	// Cheap hashing keeps tests fast; the parameters are stored in each hash.
	a.Accounts.Password = auth.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32}
	srv := httptest.NewUnstartedServer(a.Web.Handler())
	srv.Config.BaseContext = nil
	srv.Start()
	t.Cleanup(srv.Close)
	return &Hub{App: a, Server: srv, URL: srv.URL, Orgs: map[string]string{}, Users: map[string]*User{}, OrgChannel: map[string]string{}}
}

// World starts a hub with the standard test world:
//
//	orgs: sme (company), cloud (provider), cert (cert, coordinator),
//	      nocontract (member of the circle that never accepted the charter),
//	      outsider (company, in no circle)
//	circle "Mittelstand Süd": cert, sme, cloud, nocontract
//	charter: knowledge+incident up to AMBER, accepted by cert, sme, cloud
//	bilateral sme↔cloud: knowledge+log up to RED
//	people: <org>.admin, <org>.analyst, <org>.viewer, <org>.auditor (sme
//	        also sme.analyst2), each with a write and a read token
func World(t testing.TB, e db.Dialect) *Hub {
	t.Helper()
	return WorldOn(t, dbtest.Open(t, e))
}

// WorldCovering is World with the charter and the bilateral agreement
// covering every category (a capability's tests need theirs covered).
func WorldCovering(t testing.TB, e db.Dialect) *Hub {
	t.Helper()
	return worldOn(t, dbtest.Open(t, e), policy.AllCategories.Names())
}

// WorldOn is World on an open, migrated, empty database.
func WorldOn(t testing.TB, d *db.DB) *Hub {
	t.Helper()
	return worldOn(t, d, nil)
}

// worldOn builds the world; with categories, the charter and the
// bilateral agreement cover those (the leak harness covers every kind's
// category) instead of knowledge+incident and knowledge+log.
func worldOn(t testing.TB, d *db.DB, categories []string) *Hub {
	t.Helper()
	return worldWith(t, d, categories, nil)
}

// WorldWith is World with settings changed by configure before the hub
// is built (which caches it runs with, say).
func WorldWith(t testing.TB, e db.Dialect, configure func(*config.Config)) *Hub {
	t.Helper()
	return worldWith(t, dbtest.Open(t, e), nil, configure)
}

// WorldCoveringWith is WorldCovering with settings changed by configure
// before the hub is built (a mail server for the e-mail tests).
func WorldCoveringWith(t testing.TB, e db.Dialect, configure func(*config.Config)) *Hub {
	t.Helper()
	return worldWith(t, dbtest.Open(t, e), policy.AllCategories.Names(), configure)
}

func worldWith(t testing.TB, d *db.DB, categories []string, configure func(*config.Config)) *Hub {
	t.Helper()
	charterCats, bilateralCats := []string{"knowledge", "incident"}, []string{"knowledge", "log"}
	if categories != nil {
		charterCats, bilateralCats = categories, categories
	}
	h := StartWith(t, d, configure)
	ctx := context.Background()
	op := policy.System("test")
	kinds := map[string]string{"sme": "company", "cloud": "provider", "cert": "cert", "nocontract": "company", "outsider": "company"}
	names := map[string]string{"sme": "Müller Maschinenbau GmbH", "cloud": "Wolke Cloud AG", "cert": "CERT Süd", "nocontract": "Ohne Vertrag GmbH", "outsider": "Hansa Logistik AG"}
	for _, k := range []string{"sme", "cloud", "cert", "nocontract", "outsider"} {
		o, err := h.App.Orgs.CreateOrg(ctx, op, names[k], kinds[k], "")
		must(t, err)
		h.Orgs[k] = o.ID
		for _, role := range []string{"admin", "analyst", "viewer", "auditor"} {
			h.AddUser(t, k, role, k+"."+role)
		}
	}
	h.AddUser(t, "sme", "analyst", "sme.analyst2")
	c, err := h.App.Orgs.CreateCommunity(ctx, op, "Mittelstand Süd", "", h.Orgs["cert"])
	must(t, err)
	h.Circle = c.ID
	for _, k := range []string{"sme", "cloud", "nocontract"} {
		must(t, h.App.Orgs.AddMember(ctx, op, c.ID, h.Orgs[k]))
	}
	charter, err := h.App.Agreements.Propose(ctx, h.Users["cert.admin"].Actor, "", agreements.Input{Kind: "charter", Community: c.ID,
		Categories: charterCats, MaxTLP: "AMBER", RetentionDays: 365, Purpose: "early warning within the circle"})
	must(t, err)
	h.Charter = charter.ID
	for _, k := range []string{"sme", "cloud"} {
		_, err := h.App.Agreements.Accept(ctx, h.Users[k+".admin"].Actor, charter.ID)
		must(t, err)
	}
	bi, err := h.App.Agreements.Propose(ctx, op, h.Orgs["sme"], agreements.Input{Kind: "bilateral", Partner: h.Orgs["cloud"],
		Categories: bilateralCats, MaxTLP: "RED", RetentionDays: 90, Purpose: "incident handling for hosted systems"})
	must(t, err)
	h.Bilateral = bi.ID
	for k := range h.Orgs {
		chs, err := h.App.Forum.FindChannels(ctx, h.Users[k+".analyst"].Actor)
		must(t, err)
		for _, ch := range chs {
			if ch.CommunityID == c.ID {
				h.CircleChannel = ch.ID
			} else if ch.CommunityID == "" {
				h.OrgChannel[k] = ch.ID
			}
		}
	}
	return h
}

// Replica starts a second hub on the same database as h (PostgreSQL), as
// another replica would run: own process state, own event broker, shared
// data. It shares h's world maps.
func (h *Hub) Replica(t testing.TB) *Hub {
	t.Helper()
	return h.ReplicaWith(t, nil)
}

// ReplicaWith is Replica with settings changed by configure (a replica
// without caches, to compare answers with).
func (h *Hub) ReplicaWith(t testing.TB, configure func(*config.Config)) *Hub {
	t.Helper()
	dbURL := h.App.DB.URL
	if dbURL != "" && h.App.DB.Dialect == db.Postgres {
		dbURL = dbtest.PoolURL(dbURL) // DB.URL no longer names the pool's size
	}
	d, err := db.Open(context.Background(), dbURL, "")
	must(t, err)
	t.Cleanup(func() { _ = d.Close() })
	dbtest.CheckAudited(d)
	r := StartWith(t, d, configure)
	r.Orgs, r.Users, r.OrgChannel = h.Orgs, h.Users, h.OrgChannel
	r.Circle, r.CircleChannel, r.Charter, r.Bilateral = h.Circle, h.CircleChannel, h.Charter, h.Bilateral
	return r
}

// AddUser creates a user with tokens in org k.
func (h *Hub) AddUser(t testing.TB, org, role, key string) *User {
	t.Helper()
	ctx := context.Background()
	op := policy.System("test")
	email := strings.ReplaceAll(key, ".", "-") + "@" + org + ".example"
	u, err := h.App.Accounts.CreateUser(ctx, op, accounts.NewUser{OrgID: h.Orgs[org], Email: email, Name: key, Role: role, Password: Password})
	must(t, err)
	_, w, err := h.App.Accounts.CreateToken(ctx, op, u.ID, accounts.NewToken{Scope: "write"})
	must(t, err)
	_, r, err := h.App.Accounts.CreateToken(ctx, op, u.ID, accounts.NewToken{Scope: "read"})
	must(t, err)
	usr := &User{Key: key, ID: u.ID, OrgID: u.OrgID, Email: email, Role: u.Role, WriteToken: w, ReadToken: r,
		Actor: policy.Actor{UserID: u.ID, OrgID: u.OrgID, Role: u.Role, Scope: policy.ScopeSession, Via: "test", Name: key}}
	h.Users[key] = usr
	return usr
}

// Response is an HTTP answer with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// ErrorCode returns the API error code of the body, if any.
func (r Response) ErrorCode() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// API calls the API with a bearer token ("" for anonymous); body is JSON
// encoded unless it is a string or []byte.
func (h *Hub) API(t testing.TB, token, method, path string, body any) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		must(t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.URL+path, rd)
	must(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.Server.Client().Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Browser is a cookie-carrying client signed in through the login form.
type Browser struct {
	h      *Hub
	Client *http.Client
	CSRF   string
}

var csrfRe = regexp.MustCompile(`name="csrf-token" content="([^"]+)"`)

// Anonymous returns a browser that has opened the login page: it holds
// the login form's CSRF cookie and is signed in as nobody. It does not
// follow redirects.
func (h *Hub) Anonymous(t testing.TB) *Browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	b := &Browser{h: h, Client: c}
	page := b.Get(t, "/login")
	b.CSRF = csrfOf(t, page.Body)
	return b
}

// Login signs u in through the login form and returns the browser.
func (h *Hub) Login(t testing.TB, u *User) *Browser {
	t.Helper()
	b := h.Anonymous(t)
	resp := b.PostForm(t, "/login", url.Values{"email": {u.Email}, "password": {Password}})
	if resp.Status != http.StatusSeeOther {
		t.Fatalf("login %s: status %d: %s", u.Email, resp.Status, resp.Body)
	}
	home := b.Get(t, "/")
	if home.Status != http.StatusOK {
		t.Fatalf("home after login: %d", home.Status)
	}
	b.CSRF = csrfOf(t, home.Body)
	return b
}

// LoginTOTP signs u in through the login form and the second step with a
// TOTP code and returns the browser.
func (h *Hub) LoginTOTP(t testing.TB, u *User, code string) *Browser {
	t.Helper()
	b := h.Anonymous(t)
	resp := b.PostForm(t, "/login", url.Values{"email": {u.Email}, "password": {Password}})
	if loc := resp.Header.Get("Location"); resp.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login/mfa") {
		t.Fatalf("login %s: status %d to %q, want the second step", u.Email, resp.Status, loc)
	}
	b.CSRF = csrfOf(t, b.Get(t, "/login/mfa").Body)
	if resp := b.PostForm(t, "/login/mfa", url.Values{"code": {code}}); resp.Status != http.StatusSeeOther {
		t.Fatalf("second step %s: status %d: %s", u.Email, resp.Status, resp.Body)
	}
	home := b.Get(t, "/")
	if home.Status != http.StatusOK {
		t.Fatalf("home after second step: %d", home.Status)
	}
	b.CSRF = csrfOf(t, home.Body)
	return b
}

func csrfOf(t testing.TB, page []byte) string {
	m := csrfRe.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf token in page")
	}
	return string(m[1])
}

// Get fetches a page.
func (b *Browser) Get(t testing.TB, path string) Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.h.URL+path, nil)
	must(t, err)
	req.Header.Set("Accept", "text/html")
	return b.do(t, req)
}

// PostForm submits a form, adding the CSRF token unless one is given.
func (b *Browser) PostForm(t testing.TB, path string, v url.Values) Response {
	t.Helper()
	if v == nil {
		v = url.Values{}
	}
	if _, ok := v["_csrf"]; !ok {
		v.Set("_csrf", b.CSRF)
	}
	req, err := http.NewRequest(http.MethodPost, b.h.URL+path, strings.NewReader(v.Encode()))
	must(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	return b.do(t, req)
}

func (b *Browser) do(t testing.TB, req *http.Request) Response {
	t.Helper()
	resp, err := b.Client.Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
