//! Extractors whose rejections are [`ApiError`]s with a message naming the problem.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A query string read with `serde` (through axum's `Query`); a bad one is a 400.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| ApiError::BadRequest(e.body_text()))
    }
}

/// One path parameter as text; parsing it into a protocol type is the handler's job (so the
/// message names the parameter).
#[derive(Debug)]
pub struct ApiPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ApiPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e: PathRejection| ApiError::BadRequest(e.body_text()))
    }
}

/// A JSON body. Syntax errors are 400, wrong shapes 422, a wrong content type 415, a body over the
/// limit 413: each with axum's description of the problem.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|j| ApiJson(j.0))
            .map_err(|e: JsonRejection| ApiError::from_status(e.status(), Some(e.body_text())))
    }
}

/// Whether `s` has the shape the OpenAPI document gives a key: 66 hex starting `02` or `03` (a
/// compressed point), or, when `x_only`, also 64 hex. Text of that shape that is not a point on
/// the curve is answered 404 (no mint has that key, no secret hashes to that `Y`), other text
/// 400.
pub(crate) fn hex_key_shape(s: &str, x_only: bool) -> bool {
    let hex = |t: &str| t.bytes().all(|b| b.is_ascii_hexdigit());
    match s.len() {
        64 => x_only && hex(s),
        66 => (s.starts_with("02") || s.starts_with("03")) && hex(s),
        _ => false,
    }
}
