//! The steps every Broadcast kind's content shares: the size check, base64 and CBOR (decoding
//! with bounded depth, and encoding for the simulator), CBOR read as JSON for the shapes JSON and
//! CBOR share, and the optional `e` tag naming the previous event.

use ciborium::Value as Cbor;

use crate::error::{ParseError, Reason};
use crate::event::{EventId, SignedEvent};
use crate::kinds::MAX_EVENT_JSON_BYTES;

/// How deep CBOR may nest. The draft's shapes need 4 levels (array, group, contents, entry) and a
/// `GetInfoResponse` about 7; ciborium's default of 256 risks the stack of a small thread when
/// each level costs a few kilobytes in a debug build.
const CBOR_DEPTH_LIMIT: usize = 64;

/// Base64 (standard, padded) of `value` as CBOR: the content encoding the draft uses.
pub(super) fn base64_cbor<T: serde::Serialize>(value: &T) -> String {
    use base64::Engine;
    let mut bytes = Vec::new();
    // Writing CBOR into a Vec cannot fail for values built from plain maps, arrays and scalars.
    if ciborium::into_writer(value, &mut bytes).is_err() {
        bytes.clear();
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Refuses content over the event limit before any decoding, so every later step (base64, CBOR,
/// JSON) works on a bounded input: at most one decoded item per input byte, so a hostile 512 KiB
/// content costs tens of megabytes at worst, briefly, and never more.
pub(super) fn check_content_size(content: &str) -> Result<(), ParseError> {
    if content.len() > MAX_EVENT_JSON_BYTES {
        return Err(ParseError::new(
            "content",
            Reason::TooLarge {
                limit: MAX_EVENT_JSON_BYTES,
                found: content.len(),
            },
        ));
    }
    Ok(())
}

pub(super) fn decode_base64(field: &str, text: &str) -> Result<Vec<u8>, ParseError> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    // The draft says padded; a writer that drops the padding loses no information, so take both.
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT
        .decode(text.trim())
        .map_err(|e| ParseError::malformed(field, format!("not base64: {e}")))
}

/// One CBOR item, with nothing after it. ciborium never pre-allocates from a declared length (it
/// pushes element by element and reads byte strings in scratch-sized chunks), so a hostile length
/// fails at the end of the input; nesting is capped by [`CBOR_DEPTH_LIMIT`].
pub(super) fn decode_cbor(field: &str, bytes: &[u8]) -> Result<Cbor, ParseError> {
    let mut rest = bytes;
    let value: Cbor = ciborium::de::from_reader_with_recursion_limit(&mut rest, CBOR_DEPTH_LIMIT)
        .map_err(|e| ParseError::malformed(field, format!("not CBOR: {e}")))?;
    if !rest.is_empty() {
        return Err(ParseError::malformed(
            field,
            format!("{} bytes after the CBOR item", rest.len()),
        ));
    }
    Ok(value)
}

/// CBOR as JSON, for display and for the shapes that JSON and CBOR share (11467, 1337). Byte
/// strings become lowercase hex (so a 33-byte `pubkey` reads like the hex form), tags are dropped,
/// integers outside the 64-bit range become decimal strings, non-finite floats become null.
pub(super) fn cbor_to_json(value: &Cbor) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        Cbor::Integer(i) => {
            let n = i128::from(*i);
            if let Ok(v) = i64::try_from(n) {
                Json::from(v)
            } else if let Ok(v) = u64::try_from(n) {
                Json::from(v)
            } else {
                Json::String(n.to_string())
            }
        }
        Cbor::Bytes(b) => Json::String(hex::encode(b)),
        Cbor::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Cbor::Text(s) => Json::String(s.clone()),
        Cbor::Bool(b) => Json::Bool(*b),
        Cbor::Null => Json::Null,
        Cbor::Tag(_, inner) => cbor_to_json(inner),
        Cbor::Array(items) => Json::Array(items.iter().map(cbor_to_json).collect()),
        Cbor::Map(pairs) => {
            let mut out = serde_json::Map::new();
            for (k, v) in pairs {
                let key = match cbor_to_json(k) {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, cbor_to_json(v));
            }
            Json::Object(out)
        }
        // `ciborium::Value` is `#[non_exhaustive]`: a variant added later reads as null.
        _ => Json::Null,
    }
}

/// Content that is either a JSON object (starts with `{`) or base64 of CBOR, as JSON.
pub(super) fn json_or_base64_cbor(content: &str) -> Result<serde_json::Value, ParseError> {
    let trimmed = content.trim_start();
    if trimmed.starts_with('{') {
        serde_json::from_str(trimmed)
            .map_err(|e| ParseError::malformed("content", format!("not JSON: {e}")))
    } else {
        let bytes = decode_base64("content", content)?;
        Ok(cbor_to_json(&decode_cbor("content", &bytes)?))
    }
}

/// The optional `e` tag naming the previous event. Two different `e` tags are refused: a chain
/// link must be unambiguous, or a fork could hide behind whichever one a reader picks.
pub(super) fn prev_from_tags(event: &SignedEvent) -> Result<Option<EventId>, ParseError> {
    let mut prev: Option<EventId> = None;
    for values in event.tags_named("e") {
        let raw = values
            .first()
            .ok_or_else(|| ParseError::malformed("tags.e", "an e tag without a value"))?;
        let id = EventId::parse(raw).map_err(|e| renamed(e, "tags.e"))?;
        match prev {
            Some(p) if p != id => {
                return Err(ParseError::malformed(
                    "tags.e",
                    "more than one previous event named",
                ))
            }
            _ => prev = Some(id),
        }
    }
    Ok(prev)
}

/// `e` as an error of `field`.
pub(super) fn renamed(e: ParseError, field: &str) -> ParseError {
    ParseError {
        field: field.to_string(),
        ..e
    }
}
