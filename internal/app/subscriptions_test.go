package app_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"verbund/internal/accounts"
	"verbund/internal/app/apptest"
	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/policy"
	"verbund/internal/vulns"
	"verbund/internal/vulns/vulnstest"
)

// subscribe makes a subscription through the API as u and returns it.
func subscribe(t *testing.T, h *apptest.Hub, u *apptest.User, body map[string]any) vulns.Subscription {
	t.Helper()
	r := h.API(t, u.WriteToken, http.MethodPost, "/api/v1/subscriptions", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("subscribe %v: %d %s", body, r.Status, r.Body)
	}
	var s vulns.Subscription
	r.JSON(t, &s)
	return s
}

// runSub runs a subscription through the API.
func runSub(t *testing.T, h *apptest.Hub, u *apptest.User, id string) vulns.RunReport {
	t.Helper()
	r := h.API(t, u.WriteToken, http.MethodPost, "/api/v1/subscriptions/"+id+"/run", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("run %s: %d %s", id, r.Status, r.Body)
	}
	var rep vulns.RunReport
	r.JSON(t, &rep)
	return rep
}

// heldBy counts the advisories and versions an org holds.
func heldBy(t *testing.T, h *apptest.Hub, org string) (advisories, versions int) {
	t.Helper()
	ctx := context.Background()
	must(t, h.App.DB.R().QueryRow(ctx, `SELECT COUNT(*) FROM vuln_advisories WHERE org_id = ?`, org).Scan(&advisories))
	must(t, h.App.DB.R().QueryRow(ctx, `SELECT COUNT(*) FROM vuln_advisory_versions v JOIN vuln_advisories a ON a.id = v.advisory_id WHERE a.org_id = ?`, org).Scan(&versions))
	return advisories, versions
}

