//! Global statistics: what the store holds, per relay counters and cursors, and, when the API runs
//! beside the indexer, its live ingest totals and rates.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use mintwatch_indexer::crawl::CrawlStats;
use mintwatch_indexer::ingest::IngestStats;
use mintwatch_indexer::store::Store;
use mintwatch_protocol::FindingKind;

use super::{count, ReadError};

/// A handle on a running indexer's counters, for `/v1/stats` (optional: the API can serve a
/// store that another process fills).
#[derive(Debug, Clone)]
pub struct LiveStats {
    /// Ingest totals.
    pub ingest: Arc<IngestStats>,
    /// Per-relay crawl state, if crawling in this process.
    pub crawl: Option<CrawlStats>,
    /// When the indexer started (rates are averages since then).
    pub started: Instant,
}

impl LiveStats {
    /// Counters of `ingest` (and `crawl`), counted from now.
    pub fn new(ingest: Arc<IngestStats>, crawl: Option<CrawlStats>) -> Self {
        Self {
            ingest,
            crawl,
            started: Instant::now(),
        }
    }
}

/// Findings of one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FindingCounts {
    /// Unresolved.
    pub unresolved: u64,
    /// Resolved by later events.
    pub resolved: u64,
}

/// What the store holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StoreCounts {
    /// Verified events stored.
    pub events: u64,
    /// Stored events by kind.
    pub events_by_kind: BTreeMap<String, u64>,
    /// Mints in the directory.
    pub mints: u64,
    /// Mints by identity level.
    pub mints_by_identity: BTreeMap<String, u64>,
    /// BURN entries.
    pub burns: u64,
    /// MINT entries (issued signatures).
    pub issued: u64,
    /// Live reviews of mints.
    pub reviews: u64,
    /// Findings by kind (every finding name present).
    pub findings: BTreeMap<String, FindingCounts>,
}

/// One relay's stored crawl cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RelayCursor {
    /// The filter the cursor walks.
    pub filter: String,
    /// Whether the backfill reached the beginning.
    pub backfill_done: bool,
    /// Oldest `created_at` covered by the backfill so far.
    pub backfill_until: Option<i64>,
    /// Newest `created_at` seen live.
    pub newest_seen: Option<i64>,
}

/// One refusal counter of a relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RelayRefusal {
    /// Why (`bad_signature`, `id_mismatch`, `malformed`, ...).
    pub reason: String,
    /// The event kind, when known.
    pub kind: Option<i32>,
    /// How many.
    pub count: u64,
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

fn ingest_rates(live: &LiveStats) -> IngestRates {
    let s = &live.ingest;
    let uptime = live.started.elapsed().as_secs_f64();
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let per_sec = |n: u64| if uptime > 0.0 { n as f64 / uptime } else { 0.0 };
    IngestRates {
        uptime_secs: uptime,
        received: get(&s.received),
        duplicates: get(&s.duplicates),
        stored: get(&s.stored),
        rejected: get(&s.rejected),
        burns: get(&s.burns),
        issued: get(&s.issued),
        batches: get(&s.batches),
        stored_per_sec: per_sec(get(&s.stored)),
        burns_per_sec: per_sec(get(&s.burns)),
    }
}

/// relay, filter, backfill_done, backfill_until, newest_seen.
type CursorRow = (String, String, bool, Option<i64>, Option<i64>);

