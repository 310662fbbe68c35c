//! The live counters the API shows at `/v1/stats`: the API does not know the indexer, so the
//! binary, which runs both, reads the indexer's ingest and crawl counters into the API's
//! snapshot at each request.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use mintwatch_api::http::health::Readiness;
use mintwatch_api::read::stats::{IngestCounters, LiveRelay, LiveSnapshot};
use mintwatch_api::read::LiveStats;
use mintwatch_indexer::crawl::CrawlStats;
use mintwatch_indexer::ingest::IngestStats;
use mintwatch_indexer::service::RunningIndexer;

/// Live statistics of `indexer`, rates counted from now.
pub fn live_stats(indexer: &RunningIndexer) -> LiveStats {
    live_stats_of(
        indexer.ingest_stats().clone(),
        indexer.crawl_stats().clone(),
    )
}

/// Live statistics of these ingest and crawl counters, rates counted from now (the tests show
/// an indexer's counters through this, as the binary does).
pub fn live_stats_of(ingest: Arc<IngestStats>, crawl: CrawlStats) -> LiveStats {
    LiveStats::new(move || {
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        LiveSnapshot {
            ingest: IngestCounters {
                received: get(&ingest.received),
                duplicates: get(&ingest.duplicates),
                stored: get(&ingest.stored),
                rejected: get(&ingest.rejected),
                burns: get(&ingest.burns),
                issued: get(&ingest.issued),
                batches: get(&ingest.batches),
            },
            relays: crawl
                .snapshot()
                .into_iter()
                .map(|snap| {
                    (
                        snap.relay.to_string(),
                        LiveRelay {
                            state: snap.state.as_str().to_string(),
                            connects: snap.connects,
                            disconnects: snap.disconnects,
                            events: snap.events,
                            bytes: snap.bytes,
                            last_error: snap.last_error,
                        },
                    )
                })
                .collect(),
        }
    })
}

/// What `/readyz` reports of `indexer`'s stages: those not running normally, and why.
pub fn readiness(indexer: &RunningIndexer) -> Readiness {
    let health = indexer.health().clone();
    Readiness::new(move || {
        health
            .problems()
            .into_iter()
            .map(|(stage, why)| (stage.as_str().to_string(), why))
            .collect()
    })
}
