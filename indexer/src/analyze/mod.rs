//! Analyze: turn what the store holds into the findings of PROTOCOL.md §3, the per-mint
//! statistics and the rank of §4. Runs after each committed batch and touches only what the batch
//! can have changed: the `Y`s it burnt, the chain links it added, the (mint, unit, epoch) totals it
//! moved, and the mints the store reports as changed. Every check is a function of the stored
//! events alone, so the same set of events gives the same findings whatever order they arrived in;
//! the only clock is the gap grace period, and the rank's "as of" time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mintwatch_protocol::{FindingKind, IdentityLevel, MintKey};
use mintwatch_store::{Store, StoreError};

mod checks;
mod rank;
mod spent_filter;

use spent_filter::SpentFilter;

/// Settings of the analyze stage.
#[derive(Debug, Clone)]
pub struct AnalyzeConfig {
    /// How long an `e` may name an unseen event before it is a gap.
    pub gap_grace: Duration,
    /// The time ranks are computed as of (unix seconds); `None` means now. Fixed in tests so two
    /// runs compare exactly.
    pub as_of: Option<u64>,
    /// How often the gap sweep runs at most.
    pub gap_sweep_every: Duration,
    /// How long the statistics and ranks of the mints that batches changed may wait: findings
    /// are recorded with every batch, but ranks of changed mints are collected and recomputed
    /// together, at most this often (a batch of reviews touches ~1,000 mints, and recomputing
    /// them costs about the same for one review as for a thousand: ~0.1 s in the end-to-end
    /// bench, so once per batch cost a tenth of the burns/s). Ingest recomputes them when this
    /// has passed even if no batch follows ([`Analyzer::next_rank_at`]), so an answer is current
    /// within about this long of a commit (issue 12: within 2 s).
    pub rank_every: Duration,
    /// Bytes of the in-memory filter of burnt `Y`s (fixed: memory does not grow with the
    /// corpus; a fuller filter only asks the database more often).
    pub spent_filter_bytes: usize,
}

impl Default for AnalyzeConfig {
    fn default() -> Self {
        Self {
            gap_grace: Duration::from_secs(3600),
            as_of: None,
            gap_sweep_every: Duration::from_secs(5),
            rank_every: Duration::from_secs(1),
            spent_filter_bytes: 16 << 20,
        }
    }
}

pub use mintwatch_store::analysis_queue::BatchChanges;

/// What one analyze step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalyzeOutcome {
    /// Findings recorded or refreshed, by kind.
    pub findings: BTreeMap<FindingKind, u64>,
    /// Findings resolved (a gap whose event arrived, totals that now add up).
    pub resolved: u64,
    /// Mints whose statistics and rank were recomputed.
    pub ranked: usize,
}

/// The analyze stage.
#[derive(Debug)]
pub struct Analyzer {
    store: Store,
    config: AnalyzeConfig,
    last_gap_sweep: Option<Instant>,
    /// Mints whose ranks are pending (see [`AnalyzeConfig::rank_every`]).
    dirty: BTreeSet<MintKey>,
    last_rank: Option<Instant>,
    /// The last queued batch analysed whose mints are in `dirty`: once their ranks are
    /// recomputed, the queue forgets it and every batch before it.
    queued_upto: Option<i64>,
    /// Every burnt `Y` stored, once loaded.
    spent: Option<SpentFilter>,
}

