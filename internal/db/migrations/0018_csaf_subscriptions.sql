-- CSAF provider subscriptions (internal/vulns, subscriptions.go). One file
-- for both engines.
--
-- A subscription is an org's own (never shared, like its assets): every
-- query filters on org_id. It names a trusted provider by its
-- provider-metadata.json URL and how the documents it brings are shared
-- (the least TLP, the trust circle), as a file import does. The documents
-- it brings are the org's advisories, imported by the person who
-- subscribed (created_by) while that person may still write.
CREATE TABLE vuln_subscriptions (
  id            TEXT PRIMARY KEY,
  org_id        TEXT NOT NULL REFERENCES orgs(id),
  url           TEXT NOT NULL,
  publisher     TEXT NOT NULL DEFAULT '',
  tlp           TEXT NOT NULL DEFAULT '',
  community_id  TEXT NOT NULL DEFAULT '',
  created_by    TEXT NOT NULL REFERENCES users(id),
  created_at    BIGINT NOT NULL,
  -- When the poller reads the provider next.
  next_run      BIGINT NOT NULL DEFAULT 0,
  -- The last run: when, what it found, and why it failed as a whole
  -- (a code of vulns.sub.error.*; '' when it ran).
  last_run      BIGINT NOT NULL DEFAULT 0,
  last_error    TEXT NOT NULL DEFAULT '',
  last_message  TEXT NOT NULL DEFAULT '',
  listed        INTEGER NOT NULL DEFAULT 0,
  checked       INTEGER NOT NULL DEFAULT 0,
  imported      INTEGER NOT NULL DEFAULT 0,
  rejected      INTEGER NOT NULL DEFAULT 0,
  UNIQUE (org_id, url)
);
CREATE INDEX vuln_subscriptions_due ON vuln_subscriptions (next_run);

-- The documents a subscription has imported, with the time the provider
-- gave for their last change (ROLIE updated, changes.csv): a later run
-- fetches only those that are new or changed since.
CREATE TABLE vuln_subscription_docs (
  subscription_id TEXT NOT NULL REFERENCES vuln_subscriptions(id),
  url             TEXT NOT NULL,
  updated         BIGINT NOT NULL,
  PRIMARY KEY (subscription_id, url)
);

-- Why documents of the last run were refused (replaced by each run).
CREATE TABLE vuln_subscription_errors (
  subscription_id TEXT NOT NULL REFERENCES vuln_subscriptions(id),
  seq             INTEGER NOT NULL,
  url             TEXT NOT NULL,
  code            TEXT NOT NULL,
  message         TEXT NOT NULL,
  PRIMARY KEY (subscription_id, seq)
);
