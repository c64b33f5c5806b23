-- CACAO 2.0 playbooks (internal/playbooks). One file for both engines.
--
-- A playbook is a shareable object (its envelope in shares, kind
-- "playbook", category knowledge): one row per org and CACAO id, with
-- the newest version's fields (by the document's modified), beside every
-- version's document exactly as it was imported (playbook_versions).
CREATE TABLE playbooks (
  id           TEXT PRIMARY KEY REFERENCES shares(id),
  org_id       TEXT NOT NULL REFERENCES orgs(id),
  cacao_id     TEXT NOT NULL,
  name         TEXT NOT NULL,
  description  TEXT NOT NULL DEFAULT '',
  types        TEXT NOT NULL DEFAULT '',
  labels       TEXT NOT NULL DEFAULT '',
  modified     TEXT NOT NULL,
  modified_at  BIGINT NOT NULL,
  steps        INTEGER NOT NULL,
  manual_steps INTEGER NOT NULL,
  created_at   BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  UNIQUE (org_id, cacao_id)
);
CREATE INDEX playbooks_updated ON playbooks (updated_at, id);

-- Every version: the key is the instant of modified (two spellings of one
-- instant are one version); document is the bytes as imported.
CREATE TABLE playbook_versions (
  playbook_id TEXT NOT NULL REFERENCES playbooks(id),
  modified_at BIGINT NOT NULL,
  modified    TEXT NOT NULL,
  sha256      TEXT NOT NULL,
  document    TEXT NOT NULL,
  imported_at BIGINT NOT NULL,
  imported_by TEXT NOT NULL REFERENCES users(id),
  PRIMARY KEY (playbook_id, modified_at)
);
