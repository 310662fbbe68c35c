//! Global statistics: what the store holds ([`store_stats`](mintwatch_store::read::store_stats)),
//! per relay counters and cursors, and, when the API runs beside the indexer, its live ingest
//! totals and rates.
//!
//! The live counters are the indexer's, but the API does not know the indexer: it takes a
//! [`LiveSnapshot`] from whatever [`LiveStats`] was built with (the binary builds it from the
//! indexer's ingest and crawl counters).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use mintwatch_store::read::{store_stats, ReadError};
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

/// Global statistics: the store's, with the live counters when `live` is given.
pub async fn global_stats(
    store: &Store,
    live: Option<&LiveStats>,
) -> Result<GlobalStats, ReadError> {
    let stored = store_stats(store).await?;
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
