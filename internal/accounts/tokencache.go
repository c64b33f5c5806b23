package accounts

import (
	"context"
	"sync"

	"verbund/internal/auth"
	"verbund/internal/db"
	"verbund/internal/policy"
)

// API tokens' holders kept between requests.
//
// Why: an API client sends its token with every request, and looking it
// up (the token joined with its user) was 7 % of the hub's CPU under an
// incident's load, for an answer that changes only when the token is
// revoked or its user changed.
//
// How it stays correct: an entry is the token's answer as read after the
// audit trail's head at (read first). A request takes it from memory
// before the admission queue (a write too), but the answer counts only
// once TokenFresh, called after the request got its place (where the
// request reads the trail's state for its caches anyway), finds no
// record after at that may change a token's answer: a token's revocation,
// any change of a user or an org, and every change that touches
// everything. Otherwise the token is read again (internal/web, run). A
// refused request always reads it. A write took no kept answer until the
// seventeenth session: it read its token, one round trip of every write,
// where its confirmation shares a state read (audit.Trail) that begins
// after it asked, which is all the rule needs.
// So a revocation is seen by every request whose place comes after it,
// which is later than before (the token used to be read before the queue).

// maxCachedTokens bounds the entries; past it the cache starts afresh.
const maxCachedTokens = 4096

// maxTokenScan is the longest run of records the cache reads to learn
// whether its entries still hold (the trail keeps 8,192 in memory).
const maxTokenScan = 8192

// TokenSource is what the cache follows: the audit trail.
type TokenSource struct {
	// State returns the trail's head and whether a record waits to be
	// chained that may change a token's answer (ChangesTokens).
	State func(ctx context.Context) (head int64, waiting bool, err error)
	// LastChange returns the place of the last chained record in
	// (from, to] that may change a token's answer, 0 if none.
	LastChange func(ctx context.Context, from, to int64) (int64, error)
}

// ChangesTokens reports whether a record (its action, object type and
// touches) may change what a token stands for: every record of a token,
// a user or an org but those known to change no token's answer (sign-ins,
// second factors, passwords, a new token: an attack review showed that
// anyone could otherwise empty the cache with failed sign-ins), and every
// change of everything. A new kind of record of a user counts until it
// is named here.
func ChangesTokens(action, objectType, touches string) bool {
	if touches == "*" {
		return true
	}
	if objectType != "token" && objectType != "user" && objectType != "org" {
		return false
	}
	return !tokenNeutral[action]
}

// tokenNeutral are the records of tokens and users that change no
// token's answer (the token's holder, scope, expiry, revocation).
var tokenNeutral = map[string]bool{
	"auth.login": true, "auth.login.failed": true, "auth.login.password_ok": true, "auth.login.throttled": true,
	"auth.logout": true, "auth.logout_all": true, "auth.mfa.ok": true, "auth.mfa.failed": true, "auth.throttled": true,
	"user.password": true, "user.totp.start": true, "user.totp.enable": true, "user.totp.disable": true,
	"token.create": true, "mail.preferences": true,
}

type tokenCache struct {
	src TokenSource

	mu      sync.Mutex
	entries map[string]tokenEntry // by the token's hash
	scanned int64                 // the trail is read up to here
	last    int64                 // the last record up to scanned that changes tokens
	// Hits counts answers taken from memory (and then found fresh or not).
	hits, misses int64
}

type tokenEntry struct {
	a       policy.Actor // without the request's IP and Via
	expires int64        // 0: never
	at      int64        // the trail's head read before the token
}

// CacheTokens keeps tokens' answers between requests (see above).
func (s *Service) CacheTokens(src TokenSource) {
	s.tokens = &tokenCache{src: src, entries: map[string]tokenEntry{}}
}

// TokenCacheStats returns how many tokens were answered from memory and
// how many were read.
func (s *Service) TokenCacheStats() (hits, misses int64) {
	c := s.tokens
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// CachedToken answers token from memory, if it is kept and has not
// expired, with the trail's head it was read after: the answer counts
// only once TokenFresh(at) has confirmed it.
func (s *Service) CachedToken(ctx context.Context, token, ip string) (a policy.Actor, at int64, ok bool) {
	c := s.tokens
	if c == nil {
		return policy.Actor{}, 0, false
	}
	now := db.Now()
	c.mu.Lock()
	e, ok := c.entries[auth.HashSecret(token)]
	// Expired, or already known to be stale: read before the queue, so
	// that a revoked token is refused there, as an unknown one is (an
	// attack review: a revoked token kept its place in the queue).
	if ok && (e.expires != 0 && e.expires <= now || e.at < c.last) {
		ok = false
	}
	if ok {
		c.hits++
	} else {
		c.misses++
	}
	c.mu.Unlock()
	if !ok {
		return policy.Actor{}, 0, false
	}
	a = e.a
	a.Via, a.IP = "token:"+a.Token, ip
	return a, e.at, true
}

// TokenFresh reports whether no record that may change a token's answer
// has been chained after at, nor waits to be; if so, a's token counts as
// used (only a confirmed answer marks it: a refused one must not).
func (s *Service) TokenFresh(ctx context.Context, a policy.Actor, at int64) (bool, error) {
	c := s.tokens
	if c == nil {
		return false, nil
	}
	head, waiting, err := c.src.State(ctx)
	if err != nil || waiting || head < at {
		return false, err
	}
	last, err := c.lastChange(ctx, head)
	if err != nil || last > at {
		return false, err
	}
	s.touchToken(ctx, a.Token, db.Now())
	return true, nil
}

// forget drops token's answer (it was found revoked, expired, disabled
// or unknown).
func (c *tokenCache) forget(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, auth.HashSecret(token))
}

// lastChange returns the last record up to head that changes tokens,
// reading the trail from where it was read last.
func (c *tokenCache) lastChange(ctx context.Context, head int64) (int64, error) {
	c.mu.Lock()
	from, last := c.scanned, c.last
	c.mu.Unlock()
	if head <= from {
		return last, nil
	}
	// At the first request, and after a long run of records (an import
	// while no API client came), the trail is not read: everything kept
	// counts as changed, and is read again once.
	l := head
	if from > 0 && head-from <= maxTokenScan {
		var err error
		if l, err = c.src.LastChange(ctx, from, head); err != nil {
			return 0, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if l > c.last {
		c.last = l
	}
	if head > c.scanned {
		c.scanned = head
	}
	// Another caller may have read further meanwhile: its last change
	// after from is in c.last too.
	return c.last, nil
}

// head reads the trail's head before a token is read from the database;
// ok is false when the answer must not be kept (a record that may change
// it waits, or the state could not be read).
func (c *tokenCache) head(ctx context.Context) (int64, bool) {
	head, waiting, err := c.src.State(ctx)
	return head, err == nil && !waiting
}

// keep stores token's answer a, read after the trail's head at.
func (c *tokenCache) keep(token string, a policy.Actor, expires, at int64) {
	a.Via, a.IP = "", ""
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedTokens {
		c.entries = map[string]tokenEntry{}
	}
	c.entries[auth.HashSecret(token)] = tokenEntry{a: a, expires: expires, at: at}
}
