//! One mint's report: identity, rank and its components, findings by kind, publication totals,
//! outstanding balances, reviews, profile, chain status and where it was seen.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;

use crate::{Store, StoreError};
use mintwatch_protocol::{FindingKind, MintKey};

use super::{count, ReadError};
use crate::stats::MintStats;
pub use crate::stats::{ChainStatus, ReviewSummary};

/// MINT minus BURN of one (unit, epoch), over the mint's published 4919 events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Outstanding {
    /// Unit.
    pub unit: String,
    /// Epoch (keyset rotations).
    pub epoch: u64,
    /// MINT minus BURN amounts; negative when more was burnt than issued (a liability
    /// inversion).
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub amount: i128,
}

/// Totals of one (unit, epoch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupTotals {
    /// Unit.
    pub unit: String,
    /// Epoch.
    pub epoch: u64,
    /// BURN entries.
    pub burn_count: u64,
    /// Sum of BURN amounts.
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub burn_amount: u128,
    /// MINT entries.
    pub mint_count: u64,
    /// Sum of MINT amounts.
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub mint_amount: u128,
}

/// The mint's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// What the `mints` row, the mint's unresolved findings and its per-(unit, epoch) totals say:
/// the part of a report that the HTTP report and the nostr outputs (`get_mint`, and the
/// assertion of every mint) share, read in bulk.
#[derive(Debug, Clone)]
pub struct MintCore {
    /// The mint key, x-only, as stored.
    pub key: Vec<u8>,
    /// Identity level, as stored.
    pub identity: String,
    /// Rank; null until analysed.
    pub rank: Option<f32>,
    /// The rank's components.
    pub rank_components: Value,
    /// Unresolved findings by kind; every finding name is present.
    pub findings: BTreeMap<String, u64>,
    /// BURN entries.
    pub burns: u64,
    /// MINT entries.
    pub mints: u64,
    /// Per (unit, epoch), sorted by unit then epoch.
    pub totals: Vec<GroupTotals>,
    /// Reviews.
    pub reviews: ReviewSummary,
    /// Publication chain.
    pub chain: ChainStatus,
    /// Closed epochs.
    pub epoch_closes: u64,
    /// URLs.
    pub urls: Vec<String>,
    /// The mint's profile: announcements and its live 11467.
    pub info: MintInfo,
    /// Events about the mint.
    pub events: u64,
    /// `created_at` of the first event about the mint.
    pub first_seen: u64,
    /// `created_at` of the latest event about the mint.
    pub last_seen: u64,
    /// `created_at` of the latest event the mint signed itself.
    pub last_active: Option<u64>,
}

impl MintCore {
    /// MINT minus BURN per (unit, epoch).
    pub fn outstanding(&self) -> Vec<Outstanding> {
        self.totals
            .iter()
            .map(|g| Outstanding {
                unit: g.unit.clone(),
                epoch: g.epoch,
                amount: g.mint_amount as i128 - g.burn_amount as i128,
            })
            .collect()
    }
}

/// mint, unit, epoch, burn_count, burn_amount, mint_count, mint_amount (sums as text: numeric).
type TotalsRow = (Vec<u8>, String, i64, i64, String, i64, String);

fn amount(text: String, field: &'static str) -> Result<u128, ReadError> {
    text.parse()
        .map_err(|e: std::num::ParseIntError| ReadError::Store(StoreError::corrupt(field, e)))
}

/// The cores of `keys`, or of every mint when `keys` is `None`, sorted by key: three statements
/// The database's clock now, in unix seconds: the watermark of an incremental scan (the
/// timestamps compared with it are the database's too).
pub async fn database_now(store: &Store) -> Result<i64, ReadError> {
    Ok(
        sqlx::query_scalar("SELECT CAST(floor(extract(epoch FROM clock_timestamp())) AS BIGINT)")
            .fetch_one(store.pool())
            .await?,
    )
}

/// The mints whose report may have changed at or after `since` (unix seconds, the database's
/// clock): announced or described then (`updated_at`), or re-ranked (`ranked_at`; every stored
/// batch re-ranks the mints it touched, and a finding recorded or resolved re-ranks its mint).
pub async fn mints_changed_since(store: &Store, since: i64) -> Result<Vec<MintKey>, ReadError> {
    let keys: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT key FROM mints WHERE updated_at >= to_timestamp($1::bigint) OR ranked_at >= to_timestamp($1::bigint)
         ORDER BY key",
    )
    .bind(since)
    .fetch_all(store.pool())
    .await?;
    keys.iter()
        .map(|k| {
            <[u8; 32]>::try_from(k.as_slice())
                .map_err(|_| StoreError::corrupt("mints.key", "not 32 bytes"))
                .and_then(|b| {
                    MintKey::from_x_only_bytes(b).map_err(|e| StoreError::corrupt("mints.key", e))
                })
                .map_err(ReadError::Store)
        })
        .collect()
}

