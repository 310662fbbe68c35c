//! Ingest: runs the stages after crawl as a pipeline of tasks joined by bounded channels:
//! batch → dedup + verify (on a rayon pool, off the tokio workers) → store → analyze. While one
//! batch is being stored, the next is being verified; when a stage falls behind, the channels
//! fill and the crawl waits, so memory does not grow with the backlog.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use mintwatch_protocol::event::verify_batch_by;
use mintwatch_protocol::EventId;

use crate::analyze::{AnalyzeOutcome, Analyzer, BatchChanges};
use crate::health::{Health, Stage};
use crate::pipeline::{Cursor, Delivery, Rejection, RelayUrl, StoreBatch};
use crate::verify::{self, Decoded, Dedup, Digest, KnownMintKeys, Seen};
use mintwatch_store::{Store, StoreError};

/// Settings of the ingest pipeline.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Events per batch at most.
    pub batch_size: usize,
    /// Bytes of event JSON per batch at most (the event that crosses it is the last one in):
    /// 4919s are up to 512 KiB each, so a count alone would let one batch hold gigabytes, and
    /// every stage holds batches.
    pub batch_bytes: usize,
    /// How long a partial batch waits for more events before it goes.
    pub linger: Duration,
    /// Event ids remembered in memory for dedup (the store answers for older ones).
    pub dedup_capacity: usize,
    /// Threads verifying signatures (0: one per core).
    pub verify_threads: usize,
    /// Batches queued between stages.
    pub queue: usize,
    /// How often time-driven analysis runs (gaps past their grace period) when idle or busy.
    pub maintain_every: Duration,
    /// How often every rank is recomputed (silence decays even without new events).
    pub rerank_every: Duration,
    /// How long a failing store write or analysis is retried (waiting 100 ms, doubling up to
    /// 5 s) before ingest gives up and ends with the error: long enough to ride out a database
    /// restart.
    pub retry_for: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            batch_size: 4096,
            batch_bytes: 8 << 20,
            linger: Duration::from_millis(50),
            dedup_capacity: 1 << 20,
            verify_threads: 0,
            queue: 2,
            maintain_every: Duration::from_secs(30),
            rerank_every: Duration::from_secs(3600),
            retry_for: Duration::from_secs(120),
        }
    }
}

/// Running totals, shared with whoever reports progress.
#[derive(Debug, Default)]
pub struct IngestStats {
    /// Events received from relays.
    pub received: AtomicU64,
    /// Events dropped as duplicates before any crypto.
    pub duplicates: AtomicU64,
    /// Events stored (new, verified, parsed).
    pub stored: AtomicU64,
    /// Events refused (garbage, bad id or signature, malformed content, ...).
    pub rejected: AtomicU64,
    /// BURN entries stored.
    pub burns: AtomicU64,
    /// MINT entries stored.
    pub issued: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Findings recorded or refreshed.
    pub findings: AtomicU64,
}

/// Called with mint keys seen for the first time, so crawl can widen its author filter.
pub type OnNewMintKeys = Arc<dyn Fn(&[[u8; 32]]) + Send + Sync>;

#[derive(Debug, Default)]
struct RawBatch {
    events: Vec<(RelayUrl, Box<str>)>,
    cursors: Vec<Cursor>,
    rejections: Vec<Rejection>,
}

impl RawBatch {
    fn is_empty(&self) -> bool {
        self.events.is_empty() && self.cursors.is_empty() && self.rejections.is_empty()
    }
}

/// The ingest pipeline.
pub struct Ingest {
    store: Store,
    analyzer: Analyzer,
    config: IngestConfig,
    stats: Arc<IngestStats>,
    known: KnownMintKeys,
    on_new_mint_keys: Option<OnNewMintKeys>,
    health: Health,
}

/// How ingest ended.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The store failed (after retries).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The verification pool could not be built or died.
    #[error("verification pool: {0}")]
    Pool(String),
    /// A store write or analysis kept failing for longer than
    /// [`IngestConfig::retry_for`]: what failed, for how long, and the last error.
    #[error("{0}")]
    GaveUp(String),
}

