package app_test

import (
	"context"
	"testing"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/db/dbtest"
	"verbund/internal/policy"
)

// TestTokenCacheFollowsChanges: API tokens answered from memory
// (internal/accounts, tokencache.go) follow every change to what they
// stand for at the next request: a revoked token, a deactivated user, a
// role taken away or given, a new name. Each check first uses the token
// twice, so that its answer is kept.
func TestTokenCacheFollowsChanges(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			ctx := context.Background()
			admin, analyst := h.Users["sme.admin"], h.Users["sme.analyst"]
			warm := func(tok string) {
				t.Helper()
				for range 2 {
					if r := h.API(t, tok, "GET", "/api/v1/me", nil); r.Status != 200 {
						t.Fatalf("GET /me: %d %s", r.Status, r.Body)
					}
				}
			}
			hits0, _ := h.App.Accounts.TokenCacheStats()
			warm(analyst.ReadToken)
			if hits, _ := h.App.Accounts.TokenCacheStats(); hits == hits0 {
				t.Fatal("no token was answered from memory: the test would prove nothing")
			}

			// A new name is seen at once.
			if r := h.API(t, analyst.WriteToken, "PATCH", "/api/v1/me", map[string]any{"name": "Renamed Analyst"}); r.Status != 200 {
				t.Fatalf("rename: %d %s", r.Status, r.Body)
			}
			var me struct{ User struct{ Name string } }
			r := h.API(t, analyst.ReadToken, "GET", "/api/v1/me", nil)
			if r.Status == 200 {
				r.JSON(t, &me)
			}
			if r.Status != 200 || me.User.Name != "Renamed Analyst" {
				t.Errorf("after the rename: %d %s", r.Status, r.Body)
			}

			// A revoked token.
			tok, secret, err := h.App.Accounts.CreateToken(ctx, analyst.Actor, analyst.ID, accounts.NewToken{Name: "kept", Scope: string(policy.ScopeRead)})
			if err != nil {
				t.Fatal(err)
			}
			warm(secret)
			if err := h.App.Accounts.RevokeToken(ctx, analyst.Actor, tok.ID); err != nil {
				t.Fatal(err)
			}
			if r := h.API(t, secret, "GET", "/api/v1/me", nil); r.Status != 401 || r.ErrorCode() != "token_revoked" {
				t.Errorf("revoked token: %d %s", r.Status, r.Body)
			}
			// Once found revoked it is no longer kept: refused before the
			// admission queue, as an unknown token is.
			if _, _, ok := h.App.Accounts.CachedToken(ctx, secret, ""); ok {
				t.Error("a revoked token's holder is still kept")
			}

			// A role given: the admin's page is refused with the kept
			// answer, so the token is read again before it is refused.
			if r := h.API(t, analyst.WriteToken, "GET", "/api/v1/webhooks", nil); r.Status == 200 {
				t.Fatalf("an analyst read the webhooks: %d", r.Status)
			}
			warm(analyst.WriteToken)
			up := string(policy.Admin)
			if _, err := h.App.Accounts.UpdateUser(ctx, admin.Actor, analyst.ID, accounts.UserUpdate{Role: &up}); err != nil {
				t.Fatal(err)
			}
			if r := h.API(t, analyst.WriteToken, "GET", "/api/v1/webhooks", nil); r.Status != 200 {
				t.Errorf("the new admin's webhooks: %d %s", r.Status, r.Body)
			}

			// A role taken away.
			warm(analyst.WriteToken)
			if r := h.API(t, analyst.WriteToken, "GET", "/api/v1/webhooks", nil); r.Status != 200 {
				t.Fatalf("webhooks as admin: %d %s", r.Status, r.Body)
			}
			down := string(policy.Analyst)
			if _, err := h.App.Accounts.UpdateUser(ctx, admin.Actor, analyst.ID, accounts.UserUpdate{Role: &down}); err != nil {
				t.Fatal(err)
			}
			if r := h.API(t, analyst.WriteToken, "GET", "/api/v1/webhooks", nil); r.Status == 200 {
				t.Errorf("the former admin still reads the webhooks: %d", r.Status)
			}

			// Writes take the kept answer too, confirmed after the queue:
			// a revoked token writes nothing, nor does a holder whose role
			// may only read.
			writer, wsecret, err := h.App.Accounts.CreateToken(ctx, analyst.Actor, analyst.ID, accounts.NewToken{Name: "kept writer", Scope: string(policy.ScopeWrite)})
			if err != nil {
				t.Fatal(err)
			}
			r = h.API(t, wsecret, "POST", "/api/v1/channels/"+h.CircleChannel+"/threads", map[string]any{"title": "kept", "body": "first", "tlp": "GREEN", "audience": "community"})
			var created struct{ Thread struct{ ID string } }
			if r.Status == 201 {
				r.JSON(t, &created)
			}
			if r.Status != 201 || created.Thread.ID == "" {
				t.Fatalf("new thread: %d %s", r.Status, r.Body)
			}
			reply := func() apptest.Response {
				return h.API(t, wsecret, "POST", "/api/v1/threads/"+created.Thread.ID+"/posts", map[string]any{"body": "reply", "tlp": "GREEN", "audience": "community"})
			}
			warm(wsecret)
			hits0, _ = h.App.Accounts.TokenCacheStats()
			if r := reply(); r.Status != 201 {
				t.Fatalf("reply: %d %s", r.Status, r.Body)
			}
			if hits, _ := h.App.Accounts.TokenCacheStats(); hits == hits0 {
				t.Error("a write did not take its token from memory: the cases below would prove nothing")
			}
			warm(wsecret)
			viewer := string(policy.Viewer)
			if _, err := h.App.Accounts.UpdateUser(ctx, admin.Actor, analyst.ID, accounts.UserUpdate{Role: &viewer}); err != nil {
				t.Fatal(err)
			}
			if r := reply(); r.Status != 403 {
				t.Errorf("a reply by a viewer now: %d %s", r.Status, r.Body)
			}
			analystRole := string(policy.Analyst)
			if _, err := h.App.Accounts.UpdateUser(ctx, admin.Actor, analyst.ID, accounts.UserUpdate{Role: &analystRole}); err != nil {
				t.Fatal(err)
			}
			warm(wsecret)
			if err := h.App.Accounts.RevokeToken(ctx, analyst.Actor, writer.ID); err != nil {
				t.Fatal(err)
			}
			if r := reply(); r.Status != 401 || r.ErrorCode() != "token_revoked" {
				t.Errorf("a reply with the revoked token: %d %s", r.Status, r.Body)
			}

			// A deactivated user: none of their tokens answers.
			warm(analyst.ReadToken)
			off := true
			if _, err := h.App.Accounts.UpdateUser(ctx, admin.Actor, analyst.ID, accounts.UserUpdate{Disabled: &off}); err != nil {
				t.Fatal(err)
			}
			if r := h.API(t, analyst.ReadToken, "GET", "/api/v1/me", nil); r.Status != 401 {
				t.Errorf("a deactivated user's token: %d %s", r.Status, r.Body)
			}
		})
	}
}
