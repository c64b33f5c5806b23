package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
)

// Recovery code shape. The alphabet drops 0/o, 1/l/i so codes survive being
// written on paper and read back. With 31 symbols each character carries
// log2(31) ≈ 4.95 bits, so three groups of five give ≈ 74 bits; the
// "xxxx-xxxx-xxxx" shape would only give 59.5 bits, below the 60-bit target.
const (
	recoveryAlphabet  = "abcdefghjkmnpqrstuvwxyz23456789"
	recoveryGroups    = 3
	recoveryGroupLen  = 5
	maxRecoveryCodes  = 100
	randomTokenBytes  = 32
	tokenPrefix       = "vbt_"
	recoveryRejectMax = 256 - 256%len(recoveryAlphabet) // bytes ≥ this are resampled
)

// NewRecoveryCodes returns n distinct single-use recovery codes such as
// "k7m2p-x9qrt-4hnwz". Store only HashSecret(NormaliseRecoveryCode(code)).
func NewRecoveryCodes(n int) ([]string, error) {
	if n < 1 || n > maxRecoveryCodes {
		return nil, fmt.Errorf("new recovery codes: count %d out of range 1..%d", n, maxRecoveryCodes)
	}
	codes := make([]string, 0, n)
	// Collisions are astronomically unlikely at 74 bits, but a duplicate
	// would silently turn two codes into one, so guarantee distinctness.
	seen := make(map[string]bool, n)
	for len(codes) < n {
		c, err := newRecoveryCode()
		if err != nil {
			return nil, fmt.Errorf("new recovery codes: %w", err)
		}
		if !seen[c] {
			seen[c] = true
			codes = append(codes, c)
		}
	}
	return codes, nil
}

// newRecoveryCode draws characters uniformly from recoveryAlphabet using
// rejection sampling; a plain modulo would bias the first 256%31 symbols.
func newRecoveryCode() (string, error) {
	const chars = recoveryGroups * recoveryGroupLen
	out := make([]byte, 0, chars+recoveryGroups-1)
	var buf [2 * chars]byte
	for n := 0; n < chars; {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("read random: %w", err)
		}
		for _, b := range buf {
			if n == chars {
				break
			}
			if int(b) >= recoveryRejectMax {
				continue
			}
			if n > 0 && n%recoveryGroupLen == 0 {
				out = append(out, '-')
			}
			out = append(out, recoveryAlphabet[int(b)%len(recoveryAlphabet)])
			n++
		}
	}
	return string(out), nil
}

// NormaliseRecoveryCode maps what a user may type ("K7M2P X9QRT-4HNWZ") to
// the canonical form that is hashed: lower case, without spaces or dashes.
func NormaliseRecoveryCode(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

// HashSecret returns the hex SHA-256 of s, for storing high-entropy secrets
// (recovery codes after NormaliseRecoveryCode, API tokens and session ids as
// they are). A fast unsalted hash is enough here, unlike for passwords,
// because these values have ≥ 74 bits of entropy and cannot be guessed from
// a leaked table; it also allows lookup by hash.
func HashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// EqualHashes compares two hashes in constant time (for equal lengths).
// Empty strings never match, so a missing stored value cannot be "matched"
// by a missing input.
func EqualHashes(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// NewToken returns an API token: "vbt_" followed by 256 random bits in
// lower-case unpadded base32. The fixed prefix lets secret scanners find
// leaked tokens; base32 keeps it free of characters that need quoting.
func NewToken() (string, error) {
	b, err := randomBytes(randomTokenBytes)
	if err != nil {
		return "", fmt.Errorf("new API token: %w", err)
	}
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	return tokenPrefix + strings.ToLower(enc.EncodeToString(b)), nil
}

// NewSessionID returns 256 random bits in unpadded base64url, safe in
// cookies and URLs.
func NewSessionID() (string, error) {
	b, err := randomBytes(randomTokenBytes)
	if err != nil {
		return "", fmt.Errorf("new session id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// NewCSRFToken returns a CSRF token with the same shape as a session id.
func NewCSRFToken() (string, error) {
	b, err := randomBytes(randomTokenBytes)
	if err != nil {
		return "", fmt.Errorf("new CSRF token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("read random: %w", err)
	}
	return b, nil
}
