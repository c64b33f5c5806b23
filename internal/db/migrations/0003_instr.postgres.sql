-- instr(haystack, needle): the position of needle in haystack (1-based, 0
-- when absent), as SQLite's built-in, so that the visibility predicate of
-- internal/policy is the same text on both engines. A plain SQL function
-- of one expression: PostgreSQL inlines it into the query.
CREATE FUNCTION instr(text, text) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT strpos($1, $2)';
