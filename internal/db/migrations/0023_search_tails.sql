-- PostgreSQL's search documents get their compound tails from the hub
-- (0023_search_tails.postgres.sql). SQLite's index triggers already take
-- them from the hub's own functions (internal/db/functions.go): nothing
-- to do here.
SELECT 1;
