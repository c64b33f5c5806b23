package app_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/audit"
	"verbund/internal/db"
	"verbund/internal/notify"
	"verbund/internal/policy"
)

// receiver is a webhook receiver on loopback that checks every delivery's
// Standard Webhooks signature with the secret it is given.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	status int // what it answers (200 unless set)
	got    []delivered
}

type delivered struct {
	ID, Type string
	Data     map[string]any
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t, status: 200}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		id, ts, sig := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature")
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(rc.secret, "whsec_"))
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "." + string(body)))
		if want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)); sig != want || !strings.HasPrefix(id, "msg_") {
			rc.t.Errorf("delivery %s: signature %q, want %q", id, sig, want)
		}
		var b struct {
			Type, Timestamp string
			Data            map[string]any
		}
		if err := json.Unmarshal(body, &b); err != nil || b.Type == "" || b.Timestamp == "" || b.Data["id"] == nil {
			rc.t.Errorf("delivery body: %s", body)
		}
		if rc.status == 200 {
			rc.got = append(rc.got, delivered{ID: id, Type: b.Type, Data: b.Data})
		}
		w.WriteHeader(rc.status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) deliveries() []delivered {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivered(nil), rc.got...)
}

func (rc *receiver) answer(status int) {
	rc.mu.Lock()
	rc.status = status
	rc.mu.Unlock()
}

