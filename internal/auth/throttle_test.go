package auth

import (
	"testing"
	"time"
)

func TestThrottleDefaults(t *testing.T) {
	c := ThrottleConfig{PerAddress: -3}.WithDefaults()
	if c.PerAccount != 5 || c.PerAddress != 20 || c.Window != 15*time.Minute || c.Lockout != 15*time.Minute || c.Now == nil {
		t.Fatalf("defaults = %+v", c)
	}
	c = ThrottleConfig{PerAccount: 3, PerAddress: 7, Window: time.Minute, Lockout: time.Hour}.WithDefaults()
	if c.PerAccount != 3 || c.PerAddress != 7 || c.Window != time.Minute || c.Lockout != time.Hour {
		t.Fatalf("explicit config not kept: %+v", c)
	}
}

func TestThrottleKeys(t *testing.T) {
	c := ThrottleConfig{}.WithDefaults()
	a, b := c.Keys(" Alice ", "192.0.2.1:1234"), c.Keys("alice", "192.0.2.1:999")
	if a != b {
		t.Errorf("case, spaces or port make another counter: %v vs %v", a, b)
	}
	if a[0].Limit != 5 || a[1].Limit != 20 {
		t.Errorf("limits %d, %d", a[0].Limit, a[1].Limit)
	}
	// An account named like an address has its own counter.
	if x := c.Keys("192.0.2.1", "192.0.2.1"); x[0].Key == x[1].Key {
		t.Errorf("account and address keys collide: %q", x[0].Key)
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
