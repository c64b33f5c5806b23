package apptest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"verbund/internal/db"
	"verbund/internal/db/dbtest"
	"verbund/internal/policy"
)

// The leak harness: one world, one table of envelopes, three moments, and
// every registered shareable kind read on every path by every kind of
// reader. A kind describes itself (LeakKind, in its capability's kit):
// how to create an object with a given sharing, and every path (route)
// that shows its objects, with a check of what a reader gets there. The
// harness creates one object per envelope, then checks every path for
// every reader against the rule book's answer (the table below), once as
// created, once after cloud has left the trust circle, and once after the
// sme↔cloud agreement has been revoked too. Live streams are checked
// when objects are created and, for kinds that can be touched, after each
// change.

// LeakKind describes one shareable kind to the leak harness.
type LeakKind struct {
	Kind string // the kind's name in the sharing kernel, e.g. "post"
	// Setup prepares what the objects live in (a thread for replies, say)
	// once per world; the result is LeakCase.State.
	Setup func(t testing.TB, c *LeakCase) any
	// Create makes one object as sme.analyst with sharing s, with marker
	// (a word no other object contains) wherever the object's text is
	// shown and searched, and returns the object's id.
	Create func(t testing.TB, c *LeakCase, s policy.Sharing, marker string) string
	// Streamed: creating an object announces it on GET /events with data
	// id = the object's id.
	Streamed bool
	// Touch changes an object so that it is announced on live streams
	// again (nil: streams are checked at creation only).
	Touch func(t testing.TB, c *LeakCase, obj LeakObject)
	// Paths are every way the kind's objects can be read.
	Paths []Path
}

// Path is one way objects of a kind can be read: the route it reads
// through and a check that reports, through t, an object the reader sees
// but must not (a leak) or does not see but should.
type Path struct {
	Route string // the route pattern, e.g. "GET /api/v1/posts/{id}"
	Check func(t testing.TB, c *LeakCase, reader *User, objs []LeakObject)
}

// LeakObject is one object of the harness, with the answer of the rule
// book for the reader of the check at hand.
type LeakObject struct {
	ID       string
	Marker   string
	Envelope string // name in the table, for messages
	Visible  bool
}

// LeakCase is one kind's run: the hub and what the kind's Setup made.
type LeakCase struct {
	Hub   *Hub
	State any
}

// LeakReaders are the readers of the leak world: the author's org (the
// author, a colleague named on TLP:RED, a colleague who is not), a
// circle member with a bilateral agreement (the named person and a
// colleague), a circle member covered by the charter only, a circle
// member without any agreement, and an org outside every circle.
func LeakReaders() []string {
	return []string{"sme.analyst", "sme.analyst2", "sme.viewer", "cloud.analyst", "cloud.admin", "cert.analyst",
		"nocontract.analyst", "outsider.analyst"}
}

// leakEnvelope is one row of the table: a sharing and who may see it at
// each moment (as created; after cloud left the circle; after the
// sme↔cloud agreement was revoked too).
type leakEnvelope struct {
	name    string
	sharing policy.Sharing
	sees    [3][]string
}

// leakEnvelopes is the table. The CLEAR envelope comes last: every reader
// sees it, so its event on a stream shows that every earlier one has been
// decided for that stream.
func leakEnvelopes(h *Hub) []leakEnvelope {
	sme := []string{"sme.analyst", "sme.analyst2", "sme.viewer"}
	with := func(more ...string) []string { return append(slices.Clone(sme), more...) }
	same := func(s []string) [3][]string { return [3][]string{s, s, s} }
	circle := policy.Sharing{Audience: "community", Community: h.Circle}
	at := func(tlp string, s policy.Sharing) policy.Sharing { s.TLP = tlp; return s }
	cloud := policy.Sharing{Audience: "orgs", Orgs: []string{h.Orgs["cloud"]}}
	return []leakEnvelope{
		{"GREEN to the circle", at("GREEN", circle), [3][]string{with("cloud.analyst", "cloud.admin", "cert.analyst"), with("cert.analyst"), with("cert.analyst")}},
		{"AMBER to the circle", at("AMBER", circle), [3][]string{with("cloud.analyst", "cloud.admin", "cert.analyst"), with("cert.analyst"), with("cert.analyst")}},
		{"GREEN to cloud", at("GREEN", cloud), [3][]string{with("cloud.analyst", "cloud.admin"), with("cloud.analyst", "cloud.admin"), sme}},
		{"AMBER+STRICT to cloud", at("AMBER+STRICT", cloud), [3][]string{with("cloud.analyst", "cloud.admin"), with("cloud.analyst", "cloud.admin"), sme}},
		{"RED to two people", policy.Sharing{TLP: "RED", Audience: "people", People: []string{h.Users["sme.analyst2"].ID, h.Users["cloud.analyst"].ID}},
			[3][]string{{"sme.analyst", "sme.analyst2", "cloud.analyst"}, {"sme.analyst", "sme.analyst2", "cloud.analyst"}, {"sme.analyst", "sme.analyst2"}}},
		{"AMBER in the org", policy.Sharing{TLP: "AMBER", Audience: "org"}, same(sme)},
		{"AMBER to cert", policy.Sharing{TLP: "AMBER", Audience: "orgs", Orgs: []string{h.Orgs["cert"]}}, same(with("cert.analyst"))},
		{"GREEN to one person", policy.Sharing{TLP: "GREEN", Audience: "people", People: []string{h.Users["cert.analyst"].ID}}, same(with("cert.analyst"))},
		{"CLEAR to the circle", at("CLEAR", circle), same(LeakReaders())},
	}
}

