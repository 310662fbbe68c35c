//! Deterministic simulated mints, honest and misbehaving, with real keys and real BDHKE.
//!
//! A [`Simulator`] plays a population of Cashu mints that publish on nostr round after round:
//! identities (11467), announcements (38172, by the mint itself and by an operator), chained
//! batches (4919) of issued signatures and burnt secrets in two units over rotating keysets,
//! epoch closes (1337), and reviews (38000) with one NIP-09 deletion. Each [`Misbehaviour`] gets a
//! mint of its own that commits exactly that fault of PROTOCOL.md §3 (or publishes forged or
//! malformed events), and the simulator records the truth: the [`ExpectedFinding`]s with their
//! exact evidence, the events that must be [`Reject`]ed and why, and per-mint [`MintStats`].
//!
//! Everything is a function of [`SimConfig`]: keys come from a ChaCha20 stream seeded with
//! [`SimConfig::seed`], timestamps from [`SimConfig::start_time`], and BIP-340 signatures use a
//! ChaCha20 aux stream derived from the seed and the event id, so ids *and* signatures repeat
//! exactly. Tokens are hashes of (mint seed, unit, epoch, index), so a mint remembers counters,
//! not secrets: [`Simulator::next_round`] can run forever in flat memory (see
//! [`Simulator::working_set_len`]).
//!
//! Timeline of round `r` (at `t = start_time + r·round_interval_secs`): `t+0` identities and
//! announcements, `t+1` each mint's 4919, `t+2` fork siblings and forged/malformed events, `t+3`
//! 1337 epoch closes, `t+4` reviews and deletions. A 1337 therefore counts its round's 4919 and
//! no later one.

mod identity;
mod signing;
mod wallet;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use base64::Engine;
use nostr::Keys;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use secp256k1::{PublicKey, SecretKey, SECP256K1};

use crate::broadcast::{BurnEntry, CashuData, DataGroup, FinEpoch, GroupContents, MintInfo};
use crate::event::{EventId, SignedEvent};
use crate::findings::FindingKind;
use crate::kinds;
use crate::types::{Epoch, IdentityLevel, MintKey, MintUrl, Point, Unit};

use signing::sign;
use wallet::keyset_key;
pub use wallet::{Token, Wallet};

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

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seeds every key, token and signature.
    pub seed: u64,
    /// Unix seconds of round 0.
    pub start_time: u64,
    /// Seconds between rounds (at least 5: a round uses offsets 0..=4).
    pub round_interval_secs: u64,
    /// Mints that do nothing wrong (besides these, one mint per misbehaviour, two for a
    /// cross-mint collision).
    pub honest_mints: usize,
    /// Rounds played by [`Simulator::run`] (ignored by [`Simulator::next_round`]).
    pub rounds: u64,
    /// BURN entries per 4919 (fewer while a mint has not issued enough tokens yet), split over
    /// `sat` and `usd` and over the live epochs, oldest first.
    pub burns_per_batch: usize,
    /// MINT entries per 4919, split over `sat` and `usd`, in the current epoch.
    pub mints_per_batch: usize,
    /// Rounds between key rotations (each closes the old epoch with a 1337); 0 never rotates.
    pub rotate_every: u64,
    /// Epochs per unit whose tokens are still being burnt (the current one included).
    pub live_epochs: usize,
    /// Distinct review authors.
    pub reviewers: usize,
    /// Reviews published per round (a reviewer's later review of a mint replaces the earlier).
    pub reviews_per_round: usize,
    /// Misbehaviours, one mint each.
    pub misbehaviours: Vec<Misbehaviour>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            start_time: 1_700_000_000,
            round_interval_secs: 10,
            honest_mints: 6,
            rounds: 8,
            burns_per_batch: 12,
            mints_per_batch: 16,
            rotate_every: 4,
            live_epochs: 2,
            reviewers: 20,
            reviews_per_round: 8,
            misbehaviours: Misbehaviour::defaults(),
        }
    }
}

/// Encoded size of one MINT entry in a 4919's content (base64 of CBOR), rounded up.
const MINT_ENTRY_BYTES: usize = 210;
/// Encoded size of one BURN entry, rounded up.
const BURN_ENTRY_BYTES: usize = 110;
/// Budget for a 4919's JSON: well under the 512 KiB that mintwatch accepts.
const BATCH_BYTES_BUDGET: usize = 400 * 1024;
/// Entries per 4919 at most (mintwatch accepts 20,000; real mints publish far fewer).
const MAX_ENTRIES_PER_BATCH: usize = 2_000;
/// Entries a misbehaviour may add to a batch.
const SPECIAL_ENTRIES: usize = 8;
/// What a balance-mismatch mint adds to the true outstanding balance.
const BALANCE_ERROR: u64 = 1_000;

/// Why a [`SimConfig`] cannot be simulated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimConfigError {
    /// The interval leaves no room for a round's timestamp offsets.
    #[error("round_interval_secs {0} is below 5")]
    RoundIntervalTooShort(u64),
    /// `live_epochs` is 0.
    #[error("live_epochs must be at least 1")]
    NoLiveEpochs,
    /// A batch would be too large.
    #[error(
        "a batch of {entries} entries (~{bytes} bytes) exceeds {MAX_ENTRIES_PER_BATCH} entries or {BATCH_BYTES_BUDGET} bytes"
    )]
    BatchTooLarge {
        /// Entries per batch.
        entries: usize,
        /// Estimated JSON bytes.
        bytes: usize,
    },
}

