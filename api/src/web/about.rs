//! `/about`: what mintwatch checks, the rank formula (docs/REPUTATION.md), how to verify a finding
//! yourself, and the indexer's nostr key and relays.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;

use mintwatch_protocol::FindingKind;

use super::layout::{page as frame, Nav};
use super::{format, html as respond};
use crate::http::ApiState;

/// The rank formula's rows: component, points, from.
const RANK_ROWS: [(&str, &str, &str); 7] = [
    ("chain", "0–50", "50 × completeness × length weight; completeness = (linked 4919 + 1) / 4919 published; length weight = log10(1 + n) / log10(101), at most 1"),
    ("identity", "0, 7.5, 15", "self-signed 15, operator 7.5, unbound or mismatch 0"),
    ("reviews", "0–25", "25 × (mean − 1) / 4 × log10(1 + distinct authors) / log10(21)"),
    ("epochs", "0–10", "10 × log10(1 + closes) / log10(11), when no balance mismatch"),
    ("activity", "×0–1", "1 within 30 days of the mint's last event, then halves every 90 days"),
    ("penalty", "0–40", "10 per cross-mint collision, balance mismatch or unresolved gap"),
    ("cap", "10 or 30", "an unresolved double-spend, fork or liability inversion caps at 10; an identity mismatch at 30"),
];

const VERIFY: &str = r#"// Cargo.toml: mintwatch-protocol (this repository's protocol crate), serde_json
use mintwatch_protocol::output::{FindingRecheck, ProtocolRecheck};
use mintwatch_protocol::{FindingKind, MintKey, Point, SignedEvent};

let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
let events: Vec<SignedEvent> = file["events"].as_array().unwrap().iter()
    .map(|e| SignedEvent::from_value(e).unwrap()).collect();
for e in &events { e.verify()?; }            // NIP-01 id and BIP-340 signature
let kind: FindingKind = file["finding"].as_str().unwrap().parse()?;
let mint = MintKey::parse(file["mint"].as_str().unwrap())?;
let y = file["Y"].as_str().map(Point::parse).transpose()?;
ProtocolRecheck.recheck(kind, &mint, y.as_ref(), &events, file.get("detail"))?;
"#;

/// `GET /about`.
pub async fn page(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let site = &state.site;
    let body = html! {
        h1 { "About mintwatch" }
        p {
            "A Cashu mint holds its users' bitcoin and issues blind-signed ecash. mintwatch makes a mint's "
            "key its nostr identity, reads everything mints publish on nostr, checks it, and ranks mints by "
            "a published formula. Every finding comes with the signed events that prove it, so you can check "
            "it without trusting mintwatch."
        }
        h2 #checks { "What is checked" }
        p { "Every event's id and signature first; then, per mint key:" }
        ul {
            @for kind in FindingKind::ALL {
                li { strong { (format::finding_name(kind.as_str())) } ": " (format::finding_meaning(kind.as_str())) }
            }
        }
        p { "A mint that restarts its chain of batches is not accused of anything; its chain counts as unlinked, which lowers its rank." }
        h2 #rank { "The rank" }
        p { code { "rank = min(cap, clamp((chain + identity + reviews + epochs) × activity − penalty, 0, 100))" } }
        div.table-wrap { table {
            thead { tr { th scope="col" { "Component" } th scope="col" { "Points" } th scope="col" { "From" } } }
            tbody { @for (name, points, from) in RANK_ROWS { tr { th scope="row" { (name) } td { (points) } td { (from) } } } }
        } }
        p { "The same inputs always give the same rank: an auditor can recompute it from the raw events. Each mint's page shows every component." }
        h2 #verify { "Verify a finding yourself" }
        ol {
            li { "On a mint's page, download a finding's evidence: a JSON file with the full signed events, exactly as relays sent them." }
            li { "Check each event's id (the SHA-256 of its NIP-01 serialisation) and its BIP-340 signature by the mint's key, with any nostr library." }
            li { "Re-derive the finding from the events' contents, for example with this repository's protocol crate:" }
        }
        pre { code { (VERIFY) } }
        p { "The same evidence is published on nostr as NIP-32 labels (kind 1985) signed by the indexer's key, and every event is served at " code { "/v1/events/{id}" } "." }
        h2 #indexer { "This indexer" }
        dl {
            dt { "Nostr key (signs assertions and evidence labels)" }
            dd.mono { (site.indexer_key.as_deref().unwrap_or("not configured on this server")) }
            dt { "Relays" }
            dd {
                @if site.relays.is_empty() { "not configured on this server" }
                ul { @for r in &site.relays { li.mono { (r) } } }
            }
        }
    };
    respond(
        &headers,
        StatusCode::OK,
        frame("About", Nav::About, body, &[]),
    )
}
