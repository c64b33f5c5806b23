package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// startHub runs the hub in a process of its own (to kill it) and returns
// its URL.
func startHub(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	raw, _ := json.Marshal(append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "text", "--log-level", "error"}, args...))
	cmd := exec.Command(os.Args[0], "-test.run=^$") // #nosec G204 -- this test binary, as the hub
	cmd.Env = append(os.Environ(), childServe+"="+string(raw))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	urlRe := regexp.MustCompile(`(http://127\.0\.0\.1:\d+)/login`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := urlRe.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case base := <-found:
		return cmd, base
	case <-time.After(60 * time.Second):
		t.Fatalf("the hub printed no URL: %s", stderr.String())
		return nil, ""
	}
}

// tokenOf makes a write token for the person with that e-mail address.
func tokenOf(t *testing.T, email, dir string) string {
	t.Helper()
	var tok, errOut syncBuffer
	if err := run(context.Background(), []string{"token", "create", "--user", email, "--scope", "write", "--data", dir},
		func(string) string { return "" }, strings.NewReader(""), &tok, &errOut); err != nil {
		t.Fatalf("token create: %v\n%s", err, errOut.String())
	}
	return strings.TrimSpace(tok.String())
}

// TestWebhooksSurviveAKill: sightings are reported while the hub is
// killed (SIGKILL) and started again; every sighting the hub
// acknowledged reaches the owner's webhook receiver (at least once),
// signed, including those whose delivery was under way at the kill.
func TestWebhooksSurviveAKill(t *testing.T) {
	dir := t.TempDir()
	hub, base := startHub(t, "--demo", "--data", dir, "--webhook-allow-private")
	var mu sync.Mutex
	received := map[string]int{}
	rx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // deliveries are in flight when the hub dies
		var b struct{ Data struct{ ID string } }
		_ = json.NewDecoder(r.Body).Decode(&b)
		mu.Lock()
		received[b.Data.ID]++
		mu.Unlock()
	}))
	defer rx.Close()
	admin := &apiClient{base: base, token: tokenOf(t, "sabine.hoffmann@cert-sued.example", dir), http: &http.Client{Timeout: 10 * time.Second}}
	if status, body, err := admin.do("POST", "/api/v1/webhooks", map[string]any{"url": rx.URL + "/hook", "events": []string{"intel.sighting"}}); err != nil || status != 201 {
		t.Fatalf("create the webhook: %d %v %s", status, err, body)
	}
	analyst := &apiClient{base: base, token: tokenOf(t, "jonas.weber@mueller-maschinenbau.example", dir), http: &http.Client{Timeout: 10 * time.Second}}
	status, body, err := analyst.do("GET", "/api/v1/intel/objects?stix_id=indicator--6b1c4a70-1f3e-4a57-9d1e-2f0c8e6a1a05", nil)
	var list struct{ Items []struct{ ID string } }
	if err != nil || status != 200 || json.Unmarshal(body, &list) != nil || len(list.Items) == 0 {
		t.Fatalf("the demo's C2 indicator: %d %v %s", status, err, body)
	}
	acked := sightUntilKilled(t, hub, analyst, list.Items[0].ID)
	n := len(acked)
	startHub(t, "--data", dir, "--webhook-allow-private")
	// Claimed deliveries wait out their lease (15 s) before the new
	// process takes them again.
	deadline := time.Now().Add(45 * time.Second)
	for {
		mu.Lock()
		missing := 0
		for _, id := range acked {
			if received[id] == 0 {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged sightings never reached the webhook", missing, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	repeats := 0
	for _, c := range received {
		repeats += c - 1
	}
	mu.Unlock()
	t.Logf("%d sightings acknowledged before the kill, all delivered; %d delivered twice (at least once)", n, repeats)
}

// sightUntilKilled reports sightings of indicator as analyst, one after
// the other, for a moment, then kills the hub (SIGKILL) mid-stream and
// returns the ids of the sightings the hub acknowledged before it died.
func sightUntilKilled(t *testing.T, hub *exec.Cmd, analyst *apiClient, indicator string) []string {
	t.Helper()
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			status, body, err := analyst.do("POST", "/api/v1/intel/objects/"+indicator+"/sightings", map[string]any{"count": 1})
			var s struct{ ID string }
			if err == nil && status == 201 && json.Unmarshal(body, &s) == nil {
				mu.Lock()
				acked = append(acked, s.ID)
				mu.Unlock()
			}
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	_ = hub.Process.Kill() // SIGKILL
	_ = hub.Wait()
	close(stop)
	<-done
	if len(acked) == 0 {
		t.Fatal("no sighting was acknowledged before the kill")
	}
	return acked
}
