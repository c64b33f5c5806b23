package accounts

import (
	"context"
	"sync"
	"testing"
	"time"

	"verbund/internal/auth"
	"verbund/internal/db"
	"verbund/internal/db/dbtest"
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

// TestThrottleScenarios runs the throttling rule on the database counters
// of both engines, with a clock the test moves.
func TestThrottleScenarios(t *testing.T) {
	const (
		a1 = "192.0.2.1:1234"
		a2 = "192.0.2.2:1234"
	)
	tests := []struct {
		name  string
		cfg   auth.ThrottleConfig
		steps []step
	}{
		{"fresh keys are allowed", auth.ThrottleConfig{}, []step{
			allowed("alice", a1),
		}},
		{"account locked after 5 failures until lockout ends", auth.ThrottleConfig{}, []step{
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
		{"after lockout the count starts from zero", auth.ThrottleConfig{}, []step{
			fail("alice", a1, 5),
			advance(15 * time.Minute),
			fail("alice", a1, 4),
			allowed("alice", a1),
			fail("alice", a1, 1),
			blocked("alice", a1, 15*time.Minute),
		}},
		{"failures during lockout do not extend it", auth.ThrottleConfig{}, []step{
			fail("alice", a1, 5),
			advance(10 * time.Minute),
			fail("alice", a1, 10),
			blocked("alice", a1, 5*time.Minute),
			advance(5 * time.Minute),
			allowed("alice", a1),
		}},
		{"window expiry forgets old failures", auth.ThrottleConfig{}, []step{
			fail("alice", a1, 4),
			advance(15 * time.Minute),
			fail("alice", a1, 4),
			allowed("alice", a1),
			fail("alice", a1, 1),
			blocked("alice", a1, 15*time.Minute),
		}},
		{"window counts from first failure", auth.ThrottleConfig{PerAccount: 3, Window: 10 * time.Minute}, []step{
			fail("alice", a1, 1),
			advance(9 * time.Minute),
			fail("alice", a1, 1),
			advance(2 * time.Minute), // window restarts with the next failure
			fail("alice", a1, 2),
			allowed("alice", a1),
			fail("alice", a1, 1),
			blocked("alice", a1, 15*time.Minute),
		}},
		{"address locked after 20 failures across accounts", auth.ThrottleConfig{}, []step{
			fail("u1", a1, 4), fail("u2", a1, 4), fail("u3", a1, 4), fail("u4", a1, 4),
			fail("u5", a1, 3),
			allowed("u6", a1),
			fail("u5", a1, 1),
			blocked("u6", a1, 15*time.Minute),
			allowed("u6", a2),
			allowed("u4", a2), // u4 has 4 of 5
		}},
		{"success clears the account but not the address", auth.ThrottleConfig{PerAccount: 3, PerAddress: 5}, []step{
			fail("alice", a1, 2),
			success("alice", a1),
			fail("alice", a1, 2),
			allowed("alice", a1), // account at 2 of 3, address at 4 of 5
			fail("bob", a1, 1),
			blocked("alice", a1, 15*time.Minute),
			blocked("carol", a1, 15*time.Minute),
			allowed("alice", a2),
		}},
		{"success unlocks a locked account", auth.ThrottleConfig{PerAccount: 2}, []step{
			fail("alice", a1, 2),
			blocked("alice", a2, 15*time.Minute),
			success("alice", a2),
			allowed("alice", a2),
		}},
		{"retryAfter is the later of both keys", auth.ThrottleConfig{PerAccount: 2, PerAddress: 3}, []step{
			fail("alice", a1, 2), // account locked until +15m
			advance(5 * time.Minute),
			fail("bob", a1, 1), // address locked until +20m
			blocked("alice", a1, 15*time.Minute),
			blocked("carol", a1, 15*time.Minute),
			blocked("alice", a2, 10*time.Minute),
			allowed("carol", a2),
		}},
		{"account names are case- and space-insensitive", auth.ThrottleConfig{PerAccount: 2}, []step{
			fail("Alice", a1, 1),
			fail(" alice ", a2, 1),
			blocked("ALICE", "198.51.100.7", 15*time.Minute),
		}},
		{"port does not matter for IPv4", auth.ThrottleConfig{PerAddress: 2}, []step{
			fail("u1", "192.0.2.1:1000", 1),
			fail("u2", "192.0.2.1:2000", 1),
			blocked("u3", "192.0.2.1", 15*time.Minute),
			allowed("u3", "192.0.2.3:1000"),
		}},
		{"IPv6 addresses share their /64", auth.ThrottleConfig{PerAddress: 2}, []step{
			fail("u1", "[2001:db8:1:2::1]:1000", 1),
			fail("u2", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:2000", 1),
			blocked("u3", "2001:db8:1:2::5", 15*time.Minute),
			allowed("u3", "[2001:db8:1:3::1]:1000"),
		}},
		{"IPv4-mapped IPv6 counts as IPv4", auth.ThrottleConfig{PerAddress: 2}, []step{
			fail("u1", "[::ffff:192.0.2.9]:1000", 1),
			fail("u2", "192.0.2.9:2000", 1),
			blocked("u3", "192.0.2.9", 15*time.Minute),
		}},
		{"custom lockout and window", auth.ThrottleConfig{PerAccount: 2, Window: time.Minute, Lockout: time.Hour}, []step{
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
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := d.Tx(dbtest.Unaudited(ctx), func(tx *db.Tx) error {
					_, err := tx.Exec(ctx, `DELETE FROM login_throttle`)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				clock := newFakeClock()
				cfg := tt.cfg
				cfg.Now = clock.Now
				th := NewThrottle(d, cfg)
				for i, s := range tt.steps {
					switch s.op {
					case "fail":
						for range max(s.times, 1) {
							if err := th.Failure(ctx, s.account, s.addr); err != nil {
								t.Fatal(err)
							}
						}
					case "success":
						if err := th.Success(ctx, s.account, s.addr); err != nil {
							t.Fatal(err)
						}
					case "advance":
						clock.Advance(s.d)
					case "allow":
						ok, wait, err := th.Allow(ctx, s.account, s.addr)
						if err != nil {
							t.Fatal(err)
						}
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
	})
}

// TestThrottleSharedAndPruned: two throttles on one database (two
// replicas) count the same failures, concurrent failures are all counted,
// and expired counters are deleted.
func TestThrottleSharedAndPruned(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clock := newFakeClock()
		cfg := auth.ThrottleConfig{PerAccount: 10, PerAddress: 1000, Now: clock.Now}
		a, b := NewThrottle(d, cfg), NewThrottle(d, cfg)
		var wg sync.WaitGroup
		for i := range 9 {
			th := a
			if i%2 == 1 {
				th = b
			}
			wg.Go(func() {
				if err := th.Failure(ctx, "alice", "192.0.2.1"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok, _, _ := b.Allow(ctx, "alice", "192.0.2.1"); !ok {
			t.Fatal("locked after 9 of 10 failures")
		}
		if err := a.Failure(ctx, "alice", "192.0.2.7"); err != nil {
			t.Fatal(err)
		}
		if ok, _, _ := b.Allow(ctx, "alice", "198.51.100.1"); ok {
			t.Error("the tenth failure, counted on another replica, did not lock the account")
		}
		// Once the lock and the windows are over, the next failure deletes
		// the expired counters (and counts anew).
		clock.Advance(time.Hour)
		if err := a.Failure(ctx, "bob", "203.0.113.5"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := d.R().QueryRow(ctx, `SELECT COUNT(*) FROM login_throttle`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("%d counters after pruning, want 2 (bob and his address)", n)
		}
	})
}
