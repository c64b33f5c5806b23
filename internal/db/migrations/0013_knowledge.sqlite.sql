-- The hub's one full-text index learns German and English (internal/words):
-- besides the words of title and body (prefixes, accents folded by the
-- tokenizer) it indexes each document's German and English stems (stems:
-- "Angriffe" and "Angriff" share "angriff") and its longer words' German
-- stems without their first three letters, reversed (tails: a search for
-- "Angriff" also finds "Ransomwareangriffe", whose tail "ffirgnaerawmos"
-- starts with "ffirgna"), and its
-- kind, so that a search in one kind finds its documents in the index
-- instead of walking every other kind's. The triggers compute stems and
-- tails with the hub's functions (internal/db/functions.go), so every
-- writer of search_docs indexes the same way; the rows already there are
-- indexed again below. The table holds no copy of the text (content='',
-- rows deleted by rowid) and no positions (detail=column: searches are
-- words, not phrases; snippets come from search_docs).
DROP TRIGGER search_docs_ai;
DROP TRIGGER search_docs_ad;
DROP TRIGGER search_docs_au;
DROP TABLE search_fts;
CREATE VIRTUAL TABLE search_fts USING fts5(title, body, stems, tails, kind, content='', contentless_delete=1, detail=column, tokenize='unicode61 remove_diacritics 2');
-- The vocabularies: every word of title and body as FTS5 reads it, and
-- every tail. A search word is looked up here as the words it is a prefix
-- of, and FTS5 is asked for those (a few words, read newest first as far
-- as a page needs) instead of for the prefix, for which it merges the
-- documents of every such word before it hands out the first: 0.3 ms
-- instead of 14 ms for a common word in 100,000 documents. Words are
-- never taken out (a word without documents finds none). The triggers
-- add only words not there yet instead of INSERT OR IGNORE: an upsert
-- (Kind.Index of an edited text) imposes its own conflict handling on the
-- statements of the triggers it fires, and the duplicate failed it.
CREATE TABLE search_terms (term TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE search_tails (tail TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN INSERT INTO search_fts (rowid, title, body, stems, tails, kind) VALUES (new.seq, new.title, new.body, verbund_stems(new.title || ' ' || new.body), verbund_tails(new.title || ' ' || new.body), replace(new.kind, '_', '')); INSERT INTO search_terms (term) SELECT j.value FROM json_each(verbund_words(new.title || ' ' || new.body)) j WHERE NOT EXISTS (SELECT 1 FROM search_terms t WHERE t.term = j.value); INSERT INTO search_tails (tail) SELECT j.value FROM json_each(verbund_tail_list(new.title || ' ' || new.body)) j WHERE NOT EXISTS (SELECT 1 FROM search_tails t WHERE t.tail = j.value); END;
CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN DELETE FROM search_fts WHERE rowid = old.seq; END;
CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN DELETE FROM search_fts WHERE rowid = old.seq; INSERT INTO search_fts (rowid, title, body, stems, tails, kind) VALUES (new.seq, new.title, new.body, verbund_stems(new.title || ' ' || new.body), verbund_tails(new.title || ' ' || new.body), replace(new.kind, '_', '')); INSERT INTO search_terms (term) SELECT j.value FROM json_each(verbund_words(new.title || ' ' || new.body)) j WHERE NOT EXISTS (SELECT 1 FROM search_terms t WHERE t.term = j.value); INSERT INTO search_tails (tail) SELECT j.value FROM json_each(verbund_tail_list(new.title || ' ' || new.body)) j WHERE NOT EXISTS (SELECT 1 FROM search_tails t WHERE t.tail = j.value); END;
INSERT INTO search_fts (rowid, title, body, stems, tails, kind) SELECT seq, title, body, verbund_stems(title || ' ' || body), verbund_tails(title || ' ' || body), replace(kind, '_', '') FROM search_docs ORDER BY seq;
INSERT OR IGNORE INTO search_terms (term) SELECT j.value FROM search_docs d, json_each(verbund_words(d.title || ' ' || d.body)) j;
INSERT OR IGNORE INTO search_tails (tail) SELECT j.value FROM search_docs d, json_each(verbund_tail_list(d.title || ' ' || d.body)) j;

-- The knowledge archive (internal/knowledge): articles in Markdown, each a
-- shareable object (kind "article", category knowledge) of its owner org,
-- found in the library of its audience (the org's, a trust circle's, or
-- shared with named orgs or people).
CREATE TABLE articles (
  id         TEXT PRIMARY KEY REFERENCES shares(id),
  org_id     TEXT NOT NULL REFERENCES orgs(id),
  kind       TEXT NOT NULL CHECK (kind IN ('guide', 'checklist', 'post_incident_review', 'lessons_learned')),
  lang       TEXT NOT NULL DEFAULT '',
  title      TEXT NOT NULL,
  body       TEXT NOT NULL,
  version    INTEGER NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  updated_by TEXT NOT NULL REFERENCES users(id)
);
CREATE INDEX articles_updated ON articles (updated_at, id);
-- Every version as it was written, the current one included: the history
-- and its diffs.
CREATE TABLE article_versions (
  article_id TEXT NOT NULL REFERENCES articles(id),
  version    INTEGER NOT NULL,
  kind       TEXT NOT NULL,
  title      TEXT NOT NULL,
  body       TEXT NOT NULL,
  tags       TEXT NOT NULL DEFAULT '',
  edited_by  TEXT NOT NULL REFERENCES users(id),
  edited_at  BIGINT NOT NULL,
  PRIMARY KEY (article_id, version)
);
CREATE TABLE article_tags (
  article_id TEXT NOT NULL REFERENCES articles(id),
  tag        TEXT NOT NULL,
  PRIMARY KEY (article_id, tag)
);
CREATE INDEX article_tags_tag ON article_tags (tag, article_id);
-- Links to other objects of the hub (an intel object today; incidents,
-- playbooks and advisories as they come), by the type their capability
-- registers (web.ObjectType): shown only to readers who may see them.
CREATE TABLE article_links (
  article_id  TEXT NOT NULL REFERENCES articles(id),
  target_type TEXT NOT NULL,
  target_id   TEXT NOT NULL,
  PRIMARY KEY (article_id, target_type, target_id)
);
-- Comments: shareable objects of their own (kind "article_comment") that
-- live in their article (shares.container_id), like a forum's replies.
CREATE TABLE article_comments (
  id         TEXT PRIMARY KEY REFERENCES shares(id),
  article_id TEXT NOT NULL REFERENCES articles(id),
  org_id     TEXT NOT NULL REFERENCES orgs(id),
  author_id  TEXT NOT NULL REFERENCES users(id),
  body       TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX article_comments_article ON article_comments (article_id, id);
-- "Helpful": one vote per person and article.
CREATE TABLE article_votes (
  article_id TEXT NOT NULL REFERENCES articles(id),
  user_id    TEXT NOT NULL REFERENCES users(id),
  org_id     TEXT NOT NULL REFERENCES orgs(id),
  created_at BIGINT NOT NULL,
  PRIMARY KEY (article_id, user_id)
);
-- How often the readers of each org opened an article: per org, never per
-- person (bookkeeping, like a token's last use: no audit record).
CREATE TABLE article_reads (
  article_id TEXT NOT NULL REFERENCES articles(id),
  org_id     TEXT NOT NULL REFERENCES orgs(id),
  reads      BIGINT NOT NULL DEFAULT 0,
  last_at    BIGINT NOT NULL,
  PRIMARY KEY (article_id, org_id)
);
-- Files attached to an article, served only as downloads to those who may
-- see the article; sha256 is the hex digest of content.
CREATE TABLE article_attachments (
  id         TEXT PRIMARY KEY,
  article_id TEXT NOT NULL REFERENCES articles(id),
  name       TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size       BIGINT NOT NULL,
  sha256     TEXT NOT NULL,
  content    BLOB NOT NULL,
  added_by   TEXT NOT NULL REFERENCES users(id),
  added_at   BIGINT NOT NULL
);
CREATE INDEX article_attachments_article ON article_attachments (article_id, added_at);
