package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"verbund/internal/app/apptest"
	"verbund/internal/audit"
	"verbund/internal/config"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/notify"
	"verbund/internal/notify/notifytest"
	"verbund/internal/policy"
)

// mailHub is the test world with e-mail on, sending to srv. The digest
// comes weekly (the tests gather it by hand) and retries are quick.
func mailHub(t testing.TB, e db.Dialect, srv *notifytest.MailServer) *apptest.Hub {
	t.Helper()
	return apptest.WorldCoveringWith(t, e, func(c *config.Config) {
		c.SMTP = config.SMTP{Addr: srv.Addr, From: "verbund <hub@verbund.example>", TLS: "none"}
		c.BaseURL = "https://hub.example"
		c.MailDigest = 7 * 24 * time.Hour
		c.MailBackoff = []time.Duration{300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond,
			300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}
	})
}

// chooseMail sets a person's mail choices through the API.
func chooseMail(t *testing.T, h *apptest.Hub, user string, prefs map[string]string) {
	t.Helper()
	r := h.API(t, h.Users[user].WriteToken, "PATCH", "/api/v1/me/mail", map[string]any{"preferences": prefs})
	if r.Status != http.StatusOK {
		t.Fatalf("mail settings of %s: %d %s", user, r.Status, r.Body)
	}
}

// speak sets a person's language through the API.
func speak(t *testing.T, h *apptest.Hub, user, lang string) {
	t.Helper()
	if r := h.API(t, h.Users[user].WriteToken, "PATCH", "/api/v1/me", map[string]any{"lang": lang}); r.Status != http.StatusOK {
		t.Fatalf("language of %s: %d %s", user, r.Status, r.Body)
	}
}

// envelope is the share of a forum thread, as its author reads it.
func envelope(t testing.TB, h *apptest.Hub, author, thread string) policy.Share {
	t.Helper()
	ctx := context.Background()
	var kind *policy.Kind
	for _, k := range h.App.Sharing.Kinds() {
		if k.Name() == "thread" {
			kind = k
		}
	}
	r, err := policy.NewReader(ctx, h.App.DB.R(), h.Users[author].Actor, db.Now())
	if err != nil {
		t.Fatal(err)
	}
	sh, err := r.Envelope(ctx, h.App.DB.R(), kind, thread)
	if err != nil {
		t.Fatalf("envelope of %s: %v", thread, err)
	}
	return sh
}

// enqueue tells of an event in a transaction of its own, as a capability
// does in the transaction of its change (incidents do not exist yet: a
// thread's envelope stands in for an incident's).
func enqueue(t *testing.T, h *apptest.Hub, e notify.Event) {
	t.Helper()
	// The change it tells of would be audited; here there is none.
	ctx := dbtest.Unaudited(context.Background())
	if err := h.App.DB.Tx(ctx, func(tx *db.Tx) error { return h.App.Notify.Enqueue(ctx, tx, e) }); err != nil {
		t.Fatalf("enqueue %s: %v", e.Type, err)
	}
}

// quiet waits a moment and fails if anyone but the expected got mail.
func onlyTo(t *testing.T, srv *notifytest.MailServer, h *apptest.Hub, want ...string) {
	t.Helper()
	time.Sleep(700 * time.Millisecond) // what else would come, comes now
	var addrs []string
	for _, u := range want {
		addrs = append(addrs, h.Users[u].Email)
	}
	for _, m := range srv.Mails() {
		for _, to := range m.To {
			if !slices.Contains(addrs, to) {
				t.Errorf("a mail went to %s (%q), who should get none", to, m.Subject)
			}
		}
	}
	for i, a := range addrs {
		if len(srv.To(a)) == 0 {
			t.Errorf("%s got no mail", want[i])
		}
	}
}

// TestMailInstant: an incident event (a thread's envelope standing in)
// reaches, at once and in each person's language, the people of the orgs
// that may see it, as plain text with an HTML alternative and a link to
// the hub; never its description; not the person who made the change;
// nobody of an org outside the audience or not covered by the charter.
func TestMailInstant(t *testing.T) { eachEngine(t, testMailInstant) }

