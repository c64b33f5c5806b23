// Package notifytest describes webhooks to the hub-wide tests
// (internal/app): the authorization matrix rows of their routes. Webhooks
// are an org's settings, not shared objects: each org's admins see their
// own org's only.
package notifytest

import (
	"context"
	"strings"
	"testing"

	"verbund/internal/app/apptest"
	"verbund/internal/notify"
)

// Kit is the webhooks' kit.
func Kit() apptest.Kit {
	return apptest.Kit{Name: "notify", Setup: setup, Rows: rows()}
}

// target is where the kit's webhooks point: a closed port on loopback, so
// nothing leaves the machine (the test hub allows private targets).
const target = "http://127.0.0.1:9/hook"

func create(t *testing.T, f *apptest.Fixture) string {
	t.Helper()
	w, err := f.Hub.App.Notify.CreateWebhook(context.Background(), f.Hub.Users["sme.admin"].Actor,
		notify.WebhookInput{URL: target, Events: []string{"intel.sighting"}})
	if err != nil {
		t.Fatalf("create a webhook: %v", err)
	}
	return w.ID
}

// setup makes a webhook of sme ({webhook}).
func setup(t *testing.T, f *apptest.Fixture) { f.IDs["webhook"] = create(t, f) }

func rows() map[string]apptest.Row {
	w, get, static, send := apptest.W, apptest.Get, apptest.Static, apptest.Send
	// sme's admins only; another org's admins get 404 for sme's webhook.
	own := apptest.AdminOnly + " coord=404 outsider=404"
	return map[string]apptest.Row{
		"POST /api/v1/webhooks": {Req: send("/api/v1/webhooks", map[string]any{"url": target, "events": []string{"intel.sighting"}}),
			Want: w(apptest.AdminOnly + " *=201")},
		"GET /api/v1/webhooks":                 {Req: static("/api/v1/webhooks"), Want: w(apptest.AdminOnly + " *=200")},
		"GET /api/v1/webhooks/{id}/deliveries": {Req: get("/api/v1/webhooks/{webhook}/deliveries"), Want: w(own + " *=200")},
		"DELETE /api/v1/webhooks/{id}":         {Req: apptest.Fresh(create, "/api/v1/webhooks/{new}", nil), Want: w(own + " *=204")},
		// The pages: everyone reads why they see no webhooks; only sme's
		// admins make, read and stop sme's.
		"GET /webhooks":              {Req: static("/webhooks"), Want: w(apptest.PageRead)},
		"POST /webhooks":             {Req: send("/webhooks", apptest.Form("url", target, "events", "intel.sighting")), Want: w(apptest.AdminOnly + " *=201")},
		"GET /webhooks/{id}":         {Req: get("/webhooks/{webhook}"), Want: w(strings.Replace(own, "anon=401", "anon=303", 1) + " *=200")},
		"POST /webhooks/{id}/delete": {Req: apptest.Fresh(create, "/webhooks/{new}/delete", apptest.Form()), Want: w(own + " *=303")},
		// E-mail settings: each person their own (not with a read token:
		// a change); the org's mail log for its admins.
		"GET /api/v1/me/mail":            {Req: static("/api/v1/me/mail"), Want: w(apptest.APIRead)},
		"PATCH /api/v1/me/mail":          {Req: send("/api/v1/me/mail", map[string]any{"preferences": map[string]string{"intel": "digest"}}), Want: w(apptest.SelfAPI + " *=200")},
		"GET /api/v1/me/mail/deliveries": {Req: static("/api/v1/me/mail/deliveries"), Want: w(apptest.APIRead)},
		"GET /api/v1/mail/deliveries":    {Req: static("/api/v1/mail/deliveries"), Want: w(apptest.AdminOnly + " *=200")},
		"GET /profile/mail":              {Req: static("/profile/mail"), Want: w(apptest.PageRead)},
		"POST /profile/mail":             {Req: send("/profile/mail", apptest.Form("intel", "digest")), Want: w("anon=401 readtok=403 *=303")},
	}
}
