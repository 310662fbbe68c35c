//! Liveness, readiness and Prometheus metrics.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use mintwatch_store::MIGRATOR;

use super::error::{ApiError, ErrorBody};
use super::ApiState;

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// Migrations applied (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migrations: Option<usize>,
}

/// The process is up.
#[utoipa::path(
    get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Alive", body = Health))
)]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        migrations: None,
    })
}

/// The database answers and every embedded migration is applied.
#[utoipa::path(
    get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Database unreachable or not migrated", body = ErrorBody),
    )
)]
pub async fn readyz(State(state): State<ApiState>) -> Result<Json<Health>, ApiError> {
    let applied: Vec<i64> = state
        .store
        .applied_migrations()
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let applied: BTreeSet<i64> = applied.into_iter().collect();
    let wanted: Vec<i64> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .collect();
    let missing: Vec<i64> = wanted
        .iter()
        .copied()
        .filter(|v| !applied.contains(v))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::Unavailable(format!(
            "migrations not applied: {missing:?}"
        )));
    }
    Ok(Json(Health {
        status: "ok".into(),
        migrations: Some(wanted.len()),
    }))
}

/// Prometheus metrics of this process (HTTP, and the indexer's when it runs here).
#[utoipa::path(
    get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String))
)]
pub async fn metrics(State(state): State<ApiState>) -> Response {
    state.metrics.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        state.metrics.render(),
    )
        .into_response()
}