// TestVulnsSubscribeCISA subscribes to a provider on loopback (TLS) that
// serves CISA's real layout, on both engines: the IT documents by their
// ROLIE feed, the OT documents as a directory distribution, and the IT
// documents again by CISA's changes.csv; every digest and signature is
// checked, every document imported; a second run fetches nothing
// unchanged, a document the feed says changed is fetched again.
func TestVulnsSubscribeCISA(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			p := vulnstest.NewProvider(t)
			h.App.Vulns.SetFetch(true, p.Roots)
			u := h.Users["cloud.analyst"]
			org := h.Orgs["cloud"]

			rolie := subscribe(t, h, u, map[string]any{"url": p.URL + "/provider-metadata.json"})
			if rolie.Publisher != "CISA" || rolie.NextRun == 0 {
				t.Errorf("subscription: %+v", rolie)
			}
			rep := runSub(t, h, u, rolie.ID)
			if rep.Listed != 4 || rep.Checked != 4 || rep.Imported != 4 || rep.Rejected != 0 || rep.Error != "" {
				t.Fatalf("first run: %+v", rep)
			}
			if rep = runSub(t, h, u, rolie.ID); rep.Listed != 4 || rep.Checked != 0 || rep.Imported != 0 {
				t.Errorf("second run fetched unchanged documents: %+v", rep)
			}
			p.Set(func(p *vulnstest.Provider) { p.Bump = []string{"va-24-254-01.json"} })
			if rep = runSub(t, h, u, rolie.ID); rep.Checked != 1 || rep.Imported != 1 || rep.Rejected != 0 {
				t.Errorf("run after a change: %+v", rep)
			}

			ot := subscribe(t, h, u, map[string]any{"url": p.URL + "/ot/provider-metadata.json", "tlp": "GREEN"})
			if rep = runSub(t, h, u, ot.ID); rep.Listed != 187 || rep.Checked != 187 || rep.Imported != 187 || rep.Rejected != 0 {
				t.Fatalf("directory run: %+v", rep)
			}
			if a, v := heldBy(t, h, org); a != 191 || v != 191 {
				t.Errorf("cloud holds %d advisories, %d versions; want 191, 191", a, v)
			}
			// The same documents by CISA's changes.csv: found as held.
			dir := subscribe(t, h, u, map[string]any{"url": p.URL + "/dir/provider-metadata.json"})
			if rep = runSub(t, h, u, dir.ID); rep.Listed != 4 || rep.Checked != 4 || rep.Imported != 4 {
				t.Errorf("changes.csv run: %+v", rep)
			}
			if a, v := heldBy(t, h, org); a != 191 || v != 191 {
				t.Errorf("after the same documents again: %d advisories, %d versions", a, v)
			}
			// The subscription's TLP applies: the OT documents are
			// WHITE, shared at GREEN as asked.
			var green int
			must(t, h.App.DB.R().QueryRow(context.Background(), `SELECT COUNT(*) FROM vuln_advisories a JOIN shares s ON s.id = a.id WHERE a.org_id = ? AND s.tlp = ?`,
				org, int(policy.Green)).Scan(&green))
			if green != 187 {
				t.Errorf("%d advisories shared at GREEN, want 187", green)
			}
			var got vulns.Subscription
			h.API(t, h.Users["cloud.admin"].ReadToken, http.MethodGet, "/api/v1/subscriptions/"+ot.ID, nil).JSON(t, &got)
			if got.LastRun == 0 || got.Listed != 187 || got.Imported != 187 || got.LastError != "" {
				t.Errorf("subscription after its run: %+v", got)
			}
			// Another org does not find it.
			if r := h.API(t, h.Users["sme.admin"].ReadToken, http.MethodGet, "/api/v1/subscriptions/"+ot.ID, nil); r.Status != http.StatusNotFound {
				t.Errorf("sme reads cloud's subscription: %d", r.Status)
			}
			// The poller's round runs what is due (none now).
			if n, err := h.App.Vulns.Round(context.Background()); err != nil || n != 0 {
				t.Errorf("round: %d %v", n, err)
			}
			must(t, h.App.DB.Tx(dbtest.Unaudited(context.Background()), func(tx *db.Tx) error {
				_, err := tx.Exec(context.Background(), `UPDATE vuln_subscriptions SET next_run = 0 WHERE id = ?`, rolie.ID)
				return err
			}))
			if n, err := h.App.Vulns.Round(context.Background()); err != nil || n != 1 {
				t.Errorf("round with one due: %d %v", n, err)
			}
			// The person who subscribed becomes a viewer: the round
			// records owner_gone and imports nothing as them.
			viewer := "viewer"
			if _, err := h.App.Accounts.UpdateUser(context.Background(), h.Users["cloud.admin"].Actor, u.ID, accounts.UserUpdate{Role: &viewer}); err != nil {
				t.Fatal(err)
			}
			p.Set(func(p *vulnstest.Provider) { p.Bump = []string{"va-24-254-02.json"} })
			must(t, h.App.DB.Tx(dbtest.Unaudited(context.Background()), func(tx *db.Tx) error {
				_, err := tx.Exec(context.Background(), `UPDATE vuln_subscriptions SET next_run = 0 WHERE id = ?`, rolie.ID)
				return err
			}))
			if n, err := h.App.Vulns.Round(context.Background()); err != nil || n != 1 {
				t.Errorf("round with the owner gone: %d %v", n, err)
			}
			var gone vulns.Subscription
			h.API(t, h.Users["cloud.admin"].ReadToken, http.MethodGet, "/api/v1/subscriptions/"+rolie.ID, nil).JSON(t, &gone)
			if gone.LastError != "owner_gone" || gone.Checked != 0 {
				t.Errorf("owner gone: %+v", gone)
			}
		})
	}
}

