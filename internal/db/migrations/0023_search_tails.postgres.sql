-- The compound tails of a search document (weight D of its tsvector) are
-- written by the hub with the document (internal/policy, Kind.Index:
-- words.Tails), as SQLite's index and every search read them, instead of
-- being computed by verbund_tails in the generated column. verbund_tails
-- ran as a SQL function for each written document: 0.27 ms of the 0.57 ms
-- an insert took, the largest single cost of a reply on the server. The
-- hub's tails also fold umlauts written out ("ue") the way a search's
-- words are folded, which verbund_tails did not. The rows already there
-- keep the tails verbund_tails gives them (the function stays for this).
ALTER TABLE search_docs ADD COLUMN tails TEXT NOT NULL DEFAULT '';
UPDATE search_docs SET tails = verbund_tails(title || ' ' || body);
DROP INDEX search_docs_tsv;
ALTER TABLE search_docs DROP COLUMN tsv;
ALTER TABLE search_docs ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
  setweight(to_tsvector('german'::regconfig, title || ' ' || body) || to_tsvector('english'::regconfig, title || ' ' || body), 'A')
  || setweight(to_tsvector('simple'::regconfig, tails), 'D')) STORED;
CREATE INDEX search_docs_tsv ON search_docs USING GIN (tsv);
