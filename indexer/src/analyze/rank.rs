//! Identity level, statistics and rank (PROTOCOL.md §1, §4) of the mints a batch changed, from
//! the facts the store gathers.

use std::collections::BTreeSet;

use mintwatch_protocol::reputation::{self, RankInputs};
use mintwatch_protocol::{FindingKind, IdentityLevel, MintKey};
use mintwatch_store::analysis::{MintAnalysis, MintFacts};
use mintwatch_store::stats::{ChainStatus, MintStats, ReviewSummary};
use mintwatch_store::StoreError;

use super::{now_secs, Analyzer};

impl Analyzer {
    /// Recomputes identity level, statistics and rank for `mints`, in a few set-based queries.
    /// Returns how many mints were updated.
    pub async fn refresh_mints(&self, mints: &BTreeSet<MintKey>) -> Result<usize, StoreError> {
        if mints.is_empty() {
            return Ok(0);
        }
        let facts = self.store.mint_facts(mints).await?;
        let as_of = self.config.as_of.unwrap_or_else(now_secs);
        let rows: Vec<MintAnalysis> = facts
            .into_iter()
            .map(|(key, facts)| {
                let identity = identity_level(&facts);
                let rank = reputation::rank(&rank_inputs(&facts, identity, as_of));
                MintAnalysis {
                    key,
                    identity: identity.as_str().to_string(),
                    rank: f32::from(rank.rank),
                    components: serde_json::to_value(&rank.components).unwrap_or_default(),
                    stats: stats_of(&facts),
                }
            })
            .collect();
        self.store.write_mint_analyses(&rows).await?;
        Ok(rows.len())
    }
}

/// The identity level (§1) the stored announcements and identity event give.
fn identity_level(facts: &MintFacts) -> IdentityLevel {
    match (
        facts.info_match,
        facts.self_announced,
        facts.operator_announced,
    ) {
        (Some(false), _, _) => IdentityLevel::Mismatch,
        (Some(true), _, _) | (None, true, _) => IdentityLevel::SelfSigned,
        (None, false, true) => IdentityLevel::Operator,
        _ => IdentityLevel::Unbound,
    }
}

fn finding(facts: &MintFacts, kind: FindingKind) -> u64 {
    facts.findings.get(&kind).copied().unwrap_or(0)
}

fn rank_inputs(facts: &MintFacts, identity: IdentityLevel, as_of: u64) -> RankInputs {
    RankInputs {
        identity: Some(identity),
        chain_events: facts.chain_events,
        chain_linked: facts.chain_linked,
        epoch_closes: facts.epoch_closes,
        distinct_reviewers: facts.rated_authors,
        mean_rating: facts.mean_rating,
        double_spends: finding(facts, FindingKind::DoubleSpend),
        forks: finding(facts, FindingKind::Fork),
        liability_inversions: finding(facts, FindingKind::LiabilityInversion),
        identity_mismatches: finding(facts, FindingKind::IdentityMismatch),
        cross_mint_collisions: finding(facts, FindingKind::CrossMintCollision),
        balance_mismatches: finding(facts, FindingKind::BalanceMismatch),
        gaps: finding(facts, FindingKind::Gap),
        last_seen: facts.last_seen,
        as_of,
    }
}

/// What `mints.stats` shows of the facts.
fn stats_of(facts: &MintFacts) -> MintStats {
    MintStats {
        chain: ChainStatus {
            head: facts.head.clone(),
            length: facts.chain_events,
            links: facts.chain_linked,
            unlinked_starts: facts.chain_starts,
            first: facts.first_4919,
            last: facts.last_4919,
            median_interval_secs: facts.median_interval,
        },
        epoch_closes: facts.epoch_closes,
        reviews: ReviewSummary {
            count: facts.reviews,
            distinct_authors: facts.review_authors,
            rated: facts.rated,
            mean_rating: facts.mean_rating,
            bayesian: facts
                .mean_rating
                .map(|m| m * (facts.rated as f64 + 1.0).log10()),
        },
        findings: FindingKind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), finding(facts, *k)))
            .collect(),
        findings_total: facts.findings.values().sum(),
    }
}
