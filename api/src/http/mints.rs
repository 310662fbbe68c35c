//! `/v1/mints`: the directory, one mint's report (with an ETag), its findings and its reviews.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use mintwatch_protocol::output::query::DirectoryQuery;
use mintwatch_protocol::{FindingKind, MintKey, Reason};

use super::error::{empty, ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery};
use super::ApiState;
use crate::read::{self, DirectoryPage, FindingsFilter, FindingsPage, MintReport, ReviewsPage};

/// A mint key from the path. Well-formed text that is not a point on the curve is no mint's key:
/// a 404, as for any key no mint has (the document's pattern cannot state the curve).
fn mint_key(s: &str) -> Result<MintKey, ApiError> {
    MintKey::parse(s).map_err(|e| match e.reason {
        Reason::NotOnCurve if super::extract::hex_key_shape(s, true) => {
            ApiError::NotFound("mint_key: no mint has this key (not a point on the curve)".into())
        }
        _ => ApiError::BadRequest(format!("mint_key: {e}")),
    })
}

/// Search the directory.
#[utoipa::path(
    get, path = "/v1/mints", tag = "mints",
    params(
        ("q" = Option<String>, Query, description = "Text: whole words of names, URLs and descriptions; substrings and near misses (typos) of names and URLs; at most 256 characters, no NUL", max_length = 256, pattern = "^[^\\u0000]*$"),
        ("unit" = Option<String>, Query, description = "Only mints supporting this unit (declared, or seen in their 4919 entries)", pattern = "^[A-Za-z0-9_-]{1,32}$"),
        ("nut" = Option<u16>, Query, description = "Only mints declaring this NUT"),
        ("network" = Option<String>, Query, description = "mainnet (or bitcoin), testnet, signet, regtest, unknown", pattern = "^(mainnet|bitcoin|testnet|signet|regtest|unknown)$"),
        ("identity" = Option<String>, Query, description = "self-signed, operator, mismatch or unbound", pattern = "^(self-signed|operator|mismatch|unbound)$"),
        ("min_rank" = Option<u8>, Query, description = "Only mints ranked at least this (0..=100)", minimum = 0, maximum = 100),
        ("has_findings" = Option<bool>, Query, description = "Only mints with unresolved findings (true) or without (false)"),
        ("sort" = Option<String>, Query, description = "rank (default), reviews, activity or name", pattern = "^(rank|reviews|activity|name)$"),
        ("limit" = Option<u16>, Query, description = "Page size, 1..=200 (default 50)", minimum = 1, maximum = 200),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page, as it was given (opaque: any other text is a 400)", max_length = 512, pattern = "^[A-Za-z0-9_-]*$"),
    ),
    responses(
        (status = 200, description = "A page of mints", body = DirectoryPage),
        (status = 400, description = "A parameter or the cursor is malformed or out of range", body = ErrorBody),
        (status = 414, description = "Query string too long", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    ApiQuery(q): ApiQuery<DirectoryQuery>,
) -> Result<Json<DirectoryPage>, ApiError> {
    Ok(Json(read::search_mints(state.store.pool(), &q).await?))
}

/// A strong ETag of a body: its SHA-256, shortened.
pub(crate) fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Whether `If-None-Match` names `etag` (or `*`). Weak comparison, as RFC 9110 asks for GET.
pub(crate) fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

/// One mint's report.
#[utoipa::path(
    get, path = "/v1/mints/{mint_key}", tag = "mints",
    params(
        ("mint_key" = String, Path, description = "64-hex x-only or 66-hex compressed mint key (a well-formed key that is not on the curve is no mint's: 404)", pattern = "^(0[23])?[0-9a-fA-F]{64}$"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag of a previous answer"),
    ),
    responses(
        (status = 200, description = "The report", body = MintReport,
            headers(("ETag" = String, description = "Changes whenever the report does"))),
        (status = 304, description = "Unchanged since the ETag given"),
        (status = 400, description = "Malformed mint key", body = ErrorBody),
        (status = 404, description = "Unknown mint", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
    )
)]
pub async fn report(
    State(state): State<ApiState>,
    ApiPath(key): ApiPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = mint_key(&key)?;
    let report = read::mint_report(&state.store, &key)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("mint {key} is not known")))?;
    let body = serde_json::to_vec(&report).map_err(|e| ApiError::Internal(e.to_string()))?;
    let etag = etag_of(&body);
    let etag_value = HeaderValue::from_str(&etag).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut response = if not_modified(&headers, &etag) {
        empty(StatusCode::NOT_MODIFIED)
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response()
    };
    response.headers_mut().insert(header::ETAG, etag_value);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// Query of the findings list.
