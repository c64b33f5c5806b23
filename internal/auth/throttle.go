package auth

import (
	"container/list"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Throttle defaults, and the bound on tracked keys.
const (
	defaultPerAccount = 5
	defaultPerAddress = 20
	defaultWindow     = 15 * time.Minute
	defaultLockout    = 15 * time.Minute
	// maxThrottleKeys bounds memory: every failed login with a new user
	// name or from a new address creates a key, so without a cap an
	// attacker could grow the map without limit. At roughly 200 bytes per
	// key this is about 20 MB at worst.
	maxThrottleKeys = 100_000
	// Key prefixes keep an account named like an address from sharing its
	// counter.
	accountKeyPrefix = "acct\x00"
	addressKeyPrefix = "addr\x00"
)

// ThrottleConfig configures a Throttle. Zero values select the defaults:
// 5 failures per account, 20 per address, 15 min window, 15 min lockout,
// time.Now as clock.
type ThrottleConfig struct {
	PerAccount, PerAddress int
	Window, Lockout        time.Duration
	Now                    func() time.Time
}

// Throttle limits failed logins per account and per client address, in
// memory. A key that collects its limit of failures within Window (counted
// from its first failure) is locked for Lockout; afterwards it starts from
// zero. It is safe for concurrent use and needs no background goroutine:
// expired entries are dropped lazily.
//
// Per-account limits stop distributed guessing against one account;
// per-address limits stop one client from spraying many accounts. A
// per-account lockout can be abused to lock a victim out for a while; the
// short lockout keeps that tolerable.
type Throttle struct {
	cfg     ThrottleConfig
	maxKeys int // a field so tests can use a small cap

	mu      sync.Mutex
	entries map[string]*list.Element
	// order holds *throttleEntry, least recently failed first, so old
	// entries can be pruned or evicted from the front in O(1) instead of
	// scanning the whole map on every failure (which an attacker could
	// otherwise trigger on purpose once the map is full).
	order *list.List
}

type throttleKey struct {
	key   string
	limit int
}

type throttleEntry struct {
	key         string
	failures    int
	windowStart time.Time
	lockedUntil time.Time // zero when not locked
}

// expired reports whether the entry no longer affects anything: its lockout
// is over, or it was never locked and its window has passed.
func (e *throttleEntry) expired(now time.Time, window time.Duration) bool {
	if !e.lockedUntil.IsZero() {
		return !now.Before(e.lockedUntil)
	}
	return now.Sub(e.windowStart) >= window
}

// NewThrottle returns a Throttle with cfg, filling in defaults for zero or
// negative values.
func NewThrottle(cfg ThrottleConfig) *Throttle {
	if cfg.PerAccount <= 0 {
		cfg.PerAccount = defaultPerAccount
	}
	if cfg.PerAddress <= 0 {
		cfg.PerAddress = defaultPerAddress
	}
	if cfg.Window <= 0 {
		cfg.Window = defaultWindow
	}
	if cfg.Lockout <= 0 {
		cfg.Lockout = defaultLockout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Throttle{
		cfg:     cfg,
		maxKeys: maxThrottleKeys,
		entries: make(map[string]*list.Element),
		order:   list.New(),
	}
}

// keys returns the throttle keys for a login attempt with their limits.
// Account names are trimmed and lower-cased: if login treats "Alice" and
// "alice" alike, separate counters would multiply the attempts an attacker
// gets, and merging counters of genuinely different accounts only makes
// throttling stricter. The address goes through AddressKey, so callers may
// pass r.RemoteAddr directly without the port defeating the limit.
func (t *Throttle) keys(account, addr string) [2]throttleKey {
	return [2]throttleKey{
		{accountKeyPrefix + strings.ToLower(strings.TrimSpace(account)), t.cfg.PerAccount},
		{addressKeyPrefix + AddressKey(addr), t.cfg.PerAddress},
	}
}

// Allow reports whether a login attempt for account from addr may proceed.
// If not, retryAfter is how long until both keys are unlocked.
func (t *Throttle) Allow(account, addr string) (ok bool, retryAfter time.Duration) {
	now := t.cfg.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range t.keys(account, addr) {
		el := t.entries[k.key]
		if el == nil {
			continue
		}
		e := el.Value.(*throttleEntry)
		if e.expired(now, t.cfg.Window) {
			t.remove(el)
			continue
		}
		if !e.lockedUntil.IsZero() {
			retryAfter = max(retryAfter, e.lockedUntil.Sub(now))
		}
	}
	return retryAfter == 0, retryAfter
}

// Failure records a failed login for both the account and the address.
// Failures while a key is locked do not extend the lockout, so an attacker
// cannot keep a victim locked out by hammering the locked account.
func (t *Throttle) Failure(account, addr string) {
	now := t.cfg.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pruneFront(now)
	for _, k := range t.keys(account, addr) {
		var e *throttleEntry
		el := t.entries[k.key]
		if el != nil {
			e = el.Value.(*throttleEntry)
			if e.expired(now, t.cfg.Window) {
				*e = throttleEntry{key: k.key, windowStart: now}
			}
		} else {
			t.makeRoom()
			e = &throttleEntry{key: k.key, windowStart: now}
			el = t.order.PushBack(e)
			t.entries[k.key] = el
		}
		if !e.lockedUntil.IsZero() {
			continue
		}
		e.failures++
		if e.failures >= k.limit {
			e.lockedUntil = now.Add(t.cfg.Lockout)
		}
		t.order.MoveToBack(el)
	}
}

// Success clears the account's failures after a successful login. The
// address key is deliberately kept: otherwise an attacker with one valid
// account could reset their address counter between guesses against other
// accounts by logging into their own.
func (t *Throttle) Success(account, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el := t.entries[t.keys(account, addr)[0].key]; el != nil {
		t.remove(el)
	}
}

// pruneFront drops expired entries from the least-recently-failed end. It
// stops at the first live entry, so each entry is visited once over its
// lifetime and the cost stays O(1) amortised per call.
func (t *Throttle) pruneFront(now time.Time) {
	for el := t.order.Front(); el != nil; el = t.order.Front() {
		if !el.Value.(*throttleEntry).expired(now, t.cfg.Window) {
			return
		}
		t.remove(el)
	}
}

// makeRoom evicts the least recently failed entries while the map is at its
// cap. Evicting a live entry forgets some failures, but it takes maxKeys
// fresh failures (each itself throttled per address) to push one entry out,
// which is a far better trade than unbounded memory or refusing to track new
// keys (which would let an attacker fill the map and then guess freely).
func (t *Throttle) makeRoom() {
	for len(t.entries) >= t.maxKeys {
		el := t.order.Front()
		if el == nil {
			return
		}
		t.remove(el)
	}
}

func (t *Throttle) remove(el *list.Element) {
	delete(t.entries, el.Value.(*throttleEntry).key)
	t.order.Remove(el)
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
