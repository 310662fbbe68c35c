-- The analysis queue (issue 12): what each committed batch still needs analysed, so no crash can
-- lose a finding. A row is written in the same transaction as its batch; the transaction that
-- records the batch's findings marks it `analysed` and stores every mint the analysis touched;
-- the row is deleted once those mints' statistics and ranks are recomputed. At start the indexer
-- analyses the rows not yet analysed and recomputes the ranks of the rest before it is ready.
CREATE TABLE analysis_queue (
    seq      bigserial PRIMARY KEY,
    -- Events the batch inserted: their burnt Ys and chain links are read back from `burns` and
    -- `chain_links` when the row is analysed after a restart.
    events   bytea[]   NOT NULL,
    -- (mint, unit, epoch) groups whose totals moved: [[mint hex, unit, epoch], ...].
    groups   jsonb     NOT NULL DEFAULT '[]',
    -- Findings read off single events (identity mismatches), as the analyze stage records them.
    findings jsonb     NOT NULL DEFAULT '[]',
    -- Mints whose stored data changed; once analysed, every mint the analysis touched.
    mints    bytea[]   NOT NULL DEFAULT '{}',
    analysed boolean   NOT NULL DEFAULT false
);