async fn on_pool<T: Send + 'static>(
    pool: &Arc<rayon::ThreadPool>,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, IngestError> {
    let (tx, rx) = oneshot::channel();
    pool.spawn(move || {
        let _ = tx.send(f());
    });
    rx.await
        .map_err(|_| IngestError::Pool("a verification task panicked".into()))
}

impl Ingest {
    /// A pipeline writing to `store` and analyzing with `analyzer`. `known` seeds the mint keys
    /// from which kind 1337 is read.
    pub fn new(
        store: Store,
        analyzer: Analyzer,
        config: IngestConfig,
        known: KnownMintKeys,
    ) -> Self {
        Self {
            store,
            analyzer,
            config,
            stats: Arc::new(IngestStats::default()),
            known,
            on_new_mint_keys: None,
            health: Health::default(),
        }
    }

    /// Reports the stages that are not running normally to `health` (see [`Health`]).
    pub fn with_health(mut self, health: Health) -> Self {
        self.health = health;
        self
    }

    /// Registers a callback for newly learned mint keys.
    pub fn on_new_mint_keys(mut self, f: OnNewMintKeys) -> Self {
        self.on_new_mint_keys = Some(f);
        self
    }

    /// The running totals.
    pub fn stats(&self) -> Arc<IngestStats> {
        self.stats.clone()
    }

