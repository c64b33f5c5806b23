package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestNewThrottleDefaults(t *testing.T) {
	th := NewThrottle(ThrottleConfig{PerAddress: -3})
	c := th.cfg
	if c.PerAccount != 5 || c.PerAddress != 20 || c.Window != 15*time.Minute || c.Lockout != 15*time.Minute || c.Now == nil {
		t.Fatalf("defaults = %+v", c)
	}
	if th.maxKeys != 100_000 {
		t.Fatalf("maxKeys = %d, want 100000", th.maxKeys)
	}
	th = NewThrottle(ThrottleConfig{PerAccount: 3, PerAddress: 7, Window: time.Minute, Lockout: time.Hour})
	c = th.cfg
	if c.PerAccount != 3 || c.PerAddress != 7 || c.Window != time.Minute || c.Lockout != time.Hour {
		t.Fatalf("explicit config not kept: %+v", c)
	}
}

// step is one action in a throttle scenario.
type step struct {
	op       string // "fail", "success", "allow", "advance"
	account  string
	addr     string
	times    int           // repeat count for "fail" (default 1)
	d        time.Duration // for "advance"
	wantOK   bool          // for "allow"
	wantWait time.Duration // for "allow"
}

func fail(account, addr string, times int) step {
	return step{op: "fail", account: account, addr: addr, times: times}
}
func success(account, addr string) step { return step{op: "success", account: account, addr: addr} }
func advance(d time.Duration) step      { return step{op: "advance", d: d} }
func allowed(account, addr string) step {
	return step{op: "allow", account: account, addr: addr, wantOK: true}
}
func blocked(account, addr string, wait time.Duration) step {
	return step{op: "allow", account: account, addr: addr, wantWait: wait}
}

