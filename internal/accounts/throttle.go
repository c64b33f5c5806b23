package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"verbund/internal/auth"
	"verbund/internal/db"
)

// Throttle limits failed sign-ins and second-factor codes per account and
// per client address (the rule is auth.ThrottleConfig). The counters are
// rows of login_throttle, so every replica on one PostgreSQL database
// counts the same failures, and a restart forgets none. Keys are stored
// hashed.
type Throttle struct {
	DB  *db.DB
	cfg auth.ThrottleConfig
	// lastPrune is when expired rows were last deleted (Unix ns).
	lastPrune atomic.Int64
}

// pruneEvery bounds how often a failure also deletes expired counters.
const pruneEvery = time.Minute

// NewThrottle returns a throttle on d; zero values of cfg take the
// defaults.
func NewThrottle(d *db.DB, cfg auth.ThrottleConfig) *Throttle {
	return &Throttle{DB: d, cfg: cfg.WithDefaults()}
}

// Allow reports whether an attempt for account from addr may proceed; if
// not, retryAfter is how long until both keys are unlocked.
func (t *Throttle) Allow(ctx context.Context, account, addr string) (ok bool, retryAfter time.Duration, err error) {
	now := t.cfg.Now().UnixNano()
	k := t.cfg.Keys(account, addr)
	var until sql.NullInt64
	err = t.DB.R().QueryRow(ctx, `SELECT MAX(locked_until) FROM login_throttle WHERE key IN (?, ?) AND locked_until > ?`,
		auth.HashSecret(k[0].Key), auth.HashSecret(k[1].Key), now).Scan(&until)
	if err != nil {
		return false, 0, fmt.Errorf("read login throttle: %w", db.Map(err))
	}
	if !until.Valid {
		return true, 0, nil
	}
	return false, time.Duration(until.Int64 - now), nil
}

// Failure counts a failed attempt for both the account and the address.
// The counting is one statement per key, so concurrent failures on several
// replicas are all counted.
func (t *Throttle) Failure(ctx context.Context, account, addr string) error {
	now := t.cfg.Now().UnixNano()
	windowStart := now - int64(t.cfg.Window)
	return t.DB.Tx(ctx, func(tx *db.Tx) error {
		// The counters are bookkeeping: each failure they count is
		// audited by the caller (auth.login.failed, auth.mfa.failed).
		tx.Bookkeeping()
		for _, k := range t.cfg.Keys(account, addr) {
			key := auth.HashSecret(k.Key)
			var failures int
			var locked int64
			// A successful sign-in deletes the account's row (Success);
			// on PostgreSQL that can commit between this transaction's
			// insert, which found the row, and its update, which then
			// finds none. The row is then made again: two rounds at most,
			// since the deleted row is gone for the second.
			for round := 0; ; round++ {
				if _, err := tx.Exec(ctx, `INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES (?, 0, ?, 0)
					ON CONFLICT (key) DO NOTHING`, key, now); err != nil {
					return fmt.Errorf("count failure: %w", err)
				}
				// Locked: unchanged (failures do not extend a lock). Lock
				// over, or window over: start again from this failure.
				err := tx.QueryRow(ctx, `UPDATE login_throttle SET
					failures = CASE WHEN locked_until > ? THEN failures
						WHEN locked_until > 0 OR window_start <= ? THEN 1 ELSE failures + 1 END,
					window_start = CASE WHEN locked_until > ? THEN window_start
						WHEN locked_until > 0 OR window_start <= ? THEN ? ELSE window_start END,
					locked_until = CASE WHEN locked_until > ? THEN locked_until ELSE 0 END
					WHERE key = ? RETURNING failures, locked_until`,
					now, windowStart, now, windowStart, now, now, key).Scan(&failures, &locked)
				if errors.Is(err, sql.ErrNoRows) && round == 0 {
					continue
				}
				if err != nil {
					return fmt.Errorf("count failure: %w", db.Map(err))
				}
				break
			}
			if locked == 0 && failures >= k.Limit {
				if _, err := tx.Exec(ctx, `UPDATE login_throttle SET locked_until = ? WHERE key = ?`, now+int64(t.cfg.Lockout), key); err != nil {
					return fmt.Errorf("lock: %w", err)
				}
			}
		}
		if last := t.lastPrune.Load(); now-last >= int64(pruneEvery) && t.lastPrune.CompareAndSwap(last, now) {
			if _, err := tx.Exec(ctx, `DELETE FROM login_throttle
				WHERE (locked_until > 0 AND locked_until <= ?) OR (locked_until = 0 AND window_start <= ?)`, now, windowStart); err != nil {
				return fmt.Errorf("prune login throttle: %w", err)
			}
		}
		return nil
	})
}

// Success clears the account's counter after a successful sign-in. The
// address counter is deliberately kept: otherwise an attacker with one
// valid account could reset their address between guesses against other
// accounts by signing in to their own.
func (t *Throttle) Success(ctx context.Context, account, addr string) error {
	key := auth.HashSecret(t.cfg.Keys(account, addr)[0].Key)
	return t.DB.Tx(ctx, func(tx *db.Tx) error {
		tx.Bookkeeping() // the sign-in itself is audited (auth.login)
		if _, err := tx.Exec(ctx, `DELETE FROM login_throttle WHERE key = ?`, key); err != nil {
			return fmt.Errorf("clear login throttle: %w", err)
		}
		return nil
	})
}