/// Records how long one part of the analysis took, per phase.
fn phase(name: &'static str, started: Instant) {
    metrics::histogram!("mintwatch_analyze_phase_seconds", "phase" => name)
        .record(started.elapsed().as_secs_f64());
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Analyzer {
    /// An analyzer over `store`.
    pub fn new(store: Store, config: AnalyzeConfig) -> Self {
        Self {
            store,
            config,
            last_gap_sweep: None,
            dirty: BTreeSet::new(),
            last_rank: None,
            queued_upto: None,
            spent: None,
        }
    }

    /// Analyzes the effect of one committed batch, `seq` its row in the analysis queue: its
    /// findings are recorded and the row marked analysed in one transaction. Batches must be
    /// analyzed in the order they were stored (each only after it was committed; later batches
    /// may already be committed). Ranks of the mints it touched become due (see
    /// [`Analyzer::flush_ranks`]); they are recomputed here only when [`AnalyzeConfig::rank_every`]
    /// has passed since the last time.
    pub async fn after_batch(
        &mut self,
        seq: Option<i64>,
        changes: BatchChanges,
    ) -> Result<AnalyzeOutcome, StoreError> {
        let started = Instant::now();
        let BatchChanges {
            ys,
            prevs,
            groups,
            has_chain,
            mut findings,
            changed,
        } = changes;
        crate::fault::analysis_starts()?;
        let mut outcome = AnalyzeOutcome::default();
        findings.extend(self.burn_findings(&ys).await?);
        findings.extend(self.fork_findings(&prevs).await?);
        phase("burns_forks", started);
        let t = Instant::now();
        let (liability, resolved_l) = self.liability_findings(&groups).await?;
        findings.extend(liability);
        phase("liability", t);
        let t = Instant::now();
        let (balance, resolved_b) = self.balance_findings(&groups).await?;
        findings.extend(balance);
        phase("balance", t);
        outcome.resolved += resolved_l + resolved_b;
        for f in &findings {
            *outcome.findings.entry(f.kind).or_default() += 1;
        }
        let mut touched: BTreeSet<MintKey> = changed;
        touched.extend(findings.iter().map(|f| f.mint));
        let t = Instant::now();
        self.store.record_analysis(seq, &findings, &touched).await?;
        phase("upsert_findings", t);
        if let Some(seq) = seq {
            crate::fault::batch_analysed(seq);
            self.queued_upto = self.queued_upto.max(Some(seq));
        }

        let t = Instant::now();
        if has_chain || !prevs.is_empty() {
            outcome.resolved += self.resolve_gaps(&mut touched).await?;
        }
        let due = self
            .last_gap_sweep
            .is_none_or(|t| t.elapsed() >= self.config.gap_sweep_every);
        if due {
            let gaps = self.sweep_gaps().await?;
            *outcome.findings.entry(FindingKind::Gap).or_default() += gaps.len() as u64;
            touched.extend(gaps);
        }
        phase("gaps", t);
        self.dirty.extend(touched);
        if self.rank_due() {
            outcome.ranked = self.flush_ranks().await?;
        }
        outcome.findings.retain(|_, n| *n > 0);
        Ok(outcome)
    }

    /// Whether [`AnalyzeConfig::rank_every`] has passed since ranks were last recomputed.
    fn rank_due(&self) -> bool {
        self.last_rank
            .is_none_or(|t| t.elapsed() >= self.config.rank_every)
    }

    /// Whether some mints' ranks are due.
    pub fn ranks_pending(&self) -> bool {
        !self.dirty.is_empty() || self.queued_upto.is_some()
    }

    /// When the pending ranks are to be recomputed: [`AnalyzeConfig::rank_every`] after the last
    /// time (at once if never); `None` when none is pending. Ingest waits for it even when no
    /// batch follows, so an answer is at most about that long behind its events.
    pub fn next_rank_at(&self) -> Option<Instant> {
        self.ranks_pending().then(|| {
            self.last_rank
                .map_or_else(Instant::now, |t| t + self.config.rank_every)
        })
    }

    /// Recomputes the statistics and ranks of every mint changed since the last time, then
    /// forgets the queued batches whose analysis they complete. Returns how many mints were
    /// updated.
    pub async fn flush_ranks(&mut self) -> Result<usize, StoreError> {
        let t = Instant::now();
        self.last_rank = Some(t);
        let dirty = std::mem::take(&mut self.dirty);
        let upto = self.queued_upto.take();
        let done = match self.refresh_mints(&dirty).await {
            Ok(n) => n,
            Err(e) => {
                // Keep them pending: the next batch or flush tries again.
                self.dirty.extend(dirty);
                self.queued_upto = self.queued_upto.max(upto);
                return Err(e);
            }
        };
        if let Some(seq) = upto {
            if let Err(e) = self.store.ranks_recomputed(seq).await {
                // The ranks are written; only the queue's rows stay, and a restart recomputes
                // those mints' ranks once more.
                self.queued_upto = self.queued_upto.max(upto);
                return Err(e);
            }
        }
        phase("ranks", t);
        Ok(done)
    }

    /// Completes the analysis a previous run left queued (after a crash, or a commit whose
    /// outcome was unknown): analyses the batches not analysed yet, in order, and makes the
    /// ranks of the others due. [`Analyzer::finish`] after it recomputes those ranks.
    pub async fn drain_queue(&mut self) -> Result<AnalyzeOutcome, StoreError> {
        const PAGE: i64 = 16;
        let mut outcome = AnalyzeOutcome::default();
        let mut after = 0;
        loop {
            let page = self.store.queued_batches(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for queued in page {
                if queued.analysed {
                    self.dirty.extend(queued.changes.changed);
                    self.queued_upto = self.queued_upto.max(Some(queued.seq));
                    continue;
                }
                let done = self.after_batch(Some(queued.seq), queued.changes).await?;
                for (kind, n) in done.findings {
                    *outcome.findings.entry(kind).or_default() += n;
                }
                outcome.resolved += done.resolved;
                outcome.ranked += done.ranked;
            }
        }
        Ok(outcome)
    }

    /// Completes the analysis of everything stored so far, for a stop: resolves the gaps whose
    /// events arrived, records those past their grace period (whatever the sweep interval), and
    /// recomputes every pending rank. After it, the findings and ranks depend only on the stored
    /// events (and the clock, for gaps), not on when the last periodic work happened to run.
    pub async fn finish(&mut self) -> Result<AnalyzeOutcome, StoreError> {
        let mut outcome = AnalyzeOutcome::default();
        let mut touched = BTreeSet::new();
        outcome.resolved = self.resolve_gaps(&mut touched).await?;
        let gaps = self.sweep_gaps().await?;
        if !gaps.is_empty() {
            outcome.findings.insert(FindingKind::Gap, gaps.len() as u64);
        }
        self.dirty.extend(touched);
        self.dirty.extend(gaps);
        outcome.ranked = self.flush_ranks().await?;
        Ok(outcome)
    }

    /// Loads the filter of burnt `Y`s from the store if it is not loaded yet. Ingest calls it
    /// before it stores anything; otherwise the first batch with burns does.
    pub async fn load_spent(&mut self) -> Result<(), StoreError> {
        if self.spent.is_some() {
            return Ok(());
        }
        let started = Instant::now();
        let mut filter = SpentFilter::new(self.config.spent_filter_bytes);
        // A stored Y that is not a point cannot be asked about either; the store skips it.
        let n = self.store.for_each_burnt_y(|y| filter.insert(y)).await?;
        tracing::info!(
            ys = n,
            secs = started.elapsed().as_secs_f64(),
            "filter of burnt Ys loaded"
        );
        self.spent = Some(filter);
        Ok(())
    }

    /// Work that is due with time rather than with new events: gaps whose grace period has
    /// passed (and their mints' ranks), and, when `rerank_all`, every rank (silence decays).
    pub async fn maintain(&mut self, rerank_all: bool) -> Result<AnalyzeOutcome, StoreError> {
        let mut outcome = AnalyzeOutcome::default();
        let levels = self.store.mints_by_identity().await?;
        for level in IdentityLevel::ALL {
            let n = levels
                .iter()
                .find(|(l, _)| l == level.as_str())
                .map_or(0, |(_, n)| *n);
            metrics::gauge!("mintwatch_mints", "identity" => level.as_str()).set(n as f64);
        }
        if rerank_all {
            outcome.ranked = self.refresh_all().await?;
            return Ok(outcome);
        }
        let gaps = self.sweep_gaps().await?;
        if !gaps.is_empty() {
            outcome.findings.insert(FindingKind::Gap, gaps.len() as u64);
        }
        self.dirty.extend(gaps);
        outcome.ranked = self.flush_ranks().await?;
        Ok(outcome)
    }

    /// Recomputes every mint's statistics and rank, and sweeps gaps (for `mintwatch analyze`
    /// and for checking that incremental results equal a full recomputation).
    pub async fn refresh_all(&mut self) -> Result<usize, StoreError> {
        self.sweep_gaps().await?;
        let all: Vec<MintKey> = self.store.mint_keys().await?;
        let mut done = 0;
        for chunk in all.chunks(500) {
            done += self.refresh_mints(&chunk.iter().copied().collect()).await?;
        }
        Ok(done)
    }
}
