package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" // #nosec G505 -- RFC 6238 TOTP is HMAC-SHA-1, the only algorithm authenticator apps implement; HMAC-SHA-1 is not broken by SHA-1 collisions
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// TOTP parameters. These are the only values every authenticator app
// supports, which is why they are fixed rather than configurable.
const (
	totpPeriod      = 30 // seconds per step
	totpDigits      = 6
	totpSecretBytes = 20 // 160 bits, the RFC 4226 recommended key size
	// totpMinKeyBytes is the RFC 4226 R6 minimum of 128 bits; shorter
	// secrets are rejected rather than silently accepted as weak.
	totpMinKeyBytes = 16
	// totpSkew is how many steps either side of now are accepted, to
	// tolerate clock drift and the time the user needs to type the code.
	totpSkew = 1
)

// totpB32 is the encoding authenticator apps expect in otpauth URIs:
// upper-case RFC 4648 base32 without padding.
func totpB32() *base32.Encoding { return base32.StdEncoding.WithPadding(base32.NoPadding) }

// NewTOTPSecret returns a new random 160-bit TOTP secret in base32 (upper
// case, no padding), ready for TOTPURI and for storage.
func NewTOTPSecret() (string, error) {
	b := make([]byte, totpSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new TOTP secret: %w", err)
	}
	return totpB32().EncodeToString(b), nil
}

// decodeTOTPSecret accepts the secret the way users may have copied it
// (lower case, grouped with spaces, with '=' padding) so manual entry and
// imported secrets work, and enforces the minimum key size.
func decodeTOTPSecret(secret string) ([]byte, error) {
	s := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '=' {
			return -1
		}
		return unicode.ToUpper(r)
	}, secret)
	key, err := totpB32().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode TOTP secret: %w", err)
	}
	if len(key) < totpMinKeyBytes {
		return nil, fmt.Errorf("TOTP secret is %d bytes, need at least %d", len(key), totpMinKeyBytes)
	}
	return key, nil
}

// totpStep returns the RFC 6238 time step counter for t, or false for times
// before the Unix epoch, which have no valid counter.
func totpStep(t time.Time) (int64, bool) {
	u := t.Unix()
	if u < 0 {
		return 0, false
	}
	return u / totpPeriod, true
}

// hotp is RFC 4226 HOTP with SHA-1 and dynamic truncation. digits is a
// parameter only so the RFC 6238 8-digit test vectors can be checked; the
// public API always uses 6.
func hotp(key []byte, counter uint64, digits int) string {
	mac := hmac.New(sha1.New, key)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// TOTPCode returns the 6-digit RFC 6238 code (SHA-1, 30 s step) for secret
// at time t.
func TOTPCode(secret string, t time.Time) (string, error) {
	key, err := decodeTOTPSecret(secret)
	if err != nil {
		return "", fmt.Errorf("TOTP code: %w", err)
	}
	step, ok := totpStep(t)
	if !ok {
		return "", errors.New("TOTP code: time before Unix epoch")
	}
	return hotp(key, uint64(step), totpDigits), nil // #nosec G115 -- totpStep rejects times before the epoch, so step >= 0
}

// VerifyTOTP checks code against secret at time now, accepting the current
// step and one step either side. Steps at or below lastUsedStep are
// rejected so a code cannot be replayed (RFC 6238 section 5.2); on success
// the caller must store the returned step as the new lastUsedStep (pass 0 for
// an account that has never used a code). On failure step is lastUsedStep
// unchanged, so storing it is harmless. Spaces in code are ignored because
// apps display codes as "123 456".
func VerifyTOTP(secret, code string, now time.Time, lastUsedStep int64) (step int64, ok bool) {
	code = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, code)
	if len(code) != totpDigits || strings.Trim(code, "0123456789") != "" {
		return lastUsedStep, false
	}
	key, err := decodeTOTPSecret(secret)
	if err != nil {
		return lastUsedStep, false
	}
	cur, valid := totpStep(now)
	if !valid {
		return lastUsedStep, false
	}
	matched := lastUsedStep
	// Every candidate is checked, and the highest matching step wins: if a
	// code happens to be valid for two adjacent steps, recording the later
	// one ensures the same code cannot be accepted again for the other.
	for s := cur - totpSkew; s <= cur+totpSkew; s++ {
		if s < 0 || s <= lastUsedStep {
			continue
		}
		want := hotp(key, uint64(s), totpDigits)
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			matched = s
			ok = true
		}
	}
	return matched, ok
}

// TOTPURI returns the otpauth:// URI (Google Authenticator key URI format)
// to show as a QR code when enrolling. The label is "issuer:account"; colons
// inside issuer or account are escaped because the format reserves the first
// colon as the separator, and spaces are %20 rather than '+' because several
// apps show '+' literally.
func TOTPURI(secret, issuer, account string) string {
	label := labelEscape(account)
	if issuer != "" {
		label = labelEscape(issuer) + ":" + label
	}
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	b.WriteString(label)
	b.WriteString("?secret=")
	b.WriteString(queryEscape(secret))
	if issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(queryEscape(issuer))
	}
	fmt.Fprintf(&b, "&algorithm=SHA1&digits=%d&period=%d", totpDigits, totpPeriod)
	return b.String()
}

// labelEscape escapes a path segment, additionally escaping ':' which
// url.PathEscape leaves alone.
func labelEscape(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), ":", "%3A")
}

// queryEscape is url.QueryEscape with spaces as %20. QueryEscape encodes a
// literal '+' as %2B, so every remaining '+' stands for a space.
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
