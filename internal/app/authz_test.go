package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"verbund/internal/agreements"
	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/forum"
	"verbund/internal/policy"
	"verbund/internal/web"
)

// The authorization matrix: every registered route, called by every kind
// of actor, with the status each must get. Actors (all API-token based so
// that route permission, role, scope and object visibility are what is
// tested; CSRF and sessions have their own tests):
//
//	anon       no credentials
//	viewer     sme.viewer            (read only)
//	auditor    sme.auditor           (read + audit trail)
//	analyst    sme.analyst           (owner org of the fixtures)
//	admin      sme.admin
//	readtok    sme.admin's read token (read scope never writes)
//	partner    cert.analyst          (circle member covered by the charter)
//	coord      cert.admin            (admin of the circle's coordinator)
//	nocontract nocontract.analyst    (circle member without agreement)
//	outsider   outsider.admin        (admin of an org in no shared circle)
var actors = []struct{ name, user string }{
	{"anon", ""}, {"viewer", "sme.viewer"}, {"auditor", "sme.auditor"}, {"analyst", "sme.analyst"}, {"admin", "sme.admin"},
	{"readtok", "sme.admin"}, {"partner", "cert.analyst"}, {"coord", "cert.admin"}, {"nocontract", "nocontract.analyst"},
	{"outsider", "outsider.admin"},
}

// fixture holds the objects the matrix requests refer to.
type fixture struct {
	h      *apptest.Hub
	thread string // AMBER thread of sme.analyst to the circle
	post   string // its first post
	n      atomic.Int64
}

func (f *fixture) uniq() string { return fmt.Sprintf("%d-%d", f.n.Add(1), time.Now().UnixNano()) }