impl SimConfig {
    /// Checks that the configuration can be simulated within the protocol's limits.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        if self.round_interval_secs < 5 {
            return Err(SimConfigError::RoundIntervalTooShort(
                self.round_interval_secs,
            ));
        }
        if self.live_epochs == 0 {
            return Err(SimConfigError::NoLiveEpochs);
        }
        let entries = self.mints_per_batch + self.burns_per_batch + SPECIAL_ENTRIES;
        let bytes = (self.mints_per_batch + SPECIAL_ENTRIES) * MINT_ENTRY_BYTES
            + self.burns_per_batch * BURN_ENTRY_BYTES
            + 2_048;
        if entries > MAX_ENTRIES_PER_BATCH || bytes > BATCH_BYTES_BUDGET {
            return Err(SimConfigError::BatchTooLarge { entries, bytes });
        }
        Ok(())
    }
}

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

/// Where a mint's identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdentityPlan {
    /// 11467, a self-announcement with an x-only `d`, and an operator announcement.
    Full,
    /// 11467 and a self-announcement.
    SelfSigned,
    /// A self-announcement whose `d` is the compressed key.
    SelfCompressed,
    /// Only the operator announces it.
    OperatorOnly,
    /// Nothing: known only from its batches.
    Unbound,
    /// Only a 11467 naming another key (published when its misbehaviour starts).
    MismatchOnly,
}

/// A keyset whose tokens are being issued (the last one) or still redeemed.
#[derive(Debug, Clone)]
struct Cursor {
    epoch: Epoch,
    k: SecretKey,
    /// Tokens issued so far (their indices are `0..minted`).
    minted: u64,
    /// Tokens burnt so far (always the oldest: `0..burnt`).
    burnt: u64,
}

#[derive(Debug, Clone)]
struct Lane {
    unit: Unit,
    /// Oldest first; the last one is the current epoch.
    live: VecDeque<Cursor>,
    last_fin: Option<EventId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    Waiting,
    /// The first half happened in `first`; the second half comes next round.
    Second {
        first: EventId,
        unit: Unit,
        epoch: Epoch,
    },
    Done,
}

#[derive(Debug, Clone)]
struct Act {
    kind: MisbehaviourKind,
    round: u64,
    stage: Stage,
}

/// What a misbehaviour does once the mint's main batch of the round is signed (given its id).
type Finish = Box<dyn FnOnce(&mut Simulator, EventId)>;

/// A cross-mint collision waiting for the partner's batch of the same round.
#[derive(Debug, Clone)]
struct CrossDue {
    token: Token,
    other: MintKey,
    other_event: EventId,
}

#[derive(Debug, Clone)]
struct MintState {
    keys: Keys,
    key: MintKey,
    pubkey: Point,
    seed: [u8; 32],
    name: String,
    url: MintUrl,
    role: MintRole,
    plan: IdentityPlan,
    lanes: Vec<Lane>,
    extra_units: Vec<Unit>,
    head: Option<EventId>,
    chain_len: u64,
    published_4919: u64,
    totals: BTreeMap<(Unit, Epoch), GroupTotals>,
    act: Option<Act>,
    /// 4919 ids per (unit, epoch), kept only while a balance mismatch is pending.
    track: Option<BTreeMap<(Unit, Epoch), BTreeSet<EventId>>>,
    /// Live reviews by reviewer index: the rating, if any.
    reviews: BTreeMap<usize, Option<f64>>,
    cross_due: Option<CrossDue>,
    /// The key a mismatching 11467 names instead.
    other_pubkey: Option<Point>,
}

fn unit(name: &str) -> Unit {
    #[allow(clippy::expect_used)]
    Unit::parse(name).expect("the simulator's unit names are valid")
}

fn epoch(n: u64) -> Epoch {
    #[allow(clippy::expect_used)]
    Epoch::new(n).expect("simulated epochs stay far below 2^63")
}

fn draw_secret_key(rng: &mut ChaCha20Rng) -> SecretKey {
    loop {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return key;
        }
    }
}

fn compressed(key: &SecretKey) -> Point {
    Point::from_public_key(&PublicKey::from_secret_key(SECP256K1, key))
}

/// `n` split over `lanes`: lane 0 takes the larger share.
fn share(n: usize, lane: usize, lanes: usize) -> usize {
    let small = n / (lanes + 1);
    if lane == 0 {
        n - small * (lanes - 1)
    } else {
        small
    }
}

impl MintState {
    fn new(
        index: usize,
        rng: &mut ChaCha20Rng,
        role: MintRole,
        plan: IdentityPlan,
        live_units: &[&str],
    ) -> Self {
        let secret = draw_secret_key(rng);
        let keys = Keys::new(secret.into());
        let pubkey = compressed(&secret);
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let label = match role {
            MintRole::Honest => "honest".to_string(),
            MintRole::Misbehaving(kind) => kind.as_str().to_string(),
            MintRole::CrossMintPartner => "cross-mint-partner".to_string(),
        };
        let lanes = live_units
            .iter()
            .map(|u| {
                let unit = unit(u);
                let k = keyset_key(&seed, &unit, epoch(0));
                Lane {
                    unit,
                    live: VecDeque::from([Cursor {
                        epoch: epoch(0),
                        k,
                        minted: 0,
                        burnt: 0,
                    }]),
                    last_fin: None,
                }
            })
            .collect();
        #[allow(clippy::expect_used)]
        let url = MintUrl::parse(&format!("https://mint{index}.sim.mintwatch.invalid"))
            .expect("the simulator's URLs are valid");
        Self {
            keys,
            key: pubkey.x_only(),
            pubkey,
            seed,
            name: format!("Sim Mint {index} ({label})"),
            url,
            role,
            plan,
            lanes,
            extra_units: Vec::new(),
            head: None,
            chain_len: 0,
            published_4919: 0,
            totals: BTreeMap::new(),
            act: None,
            track: None,
            reviews: BTreeMap::new(),
            cross_due: None,
            other_pubkey: None,
        }
    }

