//! One mint's report: identity, rank and its components, findings by kind, publication totals,
//! outstanding balances, reviews, profile, chain status and where it was seen.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use utoipa::ToSchema;

use mintwatch_indexer::store::Store;
use mintwatch_protocol::{FindingKind, MintKey};

use super::{count, ReadError};

/// MINT minus BURN of one (unit, epoch), over the mint's published 4919 events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Outstanding {
    /// Unit.
    pub unit: String,
    /// Epoch (keyset rotations).
    pub epoch: u64,
    /// MINT minus BURN amounts; negative when more was burnt than issued (a liability
    /// inversion).
    #[schema(value_type = i64)]
    pub amount: i128,
}

/// Totals of one (unit, epoch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GroupTotals {
    /// Unit.
    pub unit: String,
    /// Epoch.
    pub epoch: u64,
    /// BURN entries.
    pub burn_count: u64,
    /// Sum of BURN amounts.
    #[schema(value_type = u64)]
    pub burn_amount: u128,
    /// MINT entries.
    pub mint_count: u64,
    /// Sum of MINT amounts.
    #[schema(value_type = u64)]
    pub mint_amount: u128,
}

/// A mint's reviews (live ones: newest per author, deletions applied).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReviewSummary {
    /// Live reviews.
    #[serde(default)]
    pub count: u64,
    /// Distinct authors.
    #[serde(default)]
    pub distinct_authors: u64,
    /// Reviews carrying a rating.
    #[serde(default)]
    pub rated: u64,
    /// Mean rating 1..5 of the rated ones.
    #[serde(default)]
    pub mean_rating: Option<f64>,
    /// `mean × log10(rated + 1)`.
    #[serde(default)]
    pub bayesian: Option<f64>,
}

/// The mint's 4919 publication chain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChainStatus {
    /// The newest 4919 (id, hex).
    #[serde(default)]
    pub head: Option<String>,
    /// 4919 events published.
    #[serde(default)]
    pub length: u64,
    /// 4919 events whose `e` names a stored 4919 of the mint.
    #[serde(default)]
    pub links: u64,
    /// 4919 events without `e` (chain starts).
    #[serde(default)]
    pub unlinked_starts: u64,
    /// `created_at` of the first 4919.
    #[serde(default)]
    pub first: Option<i64>,
    /// `created_at` of the latest 4919.
    #[serde(default)]
    pub last: Option<i64>,
    /// Median seconds between consecutive 4919 events.
    #[serde(default)]
    pub median_interval_secs: Option<f64>,
}

/// What the analyze stage writes to `mints.stats`.
#[derive(Debug, Default, Deserialize)]
struct StoredStats {
    #[serde(default)]
    chain: ChainStatus,
    #[serde(default)]
    reviews: ReviewSummary,
    #[serde(default)]
    epoch_closes: u64,
}

/// The mint's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MintInfo {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// NUTs.
    pub nuts: Vec<u16>,
    /// Units.
    pub units: Vec<String>,
    /// Network.
    pub network: Option<String>,
    /// The content of the mint's live 11467 (its NUT-06 info), if it published one.
    pub mint_info: Option<Value>,
    /// The id of that 11467.
    pub mint_info_event: Option<String>,
}

/// A live 38172 naming the mint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Announcement {
    /// The signer.
    pub author: String,
    /// Whether the mint announced itself.
    pub by_mint: bool,
    /// The `d` tag.
    pub d: String,
    /// The event id.
    pub event_id: String,
    /// Its `created_at`.
    pub created_at: u64,
    /// URLs announced.
    pub urls: Vec<String>,
}

/// One mint's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MintReport {
    /// The mint key, x-only (64 hex).
    pub key: String,
    /// `self-signed`, `operator`, `mismatch` or `unbound`.
    pub identity: String,
    /// Rank 0..100; null until analysed.
    pub rank: Option<f32>,
    /// The rank's components (see the reputation formula).
    pub rank_components: Value,
    /// Unresolved findings by kind; every finding name of PROTOCOL.md §3 is present.
    pub findings: BTreeMap<String, u64>,
    /// BURN entries published.
    pub burns: u64,
    /// MINT entries (issued signatures) published.
    pub mints: u64,
    /// MINT minus BURN per (unit, epoch).
    pub outstanding: Vec<Outstanding>,
    /// Counts and sums per (unit, epoch).
    pub totals: Vec<GroupTotals>,
    /// Reviews.
    pub reviews: ReviewSummary,
    /// URLs.
    pub urls: Vec<String>,
    /// Profile.
    pub info: MintInfo,
    /// Publication chain.
    pub chain: ChainStatus,
    /// Closed epochs (1337 events).
    pub epoch_closes: u64,
    /// Live announcements naming the mint.
    pub announcements: Vec<Announcement>,
    /// Relays its events were seen on.
    pub relays: Vec<String>,
    /// Events about the mint.
    pub events: u64,
    /// `created_at` of the first event about the mint.
    pub first_seen: u64,
    /// `created_at` of the latest event about the mint.
    pub last_seen: u64,
    /// `created_at` of the latest event the mint signed itself.
    pub last_active: Option<u64>,
}

