-- mintwatch store, first schema.
--
-- Conventions:
-- * Keys, ids and points are bytea (32 bytes for event ids and mint keys, 33 for points): half
--   the size of hex text, so indexes stay small and comparisons are memcmp. Byte order equals hex
--   order, so "lowest id wins" is a plain `<` on bytea.
-- * Times from events (`created_at`) are unix seconds in bigint, as signed in the event; times of
--   our own (`received_at`) are timestamptz.
-- * Amounts are bigint (a protocol Amount is < 2^63); sums of amounts are numeric because many
--   amounts below 2^63 can add up past it.
-- * The store writes typed rows only for events it inserted in the same statement, so every
--   derived table is written once per event and a batch written twice changes nothing.

-- Trigram indexes for the directory's substring / fuzzy search over names, URLs, descriptions.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- array_to_string is only STABLE in general (element output functions may depend on settings),
-- but on text[] it is immutable; generated columns need an immutable expression, hence this.
CREATE FUNCTION mintwatch_join_text(text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(array_to_string($1, ' '), '') $$;

-- Every verified event, verbatim. `json` is the evidence: it is exactly what the relay sent, so
-- anyone can re-check the id and signature from our data without trusting our parsers.
-- lz4 rather than the default pglz for its TOAST compression: a 4919 of 20,000 entries is ~2 MB
-- of base64, and pglz on it cost more than writing all its burns (measured: 610 ms vs 225 ms per
-- 100k burns' worth of events). Needs a server built with lz4 (Debian/Ubuntu/official images).
CREATE TABLE events (
    id          bytea       PRIMARY KEY,
    pubkey      bytea       NOT NULL,
    kind        integer     NOT NULL,
    created_at  bigint      NOT NULL,
    json        text        COMPRESSION lz4 NOT NULL,
    -- The mint the event is about (the signer for 4919/1337/11467, the `d` key of a 38172, the
    -- target of a 38000), so a later sighting on another relay can mark that mint changed.
    mint        bytea,
    received_at timestamptz NOT NULL DEFAULT now(),
    first_relay text        NOT NULL
);
-- Replaceable/addressable lookups and "all events of a kind by a signer" (evidence pages).
CREATE INDEX events_pubkey_kind_idx ON events (pubkey, kind, created_at);

-- Which relays carry each event ("relays where seen", PROTOCOL.md §3 statistics). One row per
-- (event, relay); the first relay is also recorded here.
CREATE TABLE event_relays (
    event_id   bytea       NOT NULL,
    relay      text        NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, relay)
);

-- The directory: one row per mint key. Profile columns are derived by the store from the latest
-- 11467 and 38172 events (so the directory is always consistent with the raw events); rank and
-- counters of findings/reviews are written by the analyze stage.
CREATE TABLE mints (
    key             bytea       PRIMARY KEY,
    identity        text        NOT NULL DEFAULT 'unbound'
                    CHECK (identity IN ('self-signed', 'operator', 'mismatch', 'unbound')),
    urls            text[]      NOT NULL DEFAULT '{}',
    name            text,
    description     text,
    units           text[]      NOT NULL DEFAULT '{}',
    nuts            integer[]   NOT NULL DEFAULT '{}',
    network         text,
    -- created_at of the first and last event about this mint, by anyone (activity sort).
    first_seen      bigint      NOT NULL,
    last_seen       bigint      NOT NULL,
    -- created_at of the newest event signed by the mint key itself: what the rank's decay of a
    -- silent mint must use, since third parties can announce or review a dead mint forever.
    last_active     bigint,
    -- 0..100, null until the analyze stage ranked the mint; components exposed beside it (§4).
    rank            real,
    rank_components jsonb       NOT NULL DEFAULT '{}',
    ranked_at       timestamptz,
    -- Running counters kept by the store (all units together; per-unit figures are in
    -- mint_stats) and by the analyze stage (reviews, findings).
    event_count     bigint      NOT NULL DEFAULT 0,
    burn_count      bigint      NOT NULL DEFAULT 0,
    mint_count      bigint      NOT NULL DEFAULT 0,
    review_count    bigint      NOT NULL DEFAULT 0,
    finding_count   bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- The text the directory searches: generated so it can never drift from the columns.
    search_text     text GENERATED ALWAYS AS (
        lower(coalesce(name, '') || ' ' || coalesce(description, '') || ' '
              || mintwatch_join_text(urls))
    ) STORED,
    search          tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', coalesce(name, '')), 'A')
        || setweight(to_tsvector('simple', mintwatch_join_text(urls)), 'B')
        || setweight(to_tsvector('simple', coalesce(description, '')), 'C')
    ) STORED
);
-- Full-text search (words) and trigram search (substrings of URLs and names, typos).
CREATE INDEX mints_search_idx ON mints USING gin (search);
CREATE INDEX mints_search_trgm_idx ON mints USING gin (search_text gin_trgm_ops);
-- Directory sorts: by rank and by activity. NULLS LAST so unranked mints sort after ranked ones.
CREATE INDEX mints_rank_idx ON mints (rank DESC NULLS LAST, key);
CREATE INDEX mints_last_seen_idx ON mints (last_seen DESC, key);

