-- Lookups the analyze stage and the store make per batch, so that their cost follows the batch
-- and not the size of the store (measured: at 1M burns they took most of the ingest time).

-- Deletions by author: the store looks up the deletions of a batch's authors to mark the reviews
-- they delete, instead of checking every stored review of those authors.
CREATE INDEX deletions_author_idx ON deletions (author);

-- Per 4919 event and (unit, epoch): its BURN and MINT totals, written by the store with the
-- event. The balance check (1337 against MINT − BURN up to its time) and the evidence lists of
-- liability and balance findings read these few rows per (mint, unit, epoch) instead of every
-- burn of the mint (`burns` is indexed by mint only, to keep its bulk inserts cheap).
CREATE TABLE event_totals (
    mint        bytea   NOT NULL,
    unit        text    NOT NULL,
    epoch       bigint  NOT NULL,
    event_id    bytea   NOT NULL,
    -- created_at of the 4919 (as in chain_links).
    created_at  bigint  NOT NULL,
    burn_amount numeric NOT NULL,
    mint_amount numeric NOT NULL,
    PRIMARY KEY (mint, unit, epoch, event_id)
);

-- Existing stores: the same rows from what is already stored.
INSERT INTO event_totals (mint, unit, epoch, event_id, created_at, burn_amount, mint_amount)
SELECT x.mint, x.unit, x.epoch, x.event_id, c.created_at, sum(x.burnt), sum(x.minted)
FROM (
    SELECT mint, unit, epoch, event_id, sum(amount)::numeric AS burnt, 0::numeric AS minted
    FROM burns GROUP BY mint, unit, epoch, event_id
    UNION ALL
    SELECT mint, unit, epoch, event_id, 0::numeric, sum(amount)::numeric
    FROM issued GROUP BY mint, unit, epoch, event_id
) x
JOIN chain_links c ON c.event_id = x.event_id
GROUP BY x.mint, x.unit, x.epoch, x.event_id, c.created_at;

-- With the totals above, nothing reads burns or issued signatures by mint any more (the balance
-- check and the evidence lists were the only readers). Their per-mint indexes only slowed the
-- hot bulk writes (≈ 2.3M rows per 1M burns), so they go; lookups by Y keep burns_y_idx.
DROP INDEX burns_mint_idx;
DROP INDEX issued_mint_idx;