    fn units(&self) -> Vec<Unit> {
        self.lanes
            .iter()
            .map(|l| l.unit.clone())
            .chain(self.extra_units.iter().cloned())
            .collect()
    }

    fn current_epoch(&self, lane: usize) -> Epoch {
        self.lanes[lane].live.back().map_or(epoch(0), |c| c.epoch)
    }

    /// A MINT group of `tokens` signed with this mint's keyset for (unit, epoch).
    fn special_mint_group(&self, unit: &Unit, epoch: Epoch, tokens: &[Token]) -> DataGroup {
        let k = keyset_key(&self.seed, unit, epoch);
        DataGroup {
            epoch,
            unit: unit.clone(),
            contents: GroupContents::Mint(tokens.iter().map(|t| t.mint_entry(&k)).collect()),
        }
    }

    /// This round's regular traffic: burns of tokens issued in earlier rounds (oldest epoch
    /// first), then new tokens in the current epoch.
    fn regular_groups(&mut self, mints: usize, burns: usize) -> Vec<DataGroup> {
        let mut groups = Vec::new();
        let lanes = self.lanes.len();
        let seed = self.seed;
        for (li, lane) in self.lanes.iter_mut().enumerate() {
            let mut left = share(burns, li, lanes) as u64;
            for cursor in lane.live.iter_mut() {
                let take = left.min(cursor.minted - cursor.burnt);
                if take == 0 {
                    continue;
                }
                let (start, unit, ep) = (cursor.burnt, &lane.unit, cursor.epoch);
                let entries: Vec<BurnEntry> = (0..take as usize)
                    .into_par_iter()
                    .map(|j| Token::regular(&seed, unit, ep, start + j as u64).burn_entry())
                    .collect();
                cursor.burnt += take;
                left -= take;
                groups.push(DataGroup {
                    epoch: ep,
                    unit: lane.unit.clone(),
                    contents: GroupContents::Burn(entries),
                });
            }
            let n = share(mints, li, lanes);
            if let Some(cursor) = lane.live.back_mut().filter(|_| n > 0) {
                let (start, unit, ep, k) = (cursor.minted, &lane.unit, cursor.epoch, cursor.k);
                let entries = (0..n)
                    .into_par_iter()
                    .map(|j| Token::regular_mint_entry(&seed, unit, ep, start + j as u64, &k))
                    .collect();
                cursor.minted += n as u64;
                groups.insert(
                    0,
                    DataGroup {
                        epoch: ep,
                        unit: lane.unit.clone(),
                        contents: GroupContents::Mint(entries),
                    },
                );
            }
        }
        groups
    }

    /// Counts a published 4919 in the totals (and the evidence tracker, if on).
    fn record(&mut self, groups: &[DataGroup], id: EventId) {
        self.published_4919 += 1;
        for g in groups.iter().filter(|g| !g.contents.is_empty()) {
            let totals = self.totals.entry((g.unit.clone(), g.epoch)).or_default();
            match &g.contents {
                GroupContents::Mint(entries) => {
                    totals.mint_count += entries.len() as u64;
                    totals.mint_amount += entries.iter().map(|e| e.amount.get()).sum::<u64>();
                }
                GroupContents::Burn(entries) => {
                    totals.burn_count += entries.len() as u64;
                    totals.burn_amount += entries.iter().map(|e| e.amount.get()).sum::<u64>();
                }
            }
            if let Some(track) = self.track.as_mut() {
                track
                    .entry((g.unit.clone(), g.epoch))
                    .or_default()
                    .insert(id);
            }
        }
    }

    fn identity_level(&self, started: bool) -> IdentityLevel {
        if !started {
            return IdentityLevel::Unbound;
        }
        match self.plan {
            IdentityPlan::Full | IdentityPlan::SelfSigned | IdentityPlan::SelfCompressed => {
                IdentityLevel::SelfSigned
            }
            IdentityPlan::OperatorOnly => IdentityLevel::Operator,
            IdentityPlan::Unbound => IdentityLevel::Unbound,
            IdentityPlan::MismatchOnly => match self.act.as_ref().map(|a| &a.stage) {
                Some(Stage::Done) => IdentityLevel::Mismatch,
                _ => IdentityLevel::Unbound,
            },
        }
    }

    fn stats(&self, started: bool) -> MintStats {
        let mut outstanding: BTreeMap<Unit, i128> = BTreeMap::new();
        for ((unit, _), totals) in &self.totals {
            *outstanding.entry(unit.clone()).or_default() += totals.outstanding();
        }
        let rated: Vec<f64> = self.reviews.values().filter_map(|r| *r).collect();
        MintStats {
            mint: self.key,
            pubkey: self.pubkey,
            name: self.name.clone(),
            url: self.url.clone(),
            role: self.role,
            identity: self.identity_level(started),
            groups: self.totals.clone(),
            outstanding,
            published_4919: self.published_4919,
            chain_len: self.chain_len,
            head: self.head,
            reviews: self.reviews.len(),
            distinct_reviewers: self.reviews.len(),
            rated_reviews: rated.len(),
            mean_rating: (!rated.is_empty())
                .then(|| rated.iter().sum::<f64>() / rated.len() as f64),
        }
    }
}

