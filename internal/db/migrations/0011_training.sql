-- Training and awareness (internal/training). A module is a shareable
-- object (its envelope in shares, kind "training_module", category
-- knowledge): a short guide and a quiz, in one or both of the hub's
-- languages. title, guide and questions are JSON with one text per
-- language ({"de": …, "en": …}); questions holds what learners see (kind,
-- text, options), answer_key the correct options of each question
-- ([[1], [0, 2]]), read only to score and for authors.
CREATE TABLE training_modules (
  id         TEXT PRIMARY KEY REFERENCES shares(id),
  org_id     TEXT NOT NULL REFERENCES orgs(id),
  languages  TEXT NOT NULL,
  title      TEXT NOT NULL,
  guide      TEXT NOT NULL,
  questions  TEXT NOT NULL,
  answer_key TEXT NOT NULL,
  pass_mark  INTEGER NOT NULL CHECK (pass_mark BETWEEN 1 AND 100),
  created_at BIGINT NOT NULL
);
CREATE INDEX training_modules_org ON training_modules (org_id, id);

-- Assignments are the assigning org's own data: an org's admin assigns a
-- module the org may see to its own people, to a role or to the whole
-- org. due_at is the first moment answers are no longer taken (the start
-- of the day after the due date; 0: no due date). reminded_at is the last
-- reminder an admin sent, auto_reminded_at the hub's own before the due
-- date (0: none yet).
CREATE TABLE training_assignments (
  id               TEXT PRIMARY KEY,
  org_id           TEXT NOT NULL REFERENCES orgs(id),
  module_id        TEXT NOT NULL REFERENCES training_modules(id),
  target           TEXT NOT NULL CHECK (target IN ('people','role','org')),
  role             TEXT NOT NULL DEFAULT '',
  due_at           BIGINT NOT NULL DEFAULT 0,
  created_by       TEXT NOT NULL REFERENCES users(id),
  created_at       BIGINT NOT NULL,
  reminded_at      BIGINT NOT NULL DEFAULT 0,
  auto_reminded_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX training_assignments_org ON training_assignments (org_id, module_id, created_at);
CREATE INDEX training_assignments_due ON training_assignments (auto_reminded_at, due_at);
CREATE TABLE training_assignees (
  assignment_id TEXT NOT NULL REFERENCES training_assignments(id),
  user_id       TEXT NOT NULL REFERENCES users(id),
  PRIMARY KEY (assignment_id, user_id)
);
CREATE INDEX training_assignees_user ON training_assignees (user_id, assignment_id);

-- Attempts: one person's answers to a module's quiz, scored (percent) when
-- sent; the person's org's own data, like the assignment it answered.
CREATE TABLE training_attempts (
  id            TEXT PRIMARY KEY,
  org_id        TEXT NOT NULL REFERENCES orgs(id),
  user_id       TEXT NOT NULL REFERENCES users(id),
  module_id     TEXT NOT NULL REFERENCES training_modules(id),
  assignment_id TEXT NOT NULL REFERENCES training_assignments(id),
  answers       TEXT NOT NULL,
  score         INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
  passed        INTEGER NOT NULL,
  created_at    BIGINT NOT NULL
);
CREATE INDEX training_attempts_person ON training_attempts (user_id, module_id, created_at);
CREATE INDEX training_attempts_org ON training_attempts (org_id, module_id, passed, user_id);

-- An org's disclosure of its completion rates (kind "training_rates",
-- category knowledge): whoever its envelope reaches — by default a trust
-- circle's coordinator — sees the org's per-module completion rates (never
-- its people) for the modules they may see themselves. No row: not shared.
CREATE TABLE training_rate_shares (
  id         TEXT PRIMARY KEY REFERENCES shares(id),
  org_id     TEXT NOT NULL REFERENCES orgs(id),
  note       TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL
);
CREATE INDEX training_rate_shares_org ON training_rate_shares (org_id, id);