    /// Runs until `deliveries` closes (crawl stopped), then drains: every delivered event is
    /// verified and stored, the last batch commits whole, then it returns. Before anything new
    /// is stored, the analysis a previous run left queued is completed (the analyze stage is
    /// reported not ready until then).
    pub async fn run(self, deliveries: mpsc::Receiver<Delivery>) -> Result<(), IngestError> {
        let Ingest {
            store,
            mut analyzer,
            config,
            stats,
            mut known,
            on_new_mint_keys,
            health,
        } = self;
        let threads = if config.verify_threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            config.verify_threads
        };
        let pool = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("mintwatch-verify-{i}"))
                .build()
                .map_err(|e| IngestError::Pool(e.to_string()))?,
        );
        // Before anything is stored: the filter must hold exactly the Ys stored before the
        // first batch this run analyzes; then what a previous run left unanalysed.
        health.set(
            Stage::Analyze,
            "completing the analysis left queued by the last run",
        );
        let mut retry = Retry::new(&health, Stage::Analyze, config.retry_for);
        loop {
            match recover(&mut analyzer, &stats).await {
                Ok(()) => break,
                Err(e) => retry.failed("recovering queued analysis", &e).await?,
            }
        }
        health.clear(Stage::Analyze);
        let (raw_tx, mut raw_rx) = mpsc::channel::<RawBatch>(config.queue.max(1));
        let (store_tx, mut store_rx) = mpsc::channel::<StoreBatch>(config.queue.max(1));

        let batcher = tokio::spawn(batch(deliveries, raw_tx, config.clone(), stats.clone()));

        // Dedup and verify are two stages, so the store's "already have these ids?" query for
        // batch n+1 runs while batch n is on the pool, which otherwise sat idle during it.
        let (dedup_tx, mut dedup_rx) = mpsc::channel::<Deduped>(1);
        let dedup_store = store.clone();
        let dedup_stats = stats.clone();
        let dedup_pool = pool.clone();
        let dedup_capacity = config.dedup_capacity;
        let dedup_health = health.clone();
        let retry_for = config.retry_for;
        // Shared: dedup marks what it hands on as pending, verify settles it.
        let dedup = Arc::new(std::sync::Mutex::new(Dedup::new(dedup_capacity)));
        let check_dedup = dedup.clone();
        let deduper = tokio::spawn(async move {
            while let Some(raw) = raw_rx.recv().await {
                metrics::gauge!("mintwatch_queue_depth", "stage" => "verify")
                    .set(raw_rx.len() as f64);
                let retry = Retry::new(&dedup_health, Stage::Dedup, retry_for);
                let batch =
                    dedup_batch(raw, &dedup_pool, &dedup_store, &dedup, &dedup_stats, retry)
                        .await?;
                if dedup_tx.send(batch).await.is_err() {
                    break;
                }
            }
            Ok::<(), IngestError>(())
        });
        let check_stats = stats.clone();
        let checker = tokio::spawn(async move {
            while let Some(deduped) = dedup_rx.recv().await {
                let batch =
                    verify_batch(deduped, &pool, &mut known, &check_dedup, &check_stats).await?;
                if let (Some(f), false) = (&on_new_mint_keys, batch.1.is_empty()) {
                    f(&batch.1);
                }
                if store_tx.send(batch.0).await.is_err() {
                    break;
                }
            }
            Ok::<(), IngestError>(())
        });

        // Store and analyze are two stages: while batch n is analyzed, batch n+1 is stored.
        // Analysis of a batch starts only after the batch is committed, and batches are
        // analyzed in order; every check reads the committed state, which may already include
        // later batches (whose own analysis then runs again over everything they touch).
        let (analyze_tx, mut analyze_rx) = mpsc::channel::<AnalyzeWork>(config.queue.max(1));
        let store_stats = stats.clone();
        let store_health = health.clone();
        let storer = tokio::spawn(async move {
            while let Some(batch) = store_rx.recv().await {
                metrics::gauge!("mintwatch_queue_depth", "stage" => "store")
                    .set(store_rx.len() as f64);
                let work =
                    store_batch(&store, batch, &store_stats, &store_health, retry_for).await?;
                crate::fault::batch_committed();
                if analyze_tx.send(work).await.is_err() {
                    break;
                }
            }
            Ok::<(), IngestError>(())
        });

        let mut result = Ok(());
        let mut maintain =
            tokio::time::interval(config.maintain_every.max(Duration::from_millis(10)));
        maintain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_rerank = Instant::now();
        loop {
            let rank_at = analyzer.next_rank_at();
            tokio::select! {
                work = analyze_rx.recv() => {
                    let Some(work) = work else { break };
                    metrics::gauge!("mintwatch_queue_depth", "stage" => "analyze")
                        .set(analyze_rx.len() as f64);
                    if let Err(e) = analyze(&mut analyzer, work, &stats, &health,
                                            config.retry_for).await {
                        result = Err(e);
                        break;
                    }
                }
                _ = tokio::time::sleep_until(rank_at.unwrap_or_else(Instant::now).into()),
                    if rank_at.is_some() => {
                    if let Err(e) = flush_ranks(&mut analyzer, &health, config.retry_for).await {
                        result = Err(e);
                        break;
                    }
                }
                _ = maintain.tick() => {
                    let rerank = last_rerank.elapsed() >= config.rerank_every;
                    if rerank {
                        last_rerank = Instant::now();
                    }
                    match analyzer.maintain(rerank).await {
                        Ok(done) => record_findings(&done, &stats),
                        Err(e) => warn!(error = %e, "time-driven analysis failed; will retry"),
                    }
                }
            }
        }
        if result.is_ok() {
            // Gaps and ranks still pending from the last batches.
            let mut retry = Retry::new(&health, Stage::Analyze, config.retry_for);
            result = loop {
                match analyzer.finish().await {
                    Ok(done) => {
                        record_findings(&done, &stats);
                        break Ok(());
                    }
                    Err(e) => {
                        if let Err(e) = retry.failed("finishing the analysis", &e).await {
                            break Err(e);
                        }
                    }
                }
            };
        }
        // Dropping the receivers stops the stages before if a later one failed.
        drop(analyze_rx);
        let stored = storer.await.map_err(|e| IngestError::Pool(e.to_string()))?;
        let checked = checker
            .await
            .map_err(|e| IngestError::Pool(e.to_string()))?;
        let deduped = deduper
            .await
            .map_err(|e| IngestError::Pool(e.to_string()))?;
        batcher.abort();
        stored?;
        result?;
        checked?;
        deduped
    }
}