/// author, d, event_id, created_at, urls.
type AnnouncementRow = (Vec<u8>, String, Vec<u8>, i64, Vec<String>);

/// The report of `key`, or `None` if the mint is not in the directory.
pub async fn mint_report(store: &Store, key: &MintKey) -> Result<Option<MintReport>, ReadError> {
    let pool = store.pool();
    let k = key.as_bytes().to_vec();
    let Some(row) = sqlx::query(
        "SELECT m.identity, m.rank, m.rank_components, m.stats, m.urls, m.name, m.description,
                m.units, m.nuts, m.network, m.burn_count, m.mint_count, m.event_count,
                m.first_seen, m.last_seen, m.last_active,
                i.raw AS info_raw, i.event_id AS info_event
         FROM mints m LEFT JOIN mint_infos i ON i.mint = m.key
         WHERE m.key = $1",
    )
    .bind(&k)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };

    let stats: StoredStats =
        serde_json::from_value(row.try_get::<Value, _>("stats")?).unwrap_or_default();

    let mut findings: BTreeMap<String, u64> = FindingKind::ALL
        .iter()
        .map(|k| (k.as_str().to_string(), 0))
        .collect();
    let counted: Vec<(String, i64)> = sqlx::query_as(
        "SELECT kind, count(*) FROM findings WHERE mint = $1 AND NOT resolved GROUP BY kind",
    )
    .bind(&k)
    .fetch_all(pool)
    .await?;
    for (kind, n) in counted {
        findings.insert(kind, count(n));
    }

    let groups = store.mint_stats(key).await?;
    let outstanding = groups
        .iter()
        .map(|g| Outstanding {
            unit: g.unit.as_str().to_string(),
            epoch: g.epoch.get(),
            amount: g.mint_amount as i128 - g.burn_amount as i128,
        })
        .collect();
    let totals = groups
        .iter()
        .map(|g| GroupTotals {
            unit: g.unit.as_str().to_string(),
            epoch: g.epoch.get(),
            burn_count: g.burn_count,
            burn_amount: g.burn_amount,
            mint_count: g.mint_count,
            mint_amount: g.mint_amount,
        })
        .collect();

    let announcements: Vec<AnnouncementRow> = sqlx::query_as(
        "SELECT author, d, event_id, created_at, urls FROM announcements WHERE mint = $1
         ORDER BY created_at DESC, event_id",
    )
    .bind(&k)
    .fetch_all(pool)
    .await?;

    // Through the per-mint indexes of the typed tables: `events.mint` has no index.
    let relays: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT relay FROM event_relays WHERE event_id IN (
             SELECT event_id FROM chain_links WHERE mint = $1
             UNION ALL SELECT event_id FROM fin_epochs WHERE mint = $1
             UNION ALL SELECT event_id FROM mint_infos WHERE mint = $1
             UNION ALL SELECT event_id FROM announcements WHERE mint = $1)
         ORDER BY relay",
    )
    .bind(&k)
    .fetch_all(pool)
    .await?;

    let nuts: Vec<i32> = row.try_get("nuts")?;
    let urls: Vec<String> = row.try_get("urls")?;
    let info_event: Option<Vec<u8>> = row.try_get("info_event")?;
    Ok(Some(MintReport {
        key: key.to_hex(),
        identity: row.try_get("identity")?,
        rank: row.try_get("rank")?,
        rank_components: row.try_get("rank_components")?,
        findings,
        burns: count(row.try_get("burn_count")?),
        mints: count(row.try_get("mint_count")?),
        outstanding,
        totals,
        reviews: stats.reviews,
        urls: urls.clone(),
        info: MintInfo {
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            nuts: nuts
                .into_iter()
                .filter_map(|n| u16::try_from(n).ok())
                .collect(),
            units: row.try_get("units")?,
            network: row.try_get("network")?,
            mint_info: row.try_get("info_raw")?,
            mint_info_event: info_event.map(hex::encode),
        },
        chain: stats.chain,
        epoch_closes: stats.epoch_closes,
        announcements: announcements
            .into_iter()
            .map(|(author, d, id, created, urls)| Announcement {
                by_mint: author.as_slice() == key.as_bytes(),
                author: hex::encode(author),
                d,
                event_id: hex::encode(id),
                created_at: count(created),
                urls,
            })
            .collect(),
        relays,
        events: count(row.try_get("event_count")?),
        first_seen: count(row.try_get("first_seen")?),
        last_seen: count(row.try_get("last_seen")?),
        last_active: row.try_get::<Option<i64>, _>("last_active")?.map(count),
    }))
}
