//! The indexer as one service: crawl feeding ingest (dedup → verify → store → analyze), started
//! from stored cursors and stopped gracefully. The binary and the end-to-end tests both run it.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::info;

use mintwatch_protocol::MintKey;

use crate::analyze::{AnalyzeConfig, Analyzer};
use crate::crawl::{CrawlConfig, CrawlStats, Crawler};
use crate::health::{Health, Stage};
use crate::ingest::{Ingest, IngestConfig, IngestError, IngestStats};
use crate::pipeline::Delivery;
use crate::verify::KnownMintKeys;
use mintwatch_store::{Store, StoreError};

/// Everything the indexer is configured with.
#[derive(Debug, Clone, Default)]
pub struct IndexerConfig {
    /// Relays and crawl limits.
    pub crawl: CrawlConfig,
    /// Batching and verification.
    pub ingest: IngestConfig,
    /// Gap grace period and rank time.
    pub analyze: AnalyzeConfig,
    /// Deliveries queued between crawl and ingest at most (0: 1,024).
    pub queue: usize,
    /// Bytes of event JSON queued between crawl and ingest at most (0: 32 MiB). The count alone
    /// would let 1,024 queued 4919s of ≈ 320 KB hold ≈ 330 MB.
    pub queue_bytes: usize,
}

/// Deliveries queued between crawl and ingest when [`IndexerConfig::queue`] is 0.
const QUEUE_DEFAULT: usize = 1024;
/// Bytes queued between crawl and ingest when [`IndexerConfig::queue_bytes`] is 0.
const QUEUE_BYTES_DEFAULT: usize = 32 << 20;
/// Deliveries in each of the two channels around the byte-bounded queue.
const HAND_OFF: usize = 16;

/// A running indexer.
pub struct RunningIndexer {
    shutdown: watch::Sender<bool>,
    crawl: JoinHandle<()>,
    ingest: JoinHandle<Result<(), IngestError>>,
    crawl_stats: CrawlStats,
    ingest_stats: Arc<IngestStats>,
    health: Health,
    /// Set once ingest has ended: why, if it failed.
    ended: watch::Receiver<Option<Option<String>>>,
}

impl RunningIndexer {
    /// Starts crawling and ingesting into `store` (already migrated).
    pub async fn start(store: Store, config: IndexerConfig) -> Result<Self, StoreError> {
        let cursors = store.all_cursors().await?;
        let mint_keys = store.mint_keys().await?;
        info!(
            relays = config.crawl.relays.len(),
            cursors = cursors.len(),
            mints = mint_keys.len(),
            "indexer starting"
        );
        let crawler = Crawler::new(config.crawl.clone(), cursors);
        let known = crawler.known_mints();
        known.extend(mint_keys.iter().copied());
        let crawl_stats = crawler.stats();

        let analyzer = Analyzer::new(store.clone(), config.analyze.clone());
        let seeded = KnownMintKeys::from_keys(mint_keys.iter().map(|k| *k.as_bytes()));
        let grow = known.clone();
        let ingest = Ingest::new(store, analyzer, config.ingest.clone(), seeded).on_new_mint_keys(
            Arc::new(move |keys: &[[u8; 32]]| {
                grow.extend(
                    keys.iter()
                        .filter_map(|k| MintKey::from_x_only_bytes(*k).ok()),
                );
            }),
        );
        let ingest_stats = ingest.stats();
        let health = Health::default();
        let ingest = ingest.with_health(health.clone());

        let (tx, from_crawl) = mpsc::channel(HAND_OFF);
        let (to_ingest, rx) = mpsc::channel(HAND_OFF);
        let limits = QueueLimits {
            count: if config.queue == 0 {
                QUEUE_DEFAULT
            } else {
                config.queue
            },
            bytes: if config.queue_bytes == 0 {
                QUEUE_BYTES_DEFAULT
            } else {
                config.queue_bytes
            },
        };
        tokio::spawn(queue(from_crawl, to_ingest, limits));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let crawl = tokio::spawn(crawler.run(tx, shutdown_rx));
        tokio::spawn(export_relay_states(
            crawl_stats.clone(),
            shutdown.subscribe(),
        ));
        let (ended_tx, ended) = watch::channel(None);
        let ingest_health = health.clone();
        let ingest = tokio::spawn(async move {
            let result = ingest.run(rx).await;
            if let Err(e) = &result {
                ingest_health.set(Stage::Ingest, format!("stopped: {e}"));
            }
            let _ = ended_tx.send(Some(result.as_ref().err().map(|e| e.to_string())));
            result
        });
        Ok(Self {
            shutdown,
            crawl,
            ingest,
            crawl_stats,
            ingest_stats,
            health,
            ended,
        })
    }

