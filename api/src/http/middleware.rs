//! Request middleware: metrics per route, the query-string limit, the 404 fallback.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::MAX_QUERY_BYTES;

/// Counts requests and their latency by route (the pattern, so paths with keys do not explode the
/// label set), method and status.
pub(crate) async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().as_str().to_string();
    let start = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("mintwatch_http_requests_total", &labels).increment(1);
    metrics::histogram!("mintwatch_http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    response
}

/// Refuses query strings over [`MAX_QUERY_BYTES`] before anything parses them.
pub(crate) async fn limit_query(req: Request, next: Next) -> Response {
    let len = req.uri().query().map_or(0, str::len);
    if len > MAX_QUERY_BYTES {
        return ApiError::UriTooLong(format!(
            "query string of {len} bytes, at most {MAX_QUERY_BYTES}"
        ))
        .into_response();
    }
    next.run(req).await
}

/// Unknown routes.
pub(crate) async fn not_found(req: Request) -> ApiError {
    ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
}
