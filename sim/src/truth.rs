//! What the simulator knows about its own output: the role of each mint, the findings mintwatch
//! must report with their exact evidence, the events it must reject, and per-mint statistics.

use std::collections::{BTreeMap, BTreeSet};

use mintwatch_protocol::{Epoch, Unit};
use mintwatch_protocol::{
    EventId, FindingKind, IdentityLevel, MintKey, MintUrl, Point, SignedEvent,
};

use crate::misbehaviour::MisbehaviourKind;
use crate::wallet::Wallet;

/// What a simulated mint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MintRole {
    /// Does nothing wrong.
    Honest,
    /// Commits this misbehaviour.
    Misbehaving(MisbehaviourKind),
    /// The second mint of a cross-mint collision (it mints and burns the shared `Y`; the other
    /// mint burns it too, so both carry the finding).
    CrossMintPartner,
}

impl MintRole {
    /// Whether findings are expected against this mint. Mints whose key was forged, or that
    /// signed malformed content, expect none: those events must be rejected before analysis.
    pub fn expects_findings(self) -> bool {
        match self {
            Self::Honest => false,
            Self::Misbehaving(kind) => kind.finding().is_some(),
            Self::CrossMintPartner => true,
        }
    }
}

/// A finding that mintwatch must report, with exactly the events that prove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedFinding {
    /// What is proven.
    pub kind: FindingKind,
    /// Against which mint. A cross-mint collision is listed once for each of the two mints.
    pub mint: MintKey,
    /// The proving events: double-spend → the 4919(s) containing the `Y`; cross-mint → both
    /// 4919; fork → both children; gap → the event whose `e` dangles; liability inversion → every
    /// 4919 of the mint with entries in the (unit, epoch); balance mismatch → the 1337 and every
    /// 4919 of the mint with entries in its (unit, epoch) created at or before it; identity
    /// mismatch → the 11467.
    pub events: BTreeSet<EventId>,
    /// The `Y` (double-spend, cross-mint collision).
    pub y: Option<Point>,
    /// The unit (liability inversion, balance mismatch).
    pub unit: Option<Unit>,
    /// The epoch (liability inversion, balance mismatch).
    pub epoch: Option<Epoch>,
}

/// Why an event must be rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The signature was altered: [`SignedEvent::verify`] fails (`BadSignature`).
    BadSignature,
    /// The content was changed after signing: the id no longer matches (`IdMismatch`).
    ContentChangedAfterSigning,
    /// Validly signed 4919 whose content is not base64: the parser must refuse it.
    BadBase64,
    /// Validly signed 4919 with a BURN `Y` that is not on the curve: the parser must refuse it.
    OffCurvePoint,
}

impl RejectReason {
    /// Whether the event fails signature/id verification (forged), as opposed to verifying and
    /// failing to parse (malformed).
    pub fn fails_verification(self) -> bool {
        matches!(self, Self::BadSignature | Self::ContentChangedAfterSigning)
    }
}

/// An event in the output that must be rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The event's (claimed) id.
    pub id: EventId,
    /// The mint whose key the event carries.
    pub mint: MintKey,
    /// Why it must be rejected.
    pub reason: RejectReason,
}

/// MINT and BURN totals of one (unit, epoch) over a mint's published 4919 events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupTotals {
    /// MINT entries.
    pub mint_count: u64,
    /// Sum of MINT amounts.
    pub mint_amount: u64,
    /// BURN entries.
    pub burn_count: u64,
    /// Sum of BURN amounts.
    pub burn_amount: u64,
}

impl GroupTotals {
    /// MINT minus BURN.
    pub fn outstanding(&self) -> i128 {
        i128::from(self.mint_amount) - i128::from(self.burn_amount)
    }
}

/// The statistics mintwatch must compute for one mint (PROTOCOL.md §3), as the simulator knows
/// them. Forged and malformed events are not counted.
#[derive(Debug, Clone, PartialEq)]
pub struct MintStats {
    /// The mint key.
    pub mint: MintKey,
    /// Its NUT-06 `pubkey` (compressed).
    pub pubkey: Point,
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: MintUrl,
    /// What it is.
    pub role: MintRole,
    /// Its identity level (PROTOCOL.md §1).
    pub identity: IdentityLevel,
    /// Totals per (unit, epoch) over all its published 4919 events (fork siblings included).
    pub groups: BTreeMap<(Unit, Epoch), GroupTotals>,
    /// MINT minus BURN per unit, over all epochs.
    pub outstanding: BTreeMap<Unit, i128>,
    /// 4919 events published (fork siblings included).
    pub published_4919: u64,
    /// 4919 events reachable from the head by following `e` through published events.
    pub chain_len: u64,
    /// The latest 4919 of its main chain.
    pub head: Option<EventId>,
    /// Live reviews (one per author; deleted ones excluded).
    pub reviews: usize,
    /// Distinct authors of live reviews.
    pub distinct_reviewers: usize,
    /// Live reviews that carry a rating.
    pub rated_reviews: usize,
    /// Mean rating of the live rated reviews.
    pub mean_rating: Option<f64>,
}

/// A whole simulation, for tests: every event in publication order (forged and malformed ones
/// included), the truth about them, and the wallets' secrets.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// Every event, in publication order.
    pub events: Vec<SignedEvent>,
    /// The findings mintwatch must report.
    pub expected: Vec<ExpectedFinding>,
    /// The events mintwatch must reject.
    pub rejects: Vec<Reject>,
    /// Per-mint statistics.
    pub stats: BTreeMap<MintKey, MintStats>,
    /// The wallets' knowledge of every regular token.
    pub wallet: Wallet,
}
