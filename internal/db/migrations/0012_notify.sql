-- Webhooks (internal/notify): an org's HTTP endpoints for events of the
-- hub, signed the Standard Webhooks way. The secret signs deliveries and
-- is shown once, when the webhook is made. A deleted webhook keeps its
-- row (its deliveries' log names it) and gets nothing more.
CREATE TABLE webhooks (
  id           TEXT PRIMARY KEY,
  org_id       TEXT NOT NULL REFERENCES orgs(id),
  url          TEXT NOT NULL,
  secret       TEXT NOT NULL,
  events       TEXT NOT NULL,
  min_severity INTEGER NOT NULL DEFAULT 0,
  created_by   TEXT NOT NULL REFERENCES users(id),
  created_at   BIGINT NOT NULL,
  deleted_at   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webhooks_org ON webhooks (org_id);
-- The durable outbox and the delivery log in one: a delivery is written
-- in the transaction of the change it tells of (so it is never lost, and
-- never sent for a change that rolled back), sent after, retried with
-- backoff, and kept with its outcome. Its id is the webhook-id header:
-- receivers drop repeats by it (delivery is at least once).
CREATE TABLE webhook_deliveries (
  id          TEXT PRIMARY KEY,
  webhook_id  TEXT NOT NULL REFERENCES webhooks(id),
  type        TEXT NOT NULL,
  body        TEXT NOT NULL,
  state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  next_at     BIGINT NOT NULL,
  last_status INTEGER NOT NULL DEFAULT 0,
  last_error  TEXT NOT NULL DEFAULT '',
  created_at  BIGINT NOT NULL,
  done_at     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, created_at);