func TestThrottleScenarios(t *testing.T) {
	const (
		a1 = "192.0.2.1:1234"
		a2 = "192.0.2.2:1234"
	)
	tests := []struct {
		name  string
		cfg   ThrottleConfig
		steps []step
	}{
		{"fresh keys are allowed", ThrottleConfig{}, []step{
			allowed("alice", a1),
		}},
		{"account locked after 5 failures until lockout ends", ThrottleConfig{}, []step{
			fail("alice", a1, 4),
			allowed("alice", a1),
			fail("alice", a1, 1),
			blocked("alice", a1, 15*time.Minute),
			blocked("alice", a2, 15*time.Minute), // other address, same account
			allowed("bob", a1),                   // address has only 5 of 20
			advance(10 * time.Minute),
			blocked("alice", a1, 5*time.Minute),
			advance(5*time.Minute - time.Nanosecond),
			blocked("alice", a1, time.Nanosecond),
			advance(time.Nanosecond),
			allowed("alice", a1),
		}},
		{"after lockout the count starts from zero", ThrottleConfig{}, []step{
			fail("alice", a1, 5),
			advance(15 * time.Minute),
			fail("alice", a1, 4),
			allowed("alice", a1),
			fail("alice", a1, 1),
			blocked("alice", a1, 15*time.Minute),
		}},
		{"failures during lockout do not extend it", ThrottleConfig{}, []step{
			fail("alice", a1, 5),
			advance(10 * time.Minute),
			fail("alice", a1, 10),
			blocked("alice", a1, 5*time.Minute),
			advance(5 * time.Minute),
			allowed("alice", a1),
		}},
		{"window expiry forgets old failures", ThrottleConfig{}, []step{
			fail("alice", a1, 4),
			advance(15 * time.Minute),
			fail("alice", a1, 4),
			allowed("alice", a1),
			fail("alice", a1, 1),
			blocked("alice", a1, 15*time.Minute),
		}},
		{"window counts from first failure", ThrottleConfig{PerAccount: 3, Window: 10 * time.Minute}, []step{
			fail("alice", a1, 1),
			advance(9 * time.Minute),
			fail("alice", a1, 1),
			advance(2 * time.Minute), // window restarts with the next failure
			fail("alice", a1, 2),
			allowed("alice", a1),
			fail("alice", a1, 1),
			blocked("alice", a1, 15*time.Minute),
		}},
		{"address locked after 20 failures across accounts", ThrottleConfig{}, []step{
			fail("u1", a1, 4), fail("u2", a1, 4), fail("u3", a1, 4), fail("u4", a1, 4),
			fail("u5", a1, 3),
			allowed("u6", a1),
			fail("u5", a1, 1),
			blocked("u6", a1, 15*time.Minute),
			allowed("u6", a2),
			allowed("u4", a2), // u4 has 4 of 5
		}},
		{"success clears the account but not the address", ThrottleConfig{PerAccount: 3, PerAddress: 5}, []step{
			fail("alice", a1, 2),
			success("alice", a1),
			fail("alice", a1, 2),
			allowed("alice", a1), // account at 2 of 3, address at 4 of 5
			fail("bob", a1, 1),
			blocked("alice", a1, 15*time.Minute),
			blocked("carol", a1, 15*time.Minute),
			allowed("alice", a2),
		}},
		{"success unlocks a locked account", ThrottleConfig{PerAccount: 2}, []step{
			fail("alice", a1, 2),
			blocked("alice", a2, 15*time.Minute),
			success("alice", a2),
			allowed("alice", a2),
		}},
		{"retryAfter is the later of both keys", ThrottleConfig{PerAccount: 2, PerAddress: 3}, []step{
			fail("alice", a1, 2), // account locked until +15m
			advance(5 * time.Minute),
			fail("bob", a1, 1), // address locked until +20m
			blocked("alice", a1, 15*time.Minute),
			blocked("carol", a1, 15*time.Minute),
			blocked("alice", a2, 10*time.Minute),
			allowed("carol", a2),
		}},
		{"account names are case- and space-insensitive", ThrottleConfig{PerAccount: 2}, []step{
			fail("Alice", a1, 1),
			fail(" alice ", a2, 1),
			blocked("ALICE", "198.51.100.7", 15*time.Minute),
		}},
		{"port does not matter for IPv4", ThrottleConfig{PerAddress: 2}, []step{
			fail("u1", "192.0.2.1:1000", 1),
			fail("u2", "192.0.2.1:2000", 1),
			blocked("u3", "192.0.2.1", 15*time.Minute),
			allowed("u3", "192.0.2.3:1000"),
		}},
		{"IPv6 addresses share their /64", ThrottleConfig{PerAddress: 2}, []step{
			fail("u1", "[2001:db8:1:2::1]:1000", 1),
			fail("u2", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:2000", 1),
			blocked("u3", "2001:db8:1:2::5", 15*time.Minute),
			allowed("u3", "[2001:db8:1:3::1]:1000"),
		}},
		{"IPv4-mapped IPv6 counts as IPv4", ThrottleConfig{PerAddress: 2}, []step{
			fail("u1", "[::ffff:192.0.2.9]:1000", 1),
			fail("u2", "192.0.2.9:2000", 1),
			blocked("u3", "192.0.2.9", 15*time.Minute),
		}},
		{"custom lockout and window", ThrottleConfig{PerAccount: 2, Window: time.Minute, Lockout: time.Hour}, []step{
			fail("alice", a1, 1),
			advance(time.Minute),
			fail("alice", a1, 1),
			allowed("alice", a1), // first failure fell out of the window
			fail("alice", a1, 1),
			blocked("alice", a1, time.Hour),
			advance(59 * time.Minute),
			blocked("alice", a1, time.Minute),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			cfg := tt.cfg
			cfg.Now = clock.Now
			th := NewThrottle(cfg)
			for i, s := range tt.steps {
				switch s.op {
				case "fail":
					for range max(s.times, 1) {
						th.Failure(s.account, s.addr)
					}
				case "success":
					th.Success(s.account, s.addr)
				case "advance":
					clock.Advance(s.d)
				case "allow":
					ok, wait := th.Allow(s.account, s.addr)
					wantOK := s.wantOK || s.wantWait == 0
					if ok != wantOK || wait != s.wantWait {
						t.Fatalf("step %d: Allow(%q, %q) = %v, %v; want %v, %v", i, s.account, s.addr, ok, wait, wantOK, s.wantWait)
					}
				default:
					t.Fatalf("step %d: unknown op %q", i, s.op)
				}
			}
		})
	}
}

func TestThrottleBoundedMemory(t *testing.T) {
	clock := newFakeClock()
	th := NewThrottle(ThrottleConfig{Now: clock.Now})
	th.maxKeys = 10
	for i := range 100 {
		th.Failure(fmt.Sprintf("user%d", i), fmt.Sprintf("192.0.2.%d", i))
		if len(th.entries) > 10 || th.order.Len() != len(th.entries) {
			t.Fatalf("after %d failures: %d map entries, %d list entries; want <= 10 and equal", i+1, len(th.entries), th.order.Len())
		}
	}
	// The most recent keys survive.
	if _, ok := th.entries[accountKeyPrefix+"user99"]; !ok {
		t.Fatal("most recent account key was evicted")
	}
	if _, ok := th.entries[accountKeyPrefix+"user0"]; ok {
		t.Fatal("oldest account key survived eviction")
	}
}

func TestThrottleEvictsLeastRecentlyFailed(t *testing.T) {
	clock := newFakeClock()
	th := NewThrottle(ThrottleConfig{Now: clock.Now})
	th.maxKeys = 4
	th.Failure("a", "192.0.2.1")
	th.Failure("b", "192.0.2.2")
	th.Failure("a", "192.0.2.1") // a and .1 become most recent
	th.Failure("c", "192.0.2.3") // must evict b and .2
	for key, want := range map[string]bool{
		accountKeyPrefix + "a": true, addressKeyPrefix + "192.0.2.1": true,
		accountKeyPrefix + "b": false, addressKeyPrefix + "192.0.2.2": false,
		accountKeyPrefix + "c": true, addressKeyPrefix + "192.0.2.3": true,
	} {
		if _, ok := th.entries[key]; ok != want {
			t.Errorf("key %q present = %v, want %v", key, ok, want)
		}
	}
	if e := th.entries[accountKeyPrefix+"a"].Value.(*throttleEntry); e.failures != 2 {
		t.Errorf("account a has %d failures, want 2", e.failures)
	}
}

func TestThrottlePrunesExpired(t *testing.T) {
	clock := newFakeClock()
	th := NewThrottle(ThrottleConfig{Now: clock.Now})
	for i := range 50 {
		th.Failure(fmt.Sprintf("user%d", i), fmt.Sprintf("192.0.2.%d", i))
	}
	if len(th.entries) != 100 {
		t.Fatalf("%d entries, want 100", len(th.entries))
	}
	clock.Advance(15 * time.Minute)
	th.Failure("new", "198.51.100.1")
	if len(th.entries) != 2 || th.order.Len() != 2 {
		t.Fatalf("after expiry: %d map, %d list entries; want 2", len(th.entries), th.order.Len())
	}
	// Allow drops expired keys it looks at, too.
	clock.Advance(15 * time.Minute)
	if ok, _ := th.Allow("new", "198.51.100.1"); !ok {
		t.Fatal("expired key still blocks")
	}
	if len(th.entries) != 0 || th.order.Len() != 0 {
		t.Fatalf("after Allow: %d map, %d list entries; want 0", len(th.entries), th.order.Len())
	}
}

func TestThrottleConcurrent(t *testing.T) {
	th := NewThrottle(ThrottleConfig{PerAccount: 10_000, PerAddress: 10_000})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				th.Failure("shared", "192.0.2.1")
				th.Allow("shared", "192.0.2.1")
				th.Failure(fmt.Sprintf("own%d", g), fmt.Sprintf("[2001:db8::%d]:%d", g, i))
				th.Success(fmt.Sprintf("own%d", g), "192.0.2.1")
			}
		})
	}
	wg.Wait()
	if e := th.entries[accountKeyPrefix+"shared"].Value.(*throttleEntry); e.failures != 800 {
		t.Errorf("shared account has %d failures, want 800", e.failures)
	}
	if e := th.entries[addressKeyPrefix+"192.0.2.1"].Value.(*throttleEntry); e.failures != 800 {
		t.Errorf("shared address has %d failures, want 800", e.failures)
	}
	if e := th.entries[addressKeyPrefix+"2001:db8::/64"].Value.(*throttleEntry); e.failures != 800 {
		t.Errorf("IPv6 /64 has %d failures, want 800", e.failures)
	}
}

func TestAddressKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"192.0.2.1", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2::1]", "2001:db8:1:2::/64"},
		{"[::1]:80", "::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2::/64", "2001:db8:1:2::/64"}, // idempotent
		{"@", "@"},
		{"", ""},
		{"example.com:80", "example.com:80"},
	}
	for _, tt := range tests {
		if got := AddressKey(tt.in); got != tt.want {
			t.Errorf("AddressKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
