//! The gateway's small listener: `/metrics` (Prometheus), `/readyz` (fails while the key is not
//! the mint's or the lag passes its bound) and `/healthz` (the process answers).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

/// What `/readyz` decides on, updated by the feed and the lag monitor.
#[derive(Debug)]
pub struct Health {
    /// The gateway's key is the mint's (checked at start and whenever `/v1/info` changes).
    pub identity_ok: AtomicBool,
    /// Age in seconds of the oldest entry not acknowledged by any relay (0: caught up).
    pub lag_seconds: AtomicI64,
    /// Entries not acknowledged by any relay.
    pub lag_rows: AtomicI64,
    /// `/readyz` fails above this many seconds of lag.
    pub max_lag_seconds: i64,
}

impl Health {
    /// A starting state: identity not checked yet, no lag.
    pub fn new(max_lag_seconds: i64) -> Self {
        Health {
            identity_ok: AtomicBool::new(false),
            lag_seconds: AtomicI64::new(0),
            lag_rows: AtomicI64::new(0),
            max_lag_seconds,
        }
    }

    /// `None` when ready, else why not.
    pub fn not_ready(&self) -> Option<String> {
        if !self.identity_ok.load(Ordering::Relaxed) {
            return Some("identity: the gateway's key is not (yet) confirmed as the mint's".into());
        }
        let lag = self.lag_seconds.load(Ordering::Relaxed);
        if lag > self.max_lag_seconds {
            return Some(format!(
                "lag: {lag} s behind the mint's database ({} entries), more than {} s",
                self.lag_rows.load(Ordering::Relaxed),
                self.max_lag_seconds
            ));
        }
        None
    }
}

#[derive(Clone)]
struct AppState {
    health: Arc<Health>,
    metrics: PrometheusHandle,
}

/// The listener's routes.
pub fn router(health: Arc<Health>, metrics: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(render_metrics))
        .route("/readyz", get(readyz))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(AppState { health, metrics })
}

async fn render_metrics(State(s): State<AppState>) -> String {
    s.metrics.render()
}

async fn readyz(State(s): State<AppState>) -> (StatusCode, String) {
    match s.health.not_ready() {
        None => (StatusCode::OK, "ready\n".to_string()),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
    }
}
