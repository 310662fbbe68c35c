//! The findings of PROTOCOL.md §3: what mintwatch can prove against a mint, each with evidence.

use std::fmt;
use std::str::FromStr;

use crate::error::ParseError;

/// One kind of finding. The string form is the kebab-case name used in the API, in NIP-32 labels
/// and in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingKind {
    /// The same `Y` burnt twice by one mint (in two 4919 events, or twice in one).
    DoubleSpend,
    /// The same `Y` burnt by two different mint keys.
    CrossMintCollision,
    /// Two different 4919 events of one mint name the same previous event.
    Fork,
    /// An `e` names an event not seen after the grace period.
    Gap,
    /// For a (unit, epoch), BURN amounts exceed MINT amounts.
    LiabilityInversion,
    /// A 1337 outstanding balance differs from MINT minus BURN.
    BalanceMismatch,
    /// A 11467 whose content `pubkey` is not its signer.
    IdentityMismatch,
}

impl FindingKind {
    /// Every finding, in the order of PROTOCOL.md §3.
    pub const ALL: [FindingKind; 7] = [
        FindingKind::DoubleSpend,
        FindingKind::CrossMintCollision,
        FindingKind::Fork,
        FindingKind::Gap,
        FindingKind::LiabilityInversion,
        FindingKind::BalanceMismatch,
        FindingKind::IdentityMismatch,
    ];

    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::DoubleSpend => "double-spend",
            FindingKind::CrossMintCollision => "cross-mint-collision",
            FindingKind::Fork => "fork",
            FindingKind::Gap => "gap",
            FindingKind::LiabilityInversion => "liability-inversion",
            FindingKind::BalanceMismatch => "balance-mismatch",
            FindingKind::IdentityMismatch => "identity-mismatch",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FindingKind {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FindingKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| ParseError::malformed("finding", format!("unknown finding {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in FindingKind::ALL {
            assert_eq!(kind.as_str().parse::<FindingKind>(), Ok(kind));
        }
        assert!("double_spend".parse::<FindingKind>().is_err());
    }
}
