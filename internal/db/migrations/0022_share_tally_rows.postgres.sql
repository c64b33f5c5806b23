-- A container's tally becomes one row: its groups (owner, author, level,
-- audience, circle, orgs, people, then count and newest) one line each,
-- tab separated (internal/policy/tally.go). A thread list reads one row
-- per thread instead of one per group.
CREATE TABLE share_tally_rows (
  container_id TEXT NOT NULL,
  kind         TEXT NOT NULL,
  groups       TEXT NOT NULL,
  PRIMARY KEY (container_id, kind)
);
INSERT INTO share_tally_rows (container_id, kind, groups)
  SELECT container_id, kind, string_agg(owner_org_id || chr(9) || author_id || chr(9) || tlp::text || chr(9) || audience || chr(9) ||
    community_id || chr(9) || orgs || chr(9) || people || chr(9) || n::text || chr(9) || last_at::text || chr(10), '')
  FROM share_tally WHERE n > 0 GROUP BY container_id, kind;
DROP TABLE share_tally;
ALTER TABLE share_tally_rows RENAME TO share_tally;
