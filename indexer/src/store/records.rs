//! What the store hands back: typed rows, parsed from the database's columns at the edge.

use std::collections::BTreeSet;

use mintwatch_protocol::{
    Amount, Epoch, EventId, FindingKind, IdentityLevel, MintKey, Point, Unit,
};

use super::StoreError;

/// What one [`Store::write_batch`](super::Store::write_batch) changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Events inserted by this batch (not previously stored), in batch order.
    pub new_events: Vec<EventId>,
    /// Mints whose stored data changed (new events about them, new sightings of their events,
    /// reviews of them added or deleted): the analyze stage updates only these.
    pub changed_mints: BTreeSet<MintKey>,
    /// BURN entries written.
    pub burns: u64,
    /// MINT entries written.
    pub issued: u64,
    /// (event, relay) sightings that were new.
    pub new_sightings: u64,
}

/// One stored BURN entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BurnRecord {
    /// The burnt `Y`.
    pub y: Point,
    /// The mint that burnt it (the 4919's signer).
    pub mint: MintKey,
    /// The 4919 event.
    pub event_id: EventId,
    /// Position of the entry in its event, groups flattened.
    pub pos: u32,
    /// Amount.
    pub amount: Amount,
    /// Unit.
    pub unit: Unit,
    /// Epoch.
    pub epoch: Epoch,
}

/// A mint's totals for one (unit, epoch), over all its stored 4919 events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintStat {
    /// Unit.
    pub unit: Unit,
    /// Epoch.
    pub epoch: Epoch,
    /// BURN entries.
    pub burn_count: u64,
    /// Sum of BURN amounts (may exceed 2^63).
    pub burn_amount: u128,
    /// MINT entries.
    pub mint_count: u64,
    /// Sum of MINT amounts.
    pub mint_amount: u128,
}

/// One 4919 in a mint's publication chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    /// The 4919 event.
    pub event_id: EventId,
    /// Its `created_at`.
    pub created_at: u64,
    /// Its `e` tag, if any.
    pub prev: Option<EventId>,
}

/// One stored 1337.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinEpochRecord {
    /// The 1337 event.
    pub event_id: EventId,
    /// Its `created_at`.
    pub created_at: u64,
    /// Unit.
    pub unit: Unit,
    /// The closed epoch.
    pub epoch: Epoch,
    /// The balance the mint claims is outstanding.
    pub outstanding_balance: u64,
    /// Its `e` tag, if any.
    pub prev: Option<EventId>,
}

/// A refusal counter of one relay.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RelayCounter {
    /// Reason label.
    pub reason: String,
    /// Event kind, when known.
    pub kind: Option<u16>,
    /// How many.
    pub count: u64,
}

/// The live 38172 of one (author, d).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncementRecord {
    /// The winning event.
    pub event_id: EventId,
    /// Its `created_at`.
    pub created_at: u64,
    /// The mint `d` names, when it is a key.
    pub mint: Option<MintKey>,
    /// Normalised URLs.
    pub urls: Vec<String>,
    /// NUT numbers.
    pub nuts: Vec<u16>,
    /// Network name, if given.
    pub network: Option<String>,
    /// Name from the content, if any.
    pub name: Option<String>,
}

/// A live review.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewRecord {
    /// The 38000 event.
    pub event_id: EventId,
    /// The reviewer.
    pub author: [u8; 32],
    /// Canonical target text (see [`review_target_text`](super::review_target_text)).
    pub target: String,
    /// The mint the target names, if it names a key.
    pub target_mint: Option<MintKey>,
    /// 1.0..=5.0, if rated.
    pub rating: Option<f64>,
    /// Review text.
    pub text: String,
    /// Its `created_at`.
    pub created_at: u64,
}

/// A mint's directory row.
#[derive(Debug, Clone, PartialEq)]
pub struct MintRecord {
    /// The mint key.
    pub key: MintKey,
    /// Identity level (§1).
    pub identity: IdentityLevel,
    /// URLs.
    pub urls: Vec<String>,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Units.
    pub units: Vec<String>,
    /// NUTs.
    pub nuts: Vec<u16>,
    /// Network.
    pub network: Option<String>,
    /// `created_at` of the first event about the mint.
    pub first_seen: u64,
    /// `created_at` of the last event about the mint.
    pub last_seen: u64,
    /// `created_at` of the last event signed by the mint key itself.
    pub last_active: Option<u64>,
    /// Rank 0..100, once ranked.
    pub rank: Option<f32>,
    /// The rank's components.
    pub rank_components: serde_json::Value,
    /// Events about the mint.
    pub event_count: u64,
    /// BURN entries, all units.
    pub burn_count: u64,
    /// MINT entries, all units.
    pub mint_count: u64,
}

/// A finding to record (or update, when one with the same mint, kind and key exists).
#[derive(Debug, Clone, PartialEq)]
pub struct NewFinding {
    /// The mint it is about.
    pub mint: MintKey,
    /// What it is.
    pub kind: FindingKind,
    /// What makes it one finding, chosen by whoever derives it (e.g. the `Y` of a double-spend,
    /// `<unit>:<epoch>` of a liability inversion): re-deriving it updates the same row.
    pub key: String,
    /// The `Y`, for double-spends and collisions.
    pub y: Option<Point>,
    /// The unit, when the finding is per unit.
    pub unit: Option<Unit>,
    /// The epoch, when the finding is per epoch.
    pub epoch: Option<Epoch>,
    /// The signed events that prove it.
    pub event_ids: Vec<EventId>,
    /// Totals and anything else worth showing.
    pub detail: serde_json::Value,
}

pub(crate) fn event_id(bytes: &[u8], field: &'static str) -> Result<EventId, StoreError> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::corrupt(field, format!("{} bytes", bytes.len())))?;
    Ok(EventId(arr))
}

pub(crate) fn mint_key(bytes: &[u8], field: &'static str) -> Result<MintKey, StoreError> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::corrupt(field, format!("{} bytes", bytes.len())))?;
    MintKey::from_x_only_bytes(arr).map_err(|e| StoreError::corrupt(field, e))
}

pub(crate) fn point(bytes: &[u8], field: &'static str) -> Result<Point, StoreError> {
    Point::from_bytes(bytes).map_err(|e| StoreError::corrupt(field, e))
}

pub(crate) fn unit(s: &str, field: &'static str) -> Result<Unit, StoreError> {
    Unit::parse(s).map_err(|e| StoreError::corrupt(field, e))
}

pub(crate) fn epoch(v: i64, field: &'static str) -> Result<Epoch, StoreError> {
    Epoch::from_i128(v.into()).map_err(|e| StoreError::corrupt(field, e))
}

pub(crate) fn amount(v: i64, field: &'static str) -> Result<Amount, StoreError> {
    Amount::from_i128(v.into()).map_err(|e| StoreError::corrupt(field, e))
}

pub(crate) fn unsigned(v: i64, field: &'static str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|e| StoreError::corrupt(field, e))
}

pub(crate) fn nuts(v: Vec<i32>, field: &'static str) -> Result<Vec<u16>, StoreError> {
    v.into_iter()
        .map(|n| u16::try_from(n).map_err(|e| StoreError::corrupt(field, e)))
        .collect()
}
