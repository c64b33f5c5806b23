package auth

import (
	"net/netip"
	"strings"
	"time"
)

// Throttle defaults.
const (
	defaultPerAccount = 5
	defaultPerAddress = 20
	defaultWindow     = 15 * time.Minute
	defaultLockout    = 15 * time.Minute
	// Key prefixes keep an account named like an address from sharing its
	// counter.
	accountKeyPrefix = "acct\x00"
	addressKeyPrefix = "addr\x00"
)

// ThrottleConfig is the login throttling rule: a key (an account, or a
// client address) that collects its limit of failures within Window,
// counted from its first failure, is locked for Lockout; afterwards it
// starts from zero. Failures while locked do not extend the lock. The
// counters themselves live in the database (internal/accounts), so that
// every replica counts the same failures.
//
// Per-account limits stop distributed guessing against one account;
// per-address limits stop one client from spraying many accounts. A
// per-account lockout can be abused to lock a victim out for a while; the
// short lockout keeps that tolerable.
type ThrottleConfig struct {
	PerAccount, PerAddress int
	Window, Lockout        time.Duration
	Now                    func() time.Time
}

// WithDefaults fills zero or negative values: 5 failures per account, 20
// per address, 15 min window, 15 min lockout, time.Now as clock.
func (c ThrottleConfig) WithDefaults() ThrottleConfig {
	if c.PerAccount <= 0 {
		c.PerAccount = defaultPerAccount
	}
	if c.PerAddress <= 0 {
		c.PerAddress = defaultPerAddress
	}
	if c.Window <= 0 {
		c.Window = defaultWindow
	}
	if c.Lockout <= 0 {
		c.Lockout = defaultLockout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// ThrottleKey is one counter of a login attempt and its limit.
type ThrottleKey struct {
	Key   string
	Limit int
}

// Keys returns the account and the address counter of a login attempt.
// Account names are trimmed and lower-cased: if login treats "Alice" and
// "alice" alike, separate counters would multiply the attempts an attacker
// gets, and merging counters of genuinely different accounts only makes
// throttling stricter. The address goes through AddressKey, so callers may
// pass r.RemoteAddr directly without the port defeating the limit.
func (c ThrottleConfig) Keys(account, addr string) [2]ThrottleKey {
	return [2]ThrottleKey{
		{accountKeyPrefix + strings.ToLower(strings.TrimSpace(account)), c.PerAccount},
		{addressKeyPrefix + AddressKey(addr), c.PerAddress},
	}
}

// AddressKey turns a client address (host:port, [v6]:port or a bare IP) into
// the key addresses are throttled by: the IPv4 address, or the IPv6 /64
// prefix, because a single IPv6 client (one LAN, one VPS) normally controls a
// whole /64 and could otherwise rotate through addresses to escape the limit.
// IPv4-mapped IPv6 addresses count as IPv4 and zones are dropped. Input that
// is not an IP (e.g. a Unix socket peer) is returned unchanged so it still
// gets a counter of its own. Behind a reverse proxy the caller must pass the
// real client address, not the proxy's.
func AddressKey(remoteAddr string) string {
	addr, ok := parseRemoteIP(remoteAddr)
	if !ok {
		return remoteAddr
	}
	addr = addr.WithZone("").Unmap()
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.Prefix(64)
	if err != nil {
		return remoteAddr
	}
	return p.String()
}

func parseRemoteIP(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a, true
	}
	return netip.Addr{}, false
}
