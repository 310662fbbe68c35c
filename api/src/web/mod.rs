//! The directory website, served on the API's listener at `/`: server-rendered HTML over the same
//! [`crate::read`] functions as the JSON API, so every figure on a page is one the API serves too,
//! and every finding links to the signed events that prove it.
//!
//! - [`directory`] `/`: search, filters, sort and paging;
//! - [`mint`] `/mints/{key}`: identity, rank and why, findings with downloadable evidence, chain,
//!   balances, charts ([`charts`]), reviews, relays;
//! - [`spent`] `/spent`: is a `Y` burnt; a cashu token's `Y`s are derived in the browser;
//! - [`evidence`] `/mints/{key}/findings/{id}/evidence.json`: a finding's signed events;
//! - [`findings`] `/findings`: the latest findings of all mints;
//! - [`about`] `/about`: what is checked, the rank formula, how to verify, the indexer's key;
//! - [`assets`] `/static/…`: the one stylesheet and the scripts, all served from here.
//!
//! Pages are [`maud`] templates: every value is escaped by the engine (names, descriptions and
//! reviews are attacker-controlled), and the content security policy allows only this origin's
//! scripts and styles, so injected markup could not run even if it got through. Pages carry an
//! ETag and answer `If-None-Match` with 304, like the API.

pub mod about;
pub mod assets;
pub mod charts;
pub mod directory;
pub mod evidence;
pub mod findings;
pub mod format;
pub mod layout;
pub mod mint;
pub mod spent;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::Markup;

use crate::http::error::empty;
use crate::http::mints::{etag_of, not_modified};
use crate::http::ApiState;
use crate::read::ReadError;

/// What the about page says of the indexer serving the site.
#[derive(Debug, Clone, Default)]
pub struct SiteInfo {
    /// The indexer's nostr key (npub or hex), which signs its assertions and evidence labels.
    pub indexer_key: Option<String>,
    /// The relays it reads and publishes to.
    pub relays: Vec<String>,
}

/// The website's routes (merged into [`crate::http::router`]).
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/", get(directory::page))
        .route("/mints/{key}", get(mint::page))
        .route(
            "/mints/{key}/findings/{id}/evidence.json",
            get(evidence::download),
        )
        .route("/spent", get(spent::page).post(spent::lookup))
        .route("/findings", get(findings::page))
        .route("/about", get(about::page))
        .route("/static/{name}", get(assets::get))
}

/// Content security policy of every page: this origin's scripts, styles and forms only, no
/// framing, no plugins.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// A page as a response: `text/html`, an ETag of the body, 304 when `If-None-Match` names it.
pub(crate) fn html(headers: &HeaderMap, status: StatusCode, page: Markup) -> Response {
    cached(
        headers,
        status,
        "text/html; charset=utf-8",
        page.into_string().into_bytes(),
    )
}

/// `body` with `content_type`, an ETag and the site's security headers (304 when unchanged).
pub(crate) fn cached(
    headers: &HeaderMap,
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
) -> Response {
    let etag = etag_of(&body);
    let mut response = if status == StatusCode::OK && not_modified(headers, &etag) {
        empty(StatusCode::NOT_MODIFIED)
    } else {
        let mut r = body.into_response();
        *r.status_mut() = status;
        r
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// An error on the website: an HTML page with the status; internal causes are logged, never shown.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// 400: a parameter the reader can fix.
    #[error("{0}")]
    BadRequest(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 500; the cause is logged.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<ReadError> for WebError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::BadCursor(_) | ReadError::Invalid(_) => WebError::BadRequest(e.to_string()),
            ReadError::Store(_) | ReadError::Merged(_) => WebError::Internal(e.to_string()),
        }
    }
}

impl From<mintwatch_store::StoreError> for WebError {
    fn from(e: mintwatch_store::StoreError) -> Self {
        WebError::Internal(e.to_string())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            WebError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            WebError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            WebError::Internal(_) => {
                tracing::error!(error = %self, "page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side; the error was logged.".to_string(),
                )
            }
        };
        html(
            &HeaderMap::new(),
            status,
            layout::error_page(status, &message),
        )
    }
}