/// whatever the number of mints.
pub async fn mint_cores(
    store: &Store,
    keys: Option<&[MintKey]>,
) -> Result<Vec<MintCore>, ReadError> {
    let pool = store.pool();
    let keys: Option<Vec<&[u8]>> =
        keys.map(|k| k.iter().map(|m| m.as_bytes().as_slice()).collect());
    let rows = sqlx::query(
        "SELECT m.key, m.identity, m.rank, m.rank_components, m.stats, m.urls, m.name,
                m.description, m.units, m.nuts, m.network, m.burn_count, m.mint_count,
                m.event_count, m.first_seen, m.last_seen, m.last_active,
                i.raw AS info_raw, i.event_id AS info_event
         FROM mints m LEFT JOIN mint_infos i ON i.mint = m.key
         WHERE $1::bytea[] IS NULL OR m.key = ANY($1) ORDER BY m.key",
    )
    .bind(&keys)
    .fetch_all(pool)
    .await?;
    let totals: Vec<TotalsRow> = sqlx::query_as(
        "SELECT mint, unit, epoch, burn_count, burn_amount::text, mint_count, mint_amount::text
         FROM mint_stats WHERE $1::bytea[] IS NULL OR mint = ANY($1) ORDER BY mint, unit, epoch",
    )
    .bind(&keys)
    .fetch_all(pool)
    .await?;
    let counted: Vec<(Vec<u8>, String, i64)> = sqlx::query_as(
        "SELECT mint, kind, count(*) FROM findings
         WHERE NOT resolved AND ($1::bytea[] IS NULL OR mint = ANY($1)) GROUP BY mint, kind",
    )
    .bind(&keys)
    .fetch_all(pool)
    .await?;

    let mut group_totals: HashMap<Vec<u8>, Vec<GroupTotals>> = HashMap::new();
    for (mint, unit, epoch, burn_count, burn_amount, mint_count, mint_amount) in totals {
        group_totals.entry(mint).or_default().push(GroupTotals {
            unit,
            epoch: count(epoch),
            burn_count: count(burn_count),
            burn_amount: amount(burn_amount, "mint_stats.burn_amount")?,
            mint_count: count(mint_count),
            mint_amount: amount(mint_amount, "mint_stats.mint_amount")?,
        });
    }
    let mut finding_counts: HashMap<Vec<u8>, Vec<(String, i64)>> = HashMap::new();
    for (mint, kind, n) in counted {
        finding_counts.entry(mint).or_default().push((kind, n));
    }

    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let key: Vec<u8> = row.try_get("key")?;
        let stats: MintStats =
            serde_json::from_value(row.try_get::<Value, _>("stats")?).unwrap_or_default();
        let mut findings: BTreeMap<String, u64> = FindingKind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), 0))
            .collect();
        for (kind, n) in finding_counts.remove(&key).unwrap_or_default() {
            findings.insert(kind, count(n));
        }
        let nuts: Vec<i32> = row.try_get("nuts")?;
        out.push(MintCore {
            totals: group_totals.remove(&key).unwrap_or_default(),
            key,
            identity: row.try_get("identity")?,
            rank: row.try_get("rank")?,
            rank_components: row.try_get("rank_components")?,
            findings,
            burns: count(row.try_get("burn_count")?),
            mints: count(row.try_get("mint_count")?),
            reviews: stats.reviews,
            chain: stats.chain,
            epoch_closes: stats.epoch_closes,
            urls: row.try_get("urls")?,
            info: MintInfo {
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                units: row.try_get("units")?,
                nuts: nuts
                    .into_iter()
                    .filter_map(|n| u16::try_from(n).ok())
                    .collect(),
                network: row.try_get("network")?,
                mint_info: row.try_get("info_raw")?,
                mint_info_event: row
                    .try_get::<Option<Vec<u8>>, _>("info_event")?
                    .map(hex::encode),
            },
            events: count(row.try_get("event_count")?),
            first_seen: count(row.try_get("first_seen")?),
            last_seen: count(row.try_get("last_seen")?),
            last_active: row.try_get::<Option<i64>, _>("last_active")?.map(count),
        });
    }
    Ok(out)
}

/// author, d, event_id, created_at, urls.
type AnnouncementRow = (Vec<u8>, String, Vec<u8>, i64, Vec<String>);

/// The report of `key`, or `None` if the mint is not in the directory: its [`MintCore`], the
/// live announcements naming it and the relays its events were seen on.
pub async fn mint_report(store: &Store, key: &MintKey) -> Result<Option<MintReport>, ReadError> {
    let Some(core) = mint_cores(store, Some(std::slice::from_ref(key)))
        .await?
        .pop()
    else {
        return Ok(None);
    };
    let pool = store.pool();
    let k = key.as_bytes().as_slice();
    let announcements: Vec<AnnouncementRow> = sqlx::query_as(
        "SELECT author, d, event_id, created_at, urls FROM announcements WHERE mint = $1
         ORDER BY created_at DESC, event_id",
    )
    .bind(k)
    .fetch_all(pool)
    .await?;

    // Through the per-mint indexes of the typed tables: `events.mint` has no index.
    let relays: Vec<String> = sqlx::query_scalar(
        "WITH ids AS (
             SELECT event_id FROM chain_links WHERE mint = $1
             UNION ALL SELECT event_id FROM fin_epochs WHERE mint = $1
             UNION ALL SELECT event_id FROM mint_infos WHERE mint = $1
             UNION ALL SELECT event_id FROM announcements WHERE mint = $1)
         SELECT relay FROM event_relays WHERE event_id IN (SELECT event_id FROM ids)
         UNION SELECT first_relay FROM events WHERE id IN (SELECT event_id FROM ids)
         ORDER BY 1",
    )
    .bind(k)
    .fetch_all(pool)
    .await?;

    Ok(Some(MintReport {
        key: key.to_hex(),
        outstanding: core.outstanding(),
        identity: core.identity,
        rank: core.rank,
        rank_components: core.rank_components,
        findings: core.findings,
        burns: core.burns,
        mints: core.mints,
        totals: core.totals,
        reviews: core.reviews,
        urls: core.urls,
        info: core.info,
        chain: core.chain,
        epoch_closes: core.epoch_closes,
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
        events: core.events,
        first_seen: core.first_seen,
        last_seen: core.last_seen,
        last_active: core.last_active,
    }))
}
