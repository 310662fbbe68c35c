//! The reads the nostr outputs need, as typed values: one mint's report (for `get_mint` and the
//! assertions), the directory search, spent lookups, and the open findings with their proving
//! events (for the evidence labels). Reports, search and spent lookups are [`crate::read`]'s (the
//! HTTP API's), shaped as the query service answers them; only the evidence reads are here alone.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use mintwatch_store::{Store, StoreError};

use crate::read::{self, MintCore, ReadError};
use mintwatch_protocol::output::assertion::MAX_RATING;
use mintwatch_protocol::output::{
    epoch_detail, CheckSpent, CheckSpentResult, DirectoryQuery, Evidence, MintAssertion,
    SpentStatus, MAX_EVENTS_PER_Y,
};
use mintwatch_protocol::{
    EventId, FindingKind, IdentityLevel, MintKey, MintUrl, SignedEvent, Unit,
};
pub use mintwatch_store::read::evidence::{
    events_by_id, findings_changed_since, open_findings, ChangedFinding, OpenFinding,
};

/// The 4919 chain and the reviews of a mint, as the analyze stage summarised them (the HTTP
/// report's types: the same JSON).
pub use crate::read::report::{ChainStatus as ChainSummary, ReviewSummary};

/// MINT and BURN totals of one (unit, epoch). Sums are decimal strings: they can exceed what a
/// JSON number carries exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupTotals {
    /// Unit.
    pub unit: String,
    /// Epoch.
    pub epoch: u64,
    /// BURN entries.
    pub burn_count: u64,
    /// Sum of BURN amounts.
    pub burn_amount: String,
    /// MINT entries.
    pub mint_count: u64,
    /// Sum of MINT amounts.
    pub mint_amount: String,
}

/// One mint's report: what `get_mint` answers and what its assertion states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MintReport {
    /// The mint key, x-only hex.
    pub key: String,
    /// Name, from its identity or announcements.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Identity level (PROTOCOL.md §1).
    pub identity: IdentityLevel,
    /// Rank 0..=100, once ranked.
    pub rank: Option<u8>,
    /// The rank's components (PROTOCOL.md §4).
    pub rank_components: Value,
    /// Unresolved findings, by finding name; every name is present.
    pub findings: BTreeMap<String, u64>,
    /// BURN entries, all units.
    pub burns: u64,
    /// MINT entries, all units.
    pub mints: u64,
    /// MINT minus BURN amounts per unit (decimal strings; negative when burns exceed mints).
    pub outstanding: BTreeMap<String, String>,
    /// Totals per (unit, epoch).
    pub totals: Vec<GroupTotals>,
    /// Live reviews.
    pub reviews: ReviewSummary,
    /// URLs.
    pub urls: Vec<String>,
    /// Units.
    pub units: Vec<String>,
    /// NUTs.
    pub nuts: Vec<u16>,
    /// Network.
    pub network: Option<String>,
    /// The 4919 chain.
    pub chain: ChainSummary,
    /// 1337 epoch closes.
    pub epoch_closes: u64,
    /// `created_at` of the first event about the mint.
    pub first_seen: u64,
    /// `created_at` of the last event about the mint, by anyone.
    pub last_seen: u64,
    /// `created_at` of the last event signed by the mint key itself.
    pub last_active: Option<u64>,
}

impl MintReport {
    /// The mint key.
    pub fn mint_key(&self) -> Option<MintKey> {
        MintKey::parse(&self.key).ok()
    }

    fn finding(&self, kind: FindingKind) -> u64 {
        self.findings.get(kind.as_str()).copied().unwrap_or(0)
    }

    /// What the mint's NIP-85 assertion states; `None` until the mint is ranked.
    pub fn assertion(&self) -> Option<MintAssertion> {
        let rank = self.rank?;
        let mint = self.mint_key()?;
        let outstanding = self
            .outstanding
            .iter()
            .filter_map(|(u, a)| Some((Unit::parse(u).ok()?, a.parse::<i128>().ok()?)))
            .collect();
        Some(MintAssertion {
            mint,
            rank,
            identity: self.identity,
            burns: self.burns,
            mints: self.mints,
            outstanding,
            double_spends: self.finding(FindingKind::DoubleSpend),
            forks: self.finding(FindingKind::Fork),
            gaps: self.finding(FindingKind::Gap),
            liability_inversions: self.finding(FindingKind::LiabilityInversion),
            reviews: self.reviews.count,
            rating: self
                .reviews
                .mean_rating
                .filter(|r| r.is_finite())
                .map(|r| r.clamp(0.0, MAX_RATING)),
            last_seen: Some(self.last_active.unwrap_or(self.last_seen)),
            urls: self
                .urls
                .iter()
                .filter_map(|u| MintUrl::parse(u).ok())
                .collect(),
        })
    }
}

