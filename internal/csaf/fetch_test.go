package csaf_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"verbund/internal/csaf"
	"verbund/internal/netguard"
)

// TestFetchNetworkErrorsHideAddresses: a provider that cannot be reached
// is a Problem with a code by cause and a fixed text; the network error
// (the hub's resolver, the addresses a name resolved to) is only its
// Cause, for the log.
func TestFetchNetworkErrorsHideAddresses(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		code string
	}{
		{"dns", &net.DNSError{Err: "no such host", Name: "localtest.me", Server: "10.255.255.5:53", IsNotFound: true}, "dns"},
		{"private", &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 20, 30, 40), Port: 443}, Err: netguard.ErrPrivate}, "refused_private"},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 20, 30, 40), Port: 443}, Err: errors.New("connect: connection refused")}, "unreachable"},
		{"timeout", &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 20, 30, 40), Port: 443}, Err: context.DeadlineExceeded}, "timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return nil, c.err }}
			f := csaf.Fetcher{Client: &http.Client{Transport: tr}}
			_, err := f.Metadata(context.Background(), "https://localtest.me/provider-metadata.json")
			var p *csaf.Problem
			if !errors.As(err, &p) {
				t.Fatalf("error %v is no Problem", err)
			}
			if p.Code != c.code {
				t.Errorf("code %q, want %q (%s)", p.Code, c.code, p.Message)
			}
			for _, leak := range []string{"10.255.255.5", "10.20.30.40", "lookup", "dial tcp", "connect:"} {
				if strings.Contains(p.Message, leak) {
					t.Errorf("LEAK: the message %q names %q", p.Message, leak)
				}
			}
			if !strings.Contains(p.Message, "https://localtest.me/provider-metadata.json could not be reached") {
				t.Errorf("message %q does not name the URL", p.Message)
			}
			if p.Cause == nil || !strings.Contains(p.Cause.Error(), c.err.Error()) {
				t.Errorf("cause %v, want the network error for the log", p.Cause)
			}
		})
	}
}
