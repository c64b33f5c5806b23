-- /readyz writes here to learn whether the database takes writes (a full
-- disk, a read-only file or server, a stalled writer): reading alone says
-- nothing about that. Bookkeeping: no audit record.
CREATE TABLE health_probe (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  at BIGINT NOT NULL
);
INSERT INTO health_probe (id, at) VALUES (1, 0);
