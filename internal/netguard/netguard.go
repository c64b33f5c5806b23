// Package netguard keeps the hub's outgoing requests to URLs its users
// name (webhooks, CSAF provider subscriptions) off the hub's own network:
// a URL is checked when it is saved (https, a plain host name, no private
// or loopback address) and every connection is checked again after the
// name was resolved, so a name that points inside later is refused too.
// The operator lifts the address checks for a test or lab network (serve
// --webhook-allow-private, --csaf-allow-private).
package netguard

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// The reasons CheckURL refuses a URL.
var (
	// ErrBadURL: not an https:// URL (http:// only where private targets
	// are allowed), with credentials or a fragment, or a host that is no
	// plain name or address.
	ErrBadURL = errors.New("not an https:// address of a server on the internet")
	// ErrPrivate: the host is a private, loopback or otherwise internal
	// name or address.
	ErrPrivate = errors.New("the target is a private, loopback or otherwise internal address")
)

// Public reports whether a is an address on the internet: not loopback,
// private, link-local, shared (CGNAT), multicast or otherwise reserved.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

var reserved = []netip.Prefix{
	netip.MustParsePrefix("::/96"), netip.MustParsePrefix("::ffff:0:0:0/96"), netip.MustParsePrefix("fec0::/10"),
	netip.MustParsePrefix("100::/64"), netip.MustParsePrefix("2001::/23"),
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("240.0.0.0/4"), netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("2002::/16"),
}

// CheckURL refuses a URL the hub may not call (ErrBadURL, ErrPrivate) and
// returns it parsed. allowPrivate lets http:// and internal hosts pass.
func CheckURL(raw string, allowPrivate bool) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || len(raw) > 2000 || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return nil, ErrBadURL
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && allowPrivate) {
		return nil, ErrBadURL
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if !plainHost(host) {
		return nil, ErrBadURL
	}
	internal := host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".internal") || strings.HasSuffix(host, ".local") || !strings.Contains(host, ".")
	if a, err := netip.ParseAddr(host); err == nil {
		internal = !Public(a)
	} else if numeric(host) {
		// 127.1, 0177.0.0.1, 0x7f.1, 2130706433: IPv4 spelt in the forms
		// some resolvers take; a URL the hub calls names its address
		// plainly.
		return nil, ErrBadURL
	}
	if internal && !allowPrivate {
		return nil, ErrPrivate
	}
	return u, nil
}

// Control is a net.Dialer's Control: it refuses a connection to an
// address that is not Public (unless allowPrivate), after the name was
// resolved.
func Control(allowPrivate bool) func(network, address string, c syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			return err
		}
		if !allowPrivate && !Public(a) {
			return ErrPrivate
		}
		return nil
	}
}

// Transport is an HTTP transport whose every connection is checked
// (Control), that uses no proxy from the environment (a proxy would make
// the connection the check sees the proxy's) and gives up dialling and
// the TLS handshake after a few seconds.
func Transport(allowPrivate bool) *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: Control(allowPrivate)}
	return &http.Transport{DialContext: dialer.DialContext, Proxy: nil, IdleConnTimeout: time.Minute,
		TLSHandshakeTimeout: 5 * time.Second, ResponseHeaderTimeout: 15 * time.Second, ForceAttemptHTTP2: true}
}

// plainHost reports whether host is a name in ASCII letters, digits,
// hyphens and dots, or an IP address: no full-width digits, no percent
// signs, nothing a resolver might read differently from this check.
func plainHost(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if host == "" || len(host) > 253 {
		return false
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// numeric reports whether the last label of host starts with a digit (a
// top-level domain never does): an address, in whatever form.
func numeric(host string) bool {
	last := host[strings.LastIndexByte(host, '.')+1:]
	return last != "" && last[0] >= '0' && last[0] <= '9'
}
