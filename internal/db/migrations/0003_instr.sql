-- The visibility predicate looks the reader's coverage up in a list it is
-- given as one text argument, with instr(haystack, needle) > 0. SQLite has
-- instr built in; PostgreSQL gets it in 0003_instr.postgres.sql. Nothing to
-- do here.
SELECT 1;
