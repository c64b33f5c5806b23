-- CSAF trusted provider (internal/vulns, provider.go and publish.go). One
-- file for both engines.
--
-- An org that publishes advisories gets a provider: its handle in the
-- provider's addresses (/csaf/{slug}/…) and its OpenPGP key, made once
-- when it first publishes. The private key is stored armored and
-- unencrypted, like the hub's other secrets (docs/SECURITY.md): no route
-- reads the column.
CREATE TABLE csaf_providers (
  org_id      TEXT PRIMARY KEY REFERENCES orgs(id),
  slug        TEXT NOT NULL UNIQUE,
  fingerprint TEXT NOT NULL,
  public_key  TEXT NOT NULL,
  private_key TEXT NOT NULL,
  created_at  BIGINT NOT NULL,
  -- The publisher namespace the org's first publication claimed, kept
  -- when it unpublishes everything; namespace_key (lower case, no
  -- trailing slash) is unique, so two orgs racing for one namespace
  -- cannot both have it.
  namespace     TEXT,
  namespace_key TEXT UNIQUE
);

-- A published advisory: the version of its document the provider serves,
-- with the file name (CSAF 2.0 §5.1), the folder year (its
-- initial_release_date), the TLP label of its feed, its digests and its
-- detached signature, all fixed when it was published. Who may read it is
-- still its envelope's business: the provider serves a publication only
-- while the envelope's level is the label's.
CREATE TABLE csaf_publications (
  advisory_id     TEXT PRIMARY KEY REFERENCES vuln_advisories(id),
  org_id          TEXT NOT NULL REFERENCES orgs(id),
  version         TEXT NOT NULL,
  label           TEXT NOT NULL CHECK (label IN ('WHITE','GREEN','AMBER','RED')),
  filename        TEXT NOT NULL,
  year            INTEGER NOT NULL,
  title           TEXT NOT NULL,
  publisher       TEXT NOT NULL,
  publisher_cat   TEXT NOT NULL,
  namespace       TEXT NOT NULL,
  initial_release TEXT NOT NULL,
  current_release TEXT NOT NULL,
  sha256          TEXT NOT NULL,
  sha512          TEXT NOT NULL,
  signature       TEXT NOT NULL,
  published_by    TEXT NOT NULL,
  published_at    BIGINT NOT NULL,
  UNIQUE (org_id, filename)
);
CREATE INDEX csaf_publications_org ON csaf_publications (org_id, label, current_release);