fn corrupt(field: &'static str, why: impl ToString) -> StoreError {
    StoreError::Corrupt {
        field,
        why: why.to_string(),
    }
}

impl MintReport {
    /// The query service's report of a mint, from what the HTTP report reads too.
    fn from_core(core: MintCore) -> Result<MintReport, StoreError> {
        let mut outstanding: BTreeMap<String, i128> = BTreeMap::new();
        for o in core.outstanding() {
            *outstanding.entry(o.unit).or_default() += o.amount;
        }
        Ok(MintReport {
            key: hex::encode(&core.key),
            identity: core
                .identity
                .parse()
                .map_err(|e| corrupt("mints.identity", e))?,
            rank: core.rank.map(rank_of),
            rank_components: core.rank_components,
            findings: core.findings,
            burns: core.burns,
            mints: core.mints,
            outstanding: outstanding
                .into_iter()
                .map(|(u, a)| (u, a.to_string()))
                .collect(),
            totals: core
                .totals
                .into_iter()
                .map(|t| GroupTotals {
                    unit: t.unit,
                    epoch: t.epoch,
                    burn_count: t.burn_count,
                    burn_amount: t.burn_amount.to_string(),
                    mint_count: t.mint_count,
                    mint_amount: t.mint_amount.to_string(),
                })
                .collect(),
            reviews: core.reviews,
            urls: core.urls,
            name: core.info.name,
            description: core.info.description,
            units: core.info.units,
            nuts: core.info.nuts,
            network: core.info.network,
            chain: core.chain,
            epoch_closes: core.epoch_closes,
            first_seen: core.first_seen,
            last_seen: core.last_seen,
            last_active: core.last_active,
        })
    }
}

/// The reports of `keys`, or of every mint when `keys` is `None`, sorted by key
/// ([`read::mint_cores`], the reads the HTTP report makes too).
pub async fn mint_reports(
    store: &Store,
    keys: Option<&[MintKey]>,
) -> Result<Vec<MintReport>, StoreError> {
    let cores = read::mint_cores(store, keys).await.map_err(store_error)?;
    cores.into_iter().map(MintReport::from_core).collect()
}

/// The database's clock now, unix seconds ([`read::database_now`]).
pub async fn database_now(store: &Store) -> Result<i64, StoreError> {
    read::database_now(store).await.map_err(store_error)
}

/// The mints whose report may have changed at or after `since` (unix seconds, the database's
/// clock): what an incremental scan reads ([`read::mints_changed_since`]).
pub async fn mints_changed_since(store: &Store, since: i64) -> Result<Vec<MintKey>, StoreError> {
    read::mints_changed_since(store, since)
        .await
        .map_err(store_error)
}

fn store_error(e: ReadError) -> StoreError {
    match e {
        ReadError::Store(e) => e,
        other => corrupt("mints", other),
    }
}

/// One mint's report, if the mint is known.
pub async fn mint_report(store: &Store, key: &MintKey) -> Result<Option<MintReport>, StoreError> {
    Ok(mint_reports(store, Some(std::slice::from_ref(key)))
        .await?
        .into_iter()
        .next())
}

