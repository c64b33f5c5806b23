package auth

import (
	"encoding/base32"
	"encoding/base64"
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestRecoveryAlphabet(t *testing.T) {
	if strings.ContainsAny(recoveryAlphabet, "0o1liABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		t.Errorf("alphabet %q contains ambiguous or upper-case characters", recoveryAlphabet)
	}
	seen := map[rune]bool{}
	for _, r := range recoveryAlphabet {
		if seen[r] {
			t.Errorf("alphabet repeats %q", r)
		}
		seen[r] = true
	}
	bits := float64(recoveryGroups*recoveryGroupLen) * math.Log2(float64(len(recoveryAlphabet)))
	if bits < 60 {
		t.Errorf("recovery code entropy %.1f bits, want >= 60", bits)
	}
	if recoveryRejectMax != 248 {
		t.Errorf("recoveryRejectMax = %d, want 248 (largest multiple of 31 <= 256)", recoveryRejectMax)
	}
}

func TestNewRecoveryCodes(t *testing.T) {
	shape := regexp.MustCompile(`^[a-hjkmnp-z2-9]{5}-[a-hjkmnp-z2-9]{5}-[a-hjkmnp-z2-9]{5}$`)
	tests := []struct {
		n       int
		wantErr bool
	}{
		{-1, true}, {0, true}, {1, false}, {10, false}, {100, false}, {101, true},
	}
	for _, tt := range tests {
		codes, err := NewRecoveryCodes(tt.n)
		if (err != nil) != tt.wantErr {
			t.Fatalf("NewRecoveryCodes(%d) error = %v, want error %v", tt.n, err, tt.wantErr)
		}
		if tt.wantErr {
			if codes != nil {
				t.Errorf("NewRecoveryCodes(%d) returned codes with error", tt.n)
			}
			continue
		}
		if len(codes) != tt.n {
			t.Fatalf("NewRecoveryCodes(%d) returned %d codes", tt.n, len(codes))
		}
		seen := map[string]bool{}
		for _, c := range codes {
			if !shape.MatchString(c) {
				t.Errorf("code %q does not match %v", c, shape)
			}
			if seen[c] {
				t.Errorf("duplicate code %q", c)
			}
			seen[c] = true
			if NormaliseRecoveryCode(strings.ToUpper(c)) != strings.ReplaceAll(c, "-", "") {
				t.Errorf("code %q does not normalise to itself", c)
			}
		}
	}
}

// TestRecoveryCodeUniform catches a broken sampler (missing symbols or
// modulo bias of the kind rejection sampling prevents) with a chi-squared
// test. 31 symbols, 30 degrees of freedom: p(χ² > 80) ≈ 2e-6, so a correct
// sampler essentially never fails, while dropping rejection sampling makes
// the first 8 symbols ~3% likelier and pushes χ² to about 170 at this size.
func TestRecoveryCodeUniform(t *testing.T) {
	const codes = 4000
	counts := map[rune]int{}
	for range codes / 100 {
		cs, err := NewRecoveryCodes(100)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			for _, r := range strings.ReplaceAll(c, "-", "") {
				counts[r]++
			}
		}
	}
	total := codes * recoveryGroups * recoveryGroupLen
	expected := float64(total) / float64(len(recoveryAlphabet))
	var chi2 float64
	for _, r := range recoveryAlphabet {
		d := float64(counts[r]) - expected
		chi2 += d * d / expected
	}
	if len(counts) != len(recoveryAlphabet) || chi2 > 80 {
		t.Fatalf("%d distinct symbols, chi² = %.1f; want %d symbols, chi² <= 80", len(counts), chi2, len(recoveryAlphabet))
	}
}

func TestNormaliseRecoveryCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"k7m2p-x9qrt-4hnwz", "k7m2px9qrt4hnwz"},
		{"K7M2P X9QRT 4HNWZ", "k7m2px9qrt4hnwz"},
		{"  k7m2p--x9qrt\t4hnwz\n", "k7m2px9qrt4hnwz"},
		{"", ""},
		{"---", ""},
	}
	for _, tt := range tests {
		if got := NormaliseRecoveryCode(tt.in); got != tt.want {
			t.Errorf("NormaliseRecoveryCode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHashSecret(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		if got := HashSecret(tt.in); got != tt.want {
			t.Errorf("HashSecret(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	// Different spellings of one recovery code must hash alike once
	// normalised, and different codes must not.
	a := HashSecret(NormaliseRecoveryCode("k7m2p-x9qrt-4hnwz"))
	b := HashSecret(NormaliseRecoveryCode(" K7M2P X9QRT-4HNWZ "))
	c := HashSecret(NormaliseRecoveryCode("k7m2p-x9qrt-4hnwy"))
	if !EqualHashes(a, b) || EqualHashes(a, c) {
		t.Errorf("normalised hashes: a==b %v (want true), a==c %v (want false)", EqualHashes(a, b), EqualHashes(a, c))
	}
}

func TestEqualHashes(t *testing.T) {
	h := HashSecret("x")
	tests := []struct {
		a, b string
		want bool
	}{
		{h, h, true},
		{h, strings.ToUpper(h), false},
		{h, h[:len(h)-1], false},
		{h, HashSecret("y"), false},
		{"", "", false},
		{h, "", false},
		{"", h, false},
	}
	for _, tt := range tests {
		if got := EqualHashes(tt.a, tt.b); got != tt.want {
			t.Errorf("EqualHashes(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestRandomTokens(t *testing.T) {
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding)
	tests := []struct {
		name   string
		gen    func() (string, error)
		length int
		decode func(string) ([]byte, error)
	}{
		{"token", NewToken, 4 + 52, func(s string) ([]byte, error) {
			if !strings.HasPrefix(s, "vbt_") || strings.Trim(s[4:], "abcdefghijklmnopqrstuvwxyz234567") != "" {
				return nil, errors.New("unexpected token shape")
			}
			return b32.DecodeString(strings.ToUpper(s[4:]))
		}},
		{"session id", NewSessionID, 43, base64.RawURLEncoding.DecodeString},
		{"csrf token", NewCSRFToken, 43, base64.RawURLEncoding.DecodeString},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 50 {
				s, err := tt.gen()
				if err != nil {
					t.Fatal(err)
				}
				if len(s) != tt.length {
					t.Fatalf("%q has length %d, want %d", s, len(s), tt.length)
				}
				raw, err := tt.decode(s)
				if err != nil || len(raw) != 32 {
					t.Fatalf("%q decodes to %d bytes, %v; want 32", s, len(raw), err)
				}
				if seen[s] {
					t.Fatalf("duplicate %q", s)
				}
				seen[s] = true
			}
		})
	}
}