func testMailInstant(t *testing.T, e db.Dialect) {
	srv := notifytest.StartMailServer(t)
	h := mailHub(t, e, srv)
	speak(t, h, "cloud.analyst", "de")
	// Only a few people keep the default (incidents at once): the others
	// turn incidents off, so that the test names every recipient.
	keep := []string{"sme.admin", "cloud.analyst", "cloud.viewer", "nocontract.analyst", "outsider.analyst", "sme.analyst"}
	for k := range h.Users {
		if !slices.Contains(keep, k) {
			chooseMail(t, h, k, map[string]string{"incidents": "off"})
		}
	}
	th := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": "Ransomware bei Müller", "body": "b", "tlp": "AMBER", "audience": "community", "community_id": h.Circle})
	sh := envelope(t, h, "sme.analyst", th.thread)
	enqueue(t, h, notify.Event{Type: "incident.updated", Share: sh, Severity: notify.High, By: h.Users["sme.analyst"].ID,
		Data: map[string]any{"id": th.thread, "title": "Ransomware bei Müller", "status": "acknowledged", "path": "/incidents/" + th.thread,
			"description": "SECRET-DESCRIPTION"}})
	srv.Wait(t, 3, 10*time.Second)
	// nocontract is in the circle but never accepted its charter; the
	// outsider is in no circle; sme.analyst made the change.
	onlyTo(t, srv, h, "sme.admin", "cloud.analyst", "cloud.viewer")
	en, de := srv.To(h.Users["sme.admin"].Email)[0], srv.To(h.Users["cloud.analyst"].Email)[0]
	if en.Subject != "[verbund] Incident: Ransomware bei Müller — acknowledged" {
		t.Errorf("English subject %q", en.Subject)
	}
	if de.Subject != "[verbund] Sicherheitsvorfall: Ransomware bei Müller — bestätigt" || de.Lang != "de" || !strings.Contains(de.Text, "Schweregrad: Hoch") {
		t.Errorf("German mail: %q (%s)\n%s", de.Subject, de.Lang, de.Text)
	}
	link := "https://hub.example/incidents/" + th.thread
	for _, m := range []notifytest.Mail{en, de} {
		if !strings.Contains(m.Text, link) || !strings.Contains(m.HTML, `href="`+link+`"`) || !strings.Contains(m.HTML, "Ransomware bei Müller") {
			t.Errorf("mail to %v lacks the link or its HTML:\n%s\n%s", m.To, m.Text, m.HTML)
		}
		if strings.Contains(string(m.Raw), "SECRET-DESCRIPTION") {
			t.Errorf("a mail shows the description: %s", m.Raw)
		}
		if !strings.HasSuffix(strings.Trim(m.MessageID, "<>"), "@verbund") {
			t.Errorf("Message-ID %q", m.MessageID)
		}
	}
	// The logs: each person their own; an org's admins their org's,
	// naming no object.
	var mine struct{ Items []notify.MailDelivery }
	h.API(t, h.Users["cloud.analyst"].ReadToken, "GET", "/api/v1/me/mail/deliveries", nil).JSON(t, &mine)
	if len(mine.Items) != 1 || mine.Items[0].State != "delivered" || mine.Items[0].Type != "incident.updated" || mine.Items[0].Kind != "instant" {
		t.Errorf("cloud.analyst's log: %+v", mine.Items)
	}
	org := h.API(t, h.Users["sme.admin"].WriteToken, "GET", "/api/v1/mail/deliveries", nil)
	var orgLog struct{ Items []notify.MailDelivery }
	org.JSON(t, &orgLog)
	if len(orgLog.Items) != 1 || orgLog.Items[0].Person != h.Users["sme.admin"].ID || strings.Contains(string(org.Body), th.thread) {
		t.Errorf("sme's org log: %s", org.Body)
	}
	if r := h.API(t, h.Users["sme.analyst"].WriteToken, "GET", "/api/v1/mail/deliveries", nil); r.Status != http.StatusForbidden {
		t.Errorf("an analyst reads the org's mail log: %d", r.Status)
	}
	// The page: the admin's org log with its chart; an analyst's page has
	// no org log.
	page := string(h.Login(t, h.Users["sme.admin"]).Get(t, "/profile/mail").Body)
	if !strings.Contains(page, `id="mail-states"`) || !strings.Contains(page, `id="org-mails"`) || !strings.Contains(page, "An incident changed") || strings.Contains(page, "Ransomware") {
		t.Errorf("the admin's mail page: %s", page)
	}
	if page := string(h.Login(t, h.Users["sme.analyst2"]).Get(t, "/profile/mail").Body); strings.Contains(page, `id="org-mails"`) {
		t.Errorf("an analyst's page shows the org log")
	}
}

