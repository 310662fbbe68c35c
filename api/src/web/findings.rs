//! `/findings`: the latest findings of every mint, newest first, each linked to its mint and its
//! evidence ([`read::latest_findings`]); `?before=<id>` pages back.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::layout::{page as frame, Nav};
use super::{format, html as respond, WebError};
use crate::http::ApiState;
use crate::read;

const PAGE: u16 = 50;

/// `?before=<id>`.
#[derive(Debug, Default, Deserialize)]
pub struct FindingsForm {
    before: Option<i64>,
}

/// `GET /findings`.
pub async fn page(
    State(state): State<ApiState>,
    Query(form): Query<FindingsForm>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let found = read::latest_findings(state.store.pool(), PAGE, form.before).await?;
    let body = html! {
        h1 { "Latest findings" }
        p.muted { "What mintwatch's checks found in the mints' own signed events, newest first. Each links to its evidence." }
        @if found.is_empty() { p.card { "No findings." } }
        ol.mints aria-label="Findings" {
            @for f in &found {
                li { article.card.finding.resolved[f.finding.resolved] {
                    h2 {
                        a href={ "/mints/" (f.mint) "#finding-" (f.finding.id) } { (format::finding_name(&f.finding.kind)) }
                        @if f.finding.resolved { " (resolved)" }
                    }
                    p {
                        "Mint: " a href={ "/mints/" (f.mint) } {
                            @match f.mint_name.as_deref().filter(|n| !n.trim().is_empty()) {
                                Some(n) => (n),
                                None => span.mono { (format::short(&f.mint)) },
                            }
                        }
                        " · found " (format::time(f.finding.first_found))
                    }
                    p.muted { (format::finding_meaning(&f.finding.kind)) }
                    @if let Some(y) = &f.finding.y { p { "Y " span.mono { (y) } } }
                    p {
                        a href={ "/mints/" (f.mint) "/findings/" (f.finding.id) "/evidence.json" } download {
                            "Evidence (JSON, " (f.finding.events.len()) " signed event" @if f.finding.events.len() != 1 { "s" } ")"
                        }
                    }
                } }
            }
        }
        @if found.len() == usize::from(PAGE) {
            @if let Some(last) = found.last() {
                nav.pager aria-label="Pages" { a href={ "/findings?before=" (last.finding.id) } rel="next" { "Older findings" } }
            }
        }
    };
    Ok(respond(
        &headers,
        StatusCode::OK,
        frame("Findings", Nav::Findings, body, &[]),
    ))
}
