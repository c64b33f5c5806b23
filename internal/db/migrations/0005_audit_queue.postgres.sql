-- Records wait in audit_pending from the writer's transaction until the
-- sequencer (internal/audit/chain.go) chains them into audit_log, right
-- after the writer's commit: writers no longer queue on the one audit_head
-- row. The id only identifies a waiting record (a sequence: never
-- reused); its place
-- in the chain is the seq the sequencer gives it.
CREATE TABLE audit_pending (
  id            BIGSERIAL PRIMARY KEY,
  at            BIGINT NOT NULL,
  actor_user_id TEXT NOT NULL DEFAULT '',
  actor_org_id  TEXT NOT NULL DEFAULT '',
  via           TEXT NOT NULL,
  action        TEXT NOT NULL,
  object_type   TEXT NOT NULL DEFAULT '',
  object_id     TEXT NOT NULL DEFAULT '',
  orgs          TEXT NOT NULL DEFAULT '',
  detail        TEXT NOT NULL DEFAULT '{}',
  ip            TEXT NOT NULL DEFAULT '',
  touches       TEXT NOT NULL DEFAULT '*'
);
-- What a change touches, for caches (comma list of tags, '*' everything):
-- records written before this column touch everything.
ALTER TABLE audit_log ADD COLUMN touches TEXT NOT NULL DEFAULT '*';
