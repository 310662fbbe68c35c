//! The reputation rank of PROTOCOL.md §4: one number 0..=100 per mint from a documented formula,
//! with every component exposed beside it. Pure and deterministic: the same [`RankInputs`] (which
//! include the time the rank is computed "as of") always give the same [`Rank`], so an auditor can
//! recompute it from the raw events. `docs/REPUTATION.md` explains each weight.

use serde::Serialize;

use crate::types::IdentityLevel;

/// Seconds in a day.
const DAY: u64 = 86_400;

/// Points for an unbroken, long 4919 chain (the largest share: evidence beats opinion).
pub const CHAIN_POINTS: f64 = 50.0;
/// Points for the identity level.
pub const IDENTITY_POINTS: f64 = 15.0;
/// Points for reviews (capped below the chain's share).
pub const REVIEW_POINTS: f64 = 25.0;
/// Points for closing epochs with 1337 balances that add up.
pub const EPOCH_POINTS: f64 = 10.0;
/// 4919 events at which the chain's length weight is full (log scale).
pub const FULL_CHAIN_EVENTS: f64 = 100.0;
/// Distinct reviewers at which the review weight is full (log scale).
pub const FULL_REVIEWERS: f64 = 20.0;
/// Days of silence before the rank starts to decay.
pub const GRACE_DAYS: u64 = 30;
/// Half-life of the decay after the grace period, in days.
pub const HALF_LIFE_DAYS: f64 = 90.0;
/// The cap under an unresolved double-spend, fork or liability inversion.
pub const CAP_PROVEN_FRAUD: f64 = 10.0;
/// The cap under an identity mismatch.
pub const CAP_IDENTITY_MISMATCH: f64 = 30.0;
/// Points taken for each cross-mint collision, balance mismatch or gap (up to [`MAX_PENALTY`]).
pub const PENALTY_EACH: f64 = 10.0;
/// The most that penalties can take.
pub const MAX_PENALTY: f64 = 40.0;

/// Everything the rank depends on. Counts are of unresolved findings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RankInputs {
    /// The identity level.
    pub identity: Option<IdentityLevel>,
    /// 4919 events published.
    pub chain_events: u64,
    /// 4919 events whose `e` names a stored earlier 4919 of the same mint.
    pub chain_linked: u64,
    /// 1337 events published.
    pub epoch_closes: u64,
    /// Distinct authors with a live rated review.
    pub distinct_reviewers: u64,
    /// Mean rating (1..=5) over live rated reviews.
    pub mean_rating: Option<f64>,
    /// Unresolved double-spends.
    pub double_spends: u64,
    /// Unresolved forks.
    pub forks: u64,
    /// Unresolved liability inversions.
    pub liability_inversions: u64,
    /// Identity mismatches.
    pub identity_mismatches: u64,
    /// Cross-mint collisions.
    pub cross_mint_collisions: u64,
    /// Balance mismatches.
    pub balance_mismatches: u64,
    /// Unresolved gaps.
    pub gaps: u64,
    /// The newest event of the mint (unix seconds).
    pub last_seen: Option<u64>,
    /// The time the rank is computed as of (unix seconds).
    pub as_of: u64,
}

/// The rank and how it was reached.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rank {
    /// 0..=100.
    pub rank: u8,
    /// Each component, so a user can see why.
    pub components: RankComponents,
}

/// The parts of a rank, in points, with the multipliers and caps applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankComponents {
    /// 0..=[`CHAIN_POINTS`]: chain completeness × length weight.
    pub chain: f64,
    /// 0..=[`IDENTITY_POINTS`].
    pub identity: f64,
    /// 0..=[`REVIEW_POINTS`]: normalised mean rating × distinct-reviewer weight.
    pub reviews: f64,
    /// 0..=[`EPOCH_POINTS`]: closing epochs (only when balances add up).
    pub epochs: f64,
    /// 0..=1: the multiplier for silence.
    pub activity: f64,
    /// Points taken for collisions, balance mismatches and gaps.
    pub penalty: f64,
    /// The cap applied by proven misbehaviour, if any.
    pub cap: Option<f64>,
    /// Why the cap applies.
    pub cap_reason: Option<&'static str>,
}

fn log_weight(count: u64, full: f64) -> f64 {
    ((1.0 + count as f64).log10() / (1.0 + full).log10()).clamp(0.0, 1.0)
}