// waitDeliveries waits until rc holds n deliveries.
func (rc *receiver) waitDeliveries(t *testing.T, n int, within time.Duration) []delivered {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if got := rc.deliveries(); len(got) >= n {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%d deliveries within %v, want %d", len(rc.deliveries()), within, n)
	return nil
}

// TestWebhooks: an org's admin makes a webhook and gets a secret once; a
// sighting of the org's indicator is delivered, signed, to the org's
// receiver and to no other org's; a receiver that is down gets the
// delivery later (the log shows the attempts); a deleted webhook gets
// nothing more.
func TestWebhooks(t *testing.T) { eachEngine(t, testWebhooks) }

func testWebhooks(t *testing.T, e db.Dialect) {
	h := apptest.WorldCovering(t, e)
	make := func(admin string, rc *receiver) string {
		t.Helper()
		r := h.API(t, h.Users[admin].WriteToken, "POST", "/api/v1/webhooks", map[string]any{"url": rc.srv.URL + "/hook", "events": []string{"intel.sighting"}})
		var w struct{ ID, Secret string }
		r.JSON(t, &w)
		if r.Status != http.StatusCreated || !strings.HasPrefix(w.Secret, "whsec_") {
			t.Fatalf("create a webhook as %s: %d %s", admin, r.Status, r.Body)
		}
		rc.secret = w.Secret
		return w.ID
	}
	cloudRx, certRx, outsiderRx := newReceiver(t), newReceiver(t), newReceiver(t)
	hook := make("cloud.admin", cloudRx)
	make("cert.admin", certRx)
	make("outsider.admin", outsiderRx)
	// The secret is shown once.
	if list := h.API(t, h.Users["cloud.admin"].WriteToken, "GET", "/api/v1/webhooks", nil); list.Status != 200 || strings.Contains(string(list.Body), "whsec_") {
		t.Errorf("the list shows secrets: %s", list.Body)
	}

	const ind = "indicator--66666666-0000-4000-8000-000000000001"
	id := importAs(t, h, "cloud.analyst", "community="+h.Circle+"&tlp=AMBER", `{"type":"bundle","id":"bundle--66666666-0000-4000-8000-000000000009","objects":[
	 {"type":"indicator","spec_version":"2.1","id":"`+ind+`","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"scanner",
	  "pattern":"[ipv4-addr:value = '203.0.113.66']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}`, ind)
	sight := func() string {
		t.Helper()
		r := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/intel/objects/"+id+"/sightings", map[string]any{"count": 2})
		var s struct{ ID string }
		r.JSON(t, &s)
		if r.Status != http.StatusCreated {
			t.Fatalf("sighting: %d %s", r.Status, r.Body)
		}
		return s.ID
	}
	first := sight()
	got := cloudRx.waitDeliveries(t, 1, 5*time.Second)
	if got[0].Type != "intel.sighting" || got[0].Data["id"] != first || got[0].Data["sighting_of"] != ind {
		t.Errorf("the owner's delivery: %+v", got[0])
	}
	// The sighting went to its owner only: the CERT (a circle member) and
	// the outsider hear nothing.
	time.Sleep(300 * time.Millisecond)
	if n, m := len(certRx.deliveries()), len(outsiderRx.deliveries()); n+m != 0 {
		t.Errorf("LEAK: other orgs' webhooks got the owner's sighting: CERT %d, outsider %d", n, m)
	}

	// The receiver is down: the delivery is retried (5 s later) and
	// arrives once it is up again.
	cloudRx.answer(http.StatusServiceUnavailable)
	second := sight()
	var log struct {
		Items []struct {
			State      string
			Attempts   int
			LastStatus int `json:"last_status"`
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		h.API(t, h.Users["cloud.admin"].WriteToken, "GET", "/api/v1/webhooks/"+hook+"/deliveries", nil).JSON(t, &log)
		if len(log.Items) == 2 && log.Items[0].Attempts > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(log.Items) != 2 || log.Items[0].State != "pending" || log.Items[0].LastStatus != 503 || log.Items[1].State != "delivered" {
		t.Fatalf("the delivery log while the receiver is down: %+v", log.Items)
	}
	cloudRx.answer(http.StatusOK)
	got = cloudRx.waitDeliveries(t, 2, 10*time.Second)
	if got[1].Data["id"] != second {
		t.Errorf("the retried delivery: %+v", got[1])
	}

	// Deleted: nothing more arrives; another org's admin cannot delete it.
	if r := h.API(t, h.Users["outsider.admin"].WriteToken, "DELETE", "/api/v1/webhooks/"+hook, nil); r.Status != http.StatusNotFound {
		t.Errorf("another org deletes the webhook: %d", r.Status)
	}
	if r := h.API(t, h.Users["cloud.admin"].WriteToken, "DELETE", "/api/v1/webhooks/"+hook, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	sight()
	time.Sleep(500 * time.Millisecond)
	if n := len(cloudRx.deliveries()); n != 2 {
		t.Errorf("a deleted webhook got %d deliveries, want 2", n)
	}
}

// TestWebhookTargets: a webhook names a known event type and an https
// server on the internet; loopback, private and internal targets are
// refused unless the operator allows them.
func TestWebhookTargets(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	strict := notify.New(h.App.DB, h.App.Log, false)
	strict.AddEventTypes("intel.sighting")
	admin := h.Users["sme.admin"].Actor
	for _, c := range []struct{ url, code string }{
		{"http://hooks.example.org/x", "bad_url"},
		{"ftp://hooks.example.org/x", "bad_url"},
		{"https://user:pw@hooks.example.org/x", "bad_url"},
		{"https://127.0.0.1/x", "private_target"},
		{"https://10.1.2.3/x", "private_target"},
		{"https://[::1]/x", "private_target"},
		{"https://[::ffff:192.168.1.1]/x", "private_target"},
		{"https://169.254.169.254/latest/meta-data", "private_target"},
		{"https://localhost/x", "private_target"},
		{"https://intranet/x", "private_target"},
	} {
		_, err := strict.CreateWebhook(t.Context(), admin, notify.WebhookInput{URL: c.url, Events: []string{"intel.sighting"}})
		if err == nil || !strings.Contains(err.Error(), c.code) {
			t.Errorf("%s: %v, want %s", c.url, err, c.code)
		}
	}
	if _, err := strict.CreateWebhook(t.Context(), admin, notify.WebhookInput{URL: "https://hooks.example.org/x", Events: []string{"incident.nothing"}}); err == nil || !strings.Contains(err.Error(), "unknown_event") {
		t.Errorf("an unknown event type: %v", err)
	}
	if r := h.API(t, h.Users["sme.admin"].WriteToken, "POST", "/api/v1/webhooks", map[string]any{"url": "https://hooks.example.org/x"}); r.Status != 400 || r.ErrorCode() != "no_events" {
		t.Errorf("no events: %d %s", r.Status, r.Body)
	}
	if r := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/webhooks", map[string]any{"url": "https://hooks.example.org/x", "events": []string{"intel.sighting"}}); r.Status != 403 {
		t.Errorf("an analyst makes a webhook: %d %s", r.Status, r.Body)
	}
}

// BenchmarkWebhookDeliveries is the webhook figure of docs/PERFORMANCE.md:
// 5,000 events enqueued in one transaction (an incident's worth of
// updates for one org's receiver), delivered to a receiver on loopback
// that checks every signature; deliveries/s from the commit until the
// last one arrived.
func BenchmarkWebhookDeliveries(b *testing.B) {
	h := apptest.World(b, db.SQLite)
	var mu sync.Mutex
	got := map[string]bool{}
	var secret string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("webhook-id")
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + r.Header.Get("webhook-timestamp") + "." + string(body)))
		if r.Header.Get("webhook-signature") != "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)) {
			w.WriteHeader(400)
			return
		}
		mu.Lock()
		got[id] = true
		mu.Unlock()
	}))
	defer srv.Close()
	admin := h.Users["sme.admin"].Actor
	hook, err := h.App.Notify.CreateWebhook(b.Context(), admin, notify.WebhookInput{URL: srv.URL, Events: []string{"intel.sighting"}})
	if err != nil {
		b.Fatal(err)
	}
	secret = hook.Secret
	const n = 5000
	share := h.App.Intel.Kind().Envelope(admin, policy.Amber, policy.Audience{Kind: policy.AudOrg})
	total := 0
	for b.Loop() {
		mu.Lock()
		clear(got)
		mu.Unlock()
		start := time.Now()
		err := h.App.DB.Tx(b.Context(), func(tx *db.Tx) error {
			for i := range n {
				if err := h.App.Notify.Enqueue(b.Context(), tx, notify.Event{Type: "intel.sighting", Share: share, Data: map[string]any{"id": i}}); err != nil {
					return err
				}
			}
			return audit.Write(b.Context(), tx, admin, audit.Entry{Action: "bench.enqueue", Touches: audit.Nothing()})
		})
		if err != nil {
			b.Fatal(err)
		}
		for {
			mu.Lock()
			k := len(got)
			mu.Unlock()
			if k == n {
				break
			}
			if time.Since(start) > time.Minute {
				b.Fatalf("%d of %d deliveries in a minute", k, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "deliveries/s")
}

// TestWebhookPages: an admin makes a webhook on the page and sees its
// secret once, the list names it, its log page shows the deliveries; a
// non-admin is told who manages them, and the navigation offers the page
// to admins only.
func TestWebhookPages(t *testing.T) {
	h := apptest.WorldCovering(t, db.SQLite)
	rc := newReceiver(t)
	admin := h.Login(t, h.Users["cloud.admin"])
	r := admin.PostForm(t, "/webhooks", url.Values{"url": {rc.srv.URL + "/hook"}, "events": {"intel.sighting"}})
	body := string(r.Body)
	if r.Status != http.StatusCreated || !strings.Contains(body, `id="new-secret"`) {
		t.Fatalf("create on the page: %d %s", r.Status, readable(body))
	}
	i := strings.Index(body, "whsec_")
	rc.secret = body[i : i+strings.IndexByte(body[i:], '<')]
	list := string(admin.Get(t, "/webhooks").Body)
	if strings.Contains(list, "whsec_") || !strings.Contains(list, rc.srv.URL+"/hook") || !strings.Contains(list, `href="/webhooks"`) {
		t.Errorf("the list after: %s", readable(list))
	}
	var hooks struct{ Items []struct{ ID string } }
	h.API(t, h.Users["cloud.admin"].WriteToken, "GET", "/api/v1/webhooks", nil).JSON(t, &hooks)
	if len(hooks.Items) != 1 {
		t.Fatalf("webhooks: %+v", hooks)
	}
	// A bad address is shown on the form, with what was typed.
	bad := admin.PostForm(t, "/webhooks", url.Values{"url": {"ftp://x.example/y"}, "events": {"intel.sighting"}})
	if bad.Status != http.StatusBadRequest || !strings.Contains(string(bad.Body), "ftp://x.example/y") || !strings.Contains(string(bad.Body), `aria-invalid="true"`) {
		t.Errorf("a bad address: %d", bad.Status)
	}
	if page := admin.Get(t, "/webhooks/"+hooks.Items[0].ID); page.Status != 200 || !strings.Contains(string(page.Body), `id="delivery-states"`) {
		t.Errorf("the log page: %d", page.Status)
	}
	analyst := h.Login(t, h.Users["cloud.analyst"])
	page := string(analyst.Get(t, "/webhooks").Body)
	if !strings.Contains(page, `id="admins-only"`) || strings.Contains(page, rc.srv.URL) {
		t.Errorf("an analyst's webhook page: %s", readable(page))
	}
	if strings.Contains(string(analyst.Get(t, "/").Body), `href="/webhooks"`) {
		t.Error("the navigation offers webhooks to an analyst")
	}
	if r := admin.PostForm(t, "/webhooks/"+hooks.Items[0].ID+"/delete", url.Values{}); r.Status != http.StatusOK && r.Status != http.StatusSeeOther {
		t.Errorf("stop on the page: %d", r.Status)
	}
}
