-- The directory search, made cheap for broad words (issue #4, docs/PERFORMANCE.md §4).
--
-- Substrings and near misses (trigram word similarity, `<%`) are tested against names and URLs
-- only: a short text (≈ 47 characters against ≈ 206 with the description), so each `<%` test
-- costs a fraction of what it did; descriptions stay searchable by whole words through the
-- tsvector `search`. (0003 is taken by another branch's migration.)
ALTER TABLE mints ADD COLUMN search_short text GENERATED ALWAYS AS (
    lower(coalesce(name, '') || ' ' || mintwatch_join_text(urls))
) STORED;
CREATE INDEX mints_search_short_trgm_idx ON mints USING gin (search_short gin_trgm_ops);
-- mints_search_trgm_idx (the long text) is no longer used by the directory; it stays, since
-- the store's migration test names it as one of the API's indexes (drop it with that test).

-- The rank sort's key exactly as the directory orders and pages by it (ranks are 0..100, so
-- -1 puts unranked mints last), so that a broad word walks this index in rank order and stops
-- after one page instead of sorting every match.
CREATE INDEX mints_rank_sort_idx ON mints ((-(coalesce(rank, -1)::float8)), key);

-- The search's plan depends on the estimates for the new column (how many mints a substring
-- matches): give the planner its statistics now rather than at the next autoanalyze.
ANALYZE mints;
