-- Runs of CACAO playbooks inside incidents (internal/incidents, runs.go).
-- One file for both engines.
--
-- A run lives in its incident like the incident's participants and clocks:
-- its rows are read only with the incident (the reader must see it), and
-- its steps' checklist items are the incident's tasks (shareable objects
-- in the incident, kind incident_task). The version of the playbook used
-- is kept by its modified. playbook_id has no foreign key: a run keeps
-- its own copy of what it shows (name, CACAO id, version, steps), so the
-- playbook's owner may delete the playbook without learning that it was
-- run in an incident the owner may not see; the run stays readable.
CREATE TABLE playbook_runs (
  id          TEXT PRIMARY KEY,
  incident_id TEXT NOT NULL REFERENCES incidents(id),
  playbook_id TEXT NOT NULL,
  cacao_id    TEXT NOT NULL,
  name        TEXT NOT NULL,
  modified    TEXT NOT NULL,
  org_id      TEXT NOT NULL REFERENCES orgs(id),
  started_by  TEXT NOT NULL REFERENCES users(id),
  started_at  BIGINT NOT NULL
);
CREATE INDEX playbook_runs_incident ON playbook_runs (incident_id, id);

-- The run's steps for people: manual actions (a task each) and decisions
-- (a decision task each), in flow order (seq). waiting_for names the
-- steps (space separated CACAO ids) that come before it; branches the
-- decision edges (decision id '=' edge) it lies under, so that an answer
-- marks the untaken branch's steps skipped.
CREATE TABLE playbook_run_steps (
  run_id       TEXT NOT NULL REFERENCES playbook_runs(id),
  step_id      TEXT NOT NULL,
  seq          INTEGER NOT NULL,
  kind         TEXT NOT NULL CHECK (kind IN ('action', 'decision')),
  name         TEXT NOT NULL,
  agent_type   TEXT NOT NULL DEFAULT '',
  agent_name   TEXT NOT NULL DEFAULT '',
  unassigned   INTEGER NOT NULL DEFAULT 0,
  assignee_org TEXT NOT NULL REFERENCES orgs(id),
  task_id      TEXT NOT NULL REFERENCES incident_tasks(id),
  waiting_for  TEXT NOT NULL DEFAULT '',
  branches     TEXT NOT NULL DEFAULT '',
  edges        TEXT NOT NULL DEFAULT '',
  state        TEXT NOT NULL CHECK (state IN ('open', 'done', 'skipped')),
  answer       TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, step_id)
);
CREATE INDEX playbook_run_steps_task ON playbook_run_steps (task_id);

-- Where the run left the playbook: a step skipped, done before the steps
-- it waits for.
CREATE TABLE playbook_run_deviations (
  id        TEXT PRIMARY KEY,
  run_id    TEXT NOT NULL REFERENCES playbook_runs(id),
  step_id   TEXT NOT NULL,
  kind      TEXT NOT NULL CHECK (kind IN ('skipped', 'out_of_order')),
  reason    TEXT NOT NULL DEFAULT '',
  by_user   TEXT NOT NULL REFERENCES users(id),
  by_org    TEXT NOT NULL REFERENCES orgs(id),
  at        BIGINT NOT NULL
);
CREATE INDEX playbook_run_deviations_run ON playbook_run_deviations (run_id, at);
