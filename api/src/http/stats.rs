//! `/v1/stats`: global counts, relays, live ingest.

use axum::extract::State;
use axum::Json;

use super::error::{ApiError, ErrorBody};
use super::ApiState;
use crate::read::{self, GlobalStats};

/// Global statistics.
#[utoipa::path(
    get, path = "/v1/stats", tag = "stats",
    responses(
        (status = 200, description = "Counts, relays, ingest", body = GlobalStats),
        (status = 500, description = "Internal error", body = ErrorBody),
    )
)]
pub async fn get(State(state): State<ApiState>) -> Result<Json<GlobalStats>, ApiError> {
    Ok(Json(
        read::global_stats(&state.store, &state.stats, state.live.as_ref()).await?,
    ))
}
