-- Fewer B-trees for an import to write (each insert into an index in
-- random order dirties a page that the commit and the checkpoint then
-- write): an object's versions are found through one index instead of
-- two, (stix_id, org_id, version), which also keeps one copy of a
-- version per org; and the references are a table without rowids, their
-- primary key being the only order they are read in besides object_id.
DROP INDEX intel_objects_stix;
DROP INDEX intel_objects_version;
CREATE UNIQUE INDEX intel_objects_version ON intel_objects (stix_id, org_id, version);
CREATE TABLE intel_refs_new (
  object_id TEXT NOT NULL REFERENCES intel_objects(id),
  ref       TEXT NOT NULL,
  role      TEXT NOT NULL,
  PRIMARY KEY (ref, object_id, role)
) WITHOUT ROWID;
INSERT INTO intel_refs_new (object_id, ref, role) SELECT object_id, ref, role FROM intel_refs;
DROP TABLE intel_refs;
ALTER TABLE intel_refs_new RENAME TO intel_refs;
CREATE INDEX intel_refs_object ON intel_refs (object_id);