#[derive(Debug, Deserialize)]
pub struct FindingsParams {
    kind: Option<String>,
    resolved: Option<bool>,
    limit: Option<u16>,
    cursor: Option<String>,
}

async fn known(state: &ApiState, key: &MintKey) -> Result<(), ApiError> {
    if state.store.mint_exists(key).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("mint {key} is not known")))
    }
}

/// A mint's findings, oldest first, with their proving events.
#[utoipa::path(
    get, path = "/v1/mints/{mint_key}/findings", tag = "mints",
    params(
        ("mint_key" = String, Path, description = "64-hex x-only or 66-hex compressed mint key (a well-formed key that is not on the curve is no mint's: 404)", pattern = "^(0[23])?[0-9a-fA-F]{64}$"),
        ("kind" = Option<String>, Query, description = "Only this finding (PROTOCOL.md §3 name)", pattern = "^(double-spend|cross-mint-collision|fork|gap|liability-inversion|balance-mismatch|identity-mismatch)$"),
        ("resolved" = Option<bool>, Query, description = "Only resolved (true) or unresolved (false)"),
        ("limit" = Option<u16>, Query, description = "Page size, 1..=200 (default 50)", minimum = 1, maximum = 200),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page, as it was given (opaque: any other text is a 400)", max_length = 512, pattern = "^[A-Za-z0-9_-]*$"),
    ),
    responses(
        (status = 200, description = "A page of findings", body = FindingsPage),
        (status = 400, description = "Malformed key, kind, limit or cursor", body = ErrorBody),
        (status = 404, description = "Unknown mint", body = ErrorBody),
        (status = 414, description = "Query string too long", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
    )
)]
pub async fn findings(
    State(state): State<ApiState>,
    ApiPath(key): ApiPath,
    ApiQuery(p): ApiQuery<FindingsParams>,
) -> Result<Json<FindingsPage>, ApiError> {
    let key = mint_key(&key)?;
    let kind = p
        .kind
        .as_deref()
        .map(str::parse::<FindingKind>)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("kind: {e}")))?;
    known(&state, &key).await?;
    let filter = FindingsFilter {
        kind,
        resolved: p.resolved,
        limit: p.limit,
        cursor: p.cursor,
    };
    Ok(Json(
        read::findings_page(state.store.pool(), &key, &filter).await?,
    ))
}

/// Query of the reviews list.
#[derive(Debug, Deserialize)]
pub struct PageParams {
    limit: Option<u16>,
    cursor: Option<String>,
}

/// A mint's live reviews, newest first.
#[utoipa::path(
    get, path = "/v1/mints/{mint_key}/reviews", tag = "mints",
    params(
        ("mint_key" = String, Path, description = "64-hex x-only or 66-hex compressed mint key (a well-formed key that is not on the curve is no mint's: 404)", pattern = "^(0[23])?[0-9a-fA-F]{64}$"),
        ("limit" = Option<u16>, Query, description = "Page size, 1..=200 (default 50)", minimum = 1, maximum = 200),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page, as it was given (opaque: any other text is a 400)", max_length = 512, pattern = "^[A-Za-z0-9_-]*$"),
    ),
    responses(
        (status = 200, description = "A page of reviews", body = ReviewsPage),
        (status = 400, description = "Malformed key, limit or cursor", body = ErrorBody),
        (status = 404, description = "Unknown mint", body = ErrorBody),
        (status = 414, description = "Query string too long", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
    )
)]
pub async fn reviews(
    State(state): State<ApiState>,
    ApiPath(key): ApiPath,
    ApiQuery(p): ApiQuery<PageParams>,
) -> Result<Json<ReviewsPage>, ApiError> {
    let key = mint_key(&key)?;
    known(&state, &key).await?;
    Ok(Json(
        read::reviews_page(state.store.pool(), &key, p.limit, p.cursor.as_deref()).await?,
    ))
}
