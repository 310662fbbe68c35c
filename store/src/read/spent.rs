//! Spent lookups: which mints burnt a `Y`, in which of their signed 4919 events.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};
use mintwatch_protocol::Point;

use super::ReadError;

/// The most `Y`s one HTTP lookup may ask about (the nostr `check_spent` takes fewer, so its
/// encrypted answer stays small enough for every NIP-44 implementation).
pub const MAX_SPENT_YS: usize = 1_000;

/// One mint's burns of a `Y`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct YFinding {
    /// The mint accused.
    pub mint: String,
    /// `double-spend` or `cross-mint-collision`.
    pub kind: String,
}

/// What is known about one `Y`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpentEntry {
    /// The `Y` asked about (compressed, hex).
    #[serde(rename = "Y")]
    pub y: String,
    /// Its burns, per (mint, unit, epoch, amount); empty when no stored 4919 burns it.
    pub burnt: Vec<Burn>,
    /// Unresolved findings about it.
    pub findings: Vec<YFinding>,
}

/// Burns and unresolved findings of the `Y`s in `$1`, in one statement (one round trip: the
/// one-`Y` lookup is the hottest read). Burns come first within a (y, mint), in event and entry
/// order; findings by kind.
const LOOKUP: &str = "SELECT y, mint, event_id, amount, unit, epoch, NULL::text AS kind, pos
        FROM burns WHERE y = ANY($1)
    UNION ALL
    SELECT y, mint, NULL, NULL, NULL, NULL, kind, NULL
        FROM findings WHERE y = ANY($1) AND NOT resolved
    ORDER BY y, mint, kind NULLS FIRST, event_id, pos";

/// mint (hex), unit, epoch, amount: one [`Burn`] of a `Y`.
type BurnKey = (String, String, u64, u64);
/// A `Y`'s burns: per [`BurnKey`], the events (hex ids, each once) and the entry count.
type BurnGroups = BTreeMap<BurnKey, (Vec<String>, u64)>;

/// y, mint, event_id, amount, unit, epoch (burns); kind (findings); pos.
type LookupRow = (
    Vec<u8>,
    Vec<u8>,
    Option<Vec<u8>>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i32>,
);

fn stored_u64(v: Option<i64>, field: &'static str) -> Result<u64, ReadError> {
    v.and_then(|v| u64::try_from(v).ok())
        .ok_or_else(|| ReadError::Store(StoreError::corrupt(field, format!("{v:?}"))))
}

/// Looks up `ys` (any number up to [`MAX_SPENT_YS`]; duplicates are answered twice) in one
/// query, and answers in the order asked. Stored keys and ids are shown as stored (they were
/// checked on the way in), so the answer costs no curve arithmetic per row.
pub async fn check_spent(store: &Store, ys: &[Point]) -> Result<Vec<SpentEntry>, ReadError> {
    if ys.len() > MAX_SPENT_YS {
        return Err(ReadError::Invalid(format!(
            "Ys: {} Ys, at most {MAX_SPENT_YS}",
            ys.len()
        )));
    }
    let unique: BTreeSet<&[u8]> = ys.iter().map(|y| y.as_bytes().as_slice()).collect();
    let bytes: Vec<&[u8]> = unique.into_iter().collect();
    let rows: Vec<LookupRow> = sqlx::query_as(LOOKUP)
        .bind(&bytes)
        .fetch_all(store.pool())
        .await?;
    let mut burns: BTreeMap<Vec<u8>, BurnGroups> = BTreeMap::new();
    let mut findings: BTreeMap<Vec<u8>, Vec<YFinding>> = BTreeMap::new();
    for (y, mint, event_id, amount, unit, epoch, kind, _pos) in rows {
        let mint = hex::encode(mint);
        if let Some(kind) = kind {
            findings.entry(y).or_default().push(YFinding { mint, kind });
            continue;
        }
        let key = (
            mint,
            unit.unwrap_or_default(),
            stored_u64(epoch, "burns.epoch")?,
            stored_u64(amount, "burns.amount")?,
        );
        let (events, entries) = burns.entry(y).or_default().entry(key).or_default();
        let id = hex::encode(event_id.unwrap_or_default());
        if !events.contains(&id) {
            events.push(id);
        }
        *entries += 1;
    }
    Ok(ys
        .iter()
        .map(|y| {
            let y_bytes = y.as_bytes().as_slice();
            SpentEntry {
                y: y.to_hex(),
                burnt: burns
                    .get(y_bytes)
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
                findings: findings.get(y_bytes).cloned().unwrap_or_default(),
            }
        })
        .collect())
}
