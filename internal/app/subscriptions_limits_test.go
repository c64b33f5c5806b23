package app_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/vulns"
	"verbund/internal/vulns/vulnstest"
)

// TestVulnsSubscriptionBusy: an org runs one subscription by hand at a
// time: while one of its runs holds (a slow provider), another of its
// subscriptions answers 409 subscription_busy; another org's run is not
// held up; once the first run ends, the second runs.
func TestVulnsSubscriptionBusy(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			p := vulnstest.NewProvider(t)
			h.App.Vulns.SetFetch(true, p.Roots)
			cloud, sme := h.Users["cloud.analyst"], h.Users["sme.analyst"]
			slow := subscribe(t, h, cloud, map[string]any{"url": p.URL + "/provider-metadata.json"})
			other := subscribe(t, h, cloud, map[string]any{"url": p.URL + "/ot/provider-metadata.json"})
			smes := subscribe(t, h, sme, map[string]any{"url": p.URL + "/ot/provider-metadata.json"})
			hold := make(chan struct{})
			p.Set(func(p *vulnstest.Provider) { p.Hold = hold })
			done := make(chan apptest.Response, 1)
			go func() {
				done <- h.API(t, cloud.WriteToken, http.MethodPost, "/api/v1/subscriptions/"+slow.ID+"/run", nil)
			}()
			// Once the slow run holds, the org's other subscription is
			// refused.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				held := 0
				p.Set(func(p *vulnstest.Provider) { held = p.Held })
				if held > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the slow run never reached the provider's feed")
				}
			}
			if r := h.API(t, cloud.WriteToken, http.MethodPost, "/api/v1/subscriptions/"+other.ID+"/run", nil); r.Status != http.StatusConflict || r.ErrorCode() != "subscription_busy" {
				t.Errorf("a second run by hand of the same org: %d %s, want 409 subscription_busy", r.Status, r.Body)
			}
			if rep := runSub(t, h, sme, smes.ID); rep.Error != "" || rep.Imported == 0 {
				t.Errorf("another org's run while cloud's holds: %+v", rep)
			}
			p.Set(func(p *vulnstest.Provider) { p.Hold = nil })
			close(hold)
			if r := <-done; r.Status != http.StatusOK {
				t.Errorf("the slow run: %d %s", r.Status, r.Body)
			}
			if rep := runSub(t, h, cloud, other.ID); rep.Error != "" {
				t.Errorf("the other run once the slow one ended: %+v", rep)
			}
		})
	}
}

