package app_test

import (
	"context"
	"testing"

	"verbund/internal/agreements"
	"verbund/internal/app/apptest"
	"verbund/internal/policy"
)

// The core's kit for the authorization matrix (internal/app/kits_test.go
// runs every kit): the routes of accounts, orgs, agreements, audit, home,
// the live stream and the system routes. Each capability keeps its rows
// in its own kit (e.g. internal/forum/forumtest).

// freshCommunity is coordinated by nocontract, so sme, cert and outsider
// admins may all ask to join it.
func freshCommunity(t *testing.T, f *apptest.Fixture) string {
	c, err := f.Hub.App.Orgs.CreateCommunity(context.Background(), policy.System("test"), "c"+f.Uniq(), "", f.Hub.Orgs["nocontract"])
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// candidateOrg creates an org and lets it ask to join the circle.
func candidateOrg(t *testing.T, f *apptest.Fixture, join bool) string {
	ctx := context.Background()
	o, err := f.Hub.App.Orgs.CreateOrg(ctx, policy.System("test"), "o"+f.Uniq(), "company", "")
	if err != nil {
		t.Fatal(err)
	}
	if join {
		err = f.Hub.App.Orgs.RequestJoin(ctx, policy.Actor{OrgID: o.ID, Role: policy.Admin, Via: "test"}, f.Hub.Circle, "")
	} else {
		err = f.Hub.App.Orgs.AddMember(ctx, policy.System("test"), f.Hub.Circle, o.ID)
	}
	if err != nil {
		t.Fatal(err)
	}
	return o.ID
}

func makeAgreement(t *testing.T, f *apptest.Fixture, active bool) string {
	ctx := context.Background()
	in := agreements.Input{Kind: "bilateral", Partner: f.Hub.Orgs["sme"], Categories: []string{"incident"}, MaxTLP: "GREEN", RetentionDays: 30, Purpose: "p"}
	var g agreements.Agreement
	var err error
	if active {
		g, err = f.Hub.App.Agreements.Propose(ctx, policy.System("test"), f.Hub.Orgs["cloud"], in)
	} else {
		g, err = f.Hub.App.Agreements.Propose(ctx, f.Hub.Users["cloud.admin"].Actor, "", in)
	}
	if err != nil {
		t.Fatal(err)
	}
	return g.ID
}

func coreKit() apptest.Kit {
	return apptest.Kit{Name: "core", Rows: coreRows()}
}

func coreRows() map[string]apptest.Row {
	w, static, with, get, send, post, form := apptest.W, apptest.Static, apptest.Send, apptest.Get, apptest.Send, apptest.Fresh, apptest.Form
	const (
		pageRead, apiRead, ownOrgAPI, auditOnly = apptest.PageRead, apptest.APIRead, apptest.OwnOrgAPI, apptest.AuditOnly
		selfAPI, adminOnly                      = apptest.SelfAPI, apptest.AdminOnly
		// Credentials are made and changed in a browser session only:
		// every actor of the matrix holds a token (TestTokensCannotMakeTokens
		// and the sign-in tests cover the sessions).
		sessionOnly = "anon=401 *=403"
	)
	community := func(t *testing.T, f *apptest.Fixture) string { return freshCommunity(t, f) }
	pending := func(t *testing.T, f *apptest.Fixture) string {
		return f.Hub.Circle + "/members/" + candidateOrg(t, f, true)
	}
	member := func(t *testing.T, f *apptest.Fixture) string {
		return f.Hub.Circle + "/members/" + candidateOrg(t, f, false)
	}
	proposal := func(t *testing.T, f *apptest.Fixture) string { return makeAgreement(t, f, false) }
	active := func(t *testing.T, f *apptest.Fixture) string { return makeAgreement(t, f, true) }
	analystToken := func(t *testing.T, f *apptest.Fixture) string {
		_, _, err := f.Hub.App.Accounts.CreateToken(context.Background(), policy.System("test"), f.Hub.Users["sme.analyst"].ID, accountsToken())
		if err != nil {
			t.Fatal(err)
		}
		ts, _ := f.Hub.App.Accounts.FindTokens(context.Background(), f.Hub.Users["sme.analyst"].Actor)
		return ts[0].ID
	}
	agreement := map[string]any{"kind": "bilateral", "partner_org_id": "{sme}", "categories": []string{"knowledge"}, "max_tlp": "GREEN", "retention_days": 30, "purpose": "p"}

	return map[string]apptest.Row{
		// Public
		"GET /healthz":             {Req: static("/healthz"), Want: w("*=200")},
		"GET /readyz":              {Req: static("/readyz"), Want: w("*=200")},
		"GET /api/v1/openapi.json": {Req: static("/api/v1/openapi.json"), Want: w("*=200")},
		"GET /static/":             {Req: static("/static/app.css"), Want: w("*=200")},
		"GET /":                    {Req: static("/no/such/page"), Want: w("*=404")}, // every unknown address
		"GET /login":               {Req: static("/login"), Want: w("anon=200 *=303")},
		"POST /login":              {Req: send("/login", form("email", "UNIQ", "password", "wrong")), Want: w("anon=403 *=401")},
		"GET /login/mfa":           {Req: static("/login/mfa"), Want: w("*=303")},
		"POST /login/mfa":          {Req: with("/login/mfa", form("code", "123456")), Want: w("*=401")},
		"GET /events":              {Req: static("/events"), Want: w(apiRead)},
		"GET /{$}":                 {Req: static("/"), Want: w(pageRead)},
		"GET /orgs":                {Req: static("/orgs"), Want: w(pageRead)},
		"GET /people":              {Req: static("/people"), Want: w(pageRead)},
		"GET /profile":             {Req: static("/profile"), Want: w(pageRead)},
		"GET /tokens":              {Req: static("/tokens"), Want: w(pageRead)},
		"GET /communities":         {Req: static("/communities"), Want: w(pageRead)},
		"GET /communities/{id}":    {Req: get("/communities/{circle}"), Want: w(pageRead)},
		"GET /agreements":          {Req: static("/agreements"), Want: w(pageRead)},
		"GET /agreements/{id}":     {Req: get("/agreements/{bilateral}"), Want: w("anon=303 partner=404 coord=404 nocontract=404 outsider=404 *=200")},
		"GET /audit":               {Req: static("/audit"), Want: w("anon=303 viewer=403 analyst=403 partner=403 nocontract=403 *=200")},
		"GET /audit/export":        {Req: static("/audit/export"), Want: w("anon=303 viewer=403 analyst=403 partner=403 nocontract=403 *=200")},

		"GET /api/v1/me":                       {Req: static("/api/v1/me"), Want: w(apiRead)},
		"GET /api/v1/users":                    {Req: static("/api/v1/users"), Want: w(apiRead)},
		"GET /api/v1/users/{id}":               {Req: get("/api/v1/users/{analyst}"), Want: w(ownOrgAPI)},
		"GET /api/v1/directory":                {Req: static("/api/v1/directory"), Want: w(apiRead)},
		"GET /api/v1/tokens":                   {Req: static("/api/v1/tokens"), Want: w(apiRead)},
		"GET /api/v1/orgs":                     {Req: static("/api/v1/orgs"), Want: w(apiRead)},
		"GET /api/v1/orgs/{id}":                {Req: get("/api/v1/orgs/{sme}"), Want: w(apiRead)},
		"GET /api/v1/communities":              {Req: static("/api/v1/communities"), Want: w(apiRead)},
		"GET /api/v1/communities/{id}":         {Req: get("/api/v1/communities/{circle}"), Want: w(apiRead)},
		"GET /api/v1/communities/{id}/members": {Req: get("/api/v1/communities/{circle}/members"), Want: w("anon=401 outsider=404 *=200")},
		"GET /api/v1/agreements":               {Req: static("/api/v1/agreements"), Want: w(apiRead)},
		"GET /api/v1/agreements/{id}":          {Req: get("/api/v1/agreements/{bilateral}"), Want: w(ownOrgAPI)},
		"GET /api/v1/flows":                    {Req: static("/api/v1/flows"), Want: w(apiRead)},
		"GET /api/v1/audit":                    {Req: static("/api/v1/audit"), Want: w(auditOnly)},
		"GET /api/v1/audit/export":             {Req: static("/api/v1/audit/export"), Want: w(auditOnly)},

		// Self
		"PATCH /api/v1/me":           {Req: with("/api/v1/me", map[string]any{"name": "Neu"}), Want: w(selfAPI + " *=200")},
		"POST /api/v1/logout-all":    {Req: static("/api/v1/logout-all"), Want: w(selfAPI + " *=204")},
		"POST /api/v1/tokens":        {Req: with("/api/v1/tokens", map[string]any{"scope": "read"}), Want: w(sessionOnly)},
		"DELETE /api/v1/tokens/{id}": {Req: post(analystToken, "/api/v1/tokens/{new}", nil), Want: w("anon=401 readtok=403 analyst=204 admin=204 *=404")},
		"POST /logout":               {Req: static("/logout"), Want: w("anon=401 readtok=403 *=303")},
		"POST /logout/all":           {Req: static("/logout/all"), Want: w("anon=401 readtok=403 *=303")},
		"POST /profile":              {Req: with("/profile", form("name", "Neu", "lang", "de")), Want: w("anon=401 readtok=403 *=303")},
		"POST /profile/password":     {Req: with("/profile/password", form("current", "wrong", "new", "x", "confirm", "x")), Want: w(sessionOnly)},
		"POST /profile/totp/start":   {Req: static("/profile/totp/start"), Want: w(sessionOnly)},
		"POST /profile/totp/enable":  {Req: with("/profile/totp/enable", form("code", "000000")), Want: w(sessionOnly)},
		"POST /profile/totp/disable": {Req: with("/profile/totp/disable", form("password", "wrong")), Want: w(sessionOnly)},
		"POST /tokens":               {Req: with("/tokens", form("name", "t", "scope", "read", "expires", "30d")), Want: w(sessionOnly)},
		"POST /tokens/{id}/revoke":   {Req: post(analystToken, "/tokens/{new}/revoke", nil), Want: w("anon=401 readtok=403 analyst=303 admin=303 *=404")},

		// Write

		// Org admin
		"POST /api/v1/users":                                  {Req: send("/api/v1/users", map[string]any{"email": "UNIQMAIL", "role": "viewer", "password": apptest.Password}), Want: w(adminOnly + " *=201")},
		"PATCH /api/v1/users/{id}":                            {Req: send("/api/v1/users/{analyst2}", map[string]any{"name": "Neu"}), Want: w(adminOnly + " admin=200 *=404")},
		"PATCH /api/v1/orgs/{id}":                             {Req: send("/api/v1/orgs/{sme}", map[string]any{"security_contact": "x@y.example"}), Want: w(adminOnly + " admin=200 *=404")},
		"POST /api/v1/communities":                            {Req: send("/api/v1/communities", map[string]any{"name": "UNIQ"}), Want: w(adminOnly + " *=201")},
		"POST /api/v1/communities/{id}/join":                  {Req: post(community, "/api/v1/communities/{new}/join", nil), Want: w(adminOnly + " *=202")},
		"POST /api/v1/communities/{id}/members/{org}/approve": {Req: post(pending, "/api/v1/communities/{new}/approve", nil), Want: w(adminOnly + " coord=204 *=404")},
		"POST /api/v1/communities/{id}/members/{org}/reject":  {Req: post(pending, "/api/v1/communities/{new}/reject", nil), Want: w(adminOnly + " coord=204 *=404")},
		"DELETE /api/v1/communities/{id}/members/{org}":       {Req: post(member, "/api/v1/communities/{new}", nil), Want: w(adminOnly + " coord=204 *=404")},
		"POST /api/v1/agreements":                             {Req: send("/api/v1/agreements", agreement), Want: w(adminOnly + " admin=400 *=201")},
		"POST /api/v1/agreements/{id}/accept":                 {Req: post(proposal, "/api/v1/agreements/{new}/accept", nil), Want: w(adminOnly + " admin=200 *=404")},
		"POST /api/v1/agreements/{id}/revoke":                 {Req: post(active, "/api/v1/agreements/{new}/revoke", nil), Want: w(adminOnly + " admin=200 *=404")},
		"POST /orgs/{id}":                                     {Req: send("/orgs/{sme}", form("security_contact", "x@y.example")), Want: w(adminOnly + " admin=303 *=404")},
		"POST /communities":                                   {Req: send("/communities", form("name", "UNIQ")), Want: w(adminOnly + " *=303")},
		"POST /communities/{id}/join":                         {Req: post(community, "/communities/{new}/join", nil), Want: w(adminOnly + " *=303")},
		"POST /communities/{id}/members/{org}/approve":        {Req: post(pending, "/communities/{new}/approve", nil), Want: w(adminOnly + " coord=303 *=404")},
		"POST /communities/{id}/members/{org}/reject":         {Req: post(pending, "/communities/{new}/reject", nil), Want: w(adminOnly + " coord=303 *=404")},
		"POST /communities/{id}/members/{org}/remove":         {Req: post(member, "/communities/{new}/remove", nil), Want: w(adminOnly + " coord=303 *=404")},
		"POST /people":                                        {Req: send("/people", form("email", "UNIQ", "name", "P", "role", "viewer", "password", apptest.Password)), Want: w(adminOnly + " *=303")},
		"POST /people/{id}":                                   {Req: send("/people/{analyst2}", form("role", "analyst")), Want: w(adminOnly + " admin=303 *=404")},
		"POST /agreements":                                    {Req: send("/agreements", form("kind", "bilateral", "partner_org_id", "{sme}", "categories", "exercise", "max_tlp", "GREEN", "retention_days", "30", "purpose", "p")), Want: w(adminOnly + " admin=400 *=303")},
		"POST /agreements/{id}/accept":                        {Req: post(proposal, "/agreements/{new}/accept", nil), Want: w(adminOnly + " admin=303 *=404")},
		"POST /agreements/{id}/revoke":                        {Req: post(active, "/agreements/{new}/revoke", nil), Want: w(adminOnly + " admin=303 *=404")},
	}
}
