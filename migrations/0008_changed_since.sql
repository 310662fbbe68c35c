-- The nostr publisher's incremental scan (issue 13): each scan reads only the mints re-ranked or
-- re-described, and the findings recorded or resolved, since its last watermark, instead of every
-- report and every open finding; these indexes keep that read from scanning the tables.
CREATE INDEX mints_updated_at ON mints (updated_at);
CREATE INDEX mints_ranked_at ON mints (ranked_at);
CREATE INDEX findings_updated_at ON findings (updated_at);
