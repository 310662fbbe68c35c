//! Spent lookups: which mints burnt a `Y`, in which of their signed 4919 events.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use mintwatch_indexer::store::Store;
use mintwatch_protocol::output::query::MAX_CHECK_SPENT_YS;
use mintwatch_protocol::Point;

use super::ReadError;

/// The most `Y`s one lookup may ask about (the same bound as the nostr `check_spent`).
pub const MAX_SPENT_YS: usize = MAX_CHECK_SPENT_YS;

/// One mint's burns of a `Y`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Burn {
    /// The mint that burnt it (x-only, hex): the signer of the events below.
    pub mint: String,
    /// The amount of the entry.
    pub amount: u64,
    /// Unit.
    pub unit: String,
    /// Epoch.
    pub epoch: u64,
    /// The mint-signed 4919 events that contain it (ids, hex, each once).
    pub events: Vec<String>,
    /// BURN entries in those events (more than one is a double-spend).
    pub entries: u64,
}

/// An unresolved finding about a `Y`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct YFinding {
    /// The mint accused.
    pub mint: String,
    /// `double-spend` or `cross-mint-collision`.
    pub kind: String,
}

/// What is known about one `Y`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SpentEntry {
    /// The `Y` asked about (compressed, hex).
    #[serde(rename = "Y")]
    pub y: String,
    /// Its burns, per (mint, unit, epoch, amount); empty when no stored 4919 burns it.
    pub burnt: Vec<Burn>,
    /// Unresolved findings about it.
    pub findings: Vec<YFinding>,
}

/// Looks up `ys` (any number up to [`MAX_SPENT_YS`]; duplicates are answered twice) in one
/// query, and answers in the order asked.
pub async fn check_spent(store: &Store, ys: &[Point]) -> Result<Vec<SpentEntry>, ReadError> {
    if ys.len() > MAX_SPENT_YS {
        return Err(ReadError::Invalid(format!(
            "Ys: {} Ys, at most {MAX_SPENT_YS}",
            ys.len()
        )));
    }
    let unique: Vec<Point> = ys
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let burns = store.burns_by_y(&unique).await?;
    type Key = (String, String, u64, u64);
    let mut by_y: BTreeMap<Point, BTreeMap<Key, (Vec<String>, u64)>> = BTreeMap::new();
    for b in burns {
        let key = (
            b.mint.to_hex(),
            b.unit.as_str().to_string(),
            b.epoch.get(),
            b.amount.get(),
        );
        let (events, entries) = by_y.entry(b.y).or_default().entry(key).or_default();
        let id = b.event_id.to_hex();
        if !events.contains(&id) {
            events.push(id);
        }
        *entries += 1;
    }
    let bytes: Vec<Vec<u8>> = unique.iter().map(|y| y.as_bytes().to_vec()).collect();
    let found: Vec<(Vec<u8>, Vec<u8>, String)> = sqlx::query_as(
        "SELECT y, mint, kind FROM findings WHERE y = ANY($1) AND NOT resolved
         ORDER BY y, mint, kind",
    )
    .bind(bytes)
    .fetch_all(store.pool())
    .await?;
    let mut findings: BTreeMap<Vec<u8>, Vec<YFinding>> = BTreeMap::new();
    for (y, mint, kind) in found {
        findings.entry(y).or_default().push(YFinding {
            mint: hex::encode(mint),
            kind,
        });
    }
    Ok(ys
        .iter()
        .map(|y| SpentEntry {
            y: y.to_hex(),
            burnt: by_y
                .get(y)
                .map(|groups| {
                    groups
                        .iter()
                        .map(|((mint, unit, epoch, amount), (events, entries))| Burn {
                            mint: mint.clone(),
                            amount: *amount,
                            unit: unit.clone(),
                            epoch: *epoch,
                            events: events.clone(),
                            entries: *entries,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            findings: findings
                .get(y.as_bytes().as_slice())
                .cloned()
                .unwrap_or_default(),
        })
        .collect())
}
