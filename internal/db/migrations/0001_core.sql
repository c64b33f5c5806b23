-- verbund core schema. Timestamps are Unix microseconds (BIGINT) on both
-- engines; ids are UUIDv7 text; booleans are INTEGER 0/1.

CREATE TABLE orgs (
  id               TEXT PRIMARY KEY,
  name             TEXT NOT NULL,
  name_key         TEXT NOT NULL UNIQUE,
  kind             TEXT NOT NULL CHECK (kind IN ('company','provider','cert','isac')),
  security_contact TEXT NOT NULL DEFAULT '',
  created_at       BIGINT NOT NULL
);

CREATE TABLE users (
  id                   TEXT PRIMARY KEY,
  org_id               TEXT NOT NULL REFERENCES orgs(id),
  email                TEXT NOT NULL UNIQUE,
  name                 TEXT NOT NULL,
  role                 TEXT NOT NULL CHECK (role IN ('admin','analyst','viewer','auditor')),
  lang                 TEXT NOT NULL DEFAULT '',
  password_hash        TEXT NOT NULL DEFAULT '',
  totp_secret          TEXT NOT NULL DEFAULT '',
  totp_enabled         INTEGER NOT NULL DEFAULT 0,
  totp_last_step       BIGINT NOT NULL DEFAULT 0,
  disabled             INTEGER NOT NULL DEFAULT 0,
  sessions_valid_after BIGINT NOT NULL DEFAULT 0,
  created_at           BIGINT NOT NULL
);
CREATE INDEX users_org ON users(org_id);