/// Completes the analysis a previous run left queued, with the filter of burnt `Y`s loaded
/// first, and records the ranks it makes due.
async fn recover(analyzer: &mut Analyzer, stats: &IngestStats) -> Result<(), StoreError> {
    analyzer.load_spent().await?;
    let started = Instant::now();
    let drained = analyzer.drain_queue().await?;
    record_findings(&drained, stats);
    let finished = analyzer.finish().await?;
    record_findings(&finished, stats);
    if drained.ranked + finished.ranked > 0 || !drained.findings.is_empty() {
        info!(findings = ?drained.findings, ranked = drained.ranked + finished.ranked,
              secs = started.elapsed().as_secs_f64(),
              "analysis left queued by the last run completed");
    }
    Ok(())
}

/// Retries of one failing step: waits 100 ms, doubling up to 5 s, for at most `budget` after
/// the first failure; meanwhile the stage is reported not ready with the error.
struct Retry<'a> {
    health: &'a Health,
    stage: Stage,
    budget: Duration,
    first: Option<Instant>,
    wait: Duration,
}

impl<'a> Retry<'a> {
    fn new(health: &'a Health, stage: Stage, budget: Duration) -> Self {
        Self {
            health,
            stage,
            budget,
            first: None,
            wait: Duration::from_millis(100),
        }
    }

    /// After a failure of `what`: waits and returns `Ok` to try again, or the error once the
    /// budget is spent.
    async fn failed(&mut self, what: &str, e: &StoreError) -> Result<(), IngestError> {
        let first = *self.first.get_or_insert_with(Instant::now);
        let failing = first.elapsed();
        metrics::counter!("mintwatch_stage_retries_total", "stage" => self.stage.as_str())
            .increment(1);
        if failing >= self.budget {
            let why = format!("{what} failed for {} s, giving up: {e}", failing.as_secs());
            error!(stage = self.stage.as_str(), "{why}");
            self.health.set(
                self.stage,
                format!("{what} failed for {} s; gave up", failing.as_secs()),
            );
            return Err(IngestError::GaveUp(why));
        }
        // The error itself goes to the log; /readyz says what fails and for how long.
        self.health.set(
            self.stage,
            format!("{what} failing for {} s, retrying", failing.as_secs()),
        );
        warn!(stage = self.stage.as_str(), error = %e, failing_secs = failing.as_secs(),
              "{what} failed; retrying");
        tokio::time::sleep(self.wait).await;
        self.wait = (self.wait * 2).min(Duration::from_secs(5));
        Ok(())
    }

    /// The step succeeded: the stage is ready again if it had failed.
    fn succeeded(self) {
        if let Some(first) = self.first {
            info!(
                stage = self.stage.as_str(),
                secs = first.elapsed().as_secs_f64(),
                "recovered"
            );
            self.health.clear(self.stage);
        }
    }
}

/// What the store stage hands to analysis.
#[derive(Debug)]
enum AnalyzeWork {
    /// What one committed batch changed, with its row in the analysis queue.
    Batch {
        seq: Option<i64>,
        changes: BatchChanges,
    },
    /// A commit was retried, and a failed attempt may in fact have committed: its changes are
    /// only in the analysis queue, so analyse what the queue holds.
    Queue,
}

/// Analyses one hand-off from the store stage, retrying.
async fn analyze(
    analyzer: &mut Analyzer,
    work: AnalyzeWork,
    stats: &IngestStats,
    health: &Health,
    retry_for: Duration,
) -> Result<(), IngestError> {
    let mut retry = Retry::new(health, Stage::Analyze, retry_for);
    loop {
        let started = Instant::now();
        let analyzed = match &work {
            AnalyzeWork::Batch { seq, changes } => {
                analyzer.after_batch(*seq, changes.clone()).await
            }
            AnalyzeWork::Queue => analyzer.drain_queue().await,
        };
        match analyzed {
            Ok(analyzed) => {
                metrics::histogram!("mintwatch_analyze_seconds")
                    .record(started.elapsed().as_secs_f64());
                record_findings(&analyzed, stats);
                debug!(ranked = analyzed.ranked, "batch analyzed");
                if !analyzed.findings.is_empty() {
                    info!(findings = ?analyzed.findings, "findings recorded");
                }
                break;
            }
            Err(e) => retry.failed("analysing a batch", &e).await?,
        }
    }
    retry.succeeded();
    Ok(())
}

