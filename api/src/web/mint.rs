//! `/mints/{key}`: one mint's page. Identity and the events that establish it, rank with every
//! component and a sentence on why, findings with downloadable evidence, charts, chain status,
//! outstanding balances per unit and epoch, reviews and relays. Thin: four reads run at once
//! ([`read::mint_report`], [`read::findings_page`], [`read::reviews_page`],
//! [`read::daily_activity`]) and the rest is markup.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use serde_json::Value;

use mintwatch_protocol::MintKey;

use super::charts::{series, unit_charts};
use super::directory::identity_class;
use super::layout::{page as frame, rank_bar, Nav};
use super::{format, html as respond, WebError};
use crate::http::ApiState;
use crate::read::{self, FindingItem, FindingsFilter, MintReport, ReviewItem};

/// Findings shown on the page; the rest are in the API's paged list.
const FINDINGS_SHOWN: u16 = 100;
/// Reviews shown on the page.
const REVIEWS_SHOWN: u16 = 50;

/// `GET /mints/{key}`.
pub async fn page(
    State(state): State<ApiState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let mint = MintKey::parse(&key).map_err(|e| WebError::BadRequest(format!("mint key: {e}")))?;
    let pool = state.store.pool();
    let filter = FindingsFilter {
        limit: Some(FINDINGS_SHOWN),
        ..FindingsFilter::default()
    };
    let (report, findings, reviews, days) = tokio::join!(
        read::mint_report(&state.store, &mint),
        read::findings_page(pool, &mint, &filter),
        read::reviews_page(pool, &mint, Some(REVIEWS_SHOWN), None),
        read::daily_activity(pool, &mint),
    );
    let report = report?
        .ok_or_else(|| WebError::NotFound(format!("mint {mint} is not in the directory")))?;
    let (findings, reviews, days) = (findings?, reviews?, days?);
    let name = report
        .info
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("Unnamed mint {}", format::short(&report.key)));
    let units = series(&days);
    let body = html! {
        h1 { (name) }
        p {
            span class=(identity_class(&report.identity)) { (report.identity) }
            " " span.mono { (report.key) }
        }
        @if let Some(d) = report.info.description.as_deref().filter(|d| !d.trim().is_empty()) {
            p { (d) }
        }
        @if !report.urls.is_empty() {
            p.urls { "URLs: " @for (i, u) in report.urls.iter().enumerate() { @if i > 0 { ", " } span.mono { (u) } } }
        }
        (rank_section(&report))
        (identity_section(&report))
        (findings_section(&report, &findings.findings, findings.next_cursor.is_some()))
        section aria-labelledby="charts" {
            h2 #charts { "Burns, issuance and outstanding balance" }
            @if units.is_empty() {
                p.muted { "The mint has published no burns or issuance (kind 4919) yet." }
            }
            @for (i, s) in units.iter().enumerate() { (unit_charts(s, i)) }
        }
        (chain_section(&report))
        (balances_section(&report))
        (reviews_section(&report, &reviews.reviews))
        section aria-labelledby="relays" {
            h2 #relays { "Relays where seen" }
            @if report.relays.is_empty() { p.muted { "None recorded." } }
            ul { @for r in &report.relays { li.mono { (r) } } }
            p.muted {
                (format::thousands(report.events)) " events about this mint, from "
                (format::time(report.first_seen as i64)) " to " (format::time(report.last_seen as i64)) "."
            }
        }
    };
    Ok(respond(
        &headers,
        StatusCode::OK,
        frame(&name, Nav::Directory, body, &[]),
    ))
}

fn event_link(id: &str) -> Markup {
    html! { a.mono href={ "/v1/events/" (id) } title=(id) { (format::short(id)) } }
}

/// What each rank component is (docs/REPUTATION.md).
const COMPONENTS: [(&str, &str, &str); 6] = [
    (
        "chain",
        "0–50",
        "Publishing every batch of burns, each linked to the previous one.",
    ),
    (
        "identity",
        "0–15",
        "Signing with the key wallets know from the mint's /v1/info.",
    ),
    (
        "reviews",
        "0–25",
        "Mean rating, weighted by the number of distinct reviewers.",
    ),
    (
        "epochs",
        "0–10",
        "Closing epochs with balances that add up.",
    ),
    (
        "activity",
        "×0–1",
        "1 within 30 days of the mint's last event, then halving every 90 days.",
    ),
    (
        "penalty",
        "0–40",
        "10 per cross-mint collision, balance mismatch or unresolved gap.",
    ),
];