/// Computes the rank. See `docs/REPUTATION.md`.
pub fn rank(inputs: &RankInputs) -> Rank {
    let chain = if inputs.chain_events == 0 {
        0.0
    } else {
        // The first event of a chain has nothing to link to, so one unlinked start is normal.
        let linked = inputs.chain_linked.min(inputs.chain_events - 1) as f64;
        let completeness = (linked + 1.0) / inputs.chain_events as f64;
        CHAIN_POINTS * completeness * log_weight(inputs.chain_events, FULL_CHAIN_EVENTS)
    };
    let identity = IDENTITY_POINTS
        * match inputs.identity {
            Some(IdentityLevel::SelfSigned) => 1.0,
            Some(IdentityLevel::Operator) => 0.5,
            _ => 0.0,
        };
    let reviews = match inputs.mean_rating {
        Some(mean) if inputs.distinct_reviewers > 0 => {
            let normalised = ((mean - 1.0) / 4.0).clamp(0.0, 1.0);
            REVIEW_POINTS * normalised * log_weight(inputs.distinct_reviewers, FULL_REVIEWERS)
        }
        _ => 0.0,
    };
    let epochs = if inputs.balance_mismatches == 0 && inputs.epoch_closes > 0 {
        EPOCH_POINTS * log_weight(inputs.epoch_closes, 10.0)
    } else {
        0.0
    };
    let activity = match inputs.last_seen {
        None => 0.0,
        Some(seen) => {
            let silent = inputs.as_of.saturating_sub(seen);
            let grace = GRACE_DAYS * DAY;
            if silent <= grace {
                1.0
            } else {
                0.5f64.powf((silent - grace) as f64 / (HALF_LIFE_DAYS * DAY as f64))
            }
        }
    };
    let penalty = (PENALTY_EACH
        * (inputs.cross_mint_collisions + inputs.balance_mismatches + inputs.gaps) as f64)
        .min(MAX_PENALTY);
    let (cap, cap_reason) = if inputs.double_spends > 0 {
        (Some(CAP_PROVEN_FRAUD), Some("double-spend"))
    } else if inputs.forks > 0 {
        (Some(CAP_PROVEN_FRAUD), Some("fork"))
    } else if inputs.liability_inversions > 0 {
        (Some(CAP_PROVEN_FRAUD), Some("liability-inversion"))
    } else if inputs.identity_mismatches > 0 {
        (Some(CAP_IDENTITY_MISMATCH), Some("identity-mismatch"))
    } else {
        (None, None)
    };
    let mut score = ((chain + identity + reviews + epochs) * activity - penalty).clamp(0.0, 100.0);
    if let Some(cap) = cap {
        score = score.min(cap);
    }
    Rank {
        rank: score.round() as u8,
        components: RankComponents {
            chain: round2(chain),
            identity: round2(identity),
            reviews: round2(reviews),
            epochs: round2(epochs),
            activity: round2(activity),
            penalty,
            cap,
            cap_reason,
        },
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn good() -> RankInputs {
        RankInputs {
            identity: Some(IdentityLevel::SelfSigned),
            chain_events: 200,
            chain_linked: 199,
            epoch_closes: 10,
            distinct_reviewers: 25,
            mean_rating: Some(4.8),
            last_seen: Some(NOW - DAY),
            as_of: NOW,
            ..Default::default()
        }
    }

    #[test]
    fn an_exemplary_mint_ranks_high_and_within_bounds() {
        let r = rank(&good());
        assert!(r.rank >= 90, "{r:?}");
        assert!(r.rank <= 100);
        assert_eq!(r.components.cap, None);
    }

    #[test]
    fn proven_misbehaviour_caps() {
        for (field, cap) in [("ds", 10), ("fork", 10), ("li", 10), ("im", 30)] {
            let mut i = good();
            match field {
                "ds" => i.double_spends = 1,
                "fork" => i.forks = 1,
                "li" => i.liability_inversions = 1,
                _ => i.identity_mismatches = 1,
            }
            assert!(rank(&i).rank <= cap, "{field}");
        }
    }

    #[test]
    fn a_chain_counts_more_than_reviews() {
        let chain_only = RankInputs {
            mean_rating: None,
            distinct_reviewers: 0,
            ..good()
        };
        let reviews_only = RankInputs {
            chain_events: 0,
            chain_linked: 0,
            ..good()
        };
        assert!(rank(&chain_only).rank > rank(&reviews_only).rank);
    }

    #[test]
    fn many_distinct_reviewers_beat_few() {
        let few = RankInputs {
            distinct_reviewers: 1,
            ..good()
        };
        assert!(rank(&good()).components.reviews > rank(&few).components.reviews);
    }

    #[test]
    fn unlinked_chains_rank_lower() {
        let broken = RankInputs {
            chain_linked: 20,
            ..good()
        };
        assert!(rank(&broken).rank < rank(&good()).rank);
    }

    #[test]
    fn silence_decays() {
        let months = RankInputs {
            last_seen: Some(NOW - 200 * DAY),
            ..good()
        };
        let year = RankInputs {
            last_seen: Some(NOW - 400 * DAY),
            ..good()
        };
        assert!(rank(&months).rank < rank(&good()).rank);
        assert!(rank(&year).rank < rank(&months).rank);
    }

    #[test]
    fn deterministic() {
        assert_eq!(rank(&good()), rank(&good().clone()));
    }
}