// RunLeaks runs the harness for every kind of every kit on every engine,
// each kind in a world of its own.
func RunLeaks(t *testing.T, kits ...Kit) {
	for _, e := range dbtest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			for _, k := range kits {
				for _, lk := range k.Kinds {
					t.Run(lk.Kind, func(t *testing.T) { runLeakKind(t, e, lk) })
				}
			}
		})
	}
}

func runLeakKind(t *testing.T, e db.Dialect, k LeakKind) {
	if len(k.Paths) == 0 || k.Create == nil {
		t.Fatalf("kind %s: the harness needs Create and at least one path", k.Kind)
	}
	h := worldOn(t, dbtest.Open(t, e), policy.AllCategories.Names())
	c := &LeakCase{Hub: h}
	if k.Setup != nil {
		c.State = k.Setup(t, c)
	}
	streams := map[string]*leakStream{}
	if k.Streamed {
		for _, r := range LeakReaders() {
			streams[r] = openLeakStream(t, h, h.Users[r].ReadToken)
		}
	}
	envs := leakEnvelopes(h)
	objs := make([]LeakObject, len(envs))
	for i, env := range envs {
		marker := fmt.Sprintf("leakmark%dx%s", i, strings.ReplaceAll(k.Kind, "_", ""))
		objs[i] = LeakObject{ID: k.Create(t, c, env.sharing, marker), Marker: marker, Envelope: env.name}
	}
	ctx := context.Background()
	for moment, name := range []string{"as created", "after cloud left the circle", "after the sme-cloud agreement was revoked"} {
		switch moment {
		case 1:
			must(t, h.App.Orgs.Leave(ctx, h.Users["cloud.admin"].Actor, h.Circle, h.Orgs["cloud"]))
		case 2:
			_, err := h.App.Agreements.Revoke(ctx, h.Users["sme.admin"].Actor, h.Bilateral)
			must(t, err)
		}
		t.Run(name, func(t *testing.T) {
			for _, r := range LeakReaders() {
				mine := make([]LeakObject, len(objs))
				for i, o := range objs {
					o.Visible = slices.Contains(envs[i].sees[moment], r)
					mine[i] = o
				}
				for _, p := range k.Paths {
					p.Check(t, c, h.Users[r], mine)
				}
			}
			if !k.Streamed || (moment > 0 && k.Touch == nil) {
				return
			}
			if moment > 0 {
				for _, s := range streams {
					s.reset()
				}
				for _, o := range objs {
					k.Touch(t, c, o)
				}
			}
			barrier := objs[len(objs)-1].ID
			for _, r := range LeakReaders() {
				seen := streams[r].waitFor(t, r, barrier, 10*time.Second)
				for i, o := range objs {
					want := slices.Contains(envs[i].sees[moment], r)
					if seen[o.ID] && !want {
						t.Errorf("LEAK on GET /events: %s received %s (%s)", r, o.Envelope, o.ID)
					}
					if !seen[o.ID] && want {
						t.Errorf("GET /events: %s did not receive %s (%s)", r, o.Envelope, o.ID)
					}
				}
			}
		})
	}
}

// leakStream collects the data ids of the events on one live stream.
type leakStream struct {
	mu     sync.Mutex
	seen   map[string]bool
	notify chan struct{}
}

func openLeakStream(t testing.TB, h *Hub, token string) *leakStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL+"/events", nil)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("open stream: status %d", resp.StatusCode)
	}
	s := &leakStream{seen: map[string]bool{}, notify: make(chan struct{}, 1)}
	ready := make(chan struct{})
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, ": connected") {
				close(ready)
			}
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			var m map[string]string
			if json.Unmarshal([]byte(data), &m) != nil || m["id"] == "" {
				continue
			}
			s.mu.Lock()
			s.seen[m["id"]] = true
			s.mu.Unlock()
			select {
			case s.notify <- struct{}{}:
			default:
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("stream did not connect")
	}
	return s
}

func (s *leakStream) reset() {
	s.mu.Lock()
	clear(s.seen)
	s.mu.Unlock()
}

