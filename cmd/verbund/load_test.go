package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The helpers of the tests that stop a hub under load (shutdown_test.go,
// kill_test.go): an API client with a write token, and sixteen writers.

// apiClient calls a hub's API with a bearer token.
type apiClient struct {
	base, token string
	http        *http.Client
}

// writeToken creates a write token for the demo's Jonas Weber with the
// admin command, on the database that where names (--data, --db).
func writeToken(t *testing.T, base string, where ...string) *apiClient {
	t.Helper()
	var tok, errOut syncBuffer
	if err := run(context.Background(), append([]string{"token", "create", "--user", "jonas.weber@mueller-maschinenbau.example", "--scope", "write"}, where...),
		func(string) string { return "" }, strings.NewReader(""), &tok, &errOut); err != nil {
		t.Fatalf("token create: %v\n%s", err, errOut.String())
	}
	return &apiClient{base: base, token: strings.TrimSpace(tok.String()), http: &http.Client{Timeout: 10 * time.Second}}
}

func (c *apiClient) do(method, path string, body any) (int, []byte, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// newestThread is the thread of the newest post in the feed.
func (c *apiClient) newestThread(t *testing.T) string {
	t.Helper()
	status, body, err := c.do("GET", "/api/v1/posts?limit=1", nil)
	var feed struct {
		Items []struct {
			ThreadID string `json:"thread_id"`
		}
	}
	if err != nil || status != 200 || json.Unmarshal(body, &feed) != nil || len(feed.Items) == 0 {
		t.Fatalf("feed: %d %v %s", status, err, body)
	}
	return feed.Items[0].ThreadID
}

// storm is sixteen clients replying to a thread as fast as they can.
type storm struct {
	acked          sync.Map // ids of the replies the hub acknowledged
	ok, unanswered atomic.Int64
	stop           chan struct{}
	wg             sync.WaitGroup
}

// replyStorm starts the writers. A request without an answer (the hub
// stopped accepting, or died) is not acknowledged; any answer but 201 is
// reported with report.
func replyStorm(c *apiClient, thread, label string, report func(status int, body []byte)) *storm {
	s := &storm{stop: make(chan struct{})}
	for w := range 16 {
		s.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-s.stop:
					return
				default:
				}
				status, body, err := c.do("POST", "/api/v1/threads/"+thread+"/posts", map[string]any{"body": fmt.Sprintf("%s %d-%d", label, w, i)})
				switch {
				case err != nil:
					s.unanswered.Add(1)
					time.Sleep(5 * time.Millisecond)
				case status == http.StatusCreated:
					var p struct{ ID string }
					if json.Unmarshal(body, &p) == nil && p.ID != "" {
						s.acked.Store(p.ID, true)
						s.ok.Add(1)
					}
				default:
					report(status, body)
				}
			}
		})
	}
	return s
}

// flowing waits until the hub has acknowledged a few writes (at most 30 s:
// a loaded machine, the whole suite under -race, took longer than a
// fixed pause for the first), then for more: the caller's kill or signal
// then comes while writes flow.
func (s *storm) flowing(more time.Duration) {
	for deadline := time.Now().Add(30 * time.Second); s.ok.Load() < 3 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(more)
}

// end stops the writers and waits for them.
func (s *storm) end() {
	close(s.stop)
	s.wg.Wait()
}
