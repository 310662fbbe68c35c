//! The faults a simulated mint can commit (PROTOCOL.md §3) and the bad input it can publish, each
//! with the round it starts in.

use std::fmt;

use mintwatch_protocol::FindingKind;

/// One fault (or one kind of bad input) that a dedicated mint commits, starting at a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MisbehaviourKind {
    /// Burns one `Y` in two of its 4919 events (round `s` and `s+1`), and another `Y` twice in
    /// the round-`s` event.
    DoubleSpend,
    /// Burns a `Y` that a partner mint (added for it) mints and burns in the same round.
    CrossMintCollision,
    /// Publishes two 4919 events naming the same previous event.
    Fork,
    /// Names, in its `e` tag, a 4919 that it signed but never publishes.
    Gap,
    /// Burns more than it minted in (`eur`, epoch 0): mints 2 tokens in round `s`, burns them and
    /// one more in round `s+1`.
    LiabilityInversion,
    /// Closes an epoch (forced key rotation at round `s`) with a wrong `sat` outstanding balance.
    BalanceMismatch,
    /// Publishes a 11467 whose content `pubkey` is another key.
    IdentityMismatch,
    /// Someone publishes 4919 events under this (otherwise honest) mint's key: one with a broken
    /// signature, one whose content was changed after signing. Both must fail verification.
    Forged,
    /// This (otherwise honest) mint signs two 4919 events whose content must be refused: bad
    /// base64, and a BURN `Y` that is not on the curve.
    Malformed,
}

impl MisbehaviourKind {
    /// Every kind, in the order of PROTOCOL.md §3, then the bad-input kinds.
    pub const ALL: [MisbehaviourKind; 9] = [
        Self::DoubleSpend,
        Self::CrossMintCollision,
        Self::Fork,
        Self::Gap,
        Self::LiabilityInversion,
        Self::BalanceMismatch,
        Self::IdentityMismatch,
        Self::Forged,
        Self::Malformed,
    ];

    /// The finding this misbehaviour proves, if any (forged and malformed events prove nothing:
    /// they are rejected).
    pub fn finding(self) -> Option<FindingKind> {
        match self {
            Self::DoubleSpend => Some(FindingKind::DoubleSpend),
            Self::CrossMintCollision => Some(FindingKind::CrossMintCollision),
            Self::Fork => Some(FindingKind::Fork),
            Self::Gap => Some(FindingKind::Gap),
            Self::LiabilityInversion => Some(FindingKind::LiabilityInversion),
            Self::BalanceMismatch => Some(FindingKind::BalanceMismatch),
            Self::IdentityMismatch => Some(FindingKind::IdentityMismatch),
            Self::Forged | Self::Malformed => None,
        }
    }

    /// A short kebab-case name (used in simulated mint names).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forged => "forged",
            Self::Malformed => "malformed",
            other => other.finding().map_or("", FindingKind::as_str),
        }
    }
}

impl fmt::Display for MisbehaviourKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A misbehaviour and the first round in which it may happen. A fork or forged events need a
/// previous 4919, so they wait for the mint's first batch if `round` is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Misbehaviour {
    /// What the mint does.
    pub kind: MisbehaviourKind,
    /// The round it starts in.
    pub round: u64,
}

impl Misbehaviour {
    /// `kind` starting at `round`.
    pub fn new(kind: MisbehaviourKind, round: u64) -> Self {
        Self { kind, round }
    }

    /// One of each, all complete by the end of round 2 (the demo wants them early).
    pub fn defaults() -> Vec<Self> {
        use MisbehaviourKind::*;
        vec![
            Self::new(DoubleSpend, 1),
            Self::new(CrossMintCollision, 1),
            Self::new(Fork, 1),
            Self::new(Gap, 0),
            Self::new(LiabilityInversion, 1),
            Self::new(BalanceMismatch, 2),
            Self::new(IdentityMismatch, 0),
            Self::new(Forged, 1),
            Self::new(Malformed, 0),
        ]
    }
}