/// Recomputes the pending ranks, retrying.
async fn flush_ranks(
    analyzer: &mut Analyzer,
    health: &Health,
    retry_for: Duration,
) -> Result<(), IngestError> {
    let mut retry = Retry::new(health, Stage::Analyze, retry_for);
    loop {
        match analyzer.flush_ranks().await {
            Ok(_) => break,
            Err(e) => retry.failed("recomputing ranks", &e).await?,
        }
    }
    retry.succeeded();
    Ok(())
}

/// Groups deliveries into batches by size and linger time.
async fn batch(
    mut deliveries: mpsc::Receiver<Delivery>,
    out: mpsc::Sender<RawBatch>,
    config: IngestConfig,
    stats: Arc<IngestStats>,
) {
    let mut current = RawBatch::default();
    let mut bytes = 0usize;
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let next = match deadline {
            Some(d) => match tokio::time::timeout_at(d, deliveries.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    // Linger elapsed: send what there is.
                    if out.send(std::mem::take(&mut current)).await.is_err() {
                        return;
                    }
                    bytes = 0;
                    deadline = None;
                    continue;
                }
            },
            None => deliveries.recv().await,
        };
        let Some(delivery) = next else { break };
        match delivery {
            Delivery::Event { relay, json } => {
                stats.received.fetch_add(1, Ordering::Relaxed);
                bytes += json.len();
                current.events.push((relay, json));
            }
            Delivery::Cursor(c) => current.cursors.push(c),
            Delivery::Rejected { relay, reason } => {
                stats.rejected.fetch_add(1, Ordering::Relaxed);
                current.rejections.push(Rejection {
                    relay,
                    reason: reason.to_string(),
                    kind: None,
                });
            }
        }
        if deadline.is_none() {
            deadline = Some(tokio::time::Instant::now() + config.linger);
        }
        if current.events.len() >= config.batch_size || bytes >= config.batch_bytes {
            if out.send(std::mem::take(&mut current)).await.is_err() {
                return;
            }
            bytes = 0;
            deadline = None;
        }
    }
    if !current.is_empty() {
        let _ = out.send(current).await;
    }
}

/// A batch past dedup: the events left to verify, and what the store needs besides.
struct Deduped {
    /// Events new to dedup and to the store, with their digests.
    fresh: Vec<(Decoded, Digest)>,
    /// Events whose id the store holds but whose copy dedup has not seen verified: a sighting
    /// only if this copy verifies (a relay can send the real id over other fields).
    recheck: Vec<(Decoded, Digest)>,
    /// Copies of events that verified: sightings.
    seen_again: Vec<(RelayUrl, EventId)>,
    /// Copies of events being verified: sightings if those verify, refusals if not.
    copies: Vec<(RelayUrl, EventId, u16, Digest)>,
    cursors: Vec<Cursor>,
    rejections: Vec<Rejection>,
    /// Time spent decoding and deduplicating (the verify histogram adds the rest).
    took: Duration,
}

