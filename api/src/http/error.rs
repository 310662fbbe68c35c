//! The one error shape of the API, `{"error": {"code", "message"}}`, and the one error type at
//! the boundary. Internal failures are logged with their cause and answered with a fixed message:
//! nothing about the database or the code reaches the client.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use mintwatch_store::StoreError;

use crate::read::ReadError;

/// Stable error codes (the first three as in the nostr query service, PROTOCOL.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// Malformed input: a bad key, `Y`, id, parameter or cursor, or JSON that does not parse.
    BadRequest,
    /// The mint, event or route is unknown.
    NotFound,
    /// The server failed; the message says nothing more.
    Internal,
    /// The route exists, not with this method.
    MethodNotAllowed,
    /// The request body is too large.
    PayloadTooLarge,
    /// The query string is too long.
    UriTooLong,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// Well-formed JSON whose content is invalid (wrong types, too many or no `Ys`).
    Unprocessable,
    /// The database is unreachable or not migrated, or an indexer stage is not running.
    Unavailable,
}

/// The inside of an error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable code.
    pub code: ErrorCode,
    /// What went wrong, for humans: names the parameter or value at fault.
    pub message: String,
}

/// Every error response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error at the HTTP boundary.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400.
    #[error("{0}")]
    BadRequest(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 405.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 414.
    #[error("{0}")]
    UriTooLong(String),
    /// 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422.
    #[error("{0}")]
    Unprocessable(String),
    /// 503: not ready (database down or not migrated). The text is logged, not returned.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 503: an indexer stage is not running; the text (stage and why, without internals) is
    /// returned.
    #[error("not ready: {0}")]
    NotReady(String),
    /// 500. The cause is logged, not returned.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// 500 for anything else internal. The text is logged, not returned.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::BadCursor(_) | ReadError::Invalid(_) => ApiError::BadRequest(e.to_string()),
            ReadError::Store(s) => ApiError::Store(s),
            ReadError::Merged(why) => ApiError::Internal(why),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Store(StoreError::Database(e))
    }
}

impl ApiError {
    /// The status and code.
    pub fn status(&self) -> (StatusCode, ErrorCode) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            ApiError::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed)
            }
            ApiError::PayloadTooLarge(_) => {
                (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge)
            }
            ApiError::UriTooLong(_) => (StatusCode::URI_TOO_LONG, ErrorCode::UriTooLong),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            ),
            ApiError::Unprocessable(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Unprocessable)
            }
            ApiError::Unavailable(_) | ApiError::NotReady(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable)
            }
            // A pool that cannot hand out a connection is an outage, not a bug.
            ApiError::Store(StoreError::Database(sqlx::Error::PoolTimedOut)) => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable)
            }
            ApiError::Store(_) | ApiError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal)
            }
        }
    }

    /// An error for a bare status (from axum or tower-http), with `detail` when it is safe text.
    pub fn from_status(status: StatusCode, detail: Option<String>) -> Self {
        let text = detail.unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("request failed")
                .to_lowercase()
        });
        match status {
            StatusCode::NOT_FOUND => ApiError::NotFound(text),
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(text),
            StatusCode::URI_TOO_LONG => ApiError::UriTooLong(text),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(text),
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::Unprocessable(text),
            StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable(text),
            s if s.is_client_error() => ApiError::BadRequest(text),
            _ => ApiError::Internal(text),
        }
    }

    /// The body sent to the client.
    pub fn body(&self) -> ErrorBody {
        let (_, code) = self.status();
        let message = match code {
            ErrorCode::Internal => "internal error".to_string(),
            ErrorCode::Unavailable => match self {
                ApiError::NotReady(_) => self.to_string(),
                _ => "the database is unavailable".to_string(),
            },
            _ => self.to_string(),
        };
        ErrorBody {
            error: ErrorDetail { code, message },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        match code {
            ErrorCode::Internal => tracing::error!(error = %self, "request failed"),
            ErrorCode::Unavailable => tracing::warn!(error = %self, "not available"),
            _ => tracing::debug!(error = %self, "request refused"),
        }
        (status, Json(self.body())).into_response()
    }
}

/// The longest rejection text carried over into a message.
const MAX_DETAIL: usize = 512;

/// Gives every error response the JSON shape, whoever produced it: axum's own rejections and
/// 404/405 answers, tower-http's 413, a panic caught lower down. Errors already in JSON pass.
pub(crate) async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Client-error texts come from extractor rejections (they name the parameter at fault);
    // server-error texts are never passed on.
    let detail = if status.is_client_error() {
        axum::body::to_bytes(body, MAX_DETAIL * 4)
            .await
            .ok()
            .and_then(|b| String::from_utf8(b.to_vec()).ok())
            .map(|s| s.trim().chars().take(MAX_DETAIL).collect::<String>())
            .filter(|s| !s.is_empty())
    } else {
        None
    };
    let mut out = ApiError::from_status(status, detail).into_response();
    *out.status_mut() = status;
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().append(name, value.clone());
        }
    }
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    out
}

/// A response with an empty body and a status (304 and friends).
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}