// TestMailLeaks: a TLP:RED object for named people is mailed only to
// them (and its author), never to their colleagues who are not named;
// an intel sighting only to the orgs of its audience.
func TestMailLeaks(t *testing.T) { eachEngine(t, testMailLeaks) }

func testMailLeaks(t *testing.T, e db.Dialect) {
	srv := notifytest.StartMailServer(t)
	h := mailHub(t, e, srv)
	for k := range h.Users {
		chooseMail(t, h, k, map[string]string{"incidents": "instant", "intel": "instant"})
	}
	red := newThread(t, h, "sme.analyst", h.OrgChannel["sme"], map[string]any{"title": "Leak bei Kunde", "body": "b", "tlp": "RED", "audience": "people",
		"people": []string{h.Users["sme.analyst2"].ID}})
	enqueue(t, h, notify.Event{Type: "incident.created", Share: envelope(t, h, "sme.analyst", red.thread),
		Data: map[string]any{"id": red.thread, "title": "Leak bei Kunde", "status": "reported", "path": "/incidents/" + red.thread}})
	srv.Wait(t, 2, 10*time.Second)
	onlyTo(t, srv, h, "sme.analyst2", "sme.analyst")

	// A sighting of cloud's indicator by sme goes to its owner: sme and
	// cloud, not the CERT (in the circle, not in the audience), nor the
	// outsider.
	srv2 := srv.Mails()
	const ind = "indicator--77777777-0000-4000-8000-000000000001"
	id := importAs(t, h, "cloud.analyst", "community="+h.Circle+"&tlp=AMBER", `{"type":"bundle","id":"bundle--77777777-0000-4000-8000-000000000009","objects":[
	 {"type":"indicator","spec_version":"2.1","id":"`+ind+`","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"scanner",
	  "pattern":"[ipv4-addr:value = '203.0.113.77']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}`, ind)
	if r := h.API(t, h.Users["sme.analyst"].WriteToken, "POST", "/api/v1/intel/objects/"+id+"/sightings", map[string]any{"count": 1}); r.Status != http.StatusCreated {
		t.Fatalf("sighting: %d %s", r.Status, r.Body)
	}
	time.Sleep(time.Second)
	for _, m := range srv.Mails()[len(srv2):] {
		to := m.To[0]
		if !strings.HasSuffix(to, "@sme.example") && !strings.HasSuffix(to, "@cloud.example") {
			t.Errorf("a sighting mail went to %s", to)
		}
		if !strings.Contains(m.Subject, "new sighting") {
			t.Errorf("sighting subject %q", m.Subject)
		}
	}
	// One per person of sme and cloud (auditors and viewers see it too),
	// but not the reporter.
	if n := len(srv.Mails()) - len(srv2); n != 8 {
		t.Errorf("%d sighting mails, want 8: one per person of sme and cloud but the reporter", n)
	}
	for _, m := range srv.Mails()[len(srv2):] {
		if m.To[0] == h.Users["sme.analyst"].Email {
			t.Errorf("the reporter got a mail of their own sighting")
		}
	}
}

