//! The reads the API serves, as typed answers: the directory, one mint's report, its findings and
//! reviews, spent lookups, the unresolved findings with their proving events, and what the store
//! holds. `mintwatch_api::read` re-exports them.
//!
//! Everything here is transport-free (no axum), so the HTTP handlers stay thin and the nostr query
//! service can answer `search_mints`, `get_mint` and `check_spent` from the same functions.
//! With the `openapi` feature every answer type derives `utoipa::ToSchema`: the OpenAPI document
//! describes exactly what these functions return.

pub mod activity;
mod cursor;
pub mod directory;
pub mod evidence;
pub mod latest_findings;
pub mod pages;
pub mod report;
pub mod spent;
pub mod stats;

use crate::StoreError;

pub use activity::{daily_activity, DayActivity};
pub use directory::{search_mints, DirectoryPage, MintSummary};
pub use evidence::{
    events_by_id, findings_changed_since, open_findings, ChangedFinding, OpenFinding,
};
pub use latest_findings::{latest_findings, LatestFinding};
pub use pages::{
    findings_page, reviews_page, FindingItem, FindingsFilter, FindingsPage, ReviewItem, ReviewsPage,
};
pub use report::{
    database_now, mint_cores, mint_report, mints_changed_since, MintCore, MintReport,
};
pub use spent::{check_spent, SpentEntry, MAX_SPENT_YS};
pub use stats::{store_stats, StoreStats};

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A page cursor that this API did not make, or made for another query.
    #[error("cursor: {0}")]
    BadCursor(String),
    /// A parameter is out of range or malformed.
    #[error("{0}")]
    Invalid(String),
    /// The store failed (connection, statement, corrupt value): an internal error.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A merged lookup (the API's `SpentLookups`) failed for every request in it: an internal error,
    /// its cause as text (one failure answers many callers).
    #[error("merged lookup: {0}")]
    Merged(String),
}

impl From<sqlx::Error> for ReadError {
    fn from(e: sqlx::Error) -> Self {
        ReadError::Store(StoreError::Database(e))
    }
}

/// A non-negative database integer as `u64` (counters and times never go negative; a negative
/// one would be a corrupt row, shown as 0 rather than failing the whole answer).
pub(crate) fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
