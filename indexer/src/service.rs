//! The indexer as one service: crawl feeding ingest (dedup → verify → store → analyze), started
//! from stored cursors and stopped gracefully. The binary and the end-to-end tests both run it.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::info;

use mintwatch_protocol::MintKey;

use crate::analyze::{AnalyzeConfig, Analyzer};
use crate::crawl::{CrawlConfig, CrawlStats, Crawler};
use crate::ingest::{Ingest, IngestConfig, IngestError, IngestStats};
use crate::store::{Store, StoreError};
use crate::verify::KnownMintKeys;

/// Everything the indexer is configured with.
#[derive(Debug, Clone, Default)]
pub struct IndexerConfig {
    /// Relays and crawl limits.
    pub crawl: CrawlConfig,
    /// Batching and verification.
    pub ingest: IngestConfig,
    /// Gap grace period and rank time.
    pub analyze: AnalyzeConfig,
    /// Deliveries queued between crawl and ingest.
    pub queue: usize,
}

/// A running indexer.
pub struct RunningIndexer {
    shutdown: watch::Sender<bool>,
    crawl: JoinHandle<()>,
    ingest: JoinHandle<Result<(), IngestError>>,
    crawl_stats: CrawlStats,
    ingest_stats: Arc<IngestStats>,
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

        let (tx, rx) = mpsc::channel(config.queue.max(1024));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let crawl = tokio::spawn(crawler.run(tx, shutdown_rx));
        tokio::spawn(export_relay_states(
            crawl_stats.clone(),
            shutdown.subscribe(),
        ));
        let ingest = tokio::spawn(ingest.run(rx));
        Ok(Self {
            shutdown,
            crawl,
            ingest,
            crawl_stats,
            ingest_stats,
        })
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
