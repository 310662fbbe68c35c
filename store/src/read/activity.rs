//! A mint's publications per day and unit: the BURN and MINT amounts of its 4919 events, dated by
//! the events' `created_at` (the website's charts of burns, mints and outstanding balance over
//! time).

use serde::{Deserialize, Serialize};

use crate::StoreError;
use mintwatch_protocol::MintKey;

use super::ReadError;

/// One UTC day of one unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayActivity {
    /// Days since 1970-01-01 (UTC) of the 4919 events' `created_at`.
    pub day: i64,
    /// Unit.
    pub unit: String,
    /// Sum of the BURN amounts that day.
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub burn_amount: u128,
    /// Sum of the MINT amounts that day.
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub mint_amount: u128,
}

/// day, unit, burn_amount, mint_amount (sums as text: numeric).
type DayRow = (i64, String, String, String);

/// `mint`'s BURN and MINT totals per (unit, UTC day), sorted by unit then day; days without
/// entries are absent. Read from `event_totals` (one row per 4919 and (unit, epoch), keyed by
/// mint first), so its cost follows the mint's number of events, not of burns: `burns` and
/// `issued` have no per-mint index (migration 0003 dropped them to keep bulk writes cheap).
pub async fn daily_activity(
    pool: &sqlx::PgPool,
    mint: &MintKey,
) -> Result<Vec<DayActivity>, ReadError> {
    let rows: Vec<DayRow> = sqlx::query_as(
        "SELECT created_at / 86400 AS day, unit,
                sum(burn_amount)::text, sum(mint_amount)::text
         FROM event_totals WHERE mint = $1
         GROUP BY 1, 2 ORDER BY 2, 1",
    )
    .bind(mint.as_bytes().as_slice())
    .fetch_all(pool)
    .await?;
    let amount = |text: String, field: &'static str| -> Result<u128, ReadError> {
        text.parse()
            .map_err(|e: std::num::ParseIntError| ReadError::Store(StoreError::corrupt(field, e)))
    };
    rows.into_iter()
        .map(|(day, unit, burnt, minted)| {
            Ok(DayActivity {
                day,
                unit,
                burn_amount: amount(burnt, "event_totals.burn_amount")?,
                mint_amount: amount(minted, "event_totals.mint_amount")?,
            })
        })
        .collect()
}
