-- One full-text index for the hub (internal/policy/search.go): a document
-- per shareable object that has text to find, written by the kernel
-- (Kind.Index) in the object's transaction and deleted with its envelope.
-- Searches join it with the object's envelope and the visibility predicate
-- like every list. SQLite: FTS5 over the documents (external content, kept
-- in step by triggers); seq orders the documents as they were written, so
-- newest first is seq descending and a search can stop at a page.
CREATE TABLE search_docs (
  seq   INTEGER PRIMARY KEY,
  id    TEXT NOT NULL UNIQUE REFERENCES shares(id),
  kind  TEXT NOT NULL,
  title TEXT NOT NULL DEFAULT '',
  body  TEXT NOT NULL DEFAULT ''
);
CREATE VIRTUAL TABLE search_fts USING fts5(title, body, content='search_docs', content_rowid='seq', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN INSERT INTO search_fts (rowid, title, body) VALUES (new.seq, new.title, new.body); END;
CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN INSERT INTO search_fts (search_fts, rowid, title, body) VALUES ('delete', old.seq, old.title, old.body); END;
CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN INSERT INTO search_fts (search_fts, rowid, title, body) VALUES ('delete', old.seq, old.title, old.body); INSERT INTO search_fts (rowid, title, body) VALUES (new.seq, new.title, new.body); END;
-- The forum's posts so far.
INSERT INTO search_docs (id, kind, body) SELECT id, 'post', body FROM posts ORDER BY id;
