package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"verbund/internal/notify/notifytest"
)

// TestMailsSurviveAKill: sightings are reported while the hub is killed
// (SIGKILL) and started again; every sighting the hub acknowledged
// reaches, by mail, the person of the indicator's owner who chose mails
// at once (at least once), including those whose mail was under way at
// the kill.
func TestMailsSurviveAKill(t *testing.T) {
	dir := t.TempDir()
	srv := notifytest.StartMailServer(t)
	srv.SetSlow(20 * time.Millisecond) // mails are in flight when the hub dies
	// Mails link to the base URL; startHub finds the hub by the URL it
	// prints, so the base URL is the hub's own address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	mailFlags := []string{"--addr", addr, "--smtp-addr", srv.Addr, "--smtp-from", "verbund <hub@verbund.example>", "--smtp-tls", "none", "--base-url", "http://" + addr}
	hub, base := startHub(t, append([]string{"--demo", "--data", dir}, mailFlags...)...)
	admin := &apiClient{base: base, token: tokenOf(t, "sabine.hoffmann@cert-sued.example", dir), http: &http.Client{Timeout: 10 * time.Second}}
	if status, body, err := admin.do("PATCH", "/api/v1/me/mail", map[string]any{"preferences": map[string]string{"intel": "instant"}}); err != nil || status != 200 {
		t.Fatalf("mail settings: %d %v %s", status, err, body)
	}
	analyst := &apiClient{base: base, token: tokenOf(t, "jonas.weber@mueller-maschinenbau.example", dir), http: &http.Client{Timeout: 10 * time.Second}}
	status, body, err := analyst.do("GET", "/api/v1/intel/objects?stix_id=indicator--6b1c4a70-1f3e-4a57-9d1e-2f0c8e6a1a05", nil)
	var list struct{ Items []struct{ ID string } }
	if err != nil || status != 200 || json.Unmarshal(body, &list) != nil || len(list.Items) == 0 {
		t.Fatalf("the demo's C2 indicator: %d %v %s", status, err, body)
	}
	acked := sightUntilKilled(t, hub, analyst, list.Items[0].ID)
	n := len(acked)
	startHub(t, append([]string{"--data", dir}, mailFlags...)...)
	// Claimed mails wait out their lease (30 s) before the new process
	// takes them again.
	link := regexp.MustCompile(regexp.QuoteMeta("http://"+addr) + `/intel/objects/([0-9a-f-]+)`)
	deadline := time.Now().Add(75 * time.Second)
	for {
		received := map[string]int{}
		for _, m := range srv.To("sabine.hoffmann@cert-sued.example") {
			if s := link.FindStringSubmatch(m.Text); s != nil {
				received[s[1]]++
			}
		}
		missing := 0
		for _, id := range acked {
			if received[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			repeats := 0
			for _, c := range received {
				repeats += c - 1
			}
			t.Logf("%d sightings acknowledged before the kill, all mailed; %d mailed twice (at least once)", n, repeats)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged sightings never reached the mailbox", missing, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestServeRefusesBadMailSettings: malformed SMTP settings stop serve
// before anything starts, naming the setting.
func TestServeRefusesBadMailSettings(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--smtp-addr", "mail.example.org"}, "--smtp-addr \"mail.example.org\" must be host:port"},
		{[]string{"--smtp-addr", "mail.example.org:587", "--smtp-from", "hub@example.org", "--smtp-tls", "maybe", "--base-url", "https://h.example"}, "--smtp-tls \"maybe\" must be none, starttls"},
	} {
		var out, errOut syncBuffer
		err := run(context.Background(), append([]string{"serve", "--data", t.TempDir()}, c.args...), func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
	var out, errOut syncBuffer
	err := run(context.Background(), []string{"mail", "test", "--to", "ops@example.org", "--smtp-addr", "127.0.0.1:1", "--smtp-from", "hub@example.org", "--smtp-tls", "none", "--base-url", "https://h.example"},
		func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "could not be reached: check --smtp-addr") {
		t.Errorf("mail test to a closed port: %v", err)
	}
}

// TestMailTestCommand: verbund mail test sends one mail through the
// configured server.
func TestMailTestCommand(t *testing.T) {
	srv := notifytest.StartMailServer(t)
	var out, errOut syncBuffer
	err := run(context.Background(), []string{"mail", "test", "--to", "ops@example.org", "--lang", "de", "--smtp-addr", srv.Addr, "--smtp-from", "verbund <hub@example.org>", "--smtp-tls", "none", "--base-url", "https://h.example"},
		func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	if err != nil || !strings.Contains(out.String(), "sent a test mail to ops@example.org") {
		t.Fatalf("mail test: %v %s %s", err, out.String(), errOut.String())
	}
	m := srv.Wait(t, 1, 5*time.Second)[0]
	if m.Subject != "[verbund] Test-E-Mail" || m.To[0] != "ops@example.org" || !strings.Contains(m.Text, "https://h.example") {
		t.Errorf("the test mail: %q %v\n%s", m.Subject, m.To, m.Text)
	}
}