/// The dedup lock; a panic elsewhere while holding it leaves sets that are still consistent.
fn lock(dedup: &std::sync::Mutex<Dedup>) -> std::sync::MutexGuard<'_, Dedup> {
    dedup
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Decode and dedup (memory, then store) one batch; the store's lookup is retried.
async fn dedup_batch(
    raw: RawBatch,
    pool: &Arc<rayon::ThreadPool>,
    store: &Store,
    dedup: &std::sync::Mutex<Dedup>,
    stats: &IngestStats,
    mut retry: Retry<'_>,
) -> Result<Deduped, IngestError> {
    let RawBatch {
        events,
        cursors,
        mut rejections,
    } = raw;
    let mut per_relay: HashMap<&str, u64> = HashMap::new();
    for (relay, _) in &events {
        *per_relay.entry(relay).or_default() += 1;
    }
    for (relay, n) in per_relay {
        metrics::counter!("mintwatch_events_received_total", "relay" => relay.to_string())
            .increment(n);
    }
    metrics::histogram!("mintwatch_verify_batch_size").record(events.len() as f64);
    let started = Instant::now();
    let (decoded, refused) = on_pool(pool, move || {
        let (decoded, refused) = verify::decode(events);
        let digested: Vec<(Decoded, Digest)> = decoded
            .into_iter()
            .map(|d| {
                let digest = Dedup::digest(&d.event);
                (d, digest)
            })
            .collect();
        (digested, refused)
    })
    .await?;
    rejections.extend(refused.iter().cloned());
    stats
        .rejected
        .fetch_add(refused.len() as u64, Ordering::Relaxed);

    let mut seen_again = Vec::new();
    let mut copies = Vec::new();
    let mut fresh: Vec<(Decoded, Digest)> = Vec::with_capacity(decoded.len());
    {
        let mut dedup = lock(dedup);
        for (d, digest) in decoded {
            match dedup.admit(digest) {
                Seen::New => fresh.push((d, digest)),
                Seen::Verified => seen_again.push((d.relay, d.event.id)),
                Seen::Pending => copies.push((d.relay, d.event.id, d.event.kind, digest)),
            }
        }
    }
    let ids: Vec<EventId> = fresh.iter().map(|(d, _)| d.event.id).collect();
    let stored: HashSet<EventId> = if ids.is_empty() {
        HashSet::new()
    } else {
        // Dedup has already marked these events pending: the lookup is retried, never the
        // batch, or they would be taken for copies of themselves.
        loop {
            match store.known_ids(&ids).await {
                Ok(stored) => break stored,
                Err(e) => retry.failed("looking up known event ids", &e).await?,
            }
        }
    };
    retry.succeeded();
    let (fresh, recheck): (Vec<_>, Vec<_>) = fresh
        .into_iter()
        .partition(|(d, _)| !stored.contains(&d.event.id));
    Ok(Deduped {
        fresh,
        recheck,
        seen_again,
        copies,
        cursors,
        rejections,
        took: started.elapsed(),
    })
}

/// Verify and parse one deduplicated batch, settle its digests in dedup, and keep as sightings
/// only the copies of events that verified; also returns the mint keys it made known.
async fn verify_batch(
    deduped: Deduped,
    pool: &Arc<rayon::ThreadPool>,
    known: &mut KnownMintKeys,
    dedup: &std::sync::Mutex<Dedup>,
    stats: &IngestStats,
) -> Result<(StoreBatch, Vec<[u8; 32]>), IngestError> {
    let Deduped {
        fresh,
        recheck,
        mut seen_again,
        copies,
        cursors,
        mut rejections,
        took,
    } = deduped;
    let verify_started = Instant::now();
    let mut known_now = std::mem::take(known);
    let (fresh, digests): (Vec<Decoded>, Vec<Digest>) = fresh.into_iter().unzip();
    let (checked, rechecked, known_back) = on_pool(pool, move || {
        let checked = verify::verify_and_parse(fresh, &mut known_now);
        let rechecked = verify_batch_by(&recheck, |(d, _)| &d.event);
        (
            checked,
            recheck.into_iter().zip(rechecked).collect::<Vec<_>>(),
            known_now,
        )
    })
    .await?;
    *known = known_back;
    let mut refused = checked.rejections;
    {
        let mut dedup = lock(dedup);
        for (digest, authentic) in digests.into_iter().zip(&checked.authentic) {
            dedup.settle(digest, *authentic);
        }
        for ((d, digest), result) in rechecked {
            dedup.settle(digest, result.is_ok());
            match result {
                Ok(()) => seen_again.push((d.relay, d.event.id)),
                Err(e) => refused.push(Rejection {
                    relay: d.relay,
                    reason: e.label().to_string(),
                    kind: Some(d.event.kind),
                }),
            }
        }
        for (relay, id, kind, digest) in copies {
            if dedup.is_verified(&digest) {
                seen_again.push((relay, id));
            } else {
                refused.push(Rejection {
                    relay,
                    reason: COPY_OF_REFUSED.to_string(),
                    kind: Some(kind),
                });
            }
        }
    }
    metrics::histogram!("mintwatch_verify_batch_seconds")
        .record((took + verify_started.elapsed()).as_secs_f64());
    stats
        .duplicates
        .fetch_add(seen_again.len() as u64, Ordering::Relaxed);
    stats
        .rejected
        .fetch_add(refused.len() as u64, Ordering::Relaxed);
    rejections.extend(refused);

    let mut counted: HashMap<Rejection, u64> = HashMap::new();
    for r in rejections {
        *counted.entry(r).or_default() += 1;
    }
    for (r, n) in &counted {
        metrics::counter!("mintwatch_events_rejected_total",
            "relay" => r.relay.to_string(), "reason" => r.reason.clone(),
            "kind" => r.kind.map(|k| k.to_string()).unwrap_or_else(|| "unknown".into()))
        .increment(*n);
    }
    Ok((
        StoreBatch {
            events: checked.verified,
            seen_again,
            cursors,
            rejections: counted.into_iter().collect(),
        },
        checked.new_mint_keys,
    ))
}