// TestVulnsSubscriptionErrorsNameNoAddresses: a provider that cannot be
// reached (connection refused, an untrusted certificate) is named by a
// code and a fixed text, in the API's answer and in the recorded run:
// never the network error's own text.
func TestVulnsSubscriptionErrorsNameNoAddresses(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			p := vulnstest.NewProvider(t)
			u := h.Users["cloud.analyst"]
			noLeak := func(what, s string) {
				t.Helper()
				for _, leak := range []string{"dial tcp", "connect:", "connection refused", "x509", "lookup", "tls:"} {
					if strings.Contains(s, leak) {
						t.Errorf("LEAK: %s names %q: %s", what, leak, s)
					}
				}
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			must(t, err)
			closed := "https://" + l.Addr().String() + "/provider-metadata.json"
			must(t, l.Close())
			h.App.Vulns.SetFetch(true, p.Roots)
			r := h.API(t, u.WriteToken, http.MethodPost, "/api/v1/subscriptions", map[string]any{"url": closed})
			if r.Status != http.StatusBadRequest || r.ErrorCode() != "provider_unreachable" {
				t.Errorf("subscribe to a closed port: %d %s", r.Status, r.Body)
			}
			noLeak("the answer to a closed port", string(r.Body))
			// An untrusted certificate: the hub trusts only the system's
			// authorities.
			h.App.Vulns.SetFetch(true, nil)
			r = h.API(t, u.WriteToken, http.MethodPost, "/api/v1/subscriptions", map[string]any{"url": p.URL + "/provider-metadata.json"})
			if r.Status != http.StatusBadRequest || r.ErrorCode() != "provider_tls" {
				t.Errorf("subscribe to an untrusted certificate: %d %s", r.Status, r.Body)
			}
			noLeak("the answer to an untrusted certificate", string(r.Body))
			// At a run: recorded with its code and a fixed text.
			h.App.Vulns.SetFetch(true, p.Roots)
			sub := subscribe(t, h, u, map[string]any{"url": p.URL + "/provider-metadata.json"})
			h.App.Vulns.SetFetch(true, nil)
			rep := runSub(t, h, u, sub.ID)
			if rep.Error != "tls" {
				t.Errorf("run against an untrusted certificate: %+v", rep)
			}
			noLeak("the run's message", rep.Message)
			p.Server.Close()
			h.App.Vulns.SetFetch(true, p.Roots)
			rep = runSub(t, h, u, sub.ID)
			if rep.Error != "unreachable" {
				t.Errorf("run against a closed provider: %+v", rep)
			}
			var got vulns.Subscription
			h.API(t, u.ReadToken, http.MethodGet, "/api/v1/subscriptions/"+sub.ID, nil).JSON(t, &got)
			noLeak("the recorded message", got.LastMessage)
			page := h.API(t, u.ReadToken, http.MethodGet, "/vulns/subscriptions?lang=de", nil)
			noLeak("the subscriptions page", string(page.Body))
			if !strings.Contains(string(page.Body), "Der Server war nicht erreichbar.") {
				t.Error("the subscriptions page does not name the failure in German")
			}
		})
	}
}

// TestVulnsSubscriptionRoundIsFair: a round runs at most two due
// subscriptions of one org, the longest waiting first, so that another
// org's due subscription runs in the same round; the rest wait for the
// next round.
func TestVulnsSubscriptionRoundIsFair(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			p := vulnstest.NewProvider(t)
			h.App.Vulns.SetFetch(true, p.Roots)
			cloud, sme := h.Users["cloud.analyst"], h.Users["sme.analyst"]
			var cloudSubs []string
			for _, u := range []string{"/provider-metadata.json", "/ot/provider-metadata.json", "/dir/provider-metadata.json"} {
				cloudSubs = append(cloudSubs, subscribe(t, h, cloud, map[string]any{"url": p.URL + u}).ID)
			}
			smeSub := subscribe(t, h, sme, map[string]any{"url": p.URL + "/ot/provider-metadata.json"}).ID
			// cloud's waited longest, sme's least.
			for i, id := range append(cloudSubs, smeSub) {
				must(t, h.App.DB.Tx(dbtest.Unaudited(context.Background()), func(tx *db.Tx) error {
					_, err := tx.Exec(context.Background(), `UPDATE vuln_subscriptions SET next_run = ? WHERE id = ?`, int64(1000+i), id)
					return err
				}))
			}
			ran, err := h.App.Vulns.Round(t.Context())
			must(t, err)
			lastRun := func(id string) int64 {
				var at int64
				must(t, h.App.DB.R().QueryRow(t.Context(), `SELECT last_run FROM vuln_subscriptions WHERE id = ?`, id).Scan(&at))
				return at
			}
			if ran != 3 || lastRun(cloudSubs[0]) == 0 || lastRun(cloudSubs[1]) == 0 || lastRun(smeSub) == 0 || lastRun(cloudSubs[2]) != 0 {
				t.Errorf("round ran %d: cloud %d %d %d, sme %d; want cloud's two longest waiting and sme's", ran,
					lastRun(cloudSubs[0]), lastRun(cloudSubs[1]), lastRun(cloudSubs[2]), lastRun(smeSub))
			}
			if ran, err = h.App.Vulns.Round(t.Context()); err != nil || ran != 1 || lastRun(cloudSubs[2]) == 0 {
				t.Errorf("next round ran %d (%v), cloud's third %d", ran, err, lastRun(cloudSubs[2]))
			}
		})
	}
}
