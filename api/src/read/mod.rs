//! The reads the API serves, as typed answers: the directory, one mint's report, its findings and
//! reviews, spent lookups, an event's stored JSON and global statistics.
//!
//! The reads themselves and their answer types are the store's ([`mintwatch_store::read`],
//! re-exported here under the same names); this module adds what only a server has: spent
//! lookups merged across concurrent callers ([`SpentLookups`]) and the live counters of an
//! indexer running in the same process ([`LiveStats`], supplied by the binary).
//! Everything here is transport-free (no axum), so the HTTP handlers stay thin and the nostr query
//! service can answer `search_mints`, `get_mint` and `check_spent` from the same functions.
//! Every answer type derives [`utoipa::ToSchema`]: the OpenAPI document describes exactly what
//! these functions return.

pub mod spent;
pub mod stats;

/// The directory: search, filter, sort and keyset paging over the mints.
pub mod directory {
    pub use mintwatch_store::read::directory::*;
}
/// Paged lists under one mint: its findings and its live reviews.
pub mod pages {
    pub use mintwatch_store::read::pages::*;
}
/// One mint's report.
pub mod report {
    pub use mintwatch_store::read::report::*;
}

pub use mintwatch_store::read::{
    check_spent, daily_activity, database_now, findings_page, latest_findings, mint_cores,
    mint_report, mints_changed_since, reviews_page, search_mints, DayActivity, DirectoryPage,
    FindingItem, FindingsFilter, FindingsPage, LatestFinding, MintCore, MintReport, MintSummary,
    ReadError, ReviewItem, ReviewsPage, SpentEntry, MAX_SPENT_YS,
};
pub use spent::{MergeCounts, SpentLookups};
pub use stats::{global_stats, GlobalStats, LiveSnapshot, LiveStats, StoreStatsCache};
