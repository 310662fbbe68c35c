//! Opaque page cursors: URL-safe base64 (no padding) of a small JSON value holding the last row's
//! sort key. Opaque to clients, so the encoding can change; checked on the way back in, so a
//! forged cursor is a 400, never a database error.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::ReadError;

/// Longest cursor accepted, in bytes.
pub(crate) const MAX_CURSOR_LEN: usize = 512;

pub(crate) fn encode<T: Serialize>(value: &T) -> String {
    // Serialising plain structs of numbers and strings cannot fail; an empty cursor would only
    // restart paging, never skip rows.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

pub(crate) fn decode<T: DeserializeOwned>(cursor: &str) -> Result<T, ReadError> {
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(ReadError::BadCursor(format!(
            "longer than {MAX_CURSOR_LEN} bytes"
        )));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| ReadError::BadCursor("not a cursor returned by this API".into()))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| ReadError::BadCursor("not a cursor returned by this API".into()))
}
