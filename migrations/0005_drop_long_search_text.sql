-- The directory matches substrings and near misses against `search_short` (name + URLs, 0004)
-- and whole words through the tsvector `search`; nothing reads the long `search_text` (name,
-- description and URLs) or its trigram index any more, and every write of a mints row paid for
-- both.
DROP INDEX mints_search_trgm_idx;
ALTER TABLE mints DROP COLUMN search_text;