// newPost creates a fresh AMBER circle post by sme.analyst (for edits and
// deletes, which consume their object).
func (f *fixture) newPost(t *testing.T) string {
	_, p, err := f.h.App.Forum.CreateThread(context.Background(), f.h.Users["sme.analyst"].Actor, f.h.CircleChannel,
		forum.NewThread{Title: "t" + f.uniq(), Body: "b", Sharing: policy.Sharing{TLP: "AMBER", Audience: "community"}})
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// freshCommunity is coordinated by nocontract, so sme, cert and outsider
// admins may all ask to join it.
func (f *fixture) freshCommunity(t *testing.T) string {
	c, err := f.h.App.Orgs.CreateCommunity(context.Background(), policy.System("test"), "c"+f.uniq(), "", f.h.Orgs["nocontract"])
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// candidateOrg creates an org and lets it ask to join the circle.
func (f *fixture) candidateOrg(t *testing.T, join bool) string {
	ctx := context.Background()
	o, err := f.h.App.Orgs.CreateOrg(ctx, policy.System("test"), "o"+f.uniq(), "company", "")
	if err != nil {
		t.Fatal(err)
	}
	if join {
		err = f.h.App.Orgs.RequestJoin(ctx, policy.Actor{OrgID: o.ID, Role: policy.Admin, Via: "test"}, f.h.Circle, "")
	} else {
		err = f.h.App.Orgs.AddMember(ctx, policy.System("test"), f.h.Circle, o.ID)
	}
	if err != nil {
		t.Fatal(err)
	}
	return o.ID
}

func (f *fixture) proposal(t *testing.T, active bool) string {
	ctx := context.Background()
	in := agreements.Input{Kind: "bilateral", Partner: f.h.Orgs["sme"], Categories: []string{"incident"}, MaxTLP: "GREEN", RetentionDays: 30}
	var g agreements.Agreement
	var err error
	if active {
		g, err = f.h.App.Agreements.Propose(ctx, policy.System("test"), f.h.Orgs["cloud"], in)
	} else {
		g, err = f.h.App.Agreements.Propose(ctx, f.h.Users["cloud.admin"].Actor, "", in)
	}
	if err != nil {
		t.Fatal(err)
	}
	return g.ID
}

// row is one route's matrix line. req builds the request for one call
// (fresh objects where the call consumes them); want maps actor → status,
// with "*" as the default.
type row struct {
	req  func(t *testing.T, f *fixture) (path string, body any)
	want map[string]int
}

func w(spec string) map[string]int {
	m := map[string]int{}
	for _, part := range strings.Fields(spec) {
		k, v, _ := strings.Cut(part, "=")
		var n int
		fmt.Sscan(v, &n)
		m[k] = n
	}
	return m
}

func static(p string) func(*testing.T, *fixture) (string, any) {
	return func(*testing.T, *fixture) (string, any) { return p, nil }
}

func with(p string, body any) func(*testing.T, *fixture) (string, any) {
	return func(*testing.T, *fixture) (string, any) { return p, body }
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// Common expectations.
const (
	pageRead   = "anon=303 *=200"
	apiRead    = "anon=401 *=200"
	objPage    = "anon=303 nocontract=404 outsider=404 *=200" // the AMBER circle post: members with agreement
	objAPI     = "anon=401 nocontract=404 outsider=404 *=200"
	ownOrgAPI  = "anon=401 partner=404 coord=404 nocontract=404 outsider=404 *=200"
	ownOrgPage = "anon=303 partner=404 coord=404 nocontract=404 outsider=404 *=200"
	auditOnly  = "anon=401 viewer=403 analyst=403 partner=403 nocontract=403 *=200"
	selfAPI    = "anon=401 readtok=403"
	adminOnly  = "anon=401 viewer=403 auditor=403 analyst=403 readtok=403 partner=403 nocontract=403"
	writerOnly = "anon=401 viewer=403 auditor=403 readtok=403"
)

func matrix() map[string]row {
	ids := func(f *fixture, p string) string {
		r := strings.NewReplacer("{thread}", f.thread, "{post}", f.post, "{circle}", f.h.Circle, "{chan}", f.h.CircleChannel,
			"{sme}", f.h.Orgs["sme"], "{analyst}", f.h.Users["sme.analyst"].ID, "{analyst2}", f.h.Users["sme.analyst2"].ID,
			"{bilateral}", f.h.Bilateral)
		return r.Replace(p)
	}
	get := func(p string) func(*testing.T, *fixture) (string, any) {
		return func(_ *testing.T, f *fixture) (string, any) { return ids(f, p), nil }
	}
	send := func(p string, body any) func(*testing.T, *fixture) (string, any) {
		return func(_ *testing.T, f *fixture) (string, any) {
			if v, ok := body.(url.Values); ok {
				c := url.Values{}
				for k, vs := range v {
					for _, x := range vs {
						c.Add(k, ids(f, x))
					}
				}
				if c.Get("name") == "UNIQ" {
					c.Set("name", "n"+f.uniq())
				}
				if c.Get("email") == "UNIQ" {
					c.Set("email", "p"+f.uniq()+"@x.example")
				}
				return ids(f, p), c
			}
			if m, ok := body.(map[string]any); ok {
				c := map[string]any{}
				for k, x := range m {
					if s, ok := x.(string); ok {
						x = ids(f, s)
						if s == "UNIQ" {
							x = "n" + f.uniq()
						}
						if s == "UNIQMAIL" {
							x = "p" + f.uniq() + "@x.example"
						}
					}
					c[k] = x
				}
				return ids(f, p), c
			}
			return ids(f, p), body
		}
	}
	post := func(build func(t *testing.T, f *fixture) string, p string, body any) func(*testing.T, *fixture) (string, any) {
		return func(t *testing.T, f *fixture) (string, any) {
			return strings.ReplaceAll(p, "{new}", build(t, f)), body
		}
	}
	newPost := func(t *testing.T, f *fixture) string { return f.newPost(t) }
	community := func(t *testing.T, f *fixture) string { return f.freshCommunity(t) }
	pending := func(t *testing.T, f *fixture) string { return f.h.Circle + "/members/" + f.candidateOrg(t, true) }
	member := func(t *testing.T, f *fixture) string { return f.h.Circle + "/members/" + f.candidateOrg(t, false) }
	proposal := func(t *testing.T, f *fixture) string { return f.proposal(t, false) }
	active := func(t *testing.T, f *fixture) string { return f.proposal(t, true) }
	analystToken := func(t *testing.T, f *fixture) string {
		_, _, err := f.h.App.Accounts.CreateToken(context.Background(), policy.System("test"), f.h.Users["sme.analyst"].ID, accountsToken())
		if err != nil {
			t.Fatal(err)
		}
		ts, _ := f.h.App.Accounts.ListTokens(context.Background(), f.h.Users["sme.analyst"].Actor)
		return ts[0].ID
	}
	thread := map[string]any{"title": "x", "body": "y", "tlp": "AMBER", "audience": "community"}
	threadForm := form("title", "x", "body", "y", "tlp", "AMBER", "audience", "community")
	agreement := map[string]any{"kind": "bilateral", "partner_org_id": "{sme}", "categories": []string{"knowledge"}, "max_tlp": "GREEN", "retention_days": 30}

	return map[string]row{
		// Public
		"GET /healthz":                     {static("/healthz"), w("*=200")},
		"GET /readyz":                      {static("/readyz"), w("*=200")},
		"GET /metrics":                     {static("/metrics"), w("*=200")},
		"GET /api/v1/openapi.json":         {static("/api/v1/openapi.json"), w("*=200")},
		"GET /static/":                     {static("/static/app.css"), w("*=200")},
		"GET /login":                       {static("/login"), w("anon=200 *=303")},
		"POST /login":                      {send("/login", form("email", "UNIQ", "password", "wrong")), w("anon=403 *=401")},
		"GET /login/mfa":                   {static("/login/mfa"), w("*=303")},
		"POST /login/mfa":                  {with("/login/mfa", form("code", "123456")), w("*=401")},
		"GET /events":                      {static("/events"), w(apiRead)},
		"GET /{$}":                         {static("/"), w(pageRead)},
		"GET /orgs":                        {static("/orgs"), w(pageRead)},
		"GET /people":                      {static("/people"), w(pageRead)},
		"GET /profile":                     {static("/profile"), w(pageRead)},
		"GET /tokens":                      {static("/tokens"), w(pageRead)},
		"GET /communities":                 {static("/communities"), w(pageRead)},
		"GET /communities/{id}":            {get("/communities/{circle}"), w(pageRead)},
		"GET /forum":                       {static("/forum"), w(pageRead)},
		"GET /agreements":                  {static("/agreements"), w(pageRead)},
		"GET /agreements/{id}":             {get("/agreements/{bilateral}"), w("anon=303 partner=404 coord=404 nocontract=404 outsider=404 *=200")},
		"GET /forum/channels/{id}":         {get("/forum/channels/{chan}"), w("anon=303 outsider=404 *=200")},
		"GET /forum/threads/{id}":          {get("/forum/threads/{thread}"), w(objPage)},
		"GET /forum/threads/{id}/fragment": {get("/forum/threads/{thread}/fragment"), w(objPage)},
		"GET /forum/posts/{id}/fragment":   {get("/forum/posts/{post}/fragment"), w(objPage)},
		"GET /forum/posts/{id}/edit":       {get("/forum/posts/{post}/edit"), w(objPage)},
		"GET /audit":                       {static("/audit"), w("anon=303 viewer=403 analyst=403 partner=403 nocontract=403 *=200")},
		"GET /audit/export":                {static("/audit/export"), w("anon=303 viewer=403 analyst=403 partner=403 nocontract=403 *=200")},

		"GET /api/v1/me":                       {static("/api/v1/me"), w(apiRead)},
		"GET /api/v1/users":                    {static("/api/v1/users"), w(apiRead)},
		"GET /api/v1/users/{id}":               {get("/api/v1/users/{analyst}"), w(ownOrgAPI)},
		"GET /api/v1/directory":                {static("/api/v1/directory"), w(apiRead)},
		"GET /api/v1/tokens":                   {static("/api/v1/tokens"), w(apiRead)},
		"GET /api/v1/orgs":                     {static("/api/v1/orgs"), w(apiRead)},
		"GET /api/v1/orgs/{id}":                {get("/api/v1/orgs/{sme}"), w(apiRead)},
		"GET /api/v1/communities":              {static("/api/v1/communities"), w(apiRead)},
		"GET /api/v1/communities/{id}":         {get("/api/v1/communities/{circle}"), w(apiRead)},
		"GET /api/v1/communities/{id}/members": {get("/api/v1/communities/{circle}/members"), w("anon=401 outsider=404 *=200")},
		"GET /api/v1/agreements":               {static("/api/v1/agreements"), w(apiRead)},
		"GET /api/v1/agreements/{id}":          {get("/api/v1/agreements/{bilateral}"), w(ownOrgAPI)},
		"GET /api/v1/flows":                    {static("/api/v1/flows"), w(apiRead)},
		"GET /api/v1/channels":                 {static("/api/v1/channels"), w(apiRead)},
		"GET /api/v1/channels/{id}/threads":    {get("/api/v1/channels/{chan}/threads"), w("anon=401 outsider=404 *=200")},
		"GET /api/v1/threads/{id}":             {get("/api/v1/threads/{thread}"), w(objAPI)},
		"GET /api/v1/threads/{id}/posts":       {get("/api/v1/threads/{thread}/posts"), w(objAPI)},
		"GET /api/v1/posts":                    {static("/api/v1/posts"), w(apiRead)},
		"GET /api/v1/posts/{id}":               {get("/api/v1/posts/{post}"), w(objAPI)},
		"GET /api/v1/posts/{id}/revisions":     {get("/api/v1/posts/{post}/revisions"), w(objAPI)},
		"GET /api/v1/audit":                    {static("/api/v1/audit"), w(auditOnly)},
		"GET /api/v1/audit/export":             {static("/api/v1/audit/export"), w(auditOnly)},

		// Self
		"PATCH /api/v1/me":           {with("/api/v1/me", map[string]any{"name": "Neu"}), w(selfAPI + " *=200")},
		"POST /api/v1/logout-all":    {static("/api/v1/logout-all"), w(selfAPI + " *=204")},
		"POST /api/v1/tokens":        {with("/api/v1/tokens", map[string]any{"scope": "read"}), w(selfAPI + " *=201")},
		"DELETE /api/v1/tokens/{id}": {post(analystToken, "/api/v1/tokens/{new}", nil), w("anon=401 readtok=403 analyst=204 admin=204 *=404")},
		"POST /logout":               {static("/logout"), w("anon=401 readtok=403 *=303")},
		"POST /logout/all":           {static("/logout/all"), w("anon=401 readtok=403 *=303")},
		"POST /profile":              {with("/profile", form("name", "Neu", "lang", "de")), w("anon=401 readtok=403 *=303")},
		"POST /profile/password":     {with("/profile/password", form("current", "wrong", "new", "x", "confirm", "x")), w("anon=401 readtok=403 *=400")},
		"POST /profile/totp/start":   {static("/profile/totp/start"), w("anon=401 readtok=403 *=200")},
		"POST /profile/totp/enable":  {with("/profile/totp/enable", form("code", "000000")), w("anon=401 readtok=403 *=400")},
		"POST /profile/totp/disable": {with("/profile/totp/disable", form("password", "wrong")), w("anon=401 readtok=403 *=400")},
		"POST /tokens":               {with("/tokens", form("name", "t", "scope", "read", "expires", "30d")), w("anon=401 readtok=403 *=201")},
		"POST /tokens/{id}/revoke":   {post(analystToken, "/tokens/{new}/revoke", nil), w("anon=401 readtok=403 analyst=303 admin=303 *=404")},

		// Write
		"POST /api/v1/channels/{id}/threads": {send("/api/v1/channels/{chan}/threads", thread), w(writerOnly + " outsider=404 *=201")},
		"POST /api/v1/threads/{id}/posts":    {send("/api/v1/threads/{thread}/posts", map[string]any{"body": "reply"}), w(writerOnly + " nocontract=404 outsider=404 *=201")},
		"PATCH /api/v1/posts/{id}":           {post(newPost, "/api/v1/posts/{new}", map[string]any{"body": "edited"}), w(writerOnly + " partner=403 coord=403 nocontract=404 outsider=404 *=200")},
		"DELETE /api/v1/posts/{id}":          {post(newPost, "/api/v1/posts/{new}", nil), w(writerOnly + " partner=403 coord=403 nocontract=404 outsider=404 *=204")},
		"POST /forum/channels/{id}/threads":  {send("/forum/channels/{chan}/threads", threadForm), w(writerOnly + " outsider=404 *=303")},
		"POST /forum/threads/{id}/posts":     {send("/forum/threads/{thread}/posts", form("body", "reply")), w(writerOnly + " nocontract=404 outsider=404 *=303")},
		"POST /forum/posts/{id}/edit":        {post(newPost, "/forum/posts/{new}/edit", form("body", "edited")), w(writerOnly + " partner=403 coord=403 nocontract=404 outsider=404 *=303")},
		"POST /forum/posts/{id}/delete":      {post(newPost, "/forum/posts/{new}/delete", nil), w(writerOnly + " partner=403 coord=403 nocontract=404 outsider=404 *=303")},

		// Org admin
		"POST /api/v1/users":                                  {send("/api/v1/users", map[string]any{"email": "UNIQMAIL", "role": "viewer", "password": apptest.Password}), w(adminOnly + " *=201")},
		"PATCH /api/v1/users/{id}":                            {send("/api/v1/users/{analyst2}", map[string]any{"name": "Neu"}), w(adminOnly + " admin=200 *=404")},
		"PATCH /api/v1/orgs/{id}":                             {send("/api/v1/orgs/{sme}", map[string]any{"security_contact": "x@y.example"}), w(adminOnly + " admin=200 *=404")},
		"POST /api/v1/communities":                            {send("/api/v1/communities", map[string]any{"name": "UNIQ"}), w(adminOnly + " *=201")},
		"POST /api/v1/communities/{id}/join":                  {post(community, "/api/v1/communities/{new}/join", nil), w(adminOnly + " *=202")},
		"POST /api/v1/communities/{id}/members/{org}/approve": {post(pending, "/api/v1/communities/{new}/approve", nil), w(adminOnly + " coord=204 *=404")},
		"POST /api/v1/communities/{id}/members/{org}/reject":  {post(pending, "/api/v1/communities/{new}/reject", nil), w(adminOnly + " coord=204 *=404")},
		"DELETE /api/v1/communities/{id}/members/{org}":       {post(member, "/api/v1/communities/{new}", nil), w(adminOnly + " coord=204 *=404")},
		"POST /api/v1/agreements":                             {send("/api/v1/agreements", agreement), w(adminOnly + " admin=400 *=201")},
		"POST /api/v1/agreements/{id}/accept":                 {post(proposal, "/api/v1/agreements/{new}/accept", nil), w(adminOnly + " admin=200 *=404")},
		"POST /api/v1/agreements/{id}/revoke":                 {post(active, "/api/v1/agreements/{new}/revoke", nil), w(adminOnly + " admin=200 *=404")},
		"POST /api/v1/channels":                               {send("/api/v1/channels", map[string]any{"name": "UNIQ"}), w(adminOnly + " *=201")},
		"POST /orgs/{id}":                                     {send("/orgs/{sme}", form("security_contact", "x@y.example")), w(adminOnly + " admin=303 *=404")},
		"POST /communities":                                   {send("/communities", form("name", "UNIQ")), w(adminOnly + " *=303")},
		"POST /communities/{id}/join":                         {post(community, "/communities/{new}/join", nil), w(adminOnly + " *=303")},
		"POST /communities/{id}/members/{org}/approve":        {post(pending, "/communities/{new}/approve", nil), w(adminOnly + " coord=303 *=404")},
		"POST /communities/{id}/members/{org}/reject":         {post(pending, "/communities/{new}/reject", nil), w(adminOnly + " coord=303 *=404")},
		"POST /communities/{id}/members/{org}/remove":         {post(member, "/communities/{new}/remove", nil), w(adminOnly + " coord=303 *=404")},
		"POST /people":                                        {send("/people", form("email", "UNIQ", "name", "P", "role", "viewer", "password", apptest.Password)), w(adminOnly + " *=303")},
		"POST /people/{id}":                                   {send("/people/{analyst2}", form("role", "analyst")), w(adminOnly + " admin=303 *=404")},
		"POST /agreements":                                    {send("/agreements", form("kind", "bilateral", "partner_org_id", "{sme}", "categories", "knowledge", "max_tlp", "GREEN", "retention_days", "30")), w(adminOnly + " admin=400 *=303")},
		"POST /agreements/{id}/accept":                        {post(proposal, "/agreements/{new}/accept", nil), w(adminOnly + " admin=303 *=404")},
		"POST /agreements/{id}/revoke":                        {post(active, "/agreements/{new}/revoke", nil), w(adminOnly + " admin=303 *=404")},
		"POST /forum/channels":                                {send("/forum/channels", form("name", "UNIQ")), w(adminOnly + " *=303")},
	}
}

func TestAuthorizationMatrix(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	f := &fixture{h: h}
	f.post = f.newPost(t)
	p, err := h.App.Forum.FindPostByID(context.Background(), h.Users["sme.analyst"].Actor, f.post)
	if err != nil {
		t.Fatal(err)
	}
	f.thread = p.ThreadID
	m := matrix()
	routes := h.App.Web.Router.Routes()
	for _, r := range routes {
		if r.Pattern == "" {
			continue
		}
		row, ok := m[r.Pattern]
		if !ok {
			t.Errorf("route %q (permission %s) is missing from the authorization matrix", r.Pattern, r.Perm)
			continue
		}
		t.Run(r.Pattern, func(t *testing.T) {
			for _, a := range actors {
				want, ok := row.want[a.name]
				if !ok {
					want, ok = row.want["*"]
				}
				if !ok {
					t.Fatalf("no expectation for actor %s", a.name)
				}
				path, body := row.req(t, f)
				token := ""
				if a.user != "" {
					token = h.Users[a.user].WriteToken
					if a.name == "readtok" {
						token = h.Users[a.user].ReadToken
					}
				}
				got, resp := call(t, h, token, r.Method, path, body)
				if got != want {
					t.Errorf("%s as %s: status %d, want %d (%s)", r.Method+" "+path, a.name, got, want, resp)
				}
			}
		})
	}
	registered := map[string]bool{}
	for _, r := range routes {
		registered[r.Pattern] = true
		known := false
		for _, p := range web.Perms() {
			known = known || p == r.Perm
		}
		if !known {
			t.Errorf("route %q has no known permission (%q)", r.Pattern, r.Perm)
		}
	}
	for p := range m {
		if !registered[p] {
			t.Errorf("matrix names %q but no such route is registered", p)
		}
	}
}

// call sends one request; bodies of type url.Values go as a form, others
// as JSON. Streams (SSE) are cut after the headers.
var titleRe = regexp.MustCompile(`<title>([^<]*)</title>`)

func call(t *testing.T, h *apptest.Hub, token, method, path string, body any) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		js, _ := jsonMarshal(b)
		rd, ct = strings.NewReader(string(js)), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, h.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, "stream"
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if m := titleRe.FindSubmatch(b); m != nil {
		return resp.StatusCode, string(m[1])
	}
	return resp.StatusCode, string(b[:min(len(b), 200)])
}
