//! Analyze: turn what the store holds into the findings of PROTOCOL.md §3, the per-mint
//! statistics and the rank of §4. Runs after each committed batch and touches only what the batch
//! can have changed: the `Y`s it burnt, the chain links it added, the (mint, unit, epoch) totals it
//! moved, and the mints the store reports as changed. Every check is a function of the stored
//! events alone, so the same set of events gives the same findings whatever order they arrived in;
//! the only clock is the gap grace period, and the rank's "as of" time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use mintwatch_protocol::broadcast::GroupContents;
use mintwatch_protocol::{Epoch, EventId, FindingKind, IdentityLevel, MintKey, Point, Unit};

use crate::pipeline::{Content, Verified};
use mintwatch_store::{NewFinding, Store, StoreError};

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
    /// How often the statistics and ranks of the mints that batches changed are recomputed at
    /// most. Findings are recorded with every batch; ranks of changed mints are collected and
    /// recomputed together (a batch of reviews touches ~1,000 mints, and recomputing them costs
    /// the same for one review as for a thousand). [`Analyzer::flush_ranks`] recomputes what is
    /// pending at once (ingest calls it when it stops), so the final ranks do not depend on it.
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
            rank_every: Duration::from_secs(5),
            spent_filter_bytes: 16 << 20,
        }
    }
}

/// What one stored batch changed, as the analyze stage needs it: small and owned, so the store
/// stage can hand it over and go on with the next batch while this one is analyzed.
#[derive(Debug, Clone, Default)]
pub struct BatchChanges {
    /// Every burnt `Y` of the new events, sorted, repeats kept (a `Y` twice in the batch is a
    /// double-spend).
    ys: Vec<Point>,
    /// Previous events named by new 4919s.
    prevs: BTreeSet<EventId>,
    /// (mint, unit, epoch) groups whose totals moved.
    groups: BTreeSet<(MintKey, Unit, Epoch)>,
    /// Whether any new 4919 arrived (it may resolve a gap).
    has_chain: bool,
    /// Findings read off single events (identity mismatches).
    findings: Vec<NewFinding>,
    /// Mints whose stored data changed.
    changed: BTreeSet<MintKey>,
}

impl BatchChanges {
    /// The changes of a batch: `new` are the events it inserted, `changed` the mints whose
    /// stored data changed.
    pub fn of(new: &[&Verified], changed: &BTreeSet<MintKey>) -> Self {
        let mut out = BatchChanges {
            changed: changed.clone(),
            ..BatchChanges::default()
        };
        for v in new {
            let Some(signer) = MintKey::from_x_only_bytes(v.event.pubkey).ok() else {
                continue;
            };
            match &v.content {
                Content::CashuData(data) => {
                    out.has_chain = true;
                    if let Some(prev) = data.prev {
                        out.prevs.insert(prev);
                    }
                    for g in &data.groups {
                        out.groups.insert((signer, g.unit.clone(), g.epoch));
                        if let GroupContents::Burn(entries) = &g.contents {
                            out.ys.extend(entries.iter().map(|e| e.y));
                        }
                    }
                }
                Content::FinEpoch(fin) => {
                    out.groups.insert((signer, fin.unit.clone(), fin.epoch));
                }
                Content::MintInfo(info) if info.signer_matches(&v.event.pubkey) == Some(false) => {
                    out.findings.push(NewFinding {
                        mint: signer,
                        kind: FindingKind::IdentityMismatch,
                        key: v.event.id.to_hex(),
                        y: None,
                        unit: None,
                        epoch: None,
                        event_ids: vec![v.event.id],
                        detail: json!({
                            "signer": signer.to_hex(),
                            "content_pubkey": info.pubkey.map(|p| p.to_hex()),
                        }),
                    });
                }
                _ => {}
            }
        }
        out.ys.sort_unstable();
        out
    }
}

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
            spent: None,
        }
    }

    /// Analyzes the effect of one committed batch. Batches must be analyzed in the order they
    /// were stored (each only after it was committed; later batches may already be committed).
    pub async fn after_batch(
        &mut self,
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
        let t = Instant::now();
        self.store.upsert_findings(&findings).await?;
        phase("upsert_findings", t);

        let t = Instant::now();
        let mut touched: BTreeSet<MintKey> = changed;
        touched.extend(findings.iter().map(|f| f.mint));
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
        let rank_due = self
            .last_rank
            .is_none_or(|t| t.elapsed() >= self.config.rank_every);
        if rank_due {
            outcome.ranked = self.flush_ranks().await?;
        }
        outcome.findings.retain(|_, n| *n > 0);
        Ok(outcome)
    }

    /// Recomputes the statistics and ranks of every mint changed since the last time. Returns
    /// how many were updated.
    pub async fn flush_ranks(&mut self) -> Result<usize, StoreError> {
        let t = Instant::now();
        self.last_rank = Some(t);
        let dirty = std::mem::take(&mut self.dirty);
        match self.refresh_mints(&dirty).await {
            Ok(n) => {
                phase("ranks", t);
                Ok(n)
            }
            Err(e) => {
                // Keep them pending: the next batch or flush tries again.
                self.dirty.extend(dirty);
                Err(e)
            }
        }
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
