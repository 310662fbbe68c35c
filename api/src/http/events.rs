//! `/v1/events/{id}`: a stored signed event, verbatim, so evidence can be re-checked.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use mintwatch_protocol::EventId;

use super::error::{ApiError, ErrorBody};
use super::extract::ApiPath;
use super::ApiState;

/// A stored event, byte for byte as first received (its id and signature verify as served).
#[utoipa::path(
    get, path = "/v1/events/{id}", tag = "events",
    params(("id" = String, Path, description = "Event id, 64 hex", pattern = "^[0-9a-fA-F]{64}$")),
    responses(
        (status = 200, description = "The NIP-01 event JSON, verbatim", content_type = "application/json", body = Object),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 404, description = "Not stored", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath,
) -> Result<Response, ApiError> {
    let id = EventId::parse(&id).map_err(|e| ApiError::BadRequest(format!("id: {e}")))?;
    let json = state
        .store
        .event_json(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("event {} is not stored", id.to_hex())))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            // An event never changes: its id is the hash of its content.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        json,
    )
        .into_response())
}
