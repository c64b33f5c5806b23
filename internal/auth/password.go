// Package auth holds the database-free building blocks for accounts:
// password hashing, TOTP, recovery codes, random tokens and login throttling.
// Everything here is pure (apart from reading crypto/rand and the clock) so it
// can be tested without a database and reused by every storage backend.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id cost parameters. They are stored inside
// every PHC string, so they can be raised later without invalidating existing
// hashes.
type PasswordParams struct {
	Time, MemoryKiB uint32
	Threads         uint8
	KeyLen          uint32
}

// DefaultPasswordParams returns the OWASP Password Storage Cheat Sheet
// argon2id baseline (m=19 MiB, t=2, p=1). It is deliberately the smallest
// recommended setting: the hub runs on small machines and every login
// attempt, including throttled-but-allowed guesses, pays this cost.
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{Time: 2, MemoryKiB: 19456, Threads: 1, KeyLen: 32}
}

// Limits for parameters and encodings. Hashes come from our own database,
// but a corrupted or tampered row must not be able to make a single login
// allocate gigabytes or spin for minutes, and too-small values would mean a
// silently weak hash.
const (
	saltLen      = 16
	minSaltLen   = 8 // PHC argon2 minimum
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 128
	maxTime      = 32
	maxMemoryKiB = 1 << 20 // 1 GiB
)

// The password policy's bounds, for messages that explain it.
const (
	MinPasswordRunes = 12   // characters
	MaxPasswordBytes = 1024 // bytes of UTF-8
)

// validate reports whether p is usable. argon2 panics on Time or Threads of
// zero and silently rounds memory up, so we reject such values instead of
// producing a hash whose string lies about its cost.
func (p PasswordParams) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("argon2id time %d out of range 1..%d", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("argon2id threads must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB:
		return fmt.Errorf("argon2id memory %d KiB out of range %d..%d", p.MemoryKiB, 8*uint32(p.Threads), maxMemoryKiB)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("argon2id key length %d out of range %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// phcB64 is the PHC encoding: standard alphabet, no padding. Strict rejects
// non-zero trailing bits so every hash has exactly one valid spelling. It is a
// function rather than a package variable to keep the package free of
// mutable globals.
func phcB64() *base64.Encoding { return base64.RawStdEncoding.Strict() }

// HashPassword derives an argon2id hash of password with a fresh random salt
// and returns it as a PHC string, e.g.
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(password string, p PasswordParams) (string, error) {
	if err := p.validate(); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		phcB64().EncodeToString(salt), phcB64().EncodeToString(key)), nil
}

// VerifyPassword checks password against a PHC string produced by
// HashPassword, using the parameters recorded in the string. A wrong password
// is ok=false with a nil error; err is only set when encoded is malformed, so
// callers can tell "wrong password" from "corrupt database row".
func VerifyPassword(encoded, password string) (ok bool, err error) {
	p, salt, want, err := parsePHC(encoded)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	// Constant time so response timing does not reveal how many leading
	// bytes of the hash matched.
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// DummyVerify performs the same argon2id work as VerifyPassword with
// parameters p and throws the result away. Call it when the account does not
// exist so that "unknown user" and "wrong password" take the same time and
// login timing cannot be used to enumerate accounts. p should be the
// parameters current hashes are made with (normally DefaultPasswordParams);
// invalid p falls back to the defaults rather than panicking inside argon2.
func (p PasswordParams) DummyVerify(password string) {
	if p.validate() != nil {
		p = DefaultPasswordParams()
	}
	// The salt value is irrelevant: the result is never compared with
	// anything that matters, only the cost has to match.
	var salt [saltLen]byte
	want := make([]byte, p.KeyLen)
	got := argon2.IDKey([]byte(password), salt[:], p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	subtle.ConstantTimeCompare(got, want)
}

// parsePHC splits an argon2id PHC string into its parameters, salt and hash.
// It is strict (exact field order, version 19 only) because we only ever
// read strings we wrote ourselves; anything else is a corrupt row.
func parsePHC(encoded string) (PasswordParams, []byte, []byte, error) {
	var p PasswordParams
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, nil, nil, errors.New("malformed PHC string: want 5 $-separated fields")
	}
	if parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("unsupported algorithm %q", parts[1])
	}
	v, err := phcField(parts[2], "v", 32)
	if err != nil {
		return p, nil, nil, err
	}
	if v != argon2.Version {
		return p, nil, nil, fmt.Errorf("unsupported argon2 version %d", v)
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return p, nil, nil, fmt.Errorf("malformed parameters %q: want m=,t=,p=", parts[3])
	}
	m, err := phcField(kv[0], "m", 32)
	if err != nil {
		return p, nil, nil, err
	}
	t, err := phcField(kv[1], "t", 32)
	if err != nil {
		return p, nil, nil, err
	}
	threads, err := phcField(kv[2], "p", 8)
	if err != nil {
		return p, nil, nil, err
	}
	salt, err := phcB64().DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, fmt.Errorf("decode salt: %w", err)
	}
	if len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return p, nil, nil, fmt.Errorf("salt length %d out of range %d..%d", len(salt), minSaltLen, maxSaltLen)
	}
	hash, err := phcB64().DecodeString(parts[5])
	if err != nil {
		return p, nil, nil, fmt.Errorf("decode hash: %w", err)
	}
	p = PasswordParams{Time: uint32(t), MemoryKiB: uint32(m), Threads: uint8(threads), KeyLen: uint32(len(hash))} // #nosec G115 -- phcField parsed m, t, p with bit sizes 32, 32, 8; validate bounds KeyLen
	if err := p.validate(); err != nil {
		return p, nil, nil, err
	}
	return p, salt, hash, nil
}

// phcField parses "name=decimal" into an unsigned integer of the given size.
func phcField(s, name string, bits int) (uint64, error) {
	val, found := strings.CutPrefix(s, name+"=")
	if !found {
		return 0, fmt.Errorf("malformed PHC field %q: want %s=", s, name)
	}
	n, err := strconv.ParseUint(val, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("PHC field %s: %w", name, err)
	}
	return n, nil
}

// CheckPasswordPolicy enforces the NIST SP 800-63B style policy: length is
// what matters, so there are no composition rules. The minimum is counted in
// characters so non-Latin passphrases are not penalised; the maximum is in
// bytes because it exists to bound request and hashing cost, and 1024 bytes
// leaves ample room for long passphrases in any script. The messages are
// meant to be shown to the user as they are.
func CheckPasswordPolicy(password string) error {
	if !utf8.ValidString(password) {
		return errors.New("password contains invalid characters; please type it again")
	}
	if n := utf8.RuneCountInString(password); n < MinPasswordRunes {
		return fmt.Errorf("password is too short (%d characters): use at least %d characters; a passphrase of several words is easiest to remember", n, MinPasswordRunes)
	}
	if len(password) > MaxPasswordBytes {
		return fmt.Errorf("password is too long: use at most %d bytes (about %d plain letters)", MaxPasswordBytes, MaxPasswordBytes)
	}
	return nil
}
