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

fn base64_cbor<T: serde::Serialize>(value: &T) -> String {
    use base64::Engine;
    let mut bytes = Vec::new();
    // Writing CBOR into a Vec cannot fail for values built from plain maps, arrays and scalars.
    if ciborium::into_writer(value, &mut bytes).is_err() {
        bytes.clear();
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl DataEvent {
    /// `"MINT"` or `"BURN"`, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DataEvent::Mint => "MINT",
            DataEvent::Burn => "BURN",
        }
    }
}

impl GroupContents {
    /// Whether this group is `MINT` or `BURN`.
    pub fn event(&self) -> DataEvent {
        match self {
            GroupContents::Burn(_) => DataEvent::Burn,
            GroupContents::Mint(_) => DataEvent::Mint,
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        match self {
            GroupContents::Burn(v) => v.len(),
            GroupContents::Mint(v) => v.len(),
        }
    }

    /// Whether the group has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl CashuData {
    /// The content of a 4919 as the draft writes it: base64 (standard, padded) of CBOR, with
    /// points as lowercase text hex.
    pub fn encode_content(&self) -> String {
        use ciborium::Value;
        let text = |s: &str| Value::Text(s.to_string());
        let groups: Vec<Value> = self
            .groups
            .iter()
            .map(|g| {
                let contents: Vec<Value> = match &g.contents {
                    GroupContents::Burn(entries) => entries
                        .iter()
                        .map(|e| {
                            Value::Map(vec![
                                (text("Y"), Value::Text(e.y.to_hex())),
                                (text("amount"), Value::Integer(e.amount.get().into())),
                            ])
                        })
                        .collect(),
                    GroupContents::Mint(entries) => entries
                        .iter()
                        .map(|e| {
                            Value::Map(vec![
                                (text("B_"), Value::Text(e.b_.to_hex())),
                                (text("C_"), Value::Text(e.c_.to_hex())),
                                (text("amount"), Value::Integer(e.amount.get().into())),
                            ])
                        })
                        .collect(),
                };
                Value::Map(vec![
                    (text("epoch"), Value::Integer(g.epoch.get().into())),
                    (text("event"), text(g.contents.event().as_str())),
                    (text("unit"), text(g.unit.as_str())),
                    (text("contents"), Value::Array(contents)),
                ])
            })
            .collect();
        base64_cbor(&Value::Array(groups))
    }

    /// The number of entries over all groups.
    pub fn entry_count(&self) -> usize {
        self.groups.iter().map(|g| g.contents.len()).sum()
    }
}

impl MintInfo {
    /// The content of a 11467: base64 of CBOR of the NUT-06 `GetInfoResponse` given as JSON.
    pub fn encode_content(info: &serde_json::Value) -> String {
        base64_cbor(info)
    }
}

impl FinEpoch {
    /// The content of a 1337 as JSON.
    pub fn encode_content_json(&self) -> String {
        serde_json::json!({
            "epoch": self.epoch.get(),
            "outstanding_balance": self.outstanding_balance,
            "unit": self.unit.as_str(),
        })
        .to_string()
    }

    /// The content of a 1337 as base64 of CBOR.
    pub fn encode_content_cbor(&self) -> String {
        base64_cbor(&serde_json::json!({
            "epoch": self.epoch.get(),
            "outstanding_balance": self.outstanding_balance,
            "unit": self.unit.as_str(),
        }))
    }
}
