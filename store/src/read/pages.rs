//! Paged lists under one mint: its findings (with their evidence) and its live reviews.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgPool, Row};

use mintwatch_protocol::{FindingKind, MintKey};

use super::{count, cursor, ReadError};

/// Default page size of findings and reviews.
pub const DEFAULT_PAGE: u16 = 50;
/// Largest page size of findings and reviews.
pub const MAX_PAGE: u16 = 200;

fn page_size(limit: Option<u16>) -> Result<i64, ReadError> {
    match limit.unwrap_or(DEFAULT_PAGE) {
        0 => Err(ReadError::Invalid("limit: 0 is not in 1..=200".into())),
        l if l > MAX_PAGE => Err(ReadError::Invalid(format!(
            "limit: {l} is not in 1..={MAX_PAGE}"
        ))),
        l => Ok(i64::from(l)),
    }
}

/// A `findings` row (its columns as `findings_page` selects them) as a [`FindingItem`].
pub(super) fn finding_item(r: &sqlx::postgres::PgRow) -> Result<FindingItem, ReadError> {
    let y: Option<Vec<u8>> = r.try_get("y")?;
    let ids: Vec<Vec<u8>> = r.try_get("event_ids")?;
    Ok(FindingItem {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        y: y.map(hex::encode),
        unit: r.try_get("unit")?,
        epoch: r.try_get::<Option<i64>, _>("epoch")?.map(count),
        detail: r.try_get("detail")?,
        events: ids.into_iter().map(hex::encode).collect(),
        resolved: r.try_get("resolved")?,
        first_found: r.try_get("first_found")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// One finding against the mint, with the ids of the signed events that prove it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FindingItem {
    /// Stable id of the finding.
    pub id: i64,
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
    /// The proving events (ids, hex); fetch each from `/v1/events/{id}`.
    pub events: Vec<String>,
    /// Whether later events resolved it (a gap filled, totals that now add up).
    pub resolved: bool,
    /// Unix seconds when it was first found.
    pub first_found: i64,
    /// Unix seconds of its last update.
    pub updated_at: i64,
}

/// A page of findings, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FindingsPage {
    /// The findings.
    pub findings: Vec<FindingItem>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct FindingCursor {
    after_id: i64,
}

/// What to list of a mint's findings.
#[derive(Debug, Clone, Default)]
pub struct FindingsFilter {
    /// Only this kind.
    pub kind: Option<FindingKind>,
    /// Only resolved (true) or unresolved (false) ones.
    pub resolved: Option<bool>,
    /// Page size, 1..=200.
    pub limit: Option<u16>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// A page of `mint`'s findings (by id: stable under inserts, since new findings get higher ids).
pub async fn findings_page(
    pool: &PgPool,
    mint: &MintKey,
    filter: &FindingsFilter,
) -> Result<FindingsPage, ReadError> {
    let limit = page_size(filter.limit)?;
    let after = match filter.cursor.as_deref() {
        Some(c) => cursor::decode::<FindingCursor>(c)?.after_id,
        None => 0,
    };
    let rows = sqlx::query(
        "SELECT id, kind, y, unit, epoch, detail, event_ids, resolved,
                extract(epoch FROM first_found)::bigint AS first_found,
                extract(epoch FROM updated_at)::bigint AS updated_at
         FROM findings
         WHERE mint = $1 AND id > $2
           AND ($3::text IS NULL OR kind = $3)
           AND ($4::boolean IS NULL OR resolved = $4)
         ORDER BY id LIMIT $5",
    )
    .bind(mint.as_bytes().to_vec())
    .bind(after)
    .bind(filter.kind.map(FindingKind::as_str))
    .bind(filter.resolved)
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > limit;
    let mut findings = Vec::with_capacity(rows.len());
    for r in rows.iter().take(limit as usize) {
        findings.push(finding_item(r)?);
    }
    let next_cursor = match (more, findings.last()) {
        (true, Some(last)) => Some(cursor::encode(&FindingCursor { after_id: last.id })),
        _ => None,
    };
    Ok(FindingsPage {
        findings,
        next_cursor,
    })
}

/// One live review of the mint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewItem {
    /// The 38000 event (id, hex).
    pub event_id: String,
    /// The reviewer (x-only, hex).
    pub author: String,
    /// 1..5, if rated.
    pub rating: Option<f64>,
    /// The review text.
    pub text: String,
    /// Its `created_at`.
    pub created_at: u64,
}

/// A page of reviews, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewsPage {
    /// The reviews.
    pub reviews: Vec<ReviewItem>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ReviewCursor {
    created_at: i64,
    id: String,
}

/// event_id, author, rating, text, created_at.
type ReviewRow = (Vec<u8>, Vec<u8>, Option<f64>, String, i64);

/// A page of the live reviews of `mint`, newest first (then by event id).
pub async fn reviews_page(
    pool: &PgPool,
    mint: &MintKey,
    limit: Option<u16>,
    cursor: Option<&str>,
) -> Result<ReviewsPage, ReadError> {
    let limit = page_size(limit)?;
    let after = cursor.map(cursor::decode::<ReviewCursor>).transpose()?;
    let (after_t, after_id) = match &after {
        Some(c) => {
            // Our cursors hold event times, never negative; refusing others also keeps the
            // negation in the statement from overflowing.
            if c.created_at < 0 {
                return Err(ReadError::BadCursor(
                    "not a cursor returned by this API".into(),
                ));
            }
            let mut id = [0u8; 32];
            hex::decode_to_slice(&c.id, &mut id)
                .map_err(|_| ReadError::BadCursor("bad event id".into()))?;
            (Some(c.created_at), Some(id.to_vec()))
        }
        None => (None, None),
    };
    // The live-review rule of `live_reviews`, with the mint filter applied before DISTINCT ON so
    // the per-mint index is used: every version of one (author, target) names the same mint.
    let rows: Vec<ReviewRow> = sqlx::query_as(
        "SELECT event_id, author, rating, text, created_at FROM (
             SELECT DISTINCT ON (author, target) *
             FROM reviews WHERE target_mint = $1
             ORDER BY author, target, created_at DESC, event_id ASC) newest
         WHERE NOT deleted
           AND ($2::bigint IS NULL OR (-created_at, event_id) > (-$2::bigint, $3::bytea))
         ORDER BY created_at DESC, event_id LIMIT $4",
    )
    .bind(mint.as_bytes().to_vec())
    .bind(after_t)
    .bind(after_id)
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > limit;
    let reviews: Vec<ReviewItem> = rows
        .into_iter()
        .take(limit as usize)
        .map(|(id, author, rating, text, created)| ReviewItem {
            event_id: hex::encode(id),
            author: hex::encode(author),
            rating,
            text,
            created_at: count(created),
        })
        .collect();
    let next_cursor = match (more, reviews.last()) {
        (true, Some(last)) => Some(cursor::encode(&ReviewCursor {
            created_at: i64::try_from(last.created_at).unwrap_or(i64::MAX),
            id: last.event_id.clone(),
        })),
        _ => None,
    };
    Ok(ReviewsPage {
        reviews,
        next_cursor,
    })
}
