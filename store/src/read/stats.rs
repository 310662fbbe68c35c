//! What the store holds: events, mints, burns, reviews and findings, and per relay its sightings,
//! cursors and refusal counters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Store;
use mintwatch_protocol::FindingKind;

use super::{count, ReadError};

/// Findings of one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FindingCounts {
    /// Unresolved.
    pub unresolved: u64,
    /// Resolved by later events.
    pub resolved: u64,
}

/// What the store holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RelayRefusal {
    /// Why (`bad_signature`, `id_mismatch`, `malformed`, ...).
    pub reason: String,
    /// The event kind, when known.
    pub kind: Option<i32>,
    /// How many.
    pub count: u64,
}

/// What the store holds about one relay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRelay {
    /// The relay URL.
    pub relay: String,
    /// Stored events seen on it.
    pub events_seen: u64,
    /// Its crawl cursors.
    pub cursors: Vec<RelayCursor>,
    /// Events it delivered that were refused.
    pub refused: Vec<RelayRefusal>,
}

/// What the store holds, overall and per relay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreStats {
    /// Overall counts.
    pub store: StoreCounts,
    /// Every relay known from cursors, counters or sightings, by URL.
    pub relays: Vec<StoredRelay>,
}

/// relay, filter, backfill_done, backfill_until, newest_seen.
type CursorRow = (String, String, bool, Option<i64>, Option<i64>);

/// What the store holds. Burn and issue totals come from the per-mint counters the store keeps,
/// so the answer stays cheap however many burns are stored.
pub async fn store_stats(store: &Store) -> Result<StoreStats, ReadError> {
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

    let mut relays: BTreeMap<String, StoredRelay> = BTreeMap::new();
    let blank = |relay: &str| StoredRelay {
        relay: relay.to_string(),
        events_seen: 0,
        cursors: vec![],
        refused: vec![],
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
    Ok(StoreStats {
        store: store_counts,
        relays: relays.into_values().collect(),
    })
}