// TestVulnsSubscribeRefusals: a tampered digest, a signature by another
// key, a broken document and a redirect are each refused with their code
// and leave nothing behind; a provider that redirects, cannot be reached,
// has invalid metadata, sits on a private address (without the
// operator's flag) or names a key whose fingerprint differs is refused
// with a clear code, before anything is imported.
func TestVulnsSubscribeRefusals(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.World(t, e)
			p := vulnstest.NewProvider(t)
			h.App.Vulns.SetFetch(true, p.Roots)
			u := h.Users["cloud.analyst"]
			org := h.Orgs["cloud"]
			p.Set(func(p *vulnstest.Provider) {
				p.TamperHash = []string{"va-24-254-01.json"}
				p.RealSignature = []string{"va-24-254-02.json"}
				p.Broken = []string{"va-24-262-01.json"}
				p.Redirect = []string{"va-24-201-01.json"}
			})
			sub := subscribe(t, h, u, map[string]any{"url": p.URL + "/provider-metadata.json"})
			rep := runSub(t, h, u, sub.ID)
			codes := map[string]string{}
			for _, e := range rep.Errors {
				codes[e.File[strings.LastIndexByte(e.File, '/')+1:]] = e.Code
			}
			want := map[string]string{"va-24-254-01.json": "hash_mismatch", "va-24-254-02.json": "bad_signature", "va-24-262-01.json": "bad_json", "va-24-201-01.json": "redirect"}
			if rep.Imported != 0 || rep.Rejected != 4 || len(codes) != 4 {
				t.Fatalf("run: %+v", rep)
			}
			for f, c := range want {
				if codes[f] != c {
					t.Errorf("%s refused as %q, want %q (%+v)", f, codes[f], c, rep.Errors)
				}
			}
			if a, v := heldBy(t, h, org); a != 0 || v != 0 {
				t.Errorf("refused documents left %d advisories, %d versions", a, v)
			}
			// The page names each reason in German.
			page := h.API(t, u.ReadToken, http.MethodGet, "/vulns/subscriptions?lang=de", nil)
			for _, s := range []string{`data-code="hash_mismatch"`, `data-code="redirect"`, "Weiterleitung", `data-count="rejected">4<`} {
				if !strings.Contains(string(page.Body), s) {
					t.Errorf("subscriptions page lacks %q", s)
				}
			}
			// Served right, the documents come in (refused ones are tried
			// again).
			p.Set(func(p *vulnstest.Provider) { p.TamperHash, p.RealSignature, p.Broken, p.Redirect = nil, nil, nil, nil })
			if rep = runSub(t, h, u, sub.ID); rep.Checked != 4 || rep.Imported != 4 {
				t.Errorf("run once served right: %+v", rep)
			}

			// A TLP:AMBER feed behind the provider's access control is
			// named; the WHITE feed's documents come in. With only that
			// feed, the run fails.
			amber := subscribe(t, h, u, map[string]any{"url": p.URL + "/amber/provider-metadata.json"})
			if rep = runSub(t, h, u, amber.ID); rep.Error != "" || rep.Listed != 4 || rep.Imported != 4 || rep.Rejected != 0 ||
				len(rep.Errors) != 1 || rep.Errors[0].Code != "http_status" || !strings.HasSuffix(rep.Errors[0].File, "/amber/feed.json") {
				t.Errorf("with a protected feed: %+v", rep)
			}
			amberOnly := subscribe(t, h, u, map[string]any{"url": p.URL + "/amber-only/provider-metadata.json"})
			if rep = runSub(t, h, u, amberOnly.ID); rep.Error != "http_status" || !strings.Contains(rep.Message, "401") {
				t.Errorf("only a protected feed: %+v", rep)
			}

			refused := func(url, code string) {
				t.Helper()
				r := h.API(t, u.WriteToken, http.MethodPost, "/api/v1/subscriptions", map[string]any{"url": url})
				if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"`+code+`"`) {
					t.Errorf("subscribe %s: %d %s, want 400 %s", url, r.Status, r.Body, code)
				}
			}
			refused(p.URL+"/redirect/provider-metadata.json", "provider_redirect")
			refused(p.URL+"/bad/provider-metadata.json", "provider_metadata")
			refused(p.URL+"/nothing/provider-metadata.json", "provider_answer")
			refused(p.URL+"/key.asc", "provider_url")
			l, err := net.Listen("tcp", "127.0.0.1:0")
			must(t, err)
			closed := "https://" + l.Addr().String() + "/provider-metadata.json"
			must(t, l.Close())
			refused(closed, "provider_unreachable")

			// Without the operator's flag: loopback, private and plain
			// http are refused when saved, and at the run of one saved
			// before.
			h.App.Vulns.SetFetch(false, p.Roots)
			refused(p.URL+"/ot/provider-metadata.json", "provider_private")
			refused("https://10.1.2.3/provider-metadata.json", "provider_private")
			refused("https://localhost/provider-metadata.json", "provider_private")
			refused("http://csaf.example.com/provider-metadata.json", "provider_url")
			if rep = runSub(t, h, u, sub.ID); rep.Error != "bad_url" || rep.Checked != 0 {
				t.Errorf("run to loopback without the flag: %+v", rep)
			}
			h.App.Vulns.SetFetch(true, p.Roots)

			// A key whose fingerprint is not the metadata's: the run
			// fails before any document.
			other := subscribe(t, h, h.Users["sme.analyst"], map[string]any{"url": p.URL + "/ot/provider-metadata.json"})
			p.Set(func(p *vulnstest.Provider) { p.WrongFingerprint = true })
			if rep = runSub(t, h, h.Users["sme.analyst"], other.ID); rep.Error != "key_fingerprint" || rep.Checked != 0 {
				t.Errorf("wrong fingerprint: %+v", rep)
			}
			if a, _ := heldBy(t, h, h.Orgs["sme"]); a != 0 {
				t.Errorf("sme holds %d advisories after a refused run", a)
			}
			// An unreachable provider at the run.
			p.Server.Close()
			if rep = runSub(t, h, h.Users["sme.analyst"], other.ID); rep.Error != "unreachable" {
				t.Errorf("closed provider: %+v", rep)
			}
			var got vulns.Subscription
			h.API(t, h.Users["sme.viewer"].ReadToken, http.MethodGet, "/api/v1/subscriptions/"+other.ID, nil).JSON(t, &got)
			if got.LastError != "unreachable" || !strings.Contains(got.LastMessage, "could not be reached") {
				t.Errorf("recorded: %+v", got)
			}
			_, err = audit.Chain(context.Background(), h.App.DB)
			must(t, err)
			var audited []string
			rows, err := h.App.DB.R().Query(context.Background(), `SELECT action FROM audit_log WHERE object_id = ? ORDER BY seq`, other.ID)
			must(t, err)
			for rows.Next() {
				var a string
				must(t, rows.Scan(&a))
				audited = append(audited, a)
			}
			must(t, rows.Err())
			if !slices.Contains(audited, "vulns.subscription.create") || !slices.Contains(audited, "vulns.subscription.run") {
				t.Errorf("audit: %v", audited)
			}
		})
	}
}

// TestVulnsSubscribeOwnHub: cloud subscribes to sme's CSAF provider on
// this hub (the consumer against the hub's own trusted provider, which
// csaf_checker passes): the WHITE document comes in with its digests
// and its signature checked against the provider's key; the GREEN and
// AMBER feeds, which the provider keeps behind access control from an
// anonymous consumer, are named and skipped; nothing of them comes in.
func TestVulnsSubscribeOwnHub(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			h := apptest.WorldCovering(t, e)
			h.App.Vulns.SetFetch(true, nil) // the hub in the test speaks http on loopback
			sme, cloud := h.Users["sme.analyst"], h.Users["cloud.analyst"]
			_, white := publishAs(t, h, sme, "OWN-White-1", "WHITE", url.Values{"tlp": {"CLEAR"}})
			publishAs(t, h, sme, "OWN-Green-1", "GREEN", url.Values{"tlp": {"GREEN"}, "audience": {"community"}, "community_id": {h.Circle}})
			publishAs(t, h, sme, "OWN-Amber-1", "AMBER", url.Values{"tlp": {"AMBER"}})
			meta := white[:strings.Index(white, "/white/")] + "/provider-metadata.json"
			sub := subscribe(t, h, cloud, map[string]any{"url": meta})
			rep := runSub(t, h, cloud, sub.ID)
			if rep.Error != "" || rep.Listed != 1 || rep.Checked != 1 || rep.Imported != 1 || rep.Rejected != 0 {
				t.Fatalf("run: %+v", rep)
			}
			skipped := map[string]string{}
			for _, e := range rep.Errors {
				skipped[e.File[strings.LastIndexByte(e.File, '/')+1:]] = e.Code
			}
			for _, f := range []string{"csaf-feed-tlp-green.json", "csaf-feed-tlp-amber.json"} {
				if skipped[f] != "http_status" {
					t.Errorf("%s: %q, want http_status (%+v)", f, skipped[f], rep.Errors)
				}
			}
			list, _, err := h.App.Vulns.FindAdvisories(t.Context(), cloud.Actor, vulns.AdvisoryFilter{Q: "OWN"})
			must(t, err)
			var held []string
			for _, a := range list {
				if a.Share.Owner == h.Orgs["cloud"] {
					held = append(held, a.TrackingID)
				}
			}
			if len(held) != 1 || held[0] != "OWN-White-1" {
				t.Errorf("cloud holds %v, want only OWN-White-1", held)
			}
		})
	}
}