CREATE TABLE recovery_codes (
  user_id   TEXT NOT NULL REFERENCES users(id),
  code_hash TEXT NOT NULL,
  used_at   BIGINT,
  PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE sessions (
  id_hash     TEXT PRIMARY KEY,
  user_id     TEXT NOT NULL REFERENCES users(id),
  csrf        TEXT NOT NULL,
  mfa_pending INTEGER NOT NULL DEFAULT 0,
  created_at  BIGINT NOT NULL,
  expires_at  BIGINT NOT NULL,
  ip          TEXT NOT NULL DEFAULT '',
  user_agent  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE tokens (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users(id),
  org_id       TEXT NOT NULL REFERENCES orgs(id),
  name         TEXT NOT NULL,
  hash         TEXT NOT NULL UNIQUE,
  prefix       TEXT NOT NULL,
  scope        TEXT NOT NULL CHECK (scope IN ('read','write')),
  created_at   BIGINT NOT NULL,
  expires_at   BIGINT,
  revoked_at   BIGINT,
  last_used_at BIGINT
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE communities (
  id                 TEXT PRIMARY KEY,
  name               TEXT NOT NULL,
  name_key           TEXT NOT NULL UNIQUE,
  description        TEXT NOT NULL DEFAULT '',
  coordinator_org_id TEXT NOT NULL REFERENCES orgs(id),
  created_at         BIGINT NOT NULL
);

CREATE TABLE community_members (
  community_id TEXT NOT NULL REFERENCES communities(id),
  org_id       TEXT NOT NULL REFERENCES orgs(id),
  status       TEXT NOT NULL CHECK (status IN ('pending','active','rejected','left')),
  message      TEXT NOT NULL DEFAULT '',
  requested_at BIGINT NOT NULL,
  decided_at   BIGINT,
  PRIMARY KEY (community_id, org_id)
);
CREATE INDEX community_members_org ON community_members(org_id, status);

-- A bilateral agreement has two parties; a charter belongs to a community and
-- gains a party row for every member that accepts it. Coverage needs an
-- accepted party row for both ends of a flow.
CREATE TABLE agreements (
  id             TEXT PRIMARY KEY,
  kind           TEXT NOT NULL CHECK (kind IN ('bilateral','charter')),
  community_id   TEXT REFERENCES communities(id),
  proposer_org   TEXT NOT NULL REFERENCES orgs(id),
  title          TEXT NOT NULL DEFAULT '',
  categories     INTEGER NOT NULL,
  max_tlp        INTEGER NOT NULL,
  purpose        TEXT NOT NULL DEFAULT '',
  personal_data  INTEGER NOT NULL DEFAULT 0,
  retention_days INTEGER NOT NULL,
  valid_from     BIGINT NOT NULL,
  valid_until    BIGINT,
  status         TEXT NOT NULL CHECK (status IN ('proposed','active','revoked')),
  revoked_at     BIGINT,
  revoked_by_org TEXT,
  created_at     BIGINT NOT NULL
);
CREATE INDEX agreements_community ON agreements(community_id);

CREATE TABLE agreement_parties (
  agreement_id TEXT NOT NULL REFERENCES agreements(id),
  org_id       TEXT NOT NULL REFERENCES orgs(id),
  accepted_at  BIGINT,
  accepted_by  TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (agreement_id, org_id)
);
CREATE INDEX agreement_parties_org ON agreement_parties(org_id, agreement_id);

-- shares holds the sharing envelope of every shareable object, whatever its
-- capability: owner, category bit, TLP, audience. Capability tables use the
-- same id. The visibility predicate of internal/policy reads only these
-- tables, so a new capability inherits need-to-know by joining them.
CREATE TABLE shares (
  id           TEXT PRIMARY KEY,
  kind         TEXT NOT NULL,
  owner_org_id TEXT NOT NULL REFERENCES orgs(id),
  author_id    TEXT NOT NULL REFERENCES users(id),
  category     INTEGER NOT NULL,
  tlp          INTEGER NOT NULL CHECK (tlp BETWEEN 0 AND 4),
  audience     TEXT NOT NULL CHECK (audience IN ('org','community','orgs','people')),
  community_id TEXT REFERENCES communities(id),
  created_at   BIGINT NOT NULL
);
CREATE TABLE share_orgs (
  share_id TEXT NOT NULL REFERENCES shares(id),
  org_id   TEXT NOT NULL REFERENCES orgs(id),
  PRIMARY KEY (share_id, org_id)
);
CREATE TABLE share_people (
  share_id TEXT NOT NULL REFERENCES shares(id),
  user_id  TEXT NOT NULL REFERENCES users(id),
  PRIMARY KEY (share_id, user_id)
);
CREATE INDEX share_people_user ON share_people(user_id);

CREATE TABLE channels (
  id           TEXT PRIMARY KEY,
  org_id       TEXT NOT NULL REFERENCES orgs(id),
  community_id TEXT REFERENCES communities(id),
  name         TEXT NOT NULL,
  description  TEXT NOT NULL DEFAULT '',
  created_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX channels_scope_name ON channels(COALESCE(community_id, org_id), name);

CREATE TABLE threads (
  id         TEXT PRIMARY KEY REFERENCES shares(id),
  channel_id TEXT NOT NULL REFERENCES channels(id),
  org_id     TEXT NOT NULL REFERENCES orgs(id),
  title      TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_post_at BIGINT NOT NULL
);
CREATE INDEX threads_channel ON threads(channel_id, last_post_at);

CREATE TABLE posts (
  id         TEXT PRIMARY KEY REFERENCES shares(id),
  thread_id  TEXT NOT NULL REFERENCES threads(id),
  org_id     TEXT NOT NULL REFERENCES orgs(id),
  author_id  TEXT NOT NULL REFERENCES users(id),
  body       TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  edited_at  BIGINT,
  revisions  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX posts_thread ON posts(thread_id, id);

CREATE TABLE post_revisions (
  post_id   TEXT NOT NULL REFERENCES posts(id),
  rev       INTEGER NOT NULL,
  body      TEXT NOT NULL,
  edited_by TEXT NOT NULL REFERENCES users(id),
  edited_at BIGINT NOT NULL,
  PRIMARY KEY (post_id, rev)
);

-- The audit trail: append-only and hash-chained. audit_head serialises
-- writers (one row, updated in every audited transaction) and remembers the
-- last hash so that cutting records off the end is detected too.
CREATE TABLE audit_log (
  seq           BIGINT PRIMARY KEY,
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
  prev_hash     TEXT NOT NULL,
  hash          TEXT NOT NULL
);
CREATE TABLE audit_orgs (
  org_id TEXT NOT NULL,
  seq    BIGINT NOT NULL,
  PRIMARY KEY (org_id, seq)
);
CREATE TABLE audit_head (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  seq  BIGINT NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, 'genesis');