// TestMailRetriesAndRechecks: while the mail server is down, mails wait
// and are retried (nothing lost); before each attempt the recipient's
// sight is judged again: a deleted object's mails and a disabled
// person's are not sent, and the log says why.
func TestMailRetriesAndRechecks(t *testing.T) { eachEngine(t, testMailRetries) }

func testMailRetries(t *testing.T, e db.Dialect) {
	srv := notifytest.StartMailServer(t)
	h := mailHub(t, e, srv)
	for k := range h.Users {
		if !strings.HasPrefix(k, "sme.") {
			chooseMail(t, h, k, map[string]string{"incidents": "off"})
		}
	}
	srv.Stop()
	keep := newThread(t, h, "sme.analyst", h.OrgChannel["sme"], map[string]any{"title": "Bleibt", "body": "b", "tlp": "AMBER", "audience": "org"})
	gone := newThread(t, h, "sme.analyst", h.OrgChannel["sme"], map[string]any{"title": "Geht", "body": "b", "tlp": "AMBER", "audience": "org"})
	for _, th := range []created{keep, gone} {
		enqueue(t, h, notify.Event{Type: "incident.comment", Share: envelope(t, h, "sme.analyst", th.thread),
			Data: map[string]any{"id": th.thread, "title": th.title, "path": "/incidents/" + th.thread, "summary": "neuer Kommentar"}})
	}
	// Attempts fail while the server is down.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var log struct{ Items []notify.MailDelivery }
		h.API(t, h.Users["sme.admin"].ReadToken, "GET", "/api/v1/me/mail/deliveries", nil).JSON(t, &log)
		if len(log.Items) == 2 && log.Items[0].Attempts >= 2 && log.Items[0].LastError == "unreachable" && log.Items[0].State == "pending" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempts while the server is down: %+v", log.Items)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := h.API(t, h.Users["sme.analyst"].WriteToken, "DELETE", "/api/v1/threads/"+gone.thread, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete thread: %d %s", r.Status, r.Body)
	}
	if r := h.API(t, h.Users["sme.admin"].WriteToken, "PATCH", "/api/v1/users/"+h.Users["sme.viewer"].ID, map[string]any{"disabled": true}); r.Status != http.StatusOK {
		t.Fatalf("disable sme.viewer: %d %s", r.Status, r.Body)
	}
	srv.Start()
	// sme's people but the viewer, once each, of the thread that stays.
	want := []string{"sme.admin", "sme.analyst", "sme.analyst2", "sme.auditor"}
	srv.Wait(t, len(want), 15*time.Second)
	onlyTo(t, srv, h, want...)
	for _, m := range srv.Mails() {
		if !strings.Contains(m.Subject, "Bleibt") {
			t.Errorf("a mail of the deleted thread: %q", m.Subject)
		}
	}
	if n := len(srv.Mails()); n != len(want) {
		t.Errorf("%d mails, want %d", n, len(want))
	}
	var log struct{ Items []notify.MailDelivery }
	h.API(t, h.Users["sme.admin"].WriteToken, "GET", "/api/v1/mail/deliveries?limit=50", nil).JSON(t, &log)
	states := map[string]int{}
	for _, d := range log.Items {
		states[d.State+"/"+d.LastError]++
	}
	// gone: not visible (the viewer's: disabled); keep: delivered (the
	// viewer's: disabled).
	if states["skipped/not_visible"] != 4 || states["delivered/"] != 4 || states["skipped/disabled"] != 2 {
		t.Errorf("the org's log: %v", states)
	}
}

// TestMailDigest: what a person chose for the digest waits, and one
// mail gathers it (in their language); items they may no longer see are
// left out.
func TestMailDigest(t *testing.T) { eachEngine(t, testMailDigest) }

