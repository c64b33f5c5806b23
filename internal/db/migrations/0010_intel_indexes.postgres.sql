-- Fewer indexes for an import to write: an object's versions are found
-- through one index instead of two, (stix_id, org_id, version), which
-- also keeps one copy of a version per org (see the SQLite twin).
DROP INDEX intel_objects_stix;
DROP INDEX intel_objects_version;
CREATE UNIQUE INDEX intel_objects_version ON intel_objects (stix_id, org_id, version);
