//! Kind 1337 (`CASHU_FIN_EPOCH`): a mint's outstanding balance for one closed (unit, epoch), as
//! JSON or base64 of CBOR. Kind 1337 is also NIP-C0 code snippets, so content that is not ours is
//! told apart from content that is ours and wrong.

use super::content::{base64_cbor, check_content_size, json_or_base64_cbor, prev_from_tags};
use crate::error::{ParseError, Reason};
use crate::event::{EventId, SignedEvent};
use crate::kinds::FIN_EPOCH;
use crate::types::{Epoch, Unit};

/// A parsed kind 1337.
///
/// `outstanding_balance` is accepted in 0..2^63 (like [`Amount`](crate::types::Amount), so it fits a Postgres `bigint`).
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

const FIN_EPOCH_KEYS: [&str; 3] = ["epoch", "outstanding_balance", "unit"];

fn json_u64(
    obj: &serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<u64, ParseError> {
    let value = obj.get(key).ok_or_else(|| ParseError::missing(key))?;
    if let Some(v) = value.as_u64() {
        if v > i64::MAX as u64 {
            return Err(ParseError::new(
                key,
                Reason::OutOfRange(format!("{v} is not below 2^63")),
            ));
        }
        return Ok(v);
    }
    if value.as_i64().is_some() {
        return Err(ParseError::new(
            key,
            Reason::OutOfRange("negative".to_string()),
        ));
    }
    Err(ParseError::malformed(
        key,
        "expected a non-negative integer",
    ))
}

impl FinEpoch {
    /// Parses a kind 1337. Kind 1337 is also NIP-C0 code snippets: content that is not a
    /// JSON or CBOR object carrying at least one of `epoch`, `outstanding_balance`, `unit` is
    /// [`Reason::NotForUs`]; an object that carries them with bad values is an error of that field.
    pub fn parse(event: &SignedEvent) -> Result<Self, ParseError> {
        event.expect_kind(FIN_EPOCH)?;
        let mut parsed = Self::decode_content(&event.content)?;
        parsed.prev = prev_from_tags(event)?;
        Ok(parsed)
    }

    /// Decodes a 1337 content (JSON or base64 CBOR); `prev` is left `None`.
    pub fn decode_content(content: &str) -> Result<Self, ParseError> {
        check_content_size(content)?;
        let not_ours = |why: &str| ParseError::new("content", Reason::NotForUs(why.to_string()));
        let value =
            json_or_base64_cbor(content).map_err(|_| not_ours("neither JSON nor base64 CBOR"))?;
        let Some(obj) = value.as_object() else {
            return Err(not_ours("not an object"));
        };
        if !FIN_EPOCH_KEYS.iter().any(|k| obj.contains_key(*k)) {
            return Err(not_ours("no CASHU_FIN_EPOCH field"));
        }
        let epoch = Epoch::new(json_u64(obj, "epoch")?)?;
        let outstanding_balance = json_u64(obj, "outstanding_balance")?;
        let unit = match obj.get("unit") {
            None => return Err(ParseError::missing("unit")),
            Some(serde_json::Value::String(s)) => Unit::parse(s)?,
            Some(_) => return Err(ParseError::malformed("unit", "expected text")),
        };
        Ok(Self {
            epoch,
            outstanding_balance,
            unit,
            prev: None,
        })
    }
}
