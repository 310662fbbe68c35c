//! The latest findings across all mints, newest first (the website's findings page).

use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Row};

use super::pages::{finding_item, FindingItem, MAX_PAGE};
use super::ReadError;

/// One finding, with the mint it is about and that mint's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LatestFinding {
    /// The mint it is about (x-only, hex).
    pub mint: String,
    /// The mint's name, if known.
    pub mint_name: Option<String>,
    /// The finding, as a mint's findings page lists it (newer findings have higher ids).
    #[serde(flatten)]
    pub finding: FindingItem,
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
                f.resolved, extract(epoch FROM f.first_found)::bigint AS first_found,
                extract(epoch FROM f.updated_at)::bigint AS updated_at
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
            Ok(LatestFinding {
                mint: hex::encode(mint),
                mint_name: r.try_get("name")?,
                finding: finding_item(r)?,
            })
        })
        .collect()
}
