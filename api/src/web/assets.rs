//! The files every page loads, compiled into the binary and served from `/static/`: the
//! stylesheet, the spent page's script and the vendored `@noble` bundle (see
//! `static/vendor/README.md`). Nothing is loaded from another origin.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use sha2::{Digest, Sha256};

use super::{cached, WebError};

/// name, content type, bytes.
const FILES: [(&str, &str, &str); 3] = [
    (
        "site.css",
        "text/css; charset=utf-8",
        include_str!("static/site.css"),
    ),
    (
        "spent.js",
        "text/javascript; charset=utf-8",
        include_str!("static/spent.js"),
    ),
    (
        "noble.js",
        "text/javascript; charset=utf-8",
        include_str!("static/vendor/noble-2.4.0.min.js"),
    ),
];

/// The URL of a static file, with a version from its content so that a changed file is fetched
/// again at once.
pub fn url(name: &str) -> String {
    static VERSIONS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    let versions = VERSIONS.get_or_init(|| {
        FILES
            .iter()
            .map(|(n, _, body)| (*n, hex::encode(&Sha256::digest(body.as_bytes())[..6])))
            .collect()
    });
    match versions.iter().find(|(n, _)| *n == name) {
        Some((_, v)) => format!("/static/{name}?v={v}"),
        None => format!("/static/{name}"),
    }
}

/// `GET /static/{name}`.
pub async fn get(Path(name): Path<String>, headers: HeaderMap) -> Result<Response, WebError> {
    let (_, content_type, body) = FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| WebError::NotFound(format!("no file named {name}")))?;
    Ok(cached(
        &headers,
        StatusCode::OK,
        content_type,
        body.as_bytes().to_vec(),
    ))
}