/// `check_spent`: per `Y`, in the order asked, whether a mint-signed 4919 burns it and which:
/// the HTTP API's lookup ([`read::check_spent`]), narrowed to the mint asked about and to the
/// ids of the events.
pub async fn check_spent(store: &Store, query: &CheckSpent) -> Result<CheckSpentResult, ReadError> {
    let mint = query.mint.map(|m| m.to_hex());
    let entries = read::check_spent(store, &query.ys).await?;
    Ok(CheckSpentResult {
        results: query
            .ys
            .iter()
            .zip(entries)
            .map(|(y, entry)| {
                let mut events: Vec<String> = Vec::new();
                let burns = entry
                    .burnt
                    .into_iter()
                    .filter(|b| mint.as_ref().is_none_or(|m| *m == b.mint));
                for id in burns.flat_map(|b| b.events) {
                    // A Y in two groups of one event is one event that contains it.
                    if !events.contains(&id) {
                        events.push(id);
                    }
                    if events.len() == MAX_EVENTS_PER_Y {
                        break;
                    }
                }
                SpentStatus {
                    y: *y,
                    burnt: !events.is_empty(),
                    events,
                }
            })
            .collect(),
    })
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MintSummary {
    /// The mint key, x-only hex.
    pub key: String,
    /// Name.
    pub name: Option<String>,
    /// Identity level.
    pub identity: IdentityLevel,
    /// Rank, once ranked.
    pub rank: Option<u8>,
    /// URLs.
    pub urls: Vec<String>,
    /// Units.
    pub units: Vec<String>,
    /// NUTs.
    pub nuts: Vec<u16>,
    /// Network.
    pub network: Option<String>,
    /// Live reviews.
    pub reviews: u64,
    /// Unresolved findings.
    pub findings: u64,
    /// `created_at` of the last event about the mint.
    pub last_seen: u64,
}

/// One page of the directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectoryPage {
    /// The mints of this page.
    pub mints: Vec<MintSummary>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The directory search (`search_mints`): the HTTP API's ([`read::search_mints`]: text, filters,
/// sorts, keyset paging with opaque cursors), in the query service's shape.
pub async fn search_mints(
    store: &Store,
    query: &DirectoryQuery,
) -> Result<DirectoryPage, ReadError> {
    let page = read::search_mints(store.pool(), query).await?;
    let mints = page
        .mints
        .into_iter()
        .map(|m| {
            Ok(MintSummary {
                identity: m
                    .identity
                    .parse()
                    .map_err(|e| ReadError::Store(corrupt("mints.identity", e)))?,
                rank: m.rank.map(rank_of),
                key: m.key,
                name: m.name,
                urls: m.urls,
                units: m.units,
                nuts: m.nuts,
                network: m.network,
                reviews: m.reviews,
                findings: m.findings,
                last_seen: m.last_seen,
            })
        })
        .collect::<Result<_, ReadError>>()?;
    Ok(DirectoryPage {
        mints,
        next_cursor: page.next_cursor,
    })
}

/// A stored rank as the query service and assertions state it (the analyze stage writes whole
/// numbers 0..=100).
fn rank_of(rank: f32) -> u8 {
    rank.round().clamp(0.0, 100.0) as u8
}

/// The `detail` a finding's label carries: for a liability inversion or balance mismatch, the
/// (unit, epoch) and the totals as numbers (the re-check compares them with the embedded
/// events); for the others, the analyze stage's figures as stored.
pub fn label_detail(finding: &OpenFinding) -> Result<Option<Value>, String> {
    let stored = finding.detail.as_object().cloned().unwrap_or_default();
    Ok(match finding.kind {
        FindingKind::LiabilityInversion | FindingKind::BalanceMismatch => {
            let (unit, epoch) = finding
                .unit
                .clone()
                .zip(finding.epoch)
                .ok_or("the finding names no (unit, epoch)")?;
            let mut d: Map<String, Value> = match epoch_detail(&unit, epoch) {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            for (k, v) in stored {
                let v = match (k.as_str(), &v) {
                    ("minted" | "burnt", Value::String(s)) => match s.parse::<u64>() {
                        Ok(n) => Value::from(n),
                        Err(_) => continue,
                    },
                    _ => v,
                };
                d.entry(k).or_insert(v);
            }
            Some(Value::Object(d))
        }
        _ if stored.is_empty() => None,
        _ => Some(Value::Object(stored)),
    })
}

/// The evidence of a finding, with its proving events taken from `events`.
pub fn evidence_of(
    finding: &OpenFinding,
    events: &HashMap<EventId, SignedEvent>,
) -> Result<Evidence, String> {
    let proving = finding
        .event_ids
        .iter()
        .map(|id| {
            events
                .get(id)
                .cloned()
                .ok_or_else(|| format!("proving event {id} is not stored"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Evidence {
        finding: finding.kind,
        mint: finding.mint,
        y: finding.y,
        events: proving,
        detail: label_detail(finding)?,
    })
}
