//! The HTTP/JSON read API (PROTOCOL.md §6), on axum.
//!
//! Build an [`ApiState`] over a [`Store`] and a Prometheus handle, then [`serve`] it on a listener
//! (or mount [`router`] yourself). Handlers are thin: they parse the path and query into protocol
//! types, call [`crate::read`], and answer JSON. Every error is an [`ApiError`] with the one JSON
//! shape; a middleware gives that shape to the errors axum and tower-http produce on their own.

pub mod error;
pub mod events;
pub mod extract;
pub mod health;
mod middleware;
pub mod mints;
pub mod openapi;
pub mod spent;
pub mod stats;

use std::future::Future;
use std::io;
use std::sync::OnceLock;

use axum::http::{header, Method};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower_http::cors::{Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use mintwatch_store::Store;

pub use error::{ApiError, ErrorBody, ErrorCode};
pub use openapi::ApiDoc;

use crate::read::{LiveStats, SpentLookups, StoreStatsCache};
use crate::web::SiteInfo;

/// Largest request body accepted (a batch of 1,000 `Y`s is about 70 KB).
pub const MAX_BODY_BYTES: usize = 128 * 1024;
/// Longest query string accepted.
pub const MAX_QUERY_BYTES: usize = 2 * 1024;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The store the indexer writes.
    pub store: Store,
    /// Spent lookups over `store`, merged across concurrent requests.
    pub spent: SpentLookups,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// The indexer's live counters, when it runs in this process.
    pub live: Option<LiveStats>,
    /// The store's counts behind `/v1/stats`, recounted at most once a second.
    pub stats: StoreStatsCache,
    /// What the website's about page says of this indexer (its nostr key and relays).
    pub site: SiteInfo,
    /// The indexer's stages that are not running, when it runs in this process (`/readyz`).
    pub readiness: Option<health::Readiness>,
}

impl ApiState {
    /// A state over `store`, rendering metrics from `metrics` (see [`metrics_recorder`]).
    pub fn new(store: Store, metrics: PrometheusHandle) -> Self {
        Self {
            spent: SpentLookups::new(store.clone()),
            store,
            metrics,
            live: None,
            stats: StoreStatsCache::default(),
            site: SiteInfo::default(),
            readiness: None,
        }
    }

    /// Makes `/readyz` answer 503 while `readiness` names a stage that is not running.
    pub fn with_readiness(mut self, readiness: health::Readiness) -> Self {
        self.readiness = Some(readiness);
        self
    }

    /// Names the indexer's nostr key and relays on the website.
    pub fn with_site(mut self, site: SiteInfo) -> Self {
        self.site = site;
        self
    }

    /// Adds the indexer's live counters to `/v1/stats`.
    pub fn with_live_stats(mut self, live: LiveStats) -> Self {
        self.live = Some(live);
        self
    }
}

/// The request-duration buckets, in seconds.
const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Why the metrics recorder could not be installed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("metrics recorder: {0}")]
pub struct MetricsError(String);

/// The process-wide Prometheus recorder, installed on first call (later calls return the same
/// handle). Fails only if another recorder was installed by someone else first.
pub fn metrics_recorder() -> Result<PrometheusHandle, MetricsError> {
    // Built and installed inside `get_or_init`, which makes concurrent first callers wait for
    // the one that installs: they all get its handle (or its error), none races to install.
    static HANDLE: OnceLock<Result<PrometheusHandle, MetricsError>> = OnceLock::new();
    HANDLE.get_or_init(install_recorder).clone()
}

fn install_recorder() -> Result<PrometheusHandle, MetricsError> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("mintwatch_http_request_duration_seconds".into()),
            &DURATION_BUCKETS,
        )
        .map_err(|e| MetricsError(e.to_string()))?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| MetricsError(e.to_string()))?;
    Ok(handle)
}

/// Every route: method, path (axum and OpenAPI share the `{param}` syntax) and handler. The
/// router is built from this table, and [`served_routes`] lists it for the OpenAPI test.
fn route_table() -> Vec<(Method, &'static str, MethodRouter<ApiState>)> {
    vec![
        (Method::GET, "/v1/mints", get(mints::list)),
        (Method::GET, "/v1/mints/{mint_key}", get(mints::report)),
        (
            Method::GET,
            "/v1/mints/{mint_key}/findings",
            get(mints::findings),
        ),
        (
            Method::GET,
            "/v1/mints/{mint_key}/reviews",
            get(mints::reviews),
        ),
        (Method::GET, "/v1/spent/{Y}", get(spent::one)),
        (Method::POST, "/v1/spent", post(spent::batch)),
        (Method::GET, "/v1/events/{id}", get(events::get)),
        (Method::GET, "/v1/stats", get(stats::get)),
        (Method::GET, "/healthz", get(health::healthz)),
        (Method::GET, "/readyz", get(health::readyz)),
        (Method::GET, "/metrics", get(health::metrics)),
        (Method::GET, "/openapi.json", get(openapi::openapi_json)),
    ]
}

/// The (method, path) of every route the router serves.
pub fn served_routes() -> Vec<(Method, &'static str)> {
    route_table().into_iter().map(|(m, p, _)| (m, p)).collect()
}

/// The API's router, with its state, limits, CORS, metrics and error shaping.
pub fn router(state: ApiState) -> Router {
    let mut router = Router::new();
    for (_, path, handler) in route_table() {
        router = router.route(path, handler);
    }
    // Open to any origin: the directory website and wallets read it from browsers. POST is for the
    // batch spent lookup, which only reads.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::IF_NONE_MATCH])
        .expose_headers([header::ETAG]);
    // Layers run outermost last-added: CORS, trace, metrics, error shaping, limits, handler.
    // The website is merged after the API's layers: its errors are HTML pages, not JSON.
    router
        .fallback(middleware::not_found)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(middleware::limit_query))
        .layer(axum::middleware::from_fn(error::json_errors))
        .merge(
            crate::web::router()
                .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
                .layer(axum::middleware::from_fn(middleware::limit_query)),
        )
        .layer(axum::middleware::from_fn(middleware::track))
        .layer(TraceLayer::new_for_http())
        .layer(cors)
        .with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` completes, then finishes the requests in
/// flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