/// Global statistics. Burn and issue totals come from the per-mint counters the store keeps, so
/// the answer stays cheap however many burns are stored.
pub async fn global_stats(
    store: &Store,
    live: Option<&LiveStats>,
) -> Result<GlobalStats, ReadError> {
    let pool = store.pool();
    let by_kind: Vec<(i32, i64)> =
        sqlx::query_as("SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind")
            .fetch_all(pool)
            .await?;
    let by_identity: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT identity, count(*), coalesce(sum(burn_count), 0)::bigint,
                coalesce(sum(mint_count), 0)::bigint
         FROM mints GROUP BY identity ORDER BY identity",
    )
    .fetch_all(pool)
    .await?;
    let reviews: i64 =
        sqlx::query_scalar("SELECT count(*) FROM live_reviews WHERE target_mint IS NOT NULL")
            .fetch_one(pool)
            .await?;
    let found: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT kind, count(*) FILTER (WHERE NOT resolved), count(*) FILTER (WHERE resolved)
         FROM findings GROUP BY kind",
    )
    .fetch_all(pool)
    .await?;

    let mut findings: BTreeMap<String, FindingCounts> = FindingKind::ALL
        .iter()
        .map(|k| (k.as_str().to_string(), FindingCounts::default()))
        .collect();
    for (kind, open, closed) in found {
        findings.insert(
            kind,
            FindingCounts {
                unresolved: count(open),
                resolved: count(closed),
            },
        );
    }
    let store_counts = StoreCounts {
        events: by_kind.iter().map(|(_, n)| count(*n)).sum(),
        events_by_kind: by_kind
            .iter()
            .map(|(k, n)| (k.to_string(), count(*n)))
            .collect(),
        mints: by_identity.iter().map(|r| count(r.1)).sum(),
        mints_by_identity: by_identity
            .iter()
            .map(|r| (r.0.clone(), count(r.1)))
            .collect(),
        burns: by_identity.iter().map(|r| count(r.2)).sum(),
        issued: by_identity.iter().map(|r| count(r.3)).sum(),
        reviews: count(reviews),
        findings,
    };

    let mut relays: BTreeMap<String, RelayStats> = BTreeMap::new();
    let blank = |relay: &str| RelayStats {
        relay: relay.to_string(),
        events_seen: 0,
        cursors: vec![],
        refused: vec![],
        live: None,
    };
    let seen: Vec<(String, i64)> = sqlx::query_as(
        "SELECT relay, count(*) FROM (
                 SELECT relay FROM event_relays UNION ALL SELECT first_relay FROM events
             ) seen GROUP BY relay",
    )
    .fetch_all(pool)
    .await?;
    for (relay, n) in seen {
        relays
            .entry(relay.clone())
            .or_insert_with(|| blank(&relay))
            .events_seen = count(n);
    }
    let cursors: Vec<CursorRow> = sqlx::query_as(
        "SELECT relay, filter, backfill_done, backfill_until, newest_seen FROM relay_cursors
         ORDER BY relay, filter",
    )
    .fetch_all(pool)
    .await?;
    for (relay, filter, done, until, newest) in cursors {
        relays
            .entry(relay.clone())
            .or_insert_with(|| blank(&relay))
            .cursors
            .push(RelayCursor {
                filter,
                backfill_done: done,
                backfill_until: until,
                newest_seen: newest,
            });
    }
    let counters: Vec<(String, String, i32, i64)> = sqlx::query_as(
        "SELECT relay, reason, kind, count FROM relay_counters ORDER BY relay, reason, kind",
    )
    .fetch_all(pool)
    .await?;
    for (relay, reason, kind, n) in counters {
        relays
            .entry(relay.clone())
            .or_insert_with(|| blank(&relay))
            .refused
            .push(RelayRefusal {
                reason,
                kind: (kind >= 0).then_some(kind),
                count: count(n),
            });
    }
    if let Some(crawl) = live.and_then(|l| l.crawl.as_ref()) {
        for snap in crawl.snapshot() {
            let relay = snap.relay.to_string();
            relays
                .entry(relay.clone())
                .or_insert_with(|| blank(&relay))
                .live = Some(LiveRelay {
                state: snap.state.as_str().to_string(),
                connects: snap.connects,
                disconnects: snap.disconnects,
                events: snap.events,
                bytes: snap.bytes,
                last_error: snap.last_error.clone(),
            });
        }
    }
    Ok(GlobalStats {
        store: store_counts,
        ingest: live.map(ingest_rates),
        relays: relays.into_values().collect(),
    })
}