func testMailDigest(t *testing.T, e db.Dialect) {
	srv := notifytest.StartMailServer(t)
	h := mailHub(t, e, srv)
	for k := range h.Users {
		chooseMail(t, h, k, map[string]string{"incidents": "off", "intel": "off", "training": "off"})
	}
	chooseMail(t, h, "sme.admin", map[string]string{"incidents": "digest"})
	speak(t, h, "sme.admin", "de")
	var ths []created
	for _, title := range []string{"Erster", "Zweiter", "Dritter"} {
		th := newThread(t, h, "sme.analyst", h.OrgChannel["sme"], map[string]any{"title": title, "body": "b", "tlp": "AMBER", "audience": "org"})
		ths = append(ths, th)
		enqueue(t, h, notify.Event{Type: "incident.updated", Share: envelope(t, h, "sme.analyst", th.thread),
			Data: map[string]any{"id": th.thread, "title": title, "status": "contained", "path": "/incidents/" + th.thread}})
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(srv.Mails()); n != 0 {
		t.Fatalf("%d mails before the digest", n)
	}
	if r := h.API(t, h.Users["sme.analyst"].WriteToken, "DELETE", "/api/v1/threads/"+ths[2].thread, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete thread: %d %s", r.Status, r.Body)
	}
	// The digest period ends (the clock a week on).
	n, err := h.App.Notify.GatherDigests(context.Background(), db.Now()+(8*24*time.Hour).Microseconds())
	if err != nil || n != 1 {
		t.Fatalf("gather digests: %d %v", n, err)
	}
	got := srv.Wait(t, 1, 10*time.Second)
	onlyTo(t, srv, h, "sme.admin")
	m := got[0]
	if m.Subject != "[verbund] Ihre Zusammenfassung: 2 Benachrichtigungen" || !strings.Contains(m.Text, "Erster") || !strings.Contains(m.Text, "Zweiter") ||
		strings.Contains(m.Text, "Dritter") || !strings.Contains(m.Text, "eingedämmt") || !strings.Contains(m.HTML, "https://hub.example/incidents/"+ths[1].thread) {
		t.Errorf("the digest: %q\n%s", m.Subject, m.Text)
	}
	var log struct{ Items []notify.MailDelivery }
	h.API(t, h.Users["sme.admin"].ReadToken, "GET", "/api/v1/me/mail/deliveries", nil).JSON(t, &log)
	states := map[string]int{}
	for _, d := range log.Items {
		states[d.Kind+"/"+d.State]++
		if d.Kind == "digest" && d.Items != 3 {
			t.Errorf("the digest has %d items, want 3 (one left out)", d.Items)
		}
	}
	if states["digest/delivered"] != 1 || states["item/delivered"] != 2 || states["item/skipped"] != 1 {
		t.Errorf("the log: %v", states)
	}
	// Nothing is left to gather.
	if n, err := h.App.Notify.GatherDigests(context.Background(), db.Now()+(8*24*time.Hour).Microseconds()); err != nil || n != 0 {
		t.Errorf("a second gathering: %d %v", n, err)
	}
}

// TestMailSettings: the API and the page (en/de) read and change a
// person's own choices, bad input gets a stable code, and a hub without
// a mail server says so.
func TestMailSettings(t *testing.T) {
	h := apptest.World(t, db.SQLite)
	u := h.Users["sme.analyst"]
	var p notify.MailPrefs
	h.API(t, u.ReadToken, "GET", "/api/v1/me/mail", nil).JSON(t, &p)
	modes := map[string]string{}
	for _, x := range p.Preferences {
		modes[x.Group] = x.Mode
	}
	if p.Enabled || modes["incidents"] != "instant" || modes["intel"] != "digest" || modes["training"] != "digest" {
		t.Errorf("defaults: %+v", p)
	}
	for body, code := range map[string]string{`{"preferences":{"intel":"loud"}}`: "bad_mode", `{"preferences":{"weather":"off"}}`: "unknown_group", `{"preferences":{}}`: "no_preferences"} {
		var in any
		_ = json.Unmarshal([]byte(body), &in)
		if r := h.API(t, u.WriteToken, "PATCH", "/api/v1/me/mail", in); r.Status != http.StatusBadRequest || r.ErrorCode() != code {
			t.Errorf("%s: %d %s, want 400 %s", body, r.Status, r.Body, code)
		}
	}
	b := h.Login(t, u)
	page := b.Get(t, "/profile/mail")
	if page.Status != http.StatusOK || !strings.Contains(string(page.Body), `id="mail-off"`) || !strings.Contains(string(page.Body), `name="intel" value="digest"`) {
		t.Fatalf("the page: %d %s", page.Status, page.Body)
	}
	if r := b.PostForm(t, "/profile/mail", url.Values{"intel": {"instant"}, "training": {"off"}}); r.Status != http.StatusOK && r.Status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", r.Status, r.Body)
	}
	h.API(t, u.ReadToken, "GET", "/api/v1/me/mail", nil).JSON(t, &p)
	for _, x := range p.Preferences {
		modes[x.Group] = x.Mode
	}
	if modes["intel"] != "instant" || modes["training"] != "off" || modes["incidents"] != "instant" {
		t.Errorf("after saving: %+v", p)
	}
	speak(t, h, "sme.analyst", "de")
	b = h.Login(t, u)
	if de := b.Get(t, "/profile/mail"); !strings.Contains(string(de.Body), "E-Mail-Benachrichtigungen") || !strings.Contains(string(de.Body), "keine E-Mails") {
		t.Errorf("the German page: %s", de.Body)
	}
	if recs := auditRecords(t, h, "sme.admin"); !slices.ContainsFunc(recs, func(r audit.Record) bool { return r.Action == "mail.preferences" }) {
		t.Errorf("the change is not audited")
	}
}

