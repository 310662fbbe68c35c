//! Request middleware: metrics per route, the query-string limit, the 404 fallback.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::MAX_QUERY_BYTES;

/// The `method` label: one of the methods HTTP defines, else `other`, so a client that makes up
/// methods cannot add series that are never freed.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Counts requests and their latency by route (the pattern, so paths with keys do not explode the
/// label set), method (bounded: [`method_label`]) and status.
pub(crate) async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = method_label(req.method()).to_string();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for made_up in ["FOO", "BREW", "X-1"] {
            let m = Method::from_bytes(made_up.as_bytes()).expect("a token is a method");
            assert_eq!(method_label(&m), "other");
        }
    }
}
