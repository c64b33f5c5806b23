-- Vulnerability coordination (internal/vulns). One file for both engines
-- (SQLite reads DOUBLE PRECISION as REAL).
--
-- An advisory is a shareable object (its envelope in shares, kind
-- "vuln_advisory", category vulnerability): one row per org, publisher
-- namespace and tracking id, the newest tracking.version's fields beside
-- every version's document (vuln_advisory_versions). Products,
-- vulnerabilities, product status and remediations are the newest
-- version's, flattened for lists and matching; they are read only
-- through their advisory's envelope.
CREATE TABLE vuln_advisories (
  id              TEXT PRIMARY KEY REFERENCES shares(id),
  org_id          TEXT NOT NULL REFERENCES orgs(id),
  publisher       TEXT NOT NULL,
  namespace       TEXT NOT NULL,
  tracking_id     TEXT NOT NULL,
  title           TEXT NOT NULL,
  category        TEXT NOT NULL,
  version         TEXT NOT NULL,
  status          TEXT NOT NULL,
  doc_tlp         TEXT NOT NULL DEFAULT '',
  initial_release BIGINT NOT NULL,
  current_release BIGINT NOT NULL,
  score           DOUBLE PRECISION NOT NULL DEFAULT 0,
  severity        TEXT NOT NULL DEFAULT '',
  cves            TEXT NOT NULL DEFAULT '',
  summary         TEXT NOT NULL DEFAULT '',
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  UNIQUE (org_id, namespace, tracking_id)
);
CREATE INDEX vuln_advisories_org ON vuln_advisories (org_id, current_release);
CREATE INDEX vuln_advisories_release ON vuln_advisories (current_release, id);

CREATE TABLE vuln_advisory_versions (
  advisory_id TEXT NOT NULL REFERENCES vuln_advisories(id),
  version     TEXT NOT NULL,
  sha256      TEXT NOT NULL,
  document    TEXT NOT NULL,
  released_at BIGINT NOT NULL,
  imported_at BIGINT NOT NULL,
  PRIMARY KEY (advisory_id, version)
);

CREATE TABLE vuln_products (
  advisory_id   TEXT NOT NULL REFERENCES vuln_advisories(id),
  product_id    TEXT NOT NULL,
  name          TEXT NOT NULL,
  vendor        TEXT NOT NULL DEFAULT '',
  product       TEXT NOT NULL DEFAULT '',
  version       TEXT NOT NULL DEFAULT '',
  version_range TEXT NOT NULL DEFAULT '',
  cpe           TEXT NOT NULL DEFAULT '',
  purl          TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (advisory_id, product_id)
);

CREATE TABLE vuln_vulnerabilities (
  advisory_id   TEXT NOT NULL REFERENCES vuln_advisories(id),
  ord           INTEGER NOT NULL,
  cve           TEXT NOT NULL DEFAULT '',
  title         TEXT NOT NULL DEFAULT '',
  cwe           TEXT NOT NULL DEFAULT '',
  cvss_v2       TEXT NOT NULL DEFAULT '',
  cvss_v2_score DOUBLE PRECISION NOT NULL DEFAULT 0,
  cvss_v3       TEXT NOT NULL DEFAULT '',
  cvss_v3_score DOUBLE PRECISION NOT NULL DEFAULT 0,
  cvss_v4       TEXT NOT NULL DEFAULT '',
  cvss_v4_score DOUBLE PRECISION NOT NULL DEFAULT 0,
  score         DOUBLE PRECISION NOT NULL DEFAULT 0,
  severity      TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (advisory_id, ord)
);
CREATE INDEX vuln_vulnerabilities_cve ON vuln_vulnerabilities (cve);

-- status: the CSAF product_status list the product is named in.
CREATE TABLE vuln_product_status (
  advisory_id TEXT NOT NULL REFERENCES vuln_advisories(id),
  ord         INTEGER NOT NULL,
  product_id  TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('first_affected','first_fixed','fixed','known_affected',
                'known_not_affected','last_affected','recommended','under_investigation')),
  PRIMARY KEY (advisory_id, ord, product_id, status)
);

