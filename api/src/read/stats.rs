//! Global statistics: what the store holds ([`store_stats`](mintwatch_store::read::store_stats)),
//! per relay counters and cursors, and, when the API runs beside the indexer, its live ingest
//! totals and rates.
//!
//! The live counters are the indexer's, but the API does not know the indexer: it takes a
//! [`LiveSnapshot`] from whatever [`LiveStats`] was built with (the binary builds it from the
//! indexer's ingest and crawl counters).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use mintwatch_store::read::{store_stats, ReadError, StoreStats};
use mintwatch_store::Store;

pub use mintwatch_store::read::stats::{FindingCounts, RelayCursor, RelayRefusal, StoreCounts};

/// Ingest totals of a running indexer, since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestCounters {
    /// Events received from relays.
    pub received: u64,
    /// Duplicates dropped before any crypto.
    pub duplicates: u64,
    /// Events stored.
    pub stored: u64,
    /// Events refused.
    pub rejected: u64,
    /// BURN entries stored.
    pub burns: u64,
    /// MINT entries stored.
    pub issued: u64,
    /// Batches committed.
    pub batches: u64,
}

/// What a running indexer's counters say now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveSnapshot {
    /// Ingest totals.
    pub ingest: IngestCounters,
    /// Live crawl state per relay URL (empty when not crawling in this process).
    pub relays: Vec<(String, LiveRelay)>,
}

/// A source of [`LiveSnapshot`]s of a running indexer, for `/v1/stats` (optional: the API can
/// serve a store that another process fills). Cheap to clone.
#[derive(Clone)]
pub struct LiveStats {
    snapshot: Arc<dyn Fn() -> LiveSnapshot + Send + Sync>,
    /// When the indexer started (rates are averages since then).
    pub started: Instant,
}

impl fmt::Debug for LiveStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveStats")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl LiveStats {
    /// Counters read by `snapshot` at each request, with rates counted from now.
    pub fn new(snapshot: impl Fn() -> LiveSnapshot + Send + Sync + 'static) -> Self {
        Self {
            snapshot: Arc::new(snapshot),
            started: Instant::now(),
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> LiveSnapshot {
        (self.snapshot)()
    }
}

/// What is known of one relay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RelayStats {
    /// The relay URL.
    pub relay: String,
    /// Stored events seen on it.
    pub events_seen: u64,
    /// Its crawl cursors.
    pub cursors: Vec<RelayCursor>,
    /// Events it delivered that were refused.
    pub refused: Vec<RelayRefusal>,
    /// Live crawl state and counters, when the crawler runs in this process.
    pub live: Option<LiveRelay>,
}

/// A relay's live crawl state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LiveRelay {
    /// `connecting`, `connected`, `backfilling`, `live`, `backoff` or `stopped`.
    pub state: String,
    /// Connections opened.
    pub connects: u64,
    /// Connections lost.
    pub disconnects: u64,
    /// Events delivered.
    pub events: u64,
    /// Bytes received.
    pub bytes: u64,
    /// The error that ended the last connection.
    pub last_error: Option<String>,
}

/// Live ingest totals and average rates since the indexer started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IngestRates {
    /// Seconds since start.
    pub uptime_secs: f64,
    /// Events received from relays.
    pub received: u64,
    /// Duplicates dropped before any crypto.
    pub duplicates: u64,
    /// Events stored.
    pub stored: u64,
    /// Events refused.
    pub rejected: u64,
    /// BURN entries stored.
    pub burns: u64,
    /// MINT entries stored.
    pub issued: u64,
    /// Batches committed.
    pub batches: u64,
    /// Events stored per second, on average.
    pub stored_per_sec: f64,
    /// BURN entries stored per second, on average.
    pub burns_per_sec: f64,
}

/// `/v1/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GlobalStats {
    /// What the store holds.
    pub store: StoreCounts,
    /// Live ingest, when the indexer runs in this process.
    pub ingest: Option<IngestRates>,
    /// Every relay known from cursors, counters, sightings or the live crawl.
    pub relays: Vec<RelayStats>,
}

fn ingest_rates(live: &LiveStats, s: &IngestCounters) -> IngestRates {
    let uptime = live.started.elapsed().as_secs_f64();
    let per_sec = |n: u64| if uptime > 0.0 { n as f64 / uptime } else { 0.0 };
    IngestRates {
        uptime_secs: uptime,
        received: s.received,
        duplicates: s.duplicates,
        stored: s.stored,
        rejected: s.rejected,
        burns: s.burns,
        issued: s.issued,
        batches: s.batches,
        stored_per_sec: per_sec(s.stored),
        burns_per_sec: per_sec(s.burns),
    }
}

/// A count of the store and when it was made.
type Counted = (Instant, Arc<StoreStats>);

/// The store's counts, shared by every request for [`StoreStatsCache::MAX_AGE`]: counting them
/// scans `events`, and `/v1/stats` is public, so a flood of requests must not become a flood of
/// scans. One request recounts while the others wait for it and take its answer (single
/// flight). An answer is at most 1 s older than the store, inside the 2 s freshness bound.
#[derive(Debug, Clone, Default)]
pub struct StoreStatsCache {
    slot: Arc<tokio::sync::Mutex<Option<Counted>>>,
    recounts: Arc<AtomicU64>,
}

impl StoreStatsCache {
    /// How long one count answers.
    pub const MAX_AGE: Duration = Duration::from_secs(1);

    /// The store's counts, recounted if the last count is older than [`Self::MAX_AGE`].
    pub async fn get(&self, store: &Store) -> Result<Arc<StoreStats>, ReadError> {
        let mut slot = self.slot.lock().await;
        if let Some((at, stats)) = slot.as_ref() {
            if at.elapsed() < Self::MAX_AGE {
                return Ok(stats.clone());
            }
        }
        let fresh = Arc::new(store_stats(store).await?);
        self.recounts.fetch_add(1, Ordering::Relaxed);
        *slot = Some((Instant::now(), fresh.clone()));
        Ok(fresh)
    }

    /// Counts made since this cache was created.
    pub fn recounts(&self) -> u64 {
        self.recounts.load(Ordering::Relaxed)
    }
}

/// Global statistics: the store's (through `cache`), with the live counters when `live` is
/// given.
pub async fn global_stats(
    store: &Store,
    cache: &StoreStatsCache,
    live: Option<&LiveStats>,
) -> Result<GlobalStats, ReadError> {
    let stored = StoreStats::clone(&*cache.get(store).await?);
    let mut relays: BTreeMap<String, RelayStats> = stored
        .relays
        .into_iter()
        .map(|r| {
            (
                r.relay.clone(),
                RelayStats {
                    relay: r.relay,
                    events_seen: r.events_seen,
                    cursors: r.cursors,
                    refused: r.refused,
                    live: None,
                },
            )
        })
        .collect();
    let snapshot = live.map(|l| (l, l.snapshot()));
    if let Some((_, snap)) = &snapshot {
        for (relay, state) in &snap.relays {
            relays
                .entry(relay.clone())
                .or_insert_with(|| RelayStats {
                    relay: relay.clone(),
                    events_seen: 0,
                    cursors: vec![],
                    refused: vec![],
                    live: None,
                })
                .live = Some(state.clone());
        }
    }
    Ok(GlobalStats {
        store: stored.store,
        ingest: snapshot.map(|(l, snap)| ingest_rates(l, &snap.ingest)),
        relays: relays.into_values().collect(),
    })
}