-- Kind 38172: only the live version per (author, d). Older versions stay in `events` (the
-- evidence) and can be re-parsed; keeping only the winner here means every directory query reads
-- the right row without a "latest" filter. Rule: newer created_at wins; same created_at, lowest
-- id wins (NIP-01).
CREATE TABLE announcements (
    author      bytea   NOT NULL,
    d           text    NOT NULL,
    event_id    bytea   NOT NULL,
    created_at  bigint  NOT NULL,
    -- The mint `d` names when it is a key (x-only); null for opaque `d` values (unbound).
    mint        bytea,
    urls        text[]  NOT NULL DEFAULT '{}',
    nuts        integer[] NOT NULL DEFAULT '{}',
    network     text,
    name        text,
    description text,
    metadata    jsonb   NOT NULL DEFAULT '{}',
    PRIMARY KEY (author, d)
);
-- A mint's announcements (profile and identity level: self-signed vs operator).
CREATE INDEX announcements_mint_idx ON announcements (mint) WHERE mint IS NOT NULL;

-- Kind 38173: the live version per (author, d = federation id), same rule as 38172.
CREATE TABLE fedimint_announcements (
    author        bytea  NOT NULL,
    d             text   NOT NULL,
    event_id      bytea  NOT NULL,
    created_at    bigint NOT NULL,
    invite_codes  text[] NOT NULL DEFAULT '{}',
    modules       text[] NOT NULL DEFAULT '{}',
    network       text,
    PRIMARY KEY (author, d)
);

-- Kind 11467 (replaceable): the live version per signer.
CREATE TABLE mint_infos (
    mint           bytea     PRIMARY KEY,
    event_id       bytea     NOT NULL,
    created_at     bigint    NOT NULL,
    -- The content's compressed `pubkey`; its x compared with the signer gives self-signed or
    -- mismatch (§1).
    content_pubkey bytea,
    name           text,
    description    text,
    urls           text[]    NOT NULL DEFAULT '{}',
    nuts           integer[] NOT NULL DEFAULT '{}',
    units          text[]    NOT NULL DEFAULT '{}',
    raw            jsonb     NOT NULL DEFAULT '{}'
);

-- Kind 38000 reviews: every version is kept, because a NIP-09 deletion must be able to remove
-- the one it names whatever order events arrive in. The live review per (author, target) is the
-- newest version (created_at desc, id asc); if that version is deleted the author has no live
-- review for the target (an older, superseded opinion does not come back). See `live_reviews`.
CREATE TABLE reviews (
    event_id    bytea   PRIMARY KEY,
    author      bytea   NOT NULL,
    -- The review event's own `d` (38000 is addressable): `a`-coordinate deletions name it.
    d           text    NOT NULL DEFAULT '',
    target_kind integer NOT NULL,
    -- Canonical text of the target: `a:<kind>:<author hex>:<d>`, `d:<value>` or `u:<url>`.
    target      text    NOT NULL,
    -- The mint key the target resolves to, when it names one.
    target_mint bytea,
    rating      double precision,
    text        text    NOT NULL DEFAULT '',
    created_at  bigint  NOT NULL,
    deleted     boolean NOT NULL DEFAULT false
);
CREATE INDEX reviews_author_target_idx ON reviews (author, target, created_at DESC, event_id);
CREATE INDEX reviews_target_mint_idx ON reviews (target_mint) WHERE target_mint IS NOT NULL;

-- NIP-09 deletions, kept so that a deletion that arrives before the event it deletes is still
-- honoured when that event arrives. One row per named event id or coordinate.
CREATE TABLE deletions (
    deletion_id bytea  NOT NULL,
    author      bytea  NOT NULL,
    created_at  bigint NOT NULL,
    -- Exactly one of these is set.
    target_id   bytea,
    coordinate  text,
    CHECK ((target_id IS NULL) <> (coordinate IS NULL))
);
CREATE INDEX deletions_target_idx ON deletions (target_id, author) WHERE target_id IS NOT NULL;
CREATE INDEX deletions_coordinate_idx ON deletions (coordinate, author) WHERE coordinate IS NOT NULL;

-- The live review per (author, target), deletions applied.
CREATE VIEW live_reviews AS
SELECT * FROM (
    SELECT DISTINCT ON (author, target) *
    FROM reviews
    ORDER BY author, target, created_at DESC, event_id ASC
) newest
WHERE NOT deleted;