fn number(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

/// The sentence on why the mint has its rank.
fn why(report: &MintReport) -> String {
    let c = &report.rank_components;
    let Some(rank) = report.rank else {
        return "Not ranked yet: the analysis has not reached this mint.".into();
    };
    let get = |k: &str| number(c.get(k)).unwrap_or(0.0);
    let mut s = format!(
        "Rank {rank:.0} = (chain {:.1} + identity {:.1} + reviews {:.1} + epochs {:.1}) × activity {:.2} − penalty {:.1}",
        get("chain"),
        get("identity"),
        get("reviews"),
        get("epochs"),
        get("activity"),
        get("penalty")
    );
    match (
        number(c.get("cap")),
        c.get("cap_reason").and_then(Value::as_str),
    ) {
        (Some(cap), Some(reason)) => {
            s.push_str(&format!(", capped at {cap:.0}: {reason}."));
        }
        (Some(cap), None) => s.push_str(&format!(", capped at {cap:.0} by a proven finding.")),
        _ => s.push('.'),
    }
    s
}

fn rank_section(report: &MintReport) -> Markup {
    let c = &report.rank_components;
    html! {
        section aria-labelledby="rank" {
            h2 #rank { "Rank " (format::rank(report.rank)) " of 100" }
            (rank_bar(report.rank))
            p { (why(report)) }
            div.table-wrap {
                table {
                    caption.muted { "The rank's components (see " a href="/about#rank" { "the formula" } ")" }
                    thead { tr { th scope="col" { "Component" } th.num scope="col" { "Value" } th scope="col" { "Range" } th scope="col" { "What it rewards" } } }
                    tbody {
                        @for (name, range, what) in COMPONENTS {
                            tr {
                                th scope="row" { (name) }
                                td.num { @match number(c.get(name)) { Some(v) => (format!("{v:.2}")), None => "–" } }
                                td { (range) }
                                td { (what) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn identity_section(report: &MintReport) -> Markup {
    let sentence = match report.identity.as_str() {
        "self-signed" => "The mint signed its own identity with the key wallets already know from its /v1/info: everything it publishes is bound to that key.",
        "operator" => "Only others have announced this mint (kind 38172 events not signed by the mint key): its identity rests on their word.",
        "mismatch" => "The mint's identity event (kind 11467) names another key than the one that signed it: see the identity-mismatch finding.",
        _ => "No event binds this key to a mint's /v1/info: it is known only from its batches or from announcements that name no key.",
    };
    html! {
        section aria-labelledby="identity" {
            h2 #identity { "Identity: " (report.identity) }
            p { (sentence) }
            ul {
                @if let Some(id) = &report.info.mint_info_event {
                    li { "Identity event (kind 11467), signed by the mint: " (event_link(id)) }
                }
                @for a in &report.announcements {
                    li {
                        "Announcement (kind 38172) " (event_link(&a.event_id))
                        @if a.by_mint { " signed by the mint itself" } @else { " by " span.mono title=(a.author) { (format::short(&a.author)) } }
                        ", " (format::time(a.created_at as i64))
                    }
                }
            }
        }
    }
}

fn findings_section(report: &MintReport, findings: &[FindingItem], more: bool) -> Markup {
    let open: u64 = report.findings.values().sum();
    html! {
        section aria-labelledby="findings" {
            h2 #findings { "Findings" }
            @if findings.is_empty() {
                p { "No findings: nothing this mint published contradicts itself or another mint." }
            } @else {
                p { (open) " unresolved. Each finding comes with the signed events that prove it; download them and check them yourself (" a href="/about#verify" { "how" } ")." }
            }
            @for f in findings {
                article.card.finding.resolved[f.resolved] id={ "finding-" (f.id) } {
                    h3 { (format::finding_name(&f.kind)) @if f.resolved { " (resolved)" } }
                    p { (format::finding_meaning(&f.kind)) }
                    dl {
                        @if let Some(y) = &f.y { dt { "Y" } dd.mono { (y) } }
                        @if let Some(u) = &f.unit { dt { "Unit and epoch" } dd { (u) ", epoch " (f.epoch.unwrap_or(0)) } }
                        @if let Some(d) = f.detail.as_object().filter(|d| !d.is_empty()) {
                            dt { "Detail" }
                            dd.mono { @for (k, v) in d { (k) ": " (v.to_string()) " " } }
                        }
                        dt { "First found" } dd { (format::time(f.first_found)) }
                        dt { "Proving events" }
                        dd { @for (i, id) in f.events.iter().enumerate() { @if i > 0 { ", " } (event_link(id)) } }
                    }
                    p {
                        a.evidence href={ "/mints/" (report.key) "/findings/" (f.id) "/evidence.json" } download {
                            "Download the evidence (JSON, " (f.events.len()) " signed event" @if f.events.len() != 1 { "s" } ")"
                        }
                    }
                }
            }
            @if more {
                p { "More findings: " a href={ "/v1/mints/" (report.key) "/findings" } { "the full list (JSON)" } "." }
            }
        }
    }
}

fn chain_section(report: &MintReport) -> Markup {
    let c = &report.chain;
    let gaps = report.findings.get("gap").copied().unwrap_or(0);
    html! {
        section aria-labelledby="chain" {
            h2 #chain { "Publication chain (kind 4919)" }
            div.table-wrap { table {
                tbody {
                    tr { th scope="row" { "Batches published" } td.num { (format::thousands(c.length)) } }
                    tr { th scope="row" { "Linked to the previous batch" } td.num { (format::thousands(c.links)) } }
                    tr { th scope="row" { "Unlinked starts" } td.num { (format::thousands(c.unlinked_starts)) } }
                    tr { th scope="row" { "Unresolved gaps" } td.num { (gaps) } }
                    tr { th scope="row" { "Median interval" } td.num { @match c.median_interval_secs { Some(s) => (format!("{:.0} s", s)), None => "–" } } }
                    tr { th scope="row" { "Head" } td.num { @match &c.head { Some(h) => (event_link(h)), None => "–" } } }
                    tr { th scope="row" { "Closed epochs (kind 1337)" } td.num { (report.epoch_closes) } }
                }
            } }
        }
    }
}

fn balances_section(report: &MintReport) -> Markup {
    html! {
        section aria-labelledby="balances" {
            h2 #balances { "Outstanding balance per unit and epoch" }
            @if report.totals.is_empty() {
                p.muted { "Nothing published yet." }
            } @else {
                div.table-wrap { table {
                    thead { tr {
                        th scope="col" { "Unit" } th.num scope="col" { "Epoch" }
                        th.num scope="col" { "Issued" } th.num scope="col" { "Burnt" } th.num scope="col" { "Outstanding" }
                    } }
                    tbody {
                        @for (t, o) in report.totals.iter().zip(&report.outstanding) {
                            tr {
                                td { (t.unit) } td.num { (t.epoch) }
                                td.num { (format::amount(t.mint_amount)) " (" (format::thousands(t.mint_count)) ")" }
                                td.num { (format::amount(t.burn_amount)) " (" (format::thousands(t.burn_count)) ")" }
                                td.num { @if o.amount < 0 { span.burnt { (format::thousands(o.amount)) } } @else { (format::thousands(o.amount)) } }
                            }
                        }
                    }
                } }
                p.muted { "Amounts, with the number of entries in brackets. A negative balance means more was burnt than issued." }
            }
        }
    }
}

fn stars(rating: f64) -> String {
    format!("{rating:.1} of 5")
}

fn reviews_section(report: &MintReport, reviews: &[ReviewItem]) -> Markup {
    let r = &report.reviews;
    html! {
        section aria-labelledby="reviews" {
            h2 #reviews { "Reviews" }
            p {
                (r.count) " live reviews by " (r.distinct_authors) " distinct authors"
                @if let Some(m) = r.mean_rating { ", mean rating " (stars(m)) }
                "."
            }
            @for rv in reviews {
                article.card.review {
                    p.facts {
                        @if let Some(rating) = rv.rating { strong { (stars(rating)) } " · " }
                        "by " span.mono title=(rv.author) { (format::short(&rv.author)) }
                        " · " (format::time(rv.created_at as i64)) " · " (event_link(&rv.event_id))
                    }
                    @if !rv.text.trim().is_empty() { p.review-text { (rv.text) } }
                }
            }
        }
    }
}
