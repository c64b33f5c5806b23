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
  SELECT container_id, kind, group_concat(owner_org_id || char(9) || author_id || char(9) || tlp || char(9) || audience || char(9) ||
    community_id || char(9) || orgs || char(9) || people || char(9) || n || char(9) || last_at || char(10), '')
  FROM share_tally WHERE n > 0 GROUP BY container_id, kind;
DROP TABLE share_tally;
ALTER TABLE share_tally_rows RENAME TO share_tally;
