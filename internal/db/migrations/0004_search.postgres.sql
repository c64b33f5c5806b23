-- One full-text index for the hub (internal/policy/search.go): a document
-- per shareable object that has text to find, written by the kernel
-- (Kind.Index) in the object's transaction and deleted with its envelope.
-- PostgreSQL: a tsvector in German and English (both stemmings, so a
-- search finds either language's word forms) with a GIN index; seq orders
-- the documents as they were written.
CREATE TABLE search_docs (
  seq   BIGSERIAL PRIMARY KEY,
  id    TEXT NOT NULL UNIQUE REFERENCES shares(id),
  kind  TEXT NOT NULL,
  title TEXT NOT NULL DEFAULT '',
  body  TEXT NOT NULL DEFAULT '',
  tsv   tsvector GENERATED ALWAYS AS (to_tsvector('german'::regconfig, title || ' ' || body) || to_tsvector('english'::regconfig, title || ' ' || body)) STORED
);
CREATE INDEX search_docs_tsv ON search_docs USING GIN (tsv);
-- The forum's posts so far.
INSERT INTO search_docs (id, kind, body) SELECT id, 'post', body FROM posts ORDER BY id;
