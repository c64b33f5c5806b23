-- Objects contained in another (a thread's posts; later an incident's
-- comments) name their container in their envelope, and the kernel keeps
-- a tally per container of their envelopes, grouped by what decides who
-- may see them — owner, level, audience with its circle or named orgs or
-- people, and for RED the author —: how many and the newest, per group. A
-- list of containers then counts what each reader may see from a handful
-- of groups judged with the reader's view (internal/policy/tally.go),
-- instead of judging every contained object.
ALTER TABLE shares ADD COLUMN container_id TEXT;
CREATE INDEX shares_container ON shares (container_id);
CREATE TABLE share_tally (
  container_id TEXT NOT NULL,
  kind         TEXT NOT NULL,
  owner_org_id TEXT NOT NULL,
  author_id    TEXT NOT NULL DEFAULT '', -- RED only: it decides inside the owner org
  tlp          INTEGER NOT NULL,
  audience     TEXT NOT NULL,
  community_id TEXT NOT NULL DEFAULT '',
  orgs         TEXT NOT NULL DEFAULT '', -- named orgs, sorted, comma separated
  people       TEXT NOT NULL DEFAULT '', -- named people, sorted, comma separated
  n            BIGINT NOT NULL,
  last_at      BIGINT NOT NULL,
  PRIMARY KEY (container_id, kind, owner_org_id, author_id, tlp, audience, community_id, orgs, people)
);
-- The forum's posts so far.
UPDATE shares SET container_id = (SELECT p.thread_id FROM posts p WHERE p.id = shares.id) WHERE kind = 'post';
INSERT INTO share_tally (container_id, kind, owner_org_id, author_id, tlp, audience, community_id, orgs, people, n, last_at)
  SELECT container_id, kind, owner_org_id, author_key, tlp, audience, community_key, orgs, people, COUNT(*), MAX(created_at) FROM (
    SELECT s.container_id, s.kind, s.owner_org_id, CASE WHEN s.tlp = 4 THEN s.author_id ELSE '' END AS author_key, s.tlp, s.audience,
      CASE WHEN s.audience = 'community' THEN COALESCE(s.community_id, '') ELSE '' END AS community_key,
      CASE WHEN s.audience = 'orgs' THEN COALESCE((SELECT group_concat(o.org_id, ',' ORDER BY o.org_id) FROM share_orgs o WHERE o.share_id = s.id), '') ELSE '' END AS orgs,
      CASE WHEN s.audience = 'people' THEN COALESCE((SELECT group_concat(p.user_id, ',' ORDER BY p.user_id) FROM share_people p WHERE p.share_id = s.id), '') ELSE '' END AS people,
      s.created_at
    FROM shares s WHERE s.container_id IS NOT NULL) g
  GROUP BY container_id, kind, owner_org_id, author_key, tlp, audience, community_key, orgs, people;
