//! Liveness, readiness and Prometheus metrics.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

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

/// The stages of an indexer running in this process that are not running normally, as
/// (stage, why): supplied by the binary, since the API does not know the indexer. Cheap to clone.
#[derive(Clone)]
pub struct Readiness(Arc<dyn Fn() -> Vec<(String, String)> + Send + Sync>);

impl Readiness {
    /// Reads the stages that are not ready from `problems` at each `/readyz`.
    pub fn new(problems: impl Fn() -> Vec<(String, String)> + Send + Sync + 'static) -> Self {
        Self(Arc::new(problems))
    }
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Readiness").finish_non_exhaustive()
    }
}

/// The process is up (liveness only: it says nothing of the database or the indexer).
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

/// The database answers, every embedded migration is applied, and every stage of the indexer
/// (when it runs in this process) is running: none is retrying a failed write, recovering the
/// analysis a previous run left queued, or stopped. A 503 names the stages and why.
#[utoipa::path(
    get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Database unreachable or not migrated, or an indexer stage not running (the message names it and why)", body = ErrorBody),
    )
)]
pub async fn readyz(State(state): State<ApiState>) -> Result<Json<Health>, ApiError> {
    if let Some(readiness) = &state.readiness {
        let problems = (readiness.0)();
        if !problems.is_empty() {
            let stages: Vec<String> = problems
                .iter()
                .map(|(stage, why)| format!("{stage}: {why}"))
                .collect();
            return Err(ApiError::NotReady(stages.join("; ")));
        }
    }
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
