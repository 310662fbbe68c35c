//! Kind 11467 (`MINT_INFO`): a mint's identity, its NUT-06 `GetInfoResponse` as base64 of CBOR
//! or as JSON; only the shape is required, and invalid fields are left out.

use super::content::{base64_cbor, check_content_size, json_or_base64_cbor};
use crate::error::ParseError;
use crate::event::SignedEvent;
use crate::kinds::MINT_INFO;
use crate::types::{MintUrl, Point, Unit};

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

impl MintInfo {
    /// The content of a 11467: base64 of CBOR of the NUT-06 `GetInfoResponse` given as JSON.
    pub fn encode_content(info: &serde_json::Value) -> String {
        base64_cbor(info)
    }
}

fn json_str(obj: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(|v| v.as_str()).map(str::to_string)
}

/// Units named by the `methods` of one NUT (4 = mint, 5 = melt) of a `GetInfoResponse`.
fn method_units<'a>(
    nuts: Option<&'a serde_json::Map<String, serde_json::Value>>,
    nut: &'a str,
) -> impl Iterator<Item = Unit> + 'a {
    nuts.and_then(|n| n.get(nut))
        .and_then(|n| n.get("methods"))
        .and_then(|m| m.as_array())
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("unit").and_then(|u| u.as_str()))
        .filter_map(|u| Unit::parse(u).ok())
}

impl MintInfo {
    /// Parses a kind 11467: content = base64 of CBOR of a NUT-06 `GetInfoResponse`, or the same
    /// as a JSON object. Only the shape is required (an object); every field is optional, and an
    /// invalid `pubkey`, URL or unit is left out rather than refusing the event.
    pub fn parse(event: &SignedEvent) -> Result<Self, ParseError> {
        event.expect_kind(MINT_INFO)?;
        Self::decode_content(&event.content)
    }

    /// Decodes a 11467 content (see [`MintInfo::parse`]).
    pub fn decode_content(content: &str) -> Result<Self, ParseError> {
        check_content_size(content)?;
        let raw = json_or_base64_cbor(content)?;
        let obj = raw
            .as_object()
            .ok_or_else(|| ParseError::malformed("content", "expected a GetInfoResponse object"))?;
        let pubkey = obj
            .get("pubkey")
            .and_then(|v| v.as_str())
            .and_then(|s| Point::parse(s).ok());
        let mut urls: Vec<MintUrl> = Vec::new();
        for url in obj
            .get("urls")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|u| u.as_str())
            .filter_map(|u| MintUrl::parse(u).ok())
        {
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
        let nuts_map = obj.get("nuts").and_then(|v| v.as_object());
        let mut nuts: Vec<u16> = nuts_map
            .into_iter()
            .flat_map(|m| m.keys())
            .filter_map(|k| k.trim().parse().ok())
            .collect();
        nuts.sort_unstable();
        nuts.dedup();
        let mut units: Vec<Unit> = method_units(nuts_map, "4")
            .chain(method_units(nuts_map, "5"))
            .collect();
        units.sort();
        units.dedup();
        Ok(Self {
            pubkey,
            name: json_str(obj, "name"),
            description: json_str(obj, "description"),
            urls,
            nuts,
            units,
            raw,
        })
    }

    /// Whether the signer of the event is the mint named by the content `pubkey` (its x
    /// coordinate, PROTOCOL.md §1); `None` when the content names no valid `pubkey`.
    pub fn signer_matches(&self, signer: &[u8; 32]) -> Option<bool> {
        self.pubkey.map(|p| p.x_only().as_bytes() == signer)
    }
}
