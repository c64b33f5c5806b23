-- The joint risk register and risk workshops (internal/risks). A risk is a
-- shareable object (kind "risk", category risk): its envelope is in shares
-- with the same id. Scores are on the owner org's matrix (risk_matrices;
-- without a row the default 5×5); inherent and residual scores are kept
-- beside their likelihood and impact so that the prioritised list walks
-- an index instead of computing them per row.
CREATE TABLE risk_matrices (
	org_id TEXT PRIMARY KEY REFERENCES orgs(id),
	likelihood_levels INTEGER NOT NULL,
	impact_levels INTEGER NOT NULL,
	-- labels: JSON {"en":{"likelihood":[…],"impact":[…]},"de":{…}}, "" for the catalogue's
	labels TEXT NOT NULL DEFAULT '',
	appetite INTEGER NOT NULL,
	updated_at BIGINT NOT NULL,
	updated_by TEXT NOT NULL REFERENCES users(id)
);
CREATE TABLE risks (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	title TEXT NOT NULL,
	description TEXT NOT NULL,
	likelihood_levels INTEGER NOT NULL,
	impact_levels INTEGER NOT NULL,
	likelihood INTEGER NOT NULL,
	impact INTEGER NOT NULL,
	inherent_score INTEGER NOT NULL,
	residual_likelihood INTEGER NOT NULL,
	residual_impact INTEGER NOT NULL,
	residual_score INTEGER NOT NULL,
	treatment TEXT NOT NULL,
	appetite INTEGER NOT NULL,
	review_days INTEGER NOT NULL,
	next_review BIGINT NOT NULL,
	-- due_at: the earliest due date of any part's treatment (0 none);
	-- due_key the same with "none" as the largest value, the prioritised
	-- list's third key (soonest first, risks without a date last)
	due_at BIGINT NOT NULL DEFAULT 0,
	due_key BIGINT NOT NULL,
	version INTEGER NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	updated_by TEXT NOT NULL REFERENCES users(id)
);
CREATE INDEX risks_priority ON risks (residual_score DESC, inherent_score DESC, due_key, id);
-- The heatmap: counting by cell walks one of these in order (no sort), and
-- a cell's first risks by priority are a walk that stops at a page; for
-- the residual and the inherent heatmap.
CREATE INDEX risks_residual_cell ON risks (residual_likelihood, residual_impact, likelihood_levels, impact_levels, residual_score DESC, inherent_score DESC, due_key, id);
CREATE INDEX risks_inherent_cell ON risks (likelihood, impact, likelihood_levels, impact_levels, residual_score DESC, inherent_score DESC, due_key, id);
CREATE INDEX risks_org ON risks (org_id);
-- Each owner's part of a risk: the owner org has one, each co-owner one;
-- an org edits only its own.
CREATE TABLE risk_parts (
	risk_id TEXT NOT NULL REFERENCES risks(id),
	org_id TEXT NOT NULL REFERENCES orgs(id),
	description TEXT NOT NULL DEFAULT '',
	controls TEXT NOT NULL DEFAULT '',
	treatment TEXT NOT NULL,
	due_at BIGINT NOT NULL DEFAULT 0,
	updated_at BIGINT NOT NULL,
	updated_by TEXT NOT NULL REFERENCES users(id),
	PRIMARY KEY (risk_id, org_id)
);
CREATE INDEX risk_parts_org ON risk_parts (org_id);
CREATE TABLE risk_links (
	risk_id TEXT NOT NULL REFERENCES risks(id),
	target_type TEXT NOT NULL,
	target_id TEXT NOT NULL,
	PRIMARY KEY (risk_id, target_type, target_id)
);
-- Every change of a risk, one row per field: who, when, what.
CREATE TABLE risk_history (
	id TEXT PRIMARY KEY,
	risk_id TEXT NOT NULL REFERENCES risks(id),
	at BIGINT NOT NULL,
	user_id TEXT NOT NULL REFERENCES users(id),
	org_id TEXT NOT NULL REFERENCES orgs(id),
	field TEXT NOT NULL,
	old_value TEXT NOT NULL,
	new_value TEXT NOT NULL,
	note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX risk_history_risk ON risk_history (risk_id, at);
-- A workshop is a shareable object too (kind "risk_workshop", category
-- risk, shared with its circle): its votes, comments and results are
-- read only through its envelope.
CREATE TABLE risk_workshops (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs(id),
	-- the trust circle it is held for ('' when shared otherwise)
	community_id TEXT NOT NULL DEFAULT '',
	title TEXT NOT NULL,
	status TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	revealed_at BIGINT NOT NULL DEFAULT 0,
	closed_at BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE risk_workshop_items (
	workshop_id TEXT NOT NULL REFERENCES risk_workshops(id),
	risk_id TEXT NOT NULL REFERENCES risks(id),
	position INTEGER NOT NULL,
	agreed_likelihood INTEGER NOT NULL DEFAULT 0,
	agreed_impact INTEGER NOT NULL DEFAULT 0,
	agreed_at BIGINT NOT NULL DEFAULT 0,
	agreed_by TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (workshop_id, risk_id)
);
CREATE INDEX risk_workshop_items_risk ON risk_workshop_items (risk_id);
CREATE TABLE risk_votes (
	workshop_id TEXT NOT NULL REFERENCES risk_workshops(id),
	risk_id TEXT NOT NULL REFERENCES risks(id),
	user_id TEXT NOT NULL REFERENCES users(id),
	org_id TEXT NOT NULL REFERENCES orgs(id),
	likelihood INTEGER NOT NULL,
	impact INTEGER NOT NULL,
	voted_at BIGINT NOT NULL,
	PRIMARY KEY (workshop_id, risk_id, user_id)
);
CREATE TABLE risk_workshop_comments (
	id TEXT PRIMARY KEY,
	workshop_id TEXT NOT NULL REFERENCES risk_workshops(id),
	user_id TEXT NOT NULL REFERENCES users(id),
	org_id TEXT NOT NULL REFERENCES orgs(id),
	body TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX risk_workshop_comments_ws ON risk_workshop_comments (workshop_id, created_at);