// TestMailTrainingReminder: the hub's own reminder before a due date
// goes by mail, in their language, to the assigned people who have not
// passed and chose it; not to those who passed.
func TestMailTrainingReminder(t *testing.T) { eachEngine(t, testMailTrainingReminder) }

func testMailTrainingReminder(t *testing.T, e db.Dialect) {
	srv := notifytest.StartMailServer(t)
	h := mailHub(t, e, srv)
	for _, u := range []string{"sme.viewer", "sme.analyst2", "sme.auditor"} {
		chooseMail(t, h, u, map[string]string{"training": "instant"})
	}
	speak(t, h, "sme.viewer", "de")
	mod := createModule(t, h, "sme.analyst", phishingModule(map[string]any{"tlp": "AMBER", "audience": "org"}))
	tomorrow := time.Now().AddDate(0, 0, 1).Format("2006-01-02")
	r := h.API(t, h.Users["sme.admin"].WriteToken, http.MethodPost, "/api/v1/training/modules/"+mod+"/assignments",
		map[string]any{"target": "people", "people": []string{h.Users["sme.viewer"].ID, h.Users["sme.analyst2"].ID}, "due_date": tomorrow})
	if r.Status != http.StatusCreated {
		t.Fatalf("assign: %d %s", r.Status, r.Body)
	}
	if r := h.API(t, h.Users["sme.analyst2"].WriteToken, http.MethodPost, "/api/v1/training/modules/"+mod+"/answers", map[string]any{"answers": phishingRight}); r.Status != http.StatusCreated {
		t.Fatalf("answer: %d %s", r.Status, r.Body)
	}
	if n, err := h.App.Training.RemindDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("remind: %d %v", n, err)
	}
	m := srv.Wait(t, 1, 10*time.Second)[0]
	onlyTo(t, srv, h, "sme.viewer")
	if !strings.HasPrefix(m.Subject, "[verbund] Schulung: Phishing erkennen ist am ") || !strings.Contains(m.Text, "https://hub.example/training/modules/"+mod) {
		t.Errorf("the reminder: %q\n%s", m.Subject, m.Text)
	}
}

// TestMailLeakTable: the leak harness's table, by e-mail. An incident
// event about an object of each envelope (a thread's standing in) is
// mailed to exactly the readers who may see it, as created; and events
// written while a reader could still see the object are not sent once
// they no longer may (cloud left the circle; the sme↔cloud agreement
// revoked): judged again right before sending.
func TestMailLeakTable(t *testing.T) { eachEngine(t, testMailLeakTable) }

