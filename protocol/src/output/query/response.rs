//! Response bodies: a result or an error for the method asked, the error codes, and the
//! `check_spent` result.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::request::Method;
use crate::types::Point;

/// The largest answer plaintext (JSON bytes) the service sends: the most that rust-nostr 0.44's
/// NIP-44 (what most Rust wallets use) decrypts; larger plaintexts need NIP-44's extended length
/// prefix, which it refuses.
pub const MAX_ANSWER_PLAINTEXT: usize = 65_408;

/// The most event ids a `check_spent` answer lists for one `Y`: the first proves the burn, the
/// second a double-spend; the HTTP API (`GET /v1/spent/{Y}`) lists them all.
pub const MAX_EVENTS_PER_Y: usize = 2;

/// A service error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The requester is over its rate.
    RateLimited,
    /// The mint (or other subject) is unknown.
    NotFound,
    /// The request could not be decrypted, or its JSON or parameters are bad.
    BadRequest,
    /// The service failed; the message does not leak internals.
    Internal,
    /// The method is not served.
    NotImplemented,
}

/// A service error: a code and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ServiceError {
    /// The code.
    pub code: ErrorCode,
    /// What went wrong, for humans.
    pub message: String,
}

impl ServiceError {
    /// A new error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A `BAD_REQUEST`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
}

/// A response body. On the wire `{"result_type", "result", "error"}`, with `null`s kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The method answered; `null` when the request could not be read far enough to know it.
    pub result_type: Option<Method>,
    /// The result, or `null` on error.
    pub result: Option<Value>,
    /// The error, or `null` on success.
    pub error: Option<ServiceError>,
}

impl Response {
    /// A successful response.
    pub fn ok(method: Method, result: Value) -> Self {
        Self {
            result_type: Some(method),
            result: Some(result),
            error: None,
        }
    }

    /// An error response.
    pub fn err(method: Option<Method>, error: ServiceError) -> Self {
        Self {
            result_type: method,
            result: None,
            error: Some(error),
        }
    }
}

/// One `Y`'s answer in a `check_spent` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpentStatus {
    /// The `Y`.
    #[serde(rename = "Y")]
    pub y: Point,
    /// Whether a mint-signed 4919 burns it.
    pub burnt: bool,
    /// The ids (hex) of the mint-signed 4919 events that contain it, at most
    /// [`MAX_EVENTS_PER_Y`].
    pub events: Vec<String>,
}

/// The `check_spent` result: one [`SpentStatus`] per `Y` asked, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSpentResult {
    /// The answers.
    pub results: Vec<SpentStatus>,
}
