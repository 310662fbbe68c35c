//! `mints.stats`: the statistics the analyze stage writes for each mint and the reads show, one
//! typed value for both sides (a field renamed or added here changes the writer and every reader
//! together). Every field has a default: a mint not yet analysed has `{}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the analyze stage stores in `mints.stats` (jsonb).
///
/// `findings_total` and `reviews.count` are also copied into the `mints` columns the directory
/// sorts by (`finding_count`, `review_count`), by name, in [`Store::write_mint_analyses`]
/// (crate::Store::write_mint_analyses): keep those names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MintStats {
    /// The 4919 publication chain.
    pub chain: ChainStatus,
    /// Closed epochs (1337 events).
    pub epoch_closes: u64,
    /// Live reviews.
    pub reviews: ReviewSummary,
    /// Unresolved findings by finding name (every name of PROTOCOL.md §3 present).
    pub findings: BTreeMap<String, u64>,
    /// Unresolved findings, all kinds.
    pub findings_total: u64,
}

/// A mint's reviews (live ones: newest per author, deletions applied).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewSummary {
    /// Live reviews.
    #[serde(default)]
    pub count: u64,
    /// Distinct authors.
    #[serde(default)]
    pub distinct_authors: u64,
    /// Reviews carrying a rating.
    #[serde(default)]
    pub rated: u64,
    /// Mean rating 1..5 of the rated ones.
    #[serde(default)]
    pub mean_rating: Option<f64>,
    /// `mean × log10(rated + 1)`.
    #[serde(default)]
    pub bayesian: Option<f64>,
}

/// The mint's 4919 publication chain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainStatus {
    /// The newest 4919 (id, hex).
    #[serde(default)]
    pub head: Option<String>,
    /// 4919 events published.
    #[serde(default)]
    pub length: u64,
    /// 4919 events whose `e` names a stored 4919 of the mint.
    #[serde(default)]
    pub links: u64,
    /// 4919 events without `e` (chain starts).
    #[serde(default)]
    pub unlinked_starts: u64,
    /// `created_at` of the first 4919.
    #[serde(default)]
    pub first: Option<i64>,
    /// `created_at` of the latest 4919.
    #[serde(default)]
    pub last: Option<i64>,
    /// Median seconds between consecutive 4919 events.
    #[serde(default)]
    pub median_interval_secs: Option<f64>,
}
