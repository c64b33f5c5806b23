-- Shared incidents (internal/incidents): an incident is a shareable object
-- (kind "incident", category incident) of the org that reports it; its
-- timeline entries and comments, tasks and evidence files are shareable
-- objects of their own that live in it (shares.container_id), like a
-- forum's replies. Participants, assistance requests and regulatory
-- clocks are rows of the incident, read only with it.
CREATE TABLE incidents (
  id              TEXT PRIMARY KEY REFERENCES shares(id),
  org_id          TEXT NOT NULL REFERENCES orgs(id),
  title           TEXT NOT NULL,
  description     TEXT NOT NULL,
  category        TEXT NOT NULL CHECK (category IN ('malware', 'phishing', 'credential_leak', 'data_leak', 'ddos', 'vuln_exploitation', 'outage', 'other')),
  severity        TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  status          TEXT NOT NULL CHECK (status IN ('reported', 'acknowledged', 'investigating', 'contained', 'resolved', 'closed')),
  exercise        INTEGER NOT NULL DEFAULT 0,
  -- A leak report by a CERT names the org whose data leaked.
  affected_org    TEXT REFERENCES orgs(id),
  nis2            INTEGER NOT NULL DEFAULT 0,
  gdpr            INTEGER NOT NULL DEFAULT 0,
  detected_at     BIGINT NOT NULL,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  acknowledged_at BIGINT NOT NULL DEFAULT 0,
  contained_at    BIGINT NOT NULL DEFAULT 0,
  resolved_at     BIGINT NOT NULL DEFAULT 0,
  closed_at       BIGINT NOT NULL DEFAULT 0,
  review_happened TEXT NOT NULL DEFAULT '',
  review_helped   TEXT NOT NULL DEFAULT '',
  review_lessons  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX incidents_org ON incidents (org_id, id);
-- The timeline: comments, status changes and other entries, each by a
-- person of a participating org.
CREATE TABLE incident_entries (
  id          TEXT PRIMARY KEY REFERENCES shares(id),
  incident_id TEXT NOT NULL REFERENCES incidents(id),
  org_id      TEXT NOT NULL REFERENCES orgs(id),
  author_id   TEXT NOT NULL REFERENCES users(id),
  kind        TEXT NOT NULL,
  body        TEXT NOT NULL,
  created_at  BIGINT NOT NULL
);
CREATE INDEX incident_entries_incident ON incident_entries (incident_id, id);
-- The orgs working on an incident, with their role and response targets.
CREATE TABLE incident_participants (
  incident_id      TEXT NOT NULL REFERENCES incidents(id),
  org_id           TEXT NOT NULL REFERENCES orgs(id),
  role             TEXT NOT NULL CHECK (role IN ('reporter', 'affected', 'responder', 'coordinator')),
  ack_minutes      INTEGER NOT NULL DEFAULT 0,
  update_hours     INTEGER NOT NULL DEFAULT 0,
  invited_at       BIGINT NOT NULL,
  invited_by       TEXT REFERENCES users(id),
  acknowledged_at  BIGINT NOT NULL DEFAULT 0,
  acknowledged_by  TEXT REFERENCES users(id),
  last_update_at   BIGINT NOT NULL DEFAULT 0,
  ack_breached_at  BIGINT NOT NULL DEFAULT 0,
  update_breach_due BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (incident_id, org_id)
);
CREATE INDEX incident_participants_org ON incident_participants (org_id, incident_id);
CREATE TABLE incident_tasks (
  id            TEXT PRIMARY KEY REFERENCES shares(id),
  incident_id   TEXT NOT NULL REFERENCES incidents(id),
  org_id        TEXT NOT NULL REFERENCES orgs(id),
  author_id     TEXT NOT NULL REFERENCES users(id),
  title         TEXT NOT NULL,
  assignee_org  TEXT REFERENCES orgs(id),
  assignee_user TEXT REFERENCES users(id),
  due_at        BIGINT NOT NULL DEFAULT 0,
  done_at       BIGINT NOT NULL DEFAULT 0,
  done_by       TEXT REFERENCES users(id),
  created_at    BIGINT NOT NULL
);
CREATE INDEX incident_tasks_incident ON incident_tasks (incident_id, id);
-- Evidence files, served only as downloads to those who may see them and
-- their incident; sha256 is the hex digest of content.
CREATE TABLE incident_evidence (
  id          TEXT PRIMARY KEY REFERENCES shares(id),
  incident_id TEXT NOT NULL REFERENCES incidents(id),
  org_id      TEXT NOT NULL REFERENCES orgs(id),
  name        TEXT NOT NULL,
  media_type  TEXT NOT NULL,
  size        BIGINT NOT NULL,
  sha256      TEXT NOT NULL,
  content     BYTEA NOT NULL,
  added_by    TEXT NOT NULL REFERENCES users(id),
  added_at    BIGINT NOT NULL
);
CREATE INDEX incident_evidence_incident ON incident_evidence (incident_id, id);
-- Links to intel objects (shown only to readers who may see them).
CREATE TABLE incident_links (
  incident_id TEXT NOT NULL REFERENCES incidents(id),
  target_type TEXT NOT NULL,
  target_id   TEXT NOT NULL,
  PRIMARY KEY (incident_id, target_type, target_id)
);
-- Requests for a CERT's assistance: the CERT's inbox.
CREATE TABLE incident_assistance (
  id          TEXT PRIMARY KEY,
  incident_id TEXT NOT NULL REFERENCES incidents(id),
  from_org    TEXT NOT NULL REFERENCES orgs(id),
  cert_org    TEXT NOT NULL REFERENCES orgs(id),
  message     TEXT NOT NULL DEFAULT '',
  status      TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'forwarded')),
  reason      TEXT NOT NULL DEFAULT '',
  created_at  BIGINT NOT NULL,
  created_by  TEXT NOT NULL REFERENCES users(id),
  decided_at  BIGINT NOT NULL DEFAULT 0,
  decided_by  TEXT REFERENCES users(id),
  -- 1 when the request is what put the CERT into the incident's audience:
  -- a CERT that declines or forwards leaves it again only then, never
  -- when the owner had named it before.
  widened     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX incident_assistance_cert ON incident_assistance (cert_org, status, created_at);
-- Regulatory clocks (NIS2, GDPR) of flagged incidents: when each report
-- was marked as sent and when its reminder went out.
CREATE TABLE incident_clocks (
  incident_id TEXT NOT NULL REFERENCES incidents(id),
  clock       TEXT NOT NULL,
  reported_at BIGINT NOT NULL DEFAULT 0,
  reminded_at BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (incident_id, clock)
);
