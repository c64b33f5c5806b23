-- The hub's one full-text index learns compounds (internal/words): the
-- tsvector keeps the German and English stems of title and body (weight
-- A) and adds the longer words' German stems without their first three
-- letters, reversed (weight D, verbund_tails: words.Tails), so that a
-- search for "Angriff" also finds "Ransomwareangriffe" (the tail
-- "ffirgnaerawmos" starts with "ffirgna", a prefix search restricted to
-- weight D). Recomputed for the rows already there.
CREATE FUNCTION verbund_tails(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT COALESCE(string_agg(DISTINCT reverse(substr(s, 4)), ' '), '')
  FROM (SELECT COALESCE((ts_lexize('german_stem', w))[1], w) AS s
        FROM unnest(tsvector_to_array(to_tsvector('simple'::regconfig, t))) AS w
        WHERE w ~ '^[[:alpha:]]+$') AS x
  WHERE length(s) >= 8
$$;
DROP INDEX search_docs_tsv;
ALTER TABLE search_docs DROP COLUMN tsv;
ALTER TABLE search_docs ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
  setweight(to_tsvector('german'::regconfig, title || ' ' || body) || to_tsvector('english'::regconfig, title || ' ' || body), 'A')
  || setweight(to_tsvector('simple'::regconfig, verbund_tails(title || ' ' || body)), 'D')) STORED;
CREATE INDEX search_docs_tsv ON search_docs USING GIN (tsv);

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
  content    BYTEA NOT NULL,
  added_by   TEXT NOT NULL REFERENCES users(id),
  added_at   BIGINT NOT NULL
);
CREATE INDEX article_attachments_article ON article_attachments (article_id, added_at);