    /// The stages not running normally (what `/readyz` reports).
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Waits until ingest ends on its own (it only does on an error it gave up on) and says
    /// why; pending forever while it runs. The binary exits non-zero with this.
    pub async fn failed(&self) -> String {
        let mut ended = self.ended.clone();
        loop {
            if let Some(why) = ended.borrow_and_update().clone() {
                return why.unwrap_or_else(|| "ingest stopped".to_string());
            }
            if ended.changed().await.is_err() {
                return "ingest task vanished".to_string();
            }
        }
    }

    /// Per-relay crawl state and counters.
    pub fn crawl_stats(&self) -> &CrawlStats {
        &self.crawl_stats
    }

    /// Ingest totals.
    pub fn ingest_stats(&self) -> &Arc<IngestStats> {
        &self.ingest_stats
    }

    /// Whether ingest has stopped (only on a store failure, or after [`RunningIndexer::stop`]).
    pub fn is_finished(&self) -> bool {
        self.ingest.is_finished()
    }

    /// Stops crawling, lets ingest store and analyze everything already delivered (the last
    /// batch commits whole, with the cursors covering it), and returns how ingest ended.
    pub async fn stop(self) -> Result<(), IngestError> {
        let _ = self.shutdown.send(true);
        let _ = self.crawl.await;
        match self.ingest.await {
            Ok(result) => result,
            Err(e) => Err(IngestError::Pool(e.to_string())),
        }
    }
}

/// Bounds of the queue between crawl and ingest.
#[derive(Debug, Clone, Copy)]
struct QueueLimits {
    count: usize,
    bytes: usize,
}

/// The queue between crawl and ingest, bounded by deliveries and by bytes of JSON: it takes
/// from crawl only while both are below their limits (so one event past the byte limit at
/// most), and hands deliveries on in order. Ends when crawl has closed and everything is
/// handed on, or when ingest is gone.
async fn queue(
    mut from: mpsc::Receiver<Delivery>,
    to: mpsc::Sender<Delivery>,
    limits: QueueLimits,
) {
    let size = |d: &Delivery| match d {
        Delivery::Event { json, .. } => json.len(),
        Delivery::Cursor(_) | Delivery::Rejected { .. } => 0,
    };
    let mut held: VecDeque<Delivery> = VecDeque::new();
    let mut bytes = 0usize;
    let mut open = true;
    loop {
        let room = open && held.len() < limits.count && bytes < limits.bytes;
        tokio::select! {
            permit = to.reserve(), if !held.is_empty() => {
                let Ok(permit) = permit else { return };
                if let Some(d) = held.pop_front() {
                    bytes -= size(&d);
                    permit.send(d);
                }
            }
            next = from.recv(), if room => match next {
                Some(d) => {
                    bytes += size(&d);
                    held.push_back(d);
                }
                None => open = false,
            },
            else => return,
        }
        metrics::gauge!("mintwatch_queue_depth", "stage" => "ingest").set(held.len() as f64);
    }
}

/// Exports each relay's connection state as `mintwatch_relay_state{relay, state}` (1 for the
/// current state, 0 for the others) every two seconds until shutdown.
async fn export_relay_states(stats: CrawlStats, mut shutdown: watch::Receiver<bool>) {
    use crate::crawl::ConnState;
    let states = [
        ConnState::Connecting,
        ConnState::Connected,
        ConnState::Backfilling,
        ConnState::Live,
        ConnState::Backoff,
        ConnState::Stopped,
    ];
    loop {
        for relay in stats.snapshot() {
            for state in states {
                let on = if relay.state == state { 1.0 } else { 0.0 };
                metrics::gauge!("mintwatch_relay_state",
                    "relay" => relay.relay.to_string(), "state" => state.as_str())
                .set(on);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            _ = shutdown.changed() => return,
        }
    }
}
