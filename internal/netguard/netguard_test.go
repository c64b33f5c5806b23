package netguard

import (
	"errors"
	"net/netip"
	"testing"
)

// TestCheckURL: only https:// URLs of public hosts pass; loopback,
// private, link-local, reserved and internal names are refused as
// private (unless allowed), odd spellings of addresses as bad.
func TestCheckURL(t *testing.T) {
	for raw, want := range map[string]error{
		"https://csaf.example.com/.well-known/csaf/provider-metadata.json": nil,
		"https://93.184.215.14/x":                  nil,
		"http://csaf.example.com/x":                ErrBadURL,
		"ftp://csaf.example.com/x":                 ErrBadURL,
		"https://user:pw@csaf.example.com/x":       ErrBadURL,
		"https://csaf.example.com/x#frag":          ErrBadURL,
		"https://0x7f.1/x":                         ErrBadURL,
		"https://2130706433/x":                     ErrBadURL,
		"https://ｅxample.com/x":                    ErrBadURL,
		"https://127.0.0.1/x":                      ErrPrivate,
		"https://[::1]/x":                          ErrPrivate,
		"https://10.0.0.8/x":                       ErrPrivate,
		"https://169.254.169.254/latest/meta-data": ErrPrivate,
		"https://100.64.1.1/x":                     ErrPrivate,
		"https://[::ffff:127.0.0.1]/x":             ErrPrivate,
		"https://localhost/x":                      ErrPrivate,
		"https://metadata.google.internal/x":       ErrPrivate,
		"https://intranet/x":                       ErrPrivate,
	} {
		if _, err := CheckURL(raw, false); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", raw, err, want)
		}
	}
	for _, raw := range []string{"http://127.0.0.1:8080/x", "https://localhost/x", "https://10.0.0.8/x"} {
		if _, err := CheckURL(raw, true); err != nil {
			t.Errorf("%s allowed: %v", raw, err)
		}
	}
}

// TestControl: a connection to an internal address is refused after
// resolution unless allowed.
func TestControl(t *testing.T) {
	deny, allow := Control(false), Control(true)
	if err := deny("tcp", "127.0.0.1:443", nil); !errors.Is(err, ErrPrivate) {
		t.Errorf("loopback: %v", err)
	}
	if err := deny("tcp", "[fe80::1]:443", nil); !errors.Is(err, ErrPrivate) {
		t.Errorf("link-local: %v", err)
	}
	if err := deny("tcp", "93.184.215.14:443", nil); err != nil {
		t.Errorf("public: %v", err)
	}
	if err := allow("tcp", "127.0.0.1:443", nil); err != nil {
		t.Errorf("allowed loopback: %v", err)
	}
	if Public(netip.MustParseAddr("192.0.2.1")) || !Public(netip.MustParseAddr("2a00:1450:4001::1")) {
		t.Error("Public: documentation prefix public or a global IPv6 address not")
	}
}
