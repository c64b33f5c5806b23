package web

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientIP (issue 7, item 19): behind a reverse proxy the client
// address is the rightmost X-Forwarded-For entry that is not a trusted
// proxy. The leftmost entry is whatever the client sent: taking it let
// anyone pick their address for the per-address sign-in limit and the
// audit trail.
func TestClientIP(t *testing.T) {
	lan := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, c := range []struct {
		name    string
		trust   bool
		proxies []netip.Prefix
		peer    string
		xff     []string
		want    string
	}{
		{"no proxy: the peer", false, nil, "192.0.2.1:5000", []string{"6.6.6.6"}, "192.0.2.1"},
		{"no proxy, IPv6 peer", false, nil, "[2001:db8::1]:5000", nil, "2001:db8::1"},
		{"proxy without header: the peer", true, nil, "10.0.0.2:5000", nil, "10.0.0.2"},
		{"one proxy: the last entry", true, nil, "10.0.0.2:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"forged entries before the proxy's are ignored", true, nil, "10.0.0.2:5000", []string{"6.6.6.6, 7.7.7.7, 203.0.113.9"}, "203.0.113.9"},
		{"several header lines are one list", true, nil, "10.0.0.2:5000", []string{"6.6.6.6", "203.0.113.9"}, "203.0.113.9"},
		{"trusted proxies are skipped from the right", true, lan, "10.0.0.2:5000", []string{"6.6.6.6, 203.0.113.9, 10.1.1.1, 10.0.0.3"}, "203.0.113.9"},
		{"without a list only the peer is trusted", true, nil, "10.0.0.2:5000", []string{"203.0.113.9, 10.0.0.3"}, "10.0.0.3"},
		{"a peer outside the list: the header is not the proxies'", true, lan, "198.51.100.7:5000", []string{"6.6.6.6"}, "198.51.100.7"},
		{"garbage stops the walk at the last good hop", true, lan, "10.0.0.2:5000", []string{"6.6.6.6, not-an-address, 10.0.0.3"}, "10.0.0.3"},
		{"garbage right at the proxy: the peer", true, nil, "10.0.0.2:5000", []string{"203.0.113.9, <script>"}, "10.0.0.2"},
		{"all trusted: the leftmost", true, lan, "10.0.0.2:5000", []string{"10.9.9.9, 10.0.0.3"}, "10.9.9.9"},
		{"IPv6 and ports", true, lan, "[fd00::2]:5000", []string{"[2001:db8::7]:4711, fd00::3"}, "2001:db8::7"},
		{"IPv4 in IPv6 form", true, lan, "10.0.0.2:5000", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"spaces and empty entries", true, nil, "10.0.0.2:5000", []string{" 203.0.113.9 ,"}, "203.0.113.9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &Server{Config: Config{TrustProxy: c.trust, TrustedProxies: c.proxies}}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.peer
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := s.ClientIP(r); got != c.want {
				t.Errorf("ClientIP = %q, want %q", got, c.want)
			}
		})
	}
}