/// The simulator: call [`Simulator::next_round`] for as long as events are wanted.
#[derive(Debug)]
pub struct Simulator {
    config: SimConfig,
    /// Seeds special tokens and signing aux randomness.
    seed: [u8; 32],
    rng: ChaCha20Rng,
    round: u64,
    mints: Vec<MintState>,
    operator: Keys,
    reviewers: Vec<Keys>,
    expected: Vec<ExpectedFinding>,
    rejects: Vec<Reject>,
    /// The first review ever published (id, reviewer, mint): the one that gets deleted.
    first_review: Option<(EventId, usize, usize)>,
    deleted: Option<(usize, usize)>,
    /// Events a misbehaviour produced after the main batch of the mint being played.
    pending_out: Vec<SignedEvent>,
}

impl Simulator {
    /// A simulator for `config`; mints, operator and reviewers get their keys now.
    pub fn new(config: SimConfig) -> Result<Self, SimConfigError> {
        config.validate()?;
        let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let regular = ["sat", "usd"];
        let mut mints = Vec::new();
        for i in 0..config.honest_mints {
            let plan = match i % 4 {
                0 => IdentityPlan::Full,
                1 => IdentityPlan::SelfCompressed,
                2 => IdentityPlan::OperatorOnly,
                _ => IdentityPlan::Unbound,
            };
            mints.push(MintState::new(
                mints.len(),
                &mut rng,
                MintRole::Honest,
                plan,
                &regular,
            ));
        }
        for m in &config.misbehaviours {
            let plan = if m.kind == MisbehaviourKind::IdentityMismatch {
                IdentityPlan::MismatchOnly
            } else {
                IdentityPlan::SelfSigned
            };
            let mut state = MintState::new(
                mints.len(),
                &mut rng,
                MintRole::Misbehaving(m.kind),
                plan,
                &regular,
            );
            state.act = Some(Act {
                kind: m.kind,
                round: m.round,
                stage: Stage::Waiting,
            });
            match m.kind {
                MisbehaviourKind::IdentityMismatch => {
                    state.other_pubkey = Some(compressed(&draw_secret_key(&mut rng)));
                }
                MisbehaviourKind::LiabilityInversion => state.extra_units.push(unit("eur")),
                MisbehaviourKind::BalanceMismatch => state.track = Some(BTreeMap::new()),
                _ => {}
            }
            mints.push(state);
            if m.kind == MisbehaviourKind::CrossMintCollision {
                mints.push(MintState::new(
                    mints.len(),
                    &mut rng,
                    MintRole::CrossMintPartner,
                    IdentityPlan::SelfSigned,
                    &regular,
                ));
            }
        }
        let operator = Keys::new(draw_secret_key(&mut rng).into());
        let reviewers = (0..config.reviewers)
            .map(|_| Keys::new(draw_secret_key(&mut rng).into()))
            .collect();
        Ok(Self {
            config,
            seed,
            rng,
            round: 0,
            mints,
            operator,
            reviewers,
            expected: Vec::new(),
            rejects: Vec::new(),
            first_review: None,
            deleted: None,
            pending_out: Vec::new(),
        })
    }

