-- Login throttling counters (internal/accounts/throttle.go), shared by every
-- replica. key is the SHA-256 of the account or address key, so the table
-- holds no e-mail addresses or client addresses in clear. Times are Unix ns;
-- locked_until is 0 while the key is not locked.
CREATE TABLE login_throttle (
  key          TEXT PRIMARY KEY,
  failures     INTEGER NOT NULL,
  window_start BIGINT NOT NULL,
  locked_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX login_throttle_window ON login_throttle(window_start);
