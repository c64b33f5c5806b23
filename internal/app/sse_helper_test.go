package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// stream is an open SSE connection collecting its events.
type stream struct {
	events chan map[string]string
	closed chan struct{}
	cancel context.CancelFunc
}

// openStream connects to baseURL/events with a bearer token.
func openStream(t *testing.T, baseURL, token, query string) *stream {
	t.Helper()
	return openStreamWith(t, http.DefaultClient, baseURL+"/events"+query, "Bearer "+token)
}

// openBrowserStream connects to baseURL/events with a browser's session
// cookie.
func openBrowserStream(t *testing.T, client *http.Client, baseURL string) *stream {
	t.Helper()
	return openStreamWith(t, client, baseURL+"/events", "")
}

func openStreamWith(t *testing.T, client *http.Client, url, authorization string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("open stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("open stream: status %d", resp.StatusCode)
	}
	s := &stream{events: make(chan map[string]string, 100), closed: make(chan struct{}), cancel: cancel}
	ready := make(chan struct{})
	go func() {
		defer close(s.closed)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, ": connected"):
				close(ready)
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				m := map[string]string{}
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &m)
				if event != "" {
					m["event"] = event
				}
				s.events <- m
				event = ""
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("stream did not connect")
	}
	t.Cleanup(cancel)
	return s
}

// waitFor returns the first event with data id == id, or fails.
func (s *stream) waitFor(t *testing.T, id string, within time.Duration) map[string]string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case e := <-s.events:
			if e["id"] == id {
				return e
			}
		case <-deadline:
			t.Fatalf("event %s did not arrive within %v", id, within)
			return nil
		}
	}
}

// never checks that no event with id arrives within wait.
func (s *stream) never(t *testing.T, id string, wait time.Duration) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case e := <-s.events:
			if e["id"] == id {
				t.Fatalf("event %s was delivered but must not be: %v", id, e)
			}
		case <-deadline:
			return
		}
	}
}

// revoked reports whether the server ended the stream with "revoked".
func (s *stream) revoked(t *testing.T, within time.Duration) bool {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case e := <-s.events:
			if e["type"] == "revoked" {
				return true
			}
		case <-s.closed:
			// The reader may have queued the last events before closing.
			for {
				select {
				case e := <-s.events:
					if e["type"] == "revoked" {
						return true
					}
				default:
					return false
				}
			}
		case <-deadline:
			return false
		}
	}
}