func testMailLeakTable(t *testing.T, e db.Dialect) {
	srv := notifytest.StartMailServer(t)
	h := mailHub(t, e, srv)
	readers := apptest.LeakReaders()
	for k := range h.Users {
		mode := "off"
		if slices.Contains(readers, k) {
			mode = "instant"
		}
		chooseMail(t, h, k, map[string]string{"incidents": mode})
	}
	table := apptest.LeakTable(h)
	var shares []policy.Share
	for i, row := range table {
		s := row.Sharing
		th := newThread(t, h, "sme.analyst", h.CircleChannel, map[string]any{"title": fmt.Sprintf("mailleak%d", i), "body": "b", "tlp": s.TLP, "audience": s.Audience,
			"community_id": s.Community, "orgs": s.Orgs, "people": s.People})
		shares = append(shares, envelope(t, h, "sme.analyst", th.thread))
	}
	ctx := context.Background()
	settled := func() {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			var n int
			if err := h.App.DB.R().QueryRow(ctx, `SELECT COUNT(*) FROM mail_outbox WHERE state = 'pending'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d mails still pending", n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for moment, name := range []string{"as created", "after cloud left the circle", "after the sme-cloud agreement was revoked"} {
		// The events are written while everyone of the moment before may
		// still see the objects; the server is down until the change.
		srv.Stop()
		before := len(srv.Mails())
		for i, sh := range shares {
			enqueue(t, h, notify.Event{Type: "incident.updated", Share: sh,
				Data: map[string]any{"id": sh.ID, "title": fmt.Sprintf("mailleak%d-m%d", i, moment), "status": "investigating", "path": "/incidents/" + sh.ID}})
		}
		// Every mail failed once (the server is down): the change comes
		// after they were first judged.
		deadline := time.Now().Add(10 * time.Second)
		for {
			var n int
			if err := h.App.DB.R().QueryRow(ctx, `SELECT COUNT(*) FROM mail_outbox WHERE state = 'pending' AND attempts = 0`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d mails never tried", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		switch moment {
		case 1:
			if err := h.App.Orgs.Leave(ctx, h.Users["cloud.admin"].Actor, h.Circle, h.Orgs["cloud"]); err != nil {
				t.Fatal(err)
			}
		case 2:
			if _, err := h.App.Agreements.Revoke(ctx, h.Users["sme.admin"].Actor, h.Bilateral); err != nil {
				t.Fatal(err)
			}
		}
		// A round that judged before the change fails at the closed port.
		time.Sleep(300 * time.Millisecond)
		srv.Start()
		settled()
		got := map[string]map[string]bool{}
		for _, m := range srv.Mails()[before:] {
			got[m.To[0]] = map[string]bool{}
		}
		for _, m := range srv.Mails()[before:] {
			got[m.To[0]][m.Subject] = true
		}
		for _, r := range readers {
			for i, row := range table {
				subject := fmt.Sprintf("[verbund] Incident: mailleak%d-m%d — investigating", i, moment)
				sees, sent := slices.Contains(row.Sees[moment], r), got[h.Users[r].Email][subject]
				want := sees
				if row.Sharing.TLP == "CLEAR" {
					// Mail goes to whom an object is addressed when the
					// event is written: a CLEAR object of the circle to
					// the circle's members then (cloud left before the
					// events of the last moment), not to everyone who may
					// read it on the hub.
					want = sees && !strings.HasPrefix(r, "outsider.") && !(moment > 1 && strings.HasPrefix(r, "cloud."))
				}
				if sent && !sees {
					t.Errorf("LEAK by e-mail %s: %s received %s", name, r, row.Name)
				}
				if sent != want && sees {
					t.Errorf("e-mail %s: %s received %s: %v, want %v", name, r, row.Name, sent, want)
				}
			}
		}
	}
}
