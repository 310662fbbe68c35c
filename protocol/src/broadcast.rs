//! The Nostr Broadcast draft (cashubtc/nuts PR #155): a mint's identity (11467), its batches of
//! burnt `Y`s and issued signatures (4919) and its closed-epoch balances (1337). Each kind has a
//! parser (tolerant of the shapes seen in the wild, strict on values) and an encoder (used by the
//! simulator), and `decode(encode(x)) == x`.

use crate::event::EventId;
use crate::types::{Amount, Epoch, MintUrl, Point, Unit};

/// A parsed kind 11467: the mint's NUT-06 `GetInfoResponse`.
#[derive(Debug, Clone, PartialEq)]
pub struct MintInfo {
    /// The content's `pubkey` (compressed), if present and valid.
    pub pubkey: Option<Point>,
    /// `name`.
    pub name: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `urls`, normalised; invalid ones skipped.
    pub urls: Vec<MintUrl>,
    /// The NUT numbers listed under `nuts`, sorted.
    pub nuts: Vec<u16>,
    /// Units supported (from NUT-04/05 methods), sorted and deduplicated.
    pub units: Vec<Unit>,
    /// The whole content as JSON, for display.
    pub raw: serde_json::Value,
}

/// `MINT` or `BURN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataEvent {
    /// Blind signatures issued.
    Mint,
    /// Secrets redeemed.
    Burn,
}

/// A redeemed secret: `Y = hash_to_curve(secret)` and its amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BurnEntry {
    /// The burnt `Y`.
    pub y: Point,
    /// Its amount.
    pub amount: Amount,
}

/// An issued blind signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MintEntry {
    /// The blinded message `B_`.
    pub b_: Point,
    /// The blind signature `C_`.
    pub c_: Point,
    /// Its amount.
    pub amount: Amount,
}

/// The entries of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupContents {
    /// `event = "BURN"`.
    Burn(Vec<BurnEntry>),
    /// `event = "MINT"`.
    Mint(Vec<MintEntry>),
}

/// One element of a 4919's array: entries of one kind, unit and epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataGroup {
    /// The epoch of the keyset that signed the tokens.
    pub epoch: Epoch,
    /// The unit.
    pub unit: Unit,
    /// The entries.
    pub contents: GroupContents,
}

/// A parsed kind 4919.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CashuData {
    /// The groups, in order.
    pub groups: Vec<DataGroup>,
    /// The `e` tag: the mint's previous 4919, if named.
    pub prev: Option<EventId>,
}

/// A parsed kind 1337.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinEpoch {
    /// The closed epoch.
    pub epoch: Epoch,
    /// Outstanding balance claimed for (unit, epoch).
    pub outstanding_balance: u64,
    /// The unit.
    pub unit: Unit,
    /// The `e` tag: the previous 1337 of the same unit, if named.
    pub prev: Option<EventId>,
}