/// The refusal reason of an exact copy of an event that failed verification in the same or an
/// earlier batch still in flight.
const COPY_OF_REFUSED: &str = "copy-of-refused";

fn record_findings(analyzed: &AnalyzeOutcome, stats: &IngestStats) {
    for (kind, n) in &analyzed.findings {
        stats.findings.fetch_add(*n, Ordering::Relaxed);
        metrics::counter!("mintwatch_findings_total", "finding" => kind.as_str()).increment(*n);
    }
}

/// Stores one batch (retrying failures for `retry_for`) and says what analysis has to do.
async fn store_batch(
    store: &Store,
    batch: StoreBatch,
    stats: &IngestStats,
    health: &Health,
    retry_for: Duration,
) -> Result<AnalyzeWork, IngestError> {
    let started = Instant::now();
    let mut retry = Retry::new(health, Stage::Store, retry_for);
    let mut retried = false;
    let outcome = loop {
        match store.write_batch(&batch).await {
            Ok(outcome) => break outcome,
            Err(e) => {
                retried = true;
                retry.failed("storing a batch", &e).await?;
            }
        }
    };
    retry.succeeded();
    metrics::histogram!("mintwatch_db_write_seconds").record(started.elapsed().as_secs_f64());
    metrics::counter!("mintwatch_db_rows_total", "table" => "events")
        .increment(outcome.new_events.len() as u64);
    metrics::counter!("mintwatch_db_rows_total", "table" => "burns").increment(outcome.burns);
    metrics::counter!("mintwatch_db_rows_total", "table" => "issued").increment(outcome.issued);
    stats
        .stored
        .fetch_add(outcome.new_events.len() as u64, Ordering::Relaxed);
    stats.burns.fetch_add(outcome.burns, Ordering::Relaxed);
    stats.issued.fetch_add(outcome.issued, Ordering::Relaxed);
    stats.batches.fetch_add(1, Ordering::Relaxed);
    let mut accepted: BTreeMap<u16, u64> = BTreeMap::new();
    for v in &batch.events {
        *accepted.entry(v.event.kind).or_default() += 1;
    }
    for (kind, n) in accepted {
        metrics::counter!("mintwatch_events_accepted_total", "kind" => kind.to_string())
            .increment(n);
    }
    debug!(
        events = outcome.new_events.len(),
        burns = outcome.burns,
        "batch stored"
    );
    if retried {
        // An attempt that failed may have committed (the connection died at COMMIT): then this
        // attempt found its events stored, and only the queue knows what they changed.
        return Ok(AnalyzeWork::Queue);
    }
    Ok(AnalyzeWork::Batch {
        seq: outcome.queued,
        changes: outcome.changes,
    })
}