    /// Plays `config.rounds` rounds and returns everything.
    pub fn run(config: SimConfig) -> Result<Simulation, SimConfigError> {
        let rounds = config.rounds;
        let mut sim = Self::new(config)?;
        let mut events = Vec::new();
        for _ in 0..rounds {
            events.extend(sim.next_round());
        }
        Ok(Simulation {
            events,
            expected: sim.expected.clone(),
            rejects: sim.rejects.clone(),
            stats: sim.stats(),
            wallet: sim.wallet(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The next round to be played (0 before the first call to [`Simulator::next_round`]).
    pub fn round(&self) -> u64 {
        self.round
    }

    /// The operator key that announces some mints.
    pub fn operator(&self) -> MintKey {
        #[allow(clippy::expect_used)]
        MintKey::from_x_only_bytes(self.operator.public_key().to_bytes())
            .expect("a nostr public key is a valid x-only key")
    }

    /// The findings proven by the events published so far (a two-round misbehaviour appears
    /// once its second round is played).
    pub fn expected_findings(&self) -> &[ExpectedFinding] {
        &self.expected
    }

    /// The events published so far that must be rejected.
    pub fn rejects(&self) -> &[Reject] {
        &self.rejects
    }

    /// Statistics per mint over the events published so far.
    pub fn stats(&self) -> BTreeMap<MintKey, MintStats> {
        self.mints
            .iter()
            .map(|m| (m.key, m.stats(self.round > 0)))
            .collect()
    }

    /// The wallets' secrets (for tests that unblind signatures).
    pub fn wallet(&self) -> Wallet {
        let mut wallet = Wallet::default();
        for m in &self.mints {
            wallet.insert(m.key, m.seed);
        }
        wallet
    }

    /// The size of the state that a long run carries from round to round besides the
    /// statistics: live keysets, pending misbehaviour memory and tracked evidence ids. It does not
    /// grow with the number of rounds. (The statistics grow by one entry per unit per key
    /// rotation, and the review map up to reviewers × mints.)
    pub fn working_set_len(&self) -> usize {
        self.mints
            .iter()
            .map(|m| {
                let cursors: usize = m.lanes.iter().map(|l| l.live.len()).sum();
                let tracked: usize = m
                    .track
                    .as_ref()
                    .map_or(0, |t| t.values().map(BTreeSet::len).sum());
                let pending = m
                    .act
                    .as_ref()
                    .is_some_and(|a| matches!(a.stage, Stage::Second { .. }))
                    as usize
                    + m.cross_due.is_some() as usize;
                cursors + tracked + pending
            })
            .sum()
    }

    /// Plays one round and returns its events in publication order.
    pub fn next_round(&mut self) -> Vec<SignedEvent> {
        let r = self.round;
        let t0 = self.config.start_time + r * self.config.round_interval_secs;
        let mut out = Vec::new();
        if r == 0 {
            for m in 0..self.mints.len() {
                self.identity_events(m, t0, &mut out);
            }
        }
        for m in 0..self.mints.len() {
            self.mint_round(m, r, t0, &mut out);
        }
        self.reviews(r, t0 + 4, &mut out);
        self.round += 1;
        out
    }

    fn sign(
        &self,
        keys: &Keys,
        kind: u16,
        content: String,
        tags: Vec<Vec<String>>,
        t: u64,
    ) -> SignedEvent {
        sign(&self.seed, keys, kind, content, tags, t)
    }

    fn identity_events(&self, m: usize, t: u64, out: &mut Vec<SignedEvent>) {
        let mint = &self.mints[m];
        let info = || {
            MintInfo::encode_content(&identity::info_json(
                &mint.name,
                &mint.pubkey,
                &mint.url,
                &mint.units(),
            ))
        };
        let announce = |keys: &Keys, d: String| {
            self.sign(
                keys,
                kinds::MINT_ANNOUNCEMENT,
                identity::announcement_content(&mint.name),
                identity::announcement_tags(d, &mint.url),
                t,
            )
        };
        match mint.plan {
            IdentityPlan::Full | IdentityPlan::SelfSigned => {
                out.push(self.sign(&mint.keys, kinds::MINT_INFO, info(), Vec::new(), t));
                out.push(announce(&mint.keys, mint.key.to_hex()));
            }
            IdentityPlan::SelfCompressed => out.push(announce(&mint.keys, mint.pubkey.to_hex())),
            IdentityPlan::OperatorOnly | IdentityPlan::Unbound | IdentityPlan::MismatchOnly => {}
        }
        if matches!(mint.plan, IdentityPlan::Full | IdentityPlan::OperatorOnly) {
            out.push(announce(&self.operator, mint.key.to_hex()));
        }
    }

    /// One mint's events of round `r`: its 4919 (with whatever its misbehaviour adds), extra
    /// events, and 1337s when its keys rotate.
    fn mint_round(&mut self, m: usize, r: u64, t0: u64, out: &mut Vec<SignedEvent>) {
        let (mints_n, burns_n) = (self.config.mints_per_batch, self.config.burns_per_batch);
        let mut groups = self.mints[m].regular_groups(mints_n, burns_n);
        let sat = self.mints[m].lanes[0].unit.clone();
        let sat_epoch = self.mints[m].current_epoch(0);
        let tag = |what: &str| format!("{what}-{m}");
        let prev = self.mints[m].head;
        let mut prev_for_main = prev;
        let mut after: Vec<SignedEvent> = Vec::new();
        let mut force_rotation = false;

        let act = self.mints[m]
            .act
            .clone()
            .filter(|a| a.round <= r && a.stage != Stage::Done);
        // What the misbehaviour adds to the main batch, and what it must do once that is signed.
        let mut finish: Option<Finish> = None;
        if let Some(act) = act {
            let mint = &self.mints[m];
            match (act.kind, &act.stage) {
                (MisbehaviourKind::DoubleSpend, Stage::Waiting) => {
                    let s: Vec<Token> = (0..4)
                        .map(|n| Token::special(&self.seed, &tag("double-spend"), n))
                        .collect();
                    groups.push(mint.special_mint_group(&sat, sat_epoch, &s));
                    groups.push(burn_group(&sat, sat_epoch, [&s[0], &s[2], &s[2]]));
                    let (y_twice, unit, ep) = (s[2].y, sat.clone(), sat_epoch);
                    finish = Some(Box::new(move |sim: &mut Self, id| {
                        let key = sim.mints[m].key;
                        sim.expected.push(ExpectedFinding {
                            kind: FindingKind::DoubleSpend,
                            mint: key,
                            events: BTreeSet::from([id]),
                            y: Some(y_twice),
                            unit: None,
                            epoch: None,
                        });
                        sim.set_stage(
                            m,
                            Stage::Second {
                                first: id,
                                unit,
                                epoch: ep,
                            },
                        );
                    }));
                }
                (MisbehaviourKind::DoubleSpend, Stage::Second { first, unit, epoch }) => {
                    let s0 = Token::special(&self.seed, &tag("double-spend"), 0);
                    groups.push(burn_group(unit, *epoch, [&s0]));
                    let (first, y) = (*first, s0.y);
                    finish = Some(Box::new(move |sim: &mut Self, id| {
                        let key = sim.mints[m].key;
                        sim.expected.push(ExpectedFinding {
                            kind: FindingKind::DoubleSpend,
                            mint: key,
                            events: BTreeSet::from([first, id]),
                            y: Some(y),
                            unit: None,
                            epoch: None,
                        });
                        sim.set_stage(m, Stage::Done);
                    }));
                }
                (MisbehaviourKind::CrossMintCollision, Stage::Waiting) => {
                    let shared = Token::special(&self.seed, &tag("cross-mint"), 0);
                    let filler = Token::special(&self.seed, &tag("cross-mint-filler"), 0);
                    groups.push(mint.special_mint_group(&sat, sat_epoch, &[filler]));
                    groups.push(burn_group(&sat, sat_epoch, [&shared]));
                    finish = Some(Box::new(move |sim: &mut Self, id| {
                        let other = sim.mints[m].key;
                        // The partner is created right after this mint, so it plays later in
                        // the same round.
                        if let Some(partner) = sim.mints.get_mut(m + 1) {
                            partner.cross_due = Some(CrossDue {
                                token: shared,
                                other,
                                other_event: id,
                            });
                        }
                        sim.set_stage(m, Stage::Done);
                    }));
                }
                (MisbehaviourKind::Fork, Stage::Waiting) if prev.is_some() => {
                    let sibling = vec![mint.special_mint_group(
                        &sat,
                        sat_epoch,
                        &[Token::special(&self.seed, &tag("fork"), 0)],
                    )];
                    finish = Some(Box::new(move |sim: &mut Self, id| {
                        let b = sim.publish_4919(m, sibling, prev, t0 + 2, false);
                        let key = sim.mints[m].key;
                        sim.expected.push(ExpectedFinding {
                            kind: FindingKind::Fork,
                            mint: key,
                            events: BTreeSet::from([id, b.id]),
                            y: None,
                            unit: None,
                            epoch: None,
                        });
                        sim.set_stage(m, Stage::Done);
                        sim.pending_out.push(b);
                    }));
                }
                (MisbehaviourKind::Gap, Stage::Waiting) => {
                    let hidden = CashuData {
                        groups: vec![mint.special_mint_group(
                            &sat,
                            sat_epoch,
                            &[Token::special(&self.seed, &tag("gap"), 0)],
                        )],
                        prev,
                    };
                    let never_published = self.sign(
                        &mint.keys,
                        kinds::CASHU_DATA,
                        hidden.encode_content(),
                        e_tags(prev),
                        t0 + 1,
                    );
                    prev_for_main = Some(never_published.id);
                    finish = Some(Box::new(move |sim: &mut Self, id| {
                        let key = sim.mints[m].key;
                        sim.expected.push(ExpectedFinding {
                            kind: FindingKind::Gap,
                            mint: key,
                            events: BTreeSet::from([id]),
                            y: None,
                            unit: None,
                            epoch: None,
                        });
                        sim.set_stage(m, Stage::Done);
                    }));
                }
                (MisbehaviourKind::LiabilityInversion, Stage::Waiting) => {
                    let (eur, ep) = (unit("eur"), epoch(0));
                    let l: Vec<Token> = (0..2)
                        .map(|n| Token::special(&self.seed, &tag("liability"), n))
                        .collect();
                    groups.push(mint.special_mint_group(&eur, ep, &l));
                    finish = Some(Box::new(move |sim: &mut Self, id| {
                        sim.set_stage(
                            m,
                            Stage::Second {
                                first: id,
                                unit: eur,
                                epoch: ep,
                            },
                        );
                    }));
                }
                (MisbehaviourKind::LiabilityInversion, Stage::Second { first, unit, epoch }) => {
                    let l: Vec<Token> = (0..3)
                        .map(|n| Token::special(&self.seed, &tag("liability"), n))
                        .collect();
                    groups.push(burn_group(unit, *epoch, l.iter()));
                    let (first, unit, ep) = (*first, unit.clone(), *epoch);
                    finish = Some(Box::new(move |sim: &mut Self, id| {
                        let key = sim.mints[m].key;
                        sim.expected.push(ExpectedFinding {
                            kind: FindingKind::LiabilityInversion,
                            mint: key,
                            events: BTreeSet::from([first, id]),
                            y: None,
                            unit: Some(unit),
                            epoch: Some(ep),
                        });
                        sim.set_stage(m, Stage::Done);
                    }));
                }
                (MisbehaviourKind::BalanceMismatch, Stage::Waiting) => force_rotation = true,
                (MisbehaviourKind::IdentityMismatch, Stage::Waiting) => {
                    if let Some(other) = mint.other_pubkey {
                        let content = MintInfo::encode_content(&identity::info_json(
                            &mint.name,
                            &other,
                            &mint.url,
                            &mint.units(),
                        ));
                        let ev = self.sign(&mint.keys, kinds::MINT_INFO, content, Vec::new(), t0);
                        self.expected.push(ExpectedFinding {
                            kind: FindingKind::IdentityMismatch,
                            mint: mint.key,
                            events: BTreeSet::from([ev.id]),
                            y: None,
                            unit: None,
                            epoch: None,
                        });
                        out.push(ev);
                    }
                    self.set_stage(m, Stage::Done);
                }
                (MisbehaviourKind::Forged, Stage::Waiting) if prev.is_some() => {
                    after.extend(self.forged_events(m, prev, t0 + 2));
                    self.set_stage(m, Stage::Done);
                }
                (MisbehaviourKind::Malformed, Stage::Waiting) => {
                    after.extend(self.malformed_events(m, sat_epoch, t0 + 2));
                    self.set_stage(m, Stage::Done);
                }
                _ => {}
            }
        }

        let cross = self.mints[m].cross_due.take();
        if let Some(due) = &cross {
            groups.push(self.mints[m].special_mint_group(
                &sat,
                sat_epoch,
                std::slice::from_ref(&due.token),
            ));
            groups.push(burn_group(&sat, sat_epoch, [&due.token]));
        }

        let main = self.publish_4919(m, groups, prev_for_main, t0 + 1, true);
        let main_id = main.id;
        out.push(main);
        if let Some(finish) = finish {
            finish(self, main_id);
        }
        out.append(&mut self.pending_out);
        out.append(&mut after);
        if let Some(due) = cross {
            let me = self.mints[m].key;
            for mint in [due.other, me] {
                self.expected.push(ExpectedFinding {
                    kind: FindingKind::CrossMintCollision,
                    mint,
                    events: BTreeSet::from([due.other_event, main_id]),
                    y: Some(due.token.y),
                    unit: None,
                    epoch: None,
                });
            }
        }

        let every = self.config.rotate_every;
        let due = every > 0 && r > 0 && (r + m as u64) % every == 0;
        if due || force_rotation {
            self.rotate(m, force_rotation, t0 + 3, out);
        }
    }

    fn set_stage(&mut self, m: usize, stage: Stage) {
        if let Some(act) = self.mints[m].act.as_mut() {
            act.stage = stage;
        }
    }

    /// Signs a 4919 of mint `m` and counts it. `main` events extend the chain.
    fn publish_4919(
        &mut self,
        m: usize,
        groups: Vec<DataGroup>,
        prev: Option<EventId>,
        t: u64,
        main: bool,
    ) -> SignedEvent {
        let data = CashuData { groups, prev };
        let ev = self.sign(
            &self.mints[m].keys,
            kinds::CASHU_DATA,
            data.encode_content(),
            e_tags(prev),
            t,
        );
        let mint = &mut self.mints[m];
        mint.record(&data.groups, ev.id);
        if main {
            mint.chain_len = match prev {
                Some(p) if Some(p) == mint.head => mint.chain_len + 1,
                // A first batch, or one whose predecessor is never published (a gap).
                _ => 1,
            };
            mint.head = Some(ev.id);
        }
        ev
    }

    /// Closes the current epoch of every unit with a 1337 and starts the next keyset.
    fn rotate(&mut self, m: usize, wrong_sat: bool, t: u64, out: &mut Vec<SignedEvent>) {
        let live_epochs = self.config.live_epochs;
        for li in 0..self.mints[m].lanes.len() {
            let mint = &self.mints[m];
            let lane = &mint.lanes[li];
            let closing = mint.current_epoch(li);
            let truth = mint
                .totals
                .get(&(lane.unit.clone(), closing))
                .map_or(0, GroupTotals::outstanding);
            let truth = u64::try_from(truth).unwrap_or(0);
            let wrong = wrong_sat && li == 0;
            let fin = FinEpoch {
                epoch: closing,
                outstanding_balance: if wrong { truth + BALANCE_ERROR } else { truth },
                unit: lane.unit.clone(),
                prev: lane.last_fin,
            };
            let content = if closing.get() % 2 == 0 {
                fin.encode_content_json()
            } else {
                fin.encode_content_cbor()
            };
            let ev = self.sign(&mint.keys, kinds::FIN_EPOCH, content, e_tags(fin.prev), t);
            if wrong {
                let mut events = mint
                    .track
                    .as_ref()
                    .and_then(|t| t.get(&(lane.unit.clone(), closing)))
                    .cloned()
                    .unwrap_or_default();
                events.insert(ev.id);
                self.expected.push(ExpectedFinding {
                    kind: FindingKind::BalanceMismatch,
                    mint: mint.key,
                    events,
                    y: None,
                    unit: Some(lane.unit.clone()),
                    epoch: Some(closing),
                });
            }
            let seed = self.mints[m].seed;
            let lane = &mut self.mints[m].lanes[li];
            lane.last_fin = Some(ev.id);
            let next = epoch(closing.get() + 1);
            lane.live.push_back(Cursor {
                epoch: next,
                k: keyset_key(&seed, &lane.unit, next),
                minted: 0,
                burnt: 0,
            });
            while lane.live.len() > live_epochs {
                lane.live.pop_front();
            }
            out.push(ev);
        }
        if wrong_sat {
            // The evidence is taken; stop tracking.
            self.mints[m].track = None;
            self.set_stage(m, Stage::Done);
        }
    }

    /// Two 4919 events under mint `m`'s key that must fail verification. Both name the mint's
    /// head, so accepting either would fake a fork.
    fn forged_events(&mut self, m: usize, prev: Option<EventId>, t: u64) -> Vec<SignedEvent> {
        let mint = &self.mints[m];
        let (sat, ep) = (mint.lanes[0].unit.clone(), mint.current_epoch(0));
        let content = |n| {
            let token = Token::special(&self.seed, &format!("forged-{m}"), n);
            CashuData {
                groups: vec![mint.special_mint_group(&sat, ep, &[token])],
                prev,
            }
            .encode_content()
        };
        let mut bad_sig = self.sign(&mint.keys, kinds::CASHU_DATA, content(0), e_tags(prev), t);
        bad_sig.sig[63] ^= 0x01;
        let mut changed = self.sign(&mint.keys, kinds::CASHU_DATA, content(1), e_tags(prev), t);
        changed.content = content(2);
        let key = mint.key;
        self.rejects.push(Reject {
            id: bad_sig.id,
            mint: key,
            reason: RejectReason::BadSignature,
        });
        self.rejects.push(Reject {
            id: changed.id,
            mint: key,
            reason: RejectReason::ContentChangedAfterSigning,
        });
        vec![bad_sig, changed]
    }

    /// Two validly signed 4919 events of mint `m` whose content must be refused. They carry no
    /// `e`, so they touch no chain.
    fn malformed_events(&mut self, m: usize, ep: Epoch, t: u64) -> Vec<SignedEvent> {
        use ciborium::Value;
        let mint = &self.mints[m];
        let bad_base64 = self.sign(
            &mint.keys,
            kinds::CASHU_DATA,
            "%%% this is not base64 %%%".into(),
            Vec::new(),
            t,
        );
        // x = 5 is not the x coordinate of any secp256k1 point (5^3 + 7 is not a square).
        let off_curve = format!("02{:064x}", 5);
        let text = |s: &str| Value::Text(s.into());
        let cbor = Value::Array(vec![Value::Map(vec![
            (text("epoch"), Value::Integer(ep.get().into())),
            (text("event"), text("BURN")),
            (text("unit"), text("sat")),
            (
                text("contents"),
                Value::Array(vec![Value::Map(vec![
                    (text("Y"), Value::Text(off_curve)),
                    (text("amount"), Value::Integer(8.into())),
                ])]),
            ),
        ])]);
        let mut bytes = Vec::new();
        // Writing CBOR into a Vec cannot fail for plain maps, arrays and scalars.
        let _ = ciborium::into_writer(&cbor, &mut bytes);
        let content = base64::engine::general_purpose::STANDARD.encode(bytes);
        let off = self.sign(&mint.keys, kinds::CASHU_DATA, content, Vec::new(), t);
        let key = mint.key;
        self.rejects.push(Reject {
            id: bad_base64.id,
            mint: key,
            reason: RejectReason::BadBase64,
        });
        self.rejects.push(Reject {
            id: off.id,
            mint: key,
            reason: RejectReason::OffCurvePoint,
        });
        vec![bad_base64, off]
    }

    /// This round's reviews (and, in the round after the first review, its deletion).
    fn reviews(&mut self, r: u64, t: u64, out: &mut Vec<SignedEvent>) {
        if r > 0 && self.deleted.is_none() {
            if let Some((id, j, m)) = self.first_review {
                let ev = self.sign(
                    &self.reviewers[j],
                    kinds::DELETION,
                    "withdrawn".into(),
                    vec![
                        vec!["e".into(), id.to_hex()],
                        vec!["k".into(), kinds::RECOMMENDATION.to_string()],
                    ],
                    t,
                );
                self.mints[m].reviews.remove(&j);
                self.deleted = Some((j, m));
                out.push(ev);
            }
        }
        if self.reviewers.is_empty() || self.mints.is_empty() {
            return;
        }
        let mut this_round = BTreeSet::new();
        for n in 0..self.config.reviews_per_round {
            let j = self.rng.gen_range(0..self.reviewers.len());
            let m = self.rng.gen_range(0..self.mints.len());
            let style = self.rng.gen_range(0..10u8);
            let tenths = [10u8, 20, 30, 35, 40, 45, 50][self.rng.gen_range(0..7usize)];
            // One review per (author, mint) per round, so replacements never share a timestamp;
            // the deleted pair stays deleted.
            if self.deleted == Some((j, m)) || !this_round.insert((j, m)) {
                continue;
            }
            let mint = &self.mints[m];
            let rating = f64::from(tenths) / 10.0;
            let shown = if tenths % 10 == 0 {
                format!("{}", tenths / 10)
            } else {
                format!("{rating:.1}")
            };
            let announcer = match mint.plan {
                IdentityPlan::OperatorOnly => self.operator.public_key().to_hex(),
                _ => mint.key.to_hex(),
            };
            let mut tags = vec![
                vec!["d".into(), mint.key.to_hex()],
                vec!["k".into(), kinds::MINT_ANNOUNCEMENT.to_string()],
                vec!["u".into(), mint.url.as_str().into(), "cashu".into()],
                vec![
                    "a".into(),
                    identity::coordinate(&announcer, &mint.key),
                    String::new(),
                    "cashu".into(),
                ],
            ];
            let text = format!("Simulated review {r}.{n} of {}", mint.name);
            let (content, rated) = match style {
                0..=3 => {
                    tags.push(vec!["rating".into(), shown]);
                    (text, Some(rating))
                }
                4..=5 => {
                    tags.push(vec!["rating".into(), shown, "5".into()]);
                    (text, Some(rating))
                }
                6..=8 => (format!("[{shown}/5] {text}"), Some(rating)),
                _ => (text, None),
            };
            let ev = self.sign(&self.reviewers[j], kinds::RECOMMENDATION, content, tags, t);
            self.mints[m].reviews.insert(j, rated);
            if self.first_review.is_none() {
                self.first_review = Some((ev.id, j, m));
            }
            out.push(ev);
        }
    }
}

fn e_tags(prev: Option<EventId>) -> Vec<Vec<String>> {
    prev.map(|p| vec!["e".to_string(), p.to_hex()])
        .into_iter()
        .collect()
}

fn burn_group<'a>(
    unit: &Unit,
    epoch: Epoch,
    tokens: impl IntoIterator<Item = &'a Token>,
) -> DataGroup {
    DataGroup {
        epoch,
        unit: unit.clone(),
        contents: GroupContents::Burn(tokens.into_iter().map(Token::burn_entry).collect()),
    }
}
