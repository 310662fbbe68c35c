-- The analyze stage's per-mint report: chain status, reviews and finding counts, written beside
-- the rank so the API reads one row per mint.
ALTER TABLE mints ADD COLUMN stats jsonb NOT NULL DEFAULT '{}';
