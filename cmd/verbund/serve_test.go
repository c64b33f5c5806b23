package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer lets the test read what serve prints while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The first README command: serve --demo on an empty folder prints where to
// sign in and the logins, writes them to the data folder, serves, and
// shuts down cleanly when told to.
func TestServeDemoAndShutdown(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--demo", "--addr", "127.0.0.1:0", "--data", dir, "--log-format", "text"},
			func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	}()
	urlRe := regexp.MustCompile(`open (http://127\.0\.0\.1:\d+)/login`)
	var base string
	for deadline := time.Now().Add(60 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := urlRe.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("serve printed no URL:\n%s\n%s", out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "jonas.weber@mueller-maschinenbau.example") {
		t.Errorf("demo logins not printed:\n%s", out.String())
	}
	logins, err := os.ReadFile(dir + "/demo-logins.txt")
	if err != nil || !strings.Contains(string(logins), "max.bauer@cert-sued.example") {
		t.Errorf("demo-logins.txt: %v", err)
	}
	if st, err := os.Stat(dir + "/demo-logins.txt"); err == nil && st.Mode().Perm() != 0o600 {
		t.Errorf("demo-logins.txt mode %v, want 0600", st.Mode().Perm())
	}
	for _, p := range []string{"/healthz", "/readyz", "/login"} {
		resp, err := http.Get(base + p)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s: %v %v", p, err, resp)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	// An open live stream (taken over from net/http) ends at shutdown.
	stream := openEvents(t, http.DefaultClient, base, cliToken(t, dir, "jonas.weber@mueller-maschinenbau.example"))
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not shut down")
	}
	select {
	case <-stream:
	case <-time.After(5 * time.Second):
		t.Error("the live stream stayed open after shutdown")
	}
	// An operator can tell a clean stop from a crash.
	if logs := out.String() + errOut.String(); !strings.Contains(logs, "shutting down") || !strings.Contains(logs, "stopped") {
		t.Errorf("the shutdown was not logged:\n%s", logs)
	}
}

func runCLI(t *testing.T, args ...string) error {
	t.Helper()
	var out, errOut syncBuffer
	if err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errOut); err != nil {
		return fmt.Errorf("%v: %w\n%s", args, err, errOut.String())
	}
	return nil
}

// cliToken creates a read token with the CLI on the data folder of a
// running hub.
func cliToken(t *testing.T, dir, email string) string {
	t.Helper()
	var out, errOut syncBuffer
	if err := run(context.Background(), []string{"token", "create", "--data", dir, "--user", email, "--scope", "read"},
		func(string) string { return "" }, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("token create: %v\n%s", err, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

// openEvents opens /events and returns a channel closed when the stream
// ends. It fails unless the stream answers as an event stream with the
// security headers.
func openEvents(t *testing.T, c *http.Client, base, token string) <-chan struct{} {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("stream: %d %v", resp.StatusCode, resp.Header)
	}
	ended := make(chan struct{})
	connected := make(chan struct{})
	go func() {
		defer close(ended)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), ": connected") {
				close(connected)
			}
		}
	}()
	select {
	case <-connected:
	case <-time.After(5 * time.Second):
		t.Fatal("stream did not connect")
	}
	return ended
}

// Under TLS the hub serves HTTPS and marks its cookies Secure (HSTS on).
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", dir, "--tls-cert", certFile, "--tls-key", keyFile},
			func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	}()
	urlRe := regexp.MustCompile(`open (https://127\.0\.0\.1:\d+)/login`)
	var base string
	for deadline := time.Now().Add(30 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := urlRe.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("no https URL printed:\n%s\n%s", out.String(), errOut.String())
	}
	client := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // #nosec G402 -- the test's own self-signed certificate
	resp, err := client.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("no TLS or no HSTS")
	}
	for _, c := range resp.Cookies() {
		if !c.Secure {
			t.Errorf("cookie %s not Secure under TLS", c.Name)
		}
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("served over %s, want HTTP/2", resp.Proto)
	}
	// Live streams over HTTP/2 cannot be taken over: the handler serves
	// them through the stream hub, and they end at shutdown too.
	if err := runCLI(t, "org", "create", "--data", dir, "--name", "Acme", "--kind", "company"); err != nil {
		t.Fatal(err)
	}
	if err := runCLI(t, "user", "create", "--data", dir, "--org", "Acme", "--email", "a@acme.example", "--role", "analyst"); err != nil {
		t.Fatal(err)
	}
	stream := openEvents(t, client, base, cliToken(t, dir, "a@acme.example"))
	cancel()
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	select {
	case <-stream:
	case <-time.After(5 * time.Second):
		t.Error("the HTTP/2 live stream stayed open after shutdown")
	}
}

func selfSigned(t *testing.T, dir string) (string, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := dir+"/cert.pem", dir+"/key.pem"
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}
