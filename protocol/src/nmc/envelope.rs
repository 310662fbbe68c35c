//! The plaintext of NMC requests and responses (NMC.md §2, §4): `{"method", "params"}` in,
//! `{"result_type", "result", "error"}` out, with the error codes a gateway answers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The largest plaintext of a request or response, in bytes: what every NIP-44 v2
/// implementation reads without the extended length prefix (rust-nostr 0.44 included).
pub const MAX_PLAINTEXT: usize = 65_408;

/// A request's plaintext.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NmcRequest {
    /// A method of NMC.md §3.
    pub method: String,
    /// The NUT request body plus the path parameters (an object; absent means none).
    #[serde(default)]
    pub params: Value,
}

/// Why a request was not answered with a result (NMC.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NmcErrorCode {
    /// The mint answered 4xx or 5xx.
    MintError,
    /// Undecryptable content, bad JSON, a missing or malformed parameter.
    BadRequest,
    /// A method outside the table, or one this gateway does not serve.
    NotImplemented,
    /// A request or response plaintext above [`MAX_PLAINTEXT`].
    PayloadTooLarge,
    /// A requester (or all together) above its rate.
    RateLimited,
    /// The mint did not answer in time or could not be reached.
    Unavailable,
    /// Anything else; never with internals in the message.
    Internal,
}

impl NmcErrorCode {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            NmcErrorCode::MintError => "MINT_ERROR",
            NmcErrorCode::BadRequest => "BAD_REQUEST",
            NmcErrorCode::NotImplemented => "NOT_IMPLEMENTED",
            NmcErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            NmcErrorCode::RateLimited => "RATE_LIMITED",
            NmcErrorCode::Unavailable => "UNAVAILABLE",
            NmcErrorCode::Internal => "INTERNAL",
        }
    }
}

/// The `error` of a response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct NmcError {
    /// What kind of failure.
    pub code: NmcErrorCode,
    /// For a person; never internals.
    pub message: String,
    /// The mint's NUT error body `{detail, code}` as it sent it (`MINT_ERROR` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cashu: Option<Value>,
    /// The mint's HTTP status (`MINT_ERROR` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
}

impl NmcError {
    /// An error without the mint's details.
    pub fn new(code: NmcErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            cashu: None,
            http_status: None,
        }
    }

    /// `BAD_REQUEST`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(NmcErrorCode::BadRequest, message)
    }

    /// `NOT_IMPLEMENTED`.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(NmcErrorCode::NotImplemented, message)
    }

    /// `MINT_ERROR` with the mint's status and body (its NUT error when it is JSON).
    pub fn mint_error(http_status: u16, body: &str) -> Self {
        let cashu = serde_json::from_str::<Value>(body)
            .ok()
            .filter(Value::is_object);
        let message = match cashu.as_ref().and_then(|c| c.get("detail")?.as_str()) {
            Some(detail) => detail.chars().take(512).collect(),
            None => format!("the mint answered HTTP {http_status}"),
        };
        Self {
            code: NmcErrorCode::MintError,
            message,
            cashu,
            http_status: Some(http_status),
        }
    }
}

/// A response's plaintext: exactly one of `result` and `error` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NmcResponse {
    /// The method answered (as the request named it, if it could be read).
    pub result_type: String,
    /// The NUT response body, unchanged.
    pub result: Option<Value>,
    /// Why there is no result.
    pub error: Option<NmcError>,
}

impl NmcResponse {
    /// A result.
    pub fn ok(method: &str, result: Value) -> Self {
        Self {
            result_type: method.to_string(),
            result: Some(result),
            error: None,
        }
    }

    /// An error.
    pub fn err(method: &str, error: NmcError) -> Self {
        Self {
            result_type: method.to_string(),
            result: None,
            error: Some(error),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn a_mint_error_carries_the_mints_nut_error_as_sent() {
        let e = NmcError::mint_error(400, r#"{"detail":"Token already spent.","code":11001}"#);
        assert_eq!(e.code, NmcErrorCode::MintError);
        assert_eq!(e.message, "Token already spent.");
        assert_eq!(
            e.cashu,
            Some(json!({"detail": "Token already spent.", "code": 11001}))
        );
        assert_eq!(e.http_status, Some(400));
        let wire = serde_json::to_value(NmcResponse::err("swap", e)).unwrap();
        assert_eq!(wire["error"]["code"], "MINT_ERROR");
        assert_eq!(wire["error"]["cashu"]["code"], 11001);
        assert_eq!(wire["result"], Value::Null);
        // A body that is not a NUT error still says the status.
        let e = NmcError::mint_error(502, "<html>bad gateway</html>");
        assert_eq!(e.cashu, None);
        assert!(e.message.contains("502"));
    }
}