// waitFor waits until the event of barrier arrived (every earlier event
// has then been decided for this stream) and returns the ids seen.
func (s *leakStream) waitFor(t testing.TB, reader, barrier string, within time.Duration) map[string]bool {
	t.Helper()
	deadline := time.After(within)
	for {
		s.mu.Lock()
		if s.seen[barrier] {
			out := make(map[string]bool, len(s.seen))
			for k, v := range s.seen {
				out[k] = v
			}
			s.mu.Unlock()
			return out
		}
		s.mu.Unlock()
		select {
		case <-s.notify:
		case <-deadline:
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("GET /events: the event of %s did not reach %s within %v (it saw %v)", barrier, reader, within, s.seen)
			return nil
		}
	}
}

// The checks kits use in their paths.

// ExpectIDs compares the ids a list shows with the rule book: every
// visible object must be among them, no invisible one may be. Ids of
// other objects (not the harness's) are ignored.
func ExpectIDs(t testing.TB, what string, reader *User, got []string, objs []LeakObject) {
	t.Helper()
	for _, o := range objs {
		shown := slices.Contains(got, o.ID)
		if shown && !o.Visible {
			t.Errorf("LEAK on %s: %s sees %s (%s)", what, reader.Key, o.Envelope, o.ID)
		}
		if !shown && o.Visible {
			t.Errorf("%s: %s does not see %s (%s)", what, reader.Key, o.Envelope, o.ID)
		}
	}
}

// ExpectMarkers checks a page's text: no marker of an invisible object may
// appear; with exact, every visible object's marker must.
func ExpectMarkers(t testing.TB, what string, reader *User, page string, objs []LeakObject, exact bool) {
	t.Helper()
	for _, o := range objs {
		shown := strings.Contains(page, o.Marker)
		if shown && !o.Visible {
			t.Errorf("LEAK on %s: %s sees %s (%s)", what, reader.Key, o.Envelope, o.ID)
		}
		if exact && !shown && o.Visible {
			t.Errorf("%s: %s does not see %s (%s)", what, reader.Key, o.Envelope, o.ID)
		}
	}
}

// ExpectDetail requests path (with %s for the object's id) for every
// object: 200 when visible, else 404 with the body of a missing id.
func ExpectDetail(t testing.TB, c *LeakCase, reader *User, path string, objs []LeakObject) {
	t.Helper()
	for _, o := range objs {
		r := c.Hub.API(t, reader.ReadToken, http.MethodGet, fmt.Sprintf(path, o.ID), nil)
		switch {
		case o.Visible && r.Status != http.StatusOK:
			t.Errorf("GET %s: %s gets %d for %s, want 200", path, reader.Key, r.Status, o.Envelope)
		case !o.Visible && r.Status != http.StatusNotFound:
			t.Errorf("LEAK on GET %s: %s gets %d for %s, want 404", path, reader.Key, r.Status, o.Envelope)
		case !o.Visible && strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") && r.ErrorCode() != "not_found":
			t.Errorf("LEAK on GET %s: %s gets %s for %s, want the plain not_found", path, reader.Key, r.Body, o.Envelope)
		}
	}
}

// ListIDs reads the ids of an API list (all pages).
func ListIDs(t testing.TB, c *LeakCase, reader *User, path string) []string {
	t.Helper()
	var ids []string
	next := ""
	for range 100 {
		p := path
		if next != "" {
			p += map[bool]string{true: "&", false: "?"}[strings.Contains(p, "?")] + "next=" + next
		}
		r := c.Hub.API(t, reader.ReadToken, http.MethodGet, p, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s as %s: %d %s", p, reader.Key, r.Status, r.Body)
		}
		var page struct {
			Items []struct{ ID string }
			Next  string
		}
		r.JSON(t, &page)
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		if page.Next == "" {
			return ids
		}
		next = page.Next
	}
	t.Fatalf("GET %s: more than 100 pages", path)
	return nil
}

// Page reads a page as reader (bearer token) and returns its status and text.
func Page(t testing.TB, c *LeakCase, reader *User, path string) (int, string) {
	t.Helper()
	r := c.Hub.API(t, reader.ReadToken, http.MethodGet, path, nil)
	return r.Status, string(r.Body)
}

// LeakRow is one row of the harness's table: a sharing and who of
// LeakReaders may see an object with it as created, after cloud left the
// circle, and after the sme↔cloud agreement was revoked too. Tests of
// ways out that are not routes (e-mail) check themselves against it.
type LeakRow struct {
	Name    string
	Sharing policy.Sharing
	Sees    [3][]string
}

// LeakTable is the harness's table for the world h.
func LeakTable(h *Hub) []LeakRow {
	var out []LeakRow
	for _, e := range leakEnvelopes(h) {
		out = append(out, LeakRow{Name: e.name, Sharing: e.sharing, Sees: e.sees})
	}
	return out
}
