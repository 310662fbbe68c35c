//! A mint's publications per day and unit: BURN and MINT entries of its 4919 events, dated by the
//! events' `created_at` (the website's charts of burns, mints and outstanding balance over time).

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::StoreError;
use mintwatch_protocol::MintKey;

use super::{count, ReadError};

/// One UTC day of one unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayActivity {
    /// Days since 1970-01-01 (UTC) of the 4919 events' `created_at`.
    pub day: i64,
    /// Unit.
    pub unit: String,
    /// BURN entries that day.
    pub burn_count: u64,
    /// Sum of their amounts.
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub burn_amount: u128,
    /// MINT entries that day.
    pub mint_count: u64,
    /// Sum of their amounts.
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub mint_amount: u128,
}

/// day, unit, burn_count, burn_amount, mint_count, mint_amount (sums as text: numeric).
type DayRow = (i64, String, i64, String, i64, String);

/// `mint`'s BURN and MINT totals per (unit, UTC day), sorted by unit then day; days without
/// entries are absent. One statement, through the per-mint indexes of `burns`, `issued` and
/// `chain_links`.
pub async fn daily_activity(pool: &PgPool, mint: &MintKey) -> Result<Vec<DayActivity>, ReadError> {
    let rows: Vec<DayRow> = sqlx::query_as(
        "WITH ev AS (SELECT event_id, created_at / 86400 AS day FROM chain_links WHERE mint = $1),
         b AS (SELECT ev.day, x.unit, count(*) AS n, sum(x.amount) AS amount
               FROM burns x JOIN ev ON ev.event_id = x.event_id WHERE x.mint = $1 GROUP BY 1, 2),
         i AS (SELECT ev.day, x.unit, count(*) AS n, sum(x.amount) AS amount
               FROM issued x JOIN ev ON ev.event_id = x.event_id WHERE x.mint = $1 GROUP BY 1, 2)
         SELECT coalesce(b.day, i.day), coalesce(b.unit, i.unit),
                coalesce(b.n, 0), coalesce(b.amount, 0)::text,
                coalesce(i.n, 0), coalesce(i.amount, 0)::text
         FROM b FULL JOIN i ON b.day = i.day AND b.unit = i.unit
         ORDER BY 2, 1",
    )
    .bind(mint.as_bytes().to_vec())
    .fetch_all(pool)
    .await?;
    let amount = |text: String, field: &'static str| -> Result<u128, ReadError> {
        text.parse()
            .map_err(|e: std::num::ParseIntError| ReadError::Store(StoreError::corrupt(field, e)))
    };
    rows.into_iter()
        .map(|(day, unit, bn, ba, mn, ma)| {
            Ok(DayActivity {
                day,
                unit,
                burn_count: count(bn),
                burn_amount: amount(ba, "burns.amount")?,
                mint_count: count(mn),
                mint_amount: amount(ma, "issued.amount")?,
            })
        })
        .collect()
}
