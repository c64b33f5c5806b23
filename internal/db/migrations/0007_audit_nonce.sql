-- A secret per audit record, part of its hash and never shown: an org's
-- export holds the hash of the record before each of its own, often
-- another org's; without the nonce, that record's few guessable fields
-- (time between two known ones, user, action, address) could be found by
-- trying hashes. Records chained before this column keep '' and hash as
-- they did.
ALTER TABLE audit_log ADD COLUMN nonce TEXT NOT NULL DEFAULT '';
