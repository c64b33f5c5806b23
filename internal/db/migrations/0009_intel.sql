-- Threat intelligence (internal/intel): every version of every STIX object
-- an org shared is one shareable object (its envelope in shares, kind
-- "intel"): owner, TLP (from its markings) and audience per version.
-- object keeps the JSON as received; the other columns are what queries
-- filter and sort on. date_added is when the hub got the version (TAXII's
-- order, Unix µs, increasing within a process); version is the STIX
-- modified (else created) as written, version_ns the same as a number for
-- comparisons ('' and 0 for SCOs, which have no versions).
CREATE TABLE intel_objects (
  id           TEXT PRIMARY KEY REFERENCES shares(id),
  org_id       TEXT NOT NULL REFERENCES orgs(id),
  stix_id      TEXT NOT NULL,
  stix_type    TEXT NOT NULL,
  version      TEXT NOT NULL,
  version_ns   BIGINT NOT NULL,
  spec_version TEXT NOT NULL,
  date_added   BIGINT NOT NULL,
  revoked      INTEGER NOT NULL DEFAULT 0,
  valid_until  BIGINT NOT NULL DEFAULT 0,
  name         TEXT NOT NULL DEFAULT '',
  -- 1 for the newest version an org holds of an object: TAXII's and the
  -- lists' default, kept by the writers (insert, delete).
  latest       INTEGER NOT NULL DEFAULT 1,
  -- When the org first held the object (its first version's date_added),
  -- and whether another org holds the same STIX id too: then a reader who
  -- sees both orgs' copies gets the first holder's only (STIX: only the
  -- creator versions an object; a second org's "newer version" must not
  -- pass for the creator's update or revocation).
  first_added  BIGINT NOT NULL DEFAULT 0,
  shared_id    INTEGER NOT NULL DEFAULT 0,
  object       TEXT NOT NULL
);
-- One copy of a version per org: a re-import finds it and adds nothing.
CREATE UNIQUE INDEX intel_objects_version ON intel_objects (org_id, stix_id, version);
CREATE INDEX intel_objects_stix ON intel_objects (stix_id, version_ns);
CREATE INDEX intel_objects_added ON intel_objects (date_added, id);
-- The simple values an object stands for (an indicator's pattern, an
-- observable's value), normalised, for lookups and correlation.
CREATE TABLE intel_values (
  object_id  TEXT NOT NULL REFERENCES intel_objects(id),
  kind       TEXT NOT NULL,
  value      TEXT NOT NULL,
  sufficient INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (kind, value, object_id)
);
CREATE INDEX intel_values_object ON intel_values (object_id);
-- The prefix lengths of the ranges stored (e.g. 24 for 203.0.113.0/24,
-- 6 bits for IPv6 as 128+len): a looked-up address is compared with its
-- own prefixes of these lengths only, not all 33 (or 129). Stale lengths
-- after a delete cost a probe, never a wrong answer.
CREATE TABLE intel_cidr_lengths (bits INTEGER PRIMARY KEY);
-- The references between objects that pages follow both ways: a
-- relationship's source and target, a sighting's sighting_of_ref, a
-- report's (or grouping's, note's, opinion's) object_refs.
CREATE TABLE intel_refs (
  object_id TEXT NOT NULL REFERENCES intel_objects(id),
  ref       TEXT NOT NULL,
  role      TEXT NOT NULL,
  PRIMARY KEY (ref, object_id, role)
);
CREATE INDEX intel_refs_object ON intel_refs (object_id);
-- TAXII status resources of POSTs, kept a day or more (TAXII 2.1 §4.3).
CREATE TABLE taxii_status (
  id         TEXT PRIMARY KEY,
  org_id     TEXT NOT NULL REFERENCES orgs(id),
  user_id    TEXT NOT NULL REFERENCES users(id),
  created_at BIGINT NOT NULL,
  body       TEXT NOT NULL
);