CREATE TABLE vuln_remediations (
  advisory_id TEXT NOT NULL REFERENCES vuln_advisories(id),
  ord         INTEGER NOT NULL,
  seq         INTEGER NOT NULL,
  category    TEXT NOT NULL,
  details     TEXT NOT NULL,
  url         TEXT NOT NULL DEFAULT '',
  product_ids TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (advisory_id, ord, seq)
);

-- CISA's catalogue of known exploited vulnerabilities: public reference
-- data of the whole hub (the operator imports it), one row per CVE.
CREATE TABLE vuln_kev (
  cve             TEXT PRIMARY KEY,
  vendor          TEXT NOT NULL,
  product         TEXT NOT NULL,
  name            TEXT NOT NULL,
  description     TEXT NOT NULL,
  required_action TEXT NOT NULL,
  date_added      TEXT NOT NULL,
  due_date        TEXT NOT NULL,
  ransomware      TEXT NOT NULL DEFAULT '',
  notes           TEXT NOT NULL DEFAULT '',
  catalog_version TEXT NOT NULL,
  imported_at     BIGINT NOT NULL
);

-- An org's assets are its own and never shared (no envelope): every query
-- filters on org_id.
CREATE TABLE vuln_assets (
  id         TEXT PRIMARY KEY,
  org_id     TEXT NOT NULL REFERENCES orgs(id),
  name       TEXT NOT NULL,
  vendor     TEXT NOT NULL DEFAULT '',
  product    TEXT NOT NULL DEFAULT '',
  version    TEXT NOT NULL DEFAULT '',
  cpe        TEXT NOT NULL DEFAULT '',
  purl       TEXT NOT NULL DEFAULT '',
  source     TEXT NOT NULL CHECK (source IN ('manual','csv','cyclonedx')),
  created_by TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL
);
CREATE INDEX vuln_assets_org ON vuln_assets (org_id, id);

-- A match says that an org's asset is a product an advisory names. It is
-- the asset owner's data (org_id) and shown only with its advisory's
-- envelope visible to the reader.
CREATE TABLE vuln_matches (
  org_id      TEXT NOT NULL REFERENCES orgs(id),
  asset_id    TEXT NOT NULL REFERENCES vuln_assets(id),
  advisory_id TEXT NOT NULL REFERENCES vuln_advisories(id),
  product_id  TEXT NOT NULL,
  matched_by  TEXT NOT NULL CHECK (matched_by IN ('cpe','purl','name')),
  created_at  BIGINT NOT NULL,
  PRIMARY KEY (asset_id, advisory_id, product_id)
);
CREATE INDEX vuln_matches_org ON vuln_matches (org_id, advisory_id);
CREATE INDEX vuln_matches_advisory ON vuln_matches (advisory_id);

-- An org's VEX statement on an (advisory, product): a shareable object
-- (kind "vuln_statement", category vulnerability) contained in its
-- advisory, by default the org's own. Patch deadlines are not stored: the
-- board computes them from the match, the org's policy and KEV.
CREATE TABLE vuln_statements (
  id            TEXT PRIMARY KEY REFERENCES shares(id),
  org_id        TEXT NOT NULL REFERENCES orgs(id),
  advisory_id   TEXT NOT NULL REFERENCES vuln_advisories(id),
  product_id    TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('affected','not_affected','fixed','under_investigation')),
  justification TEXT NOT NULL DEFAULT '',
  note          TEXT NOT NULL DEFAULT '',
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL,
  UNIQUE (org_id, advisory_id, product_id)
);

-- An org's patch policy: days to patch by severity.
CREATE TABLE vuln_policies (
  org_id        TEXT PRIMARY KEY REFERENCES orgs(id),
  critical_days INTEGER NOT NULL,
  high_days     INTEGER NOT NULL,
  medium_days   INTEGER NOT NULL,
  low_days      INTEGER NOT NULL,
  updated_at    BIGINT NOT NULL
);