-- Burnt secrets from 4919 BURN entries. The hot table (100k+ rows/s): no primary key (a Y twice
-- in one event is a double-spend and must be kept twice; idempotency comes from `events`), and
-- only the two indexes the API and the checks need.
CREATE TABLE burns (
    y        bytea   NOT NULL,
    mint     bytea   NOT NULL,
    event_id bytea   NOT NULL,
    -- Position of the entry in its event (groups flattened), so two identical entries of one
    -- event stay distinguishable in evidence.
    pos      integer NOT NULL,
    amount   bigint  NOT NULL,
    unit     text    NOT NULL,
    epoch    bigint  NOT NULL
);
-- Spent lookup by Y, double-spend and cross-mint collision detection.
CREATE INDEX burns_y_idx ON burns (y);
-- A mint's burns (report pages, re-deriving totals). Only `mint`: per-(unit, epoch) totals are
-- kept in mint_stats, so nothing on the hot path scans burns by unit or epoch, and a one-column
-- index of few distinct values is deduplicated by the btree into a tiny, cheap-to-append index
-- (measured: about 15% faster bulk inserts than (mint, unit, epoch)).
CREATE INDEX burns_mint_idx ON burns (mint);

-- Blind signatures issued, from 4919 MINT entries. Only the per-mint index: nothing looks a
-- signature up by B_ or C_ yet.
CREATE TABLE issued (
    mint     bytea   NOT NULL,
    event_id bytea   NOT NULL,
    pos      integer NOT NULL,
    b_       bytea   NOT NULL,
    c_       bytea   NOT NULL,
    amount   bigint  NOT NULL,
    unit     text    NOT NULL,
    epoch    bigint  NOT NULL
);
CREATE INDEX issued_mint_idx ON issued (mint, unit, epoch);

-- The publication chain of 4919 events (`e` = previous event of the mint).
CREATE TABLE chain_links (
    event_id   bytea  PRIMARY KEY,
    mint       bytea  NOT NULL,
    created_at bigint NOT NULL,
    prev       bytea
);
-- A mint's chain in order (chain status, head, cadence).
CREATE INDEX chain_links_mint_idx ON chain_links (mint, created_at, event_id);
-- Forks (two events naming one prev) and gaps (a prev never seen).
CREATE INDEX chain_links_prev_idx ON chain_links (prev) WHERE prev IS NOT NULL;

-- Kind 1337 closed epochs. outstanding_balance is numeric: the protocol allows any u64.
CREATE TABLE fin_epochs (
    event_id            bytea   PRIMARY KEY,
    mint                bytea   NOT NULL,
    created_at          bigint  NOT NULL,
    unit                text    NOT NULL,
    epoch               bigint  NOT NULL,
    outstanding_balance numeric NOT NULL,
    prev                bytea
);
CREATE INDEX fin_epochs_mint_idx ON fin_epochs (mint, unit, epoch);

-- Findings (§3). `finding_key` is chosen by whoever derives the finding (e.g. the Y for a
-- double-spend, `<unit>:<epoch>` for a liability inversion) so that re-deriving it updates the
-- same row instead of adding one.
CREATE TABLE findings (
    id          bigserial   PRIMARY KEY,
    mint        bytea       NOT NULL,
    kind        text        NOT NULL,
    finding_key text        NOT NULL,
    y           bytea,
    unit        text,
    epoch       bigint,
    event_ids   bytea[]     NOT NULL,
    detail      jsonb       NOT NULL DEFAULT '{}',
    resolved    boolean     NOT NULL DEFAULT false,
    first_found timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (mint, kind, finding_key)
);
-- Spent lookups show findings about a Y.
CREATE INDEX findings_y_idx ON findings (y) WHERE y IS NOT NULL;

-- Per-mint statistics per (unit, epoch), kept incrementally by the store from newly inserted
-- 4919 events only (so it is exact and idempotent). Liability inversion and balance checks read
-- these instead of scanning burns.
CREATE TABLE mint_stats (
    mint        bytea   NOT NULL,
    unit        text    NOT NULL,
    epoch       bigint  NOT NULL,
    burn_count  bigint  NOT NULL DEFAULT 0,
    burn_amount numeric NOT NULL DEFAULT 0,
    mint_count  bigint  NOT NULL DEFAULT 0,
    mint_amount numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (mint, unit, epoch)
);

-- Crawl cursors (pipeline::Cursor), committed with the events they cover.
CREATE TABLE relay_cursors (
    relay          text        NOT NULL,
    filter         text        NOT NULL,
    backfill_until bigint,
    backfill_done  boolean     NOT NULL DEFAULT false,
    newest_seen    bigint,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (relay, filter)
);

-- Refusals per relay, reason and kind (-1 when the kind is unknown: a primary key cannot hold a
-- null and the unknown kind must still be one row).
CREATE TABLE relay_counters (
    relay  text    NOT NULL,
    reason text    NOT NULL,
    kind   integer NOT NULL,
    count  bigint  NOT NULL,
    PRIMARY KEY (relay, reason, kind)
);
