-- E-mail notifications (internal/notify). mail_prefs holds what a
-- person chose per group of events (incidents, intel, training):
-- instant, digest or off; a group without a row takes its default
-- (notify.DefaultMode).
CREATE TABLE mail_prefs (
  user_id    TEXT NOT NULL REFERENCES users(id),
  topic      TEXT NOT NULL,
  mode       TEXT NOT NULL CHECK (mode IN ('instant', 'digest', 'off')),
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, topic)
);
-- The durable mail outbox and its log in one, as webhook_deliveries: a
-- row is written in the transaction of the change it tells of and sent
-- after the commit, retried with backoff, kept with its outcome.
-- kind: instant (one mail of one event), item (an event waiting for the
-- person's digest: state waiting, then gathered into a digest row named
-- by digest_id; a waiting item's next_at is its creation, so that the
-- gathering finds those of ended periods on mail_outbox_due), digest
-- (one mail of the items gathered), test.
-- share_id is the object it tells of: whether the person may still see
-- it is judged again right before sending. data holds only the keys a
-- mail may show (notify.mailKeys). org_id is the recipient's org when it
-- was written (its admins read their org's log). last_error is a code
-- (notify.mail.error.*), never a server's message.
CREATE TABLE mail_outbox (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users(id),
  org_id     TEXT NOT NULL,
  kind       TEXT NOT NULL CHECK (kind IN ('instant', 'item', 'digest', 'test')),
  type       TEXT NOT NULL,
  share_id   TEXT NOT NULL DEFAULT '',
  data       TEXT NOT NULL DEFAULT '{}',
  state      TEXT NOT NULL CHECK (state IN ('waiting', 'gathered', 'pending', 'delivered', 'dead', 'skipped')),
  digest_id  TEXT NOT NULL DEFAULT '',
  attempts   INTEGER NOT NULL DEFAULT 0,
  next_at    BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  done_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_at);
CREATE INDEX mail_outbox_user ON mail_outbox (user_id, created_at);
CREATE INDEX mail_outbox_org ON mail_outbox (org_id, created_at);
CREATE INDEX mail_outbox_digest ON mail_outbox (digest_id);
-- Candidates of an event are read per group: who chose what for it.
CREATE INDEX mail_prefs_topic ON mail_prefs (topic, mode);
