//! The latest findings across all mints, newest first (the website's findings page).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgPool, Row};

use super::pages::MAX_PAGE;
use super::{count, ReadError};

/// One finding, with the name of the mint it is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LatestFinding {
    /// Stable id of the finding (newer findings have higher ids).
    pub id: i64,
    /// The mint it is about (x-only, hex).
    pub mint: String,
    /// The mint's name, if known.
    pub mint_name: Option<String>,
    /// The finding name (PROTOCOL.md §3).
    pub kind: String,
    /// The burnt `Y` (double-spend, cross-mint collision).
    #[serde(rename = "Y")]
    pub y: Option<String>,
    /// The unit (liability inversion, balance mismatch).
    pub unit: Option<String>,
    /// The epoch (liability inversion, balance mismatch).
    pub epoch: Option<u64>,
    /// Totals and other detail.
    pub detail: Value,
    /// The proving events (ids, hex).
    pub events: Vec<String>,
    /// Whether later events resolved it.
    pub resolved: bool,
    /// Unix seconds when it was first found.
    pub first_found: i64,
}

/// Up to `limit` (1..=200) findings of every mint with an id below `before` (all when `None`),
/// newest first.
pub async fn latest_findings(
    pool: &PgPool,
    limit: u16,
    before: Option<i64>,
) -> Result<Vec<LatestFinding>, ReadError> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(ReadError::Invalid(format!(
            "limit: {limit} is not in 1..={MAX_PAGE}"
        )));
    }
    let rows = sqlx::query(
        "SELECT f.id, f.mint, m.name, f.kind, f.y, f.unit, f.epoch, f.detail, f.event_ids,
                f.resolved, extract(epoch FROM f.first_found)::bigint AS first_found
         FROM findings f LEFT JOIN mints m ON m.key = f.mint
         WHERE $1::bigint IS NULL OR f.id < $1
         ORDER BY f.id DESC LIMIT $2",
    )
    .bind(before)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let mint: Vec<u8> = r.try_get("mint")?;
            let y: Option<Vec<u8>> = r.try_get("y")?;
            let ids: Vec<Vec<u8>> = r.try_get("event_ids")?;
            Ok(LatestFinding {
                id: r.try_get("id")?,
                mint: hex::encode(mint),
                mint_name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                y: y.map(hex::encode),
                unit: r.try_get("unit")?,
                epoch: r.try_get::<Option<i64>, _>("epoch")?.map(count),
                detail: r.try_get("detail")?,
                events: ids.into_iter().map(hex::encode).collect(),
                resolved: r.try_get("resolved")?,
                first_found: r.try_get("first_found")?,
            })
        })
        .collect()
}
