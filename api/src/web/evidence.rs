//! `/mints/{key}/findings/{id}/evidence.json`: one finding's evidence as a file, in the shape of
//! the content of mintwatch's NIP-32 evidence label (PROTOCOL.md §5): the finding, its `Y` and
//! `detail`, and the full signed events that prove it, byte for byte as received. Anyone can check
//! each event's id and signature, and re-derive the finding from the events alone
//! (`mintwatch_protocol::output::ProtocolRecheck`), without trusting mintwatch.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use mintwatch_protocol::{Epoch, EventId, FindingKind, MintKey, Point, Unit};

use super::{cached, WebError};
use crate::http::ApiState;
use crate::nostr::reports::{label_detail, OpenFinding};
use crate::read::{self, FindingItem, FindingsFilter};

/// The downloaded file.
#[derive(Debug, Serialize)]
struct EvidenceFile {
    finding: String,
    mint: String,
    #[serde(rename = "Y", skip_serializing_if = "Option::is_none")]
    y: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<Value>,
    resolved: bool,
    events: Vec<Box<RawValue>>,
    how_to_verify: &'static str,
}

const HOW_TO_VERIFY: &str = "Each entry of `events` is a nostr event exactly as a relay sent it: \
    recompute its id (NIP-01) and check its BIP-340 signature with any nostr library. \
    mintwatch_protocol::output::ProtocolRecheck re-derives the finding from these events alone; \
    PROTOCOL.md section 3 defines each finding.";

/// The finding `id` of `mint`, if it is one of the mint's.
pub async fn find(
    state: &ApiState,
    mint: &MintKey,
    id: i64,
) -> Result<Option<FindingItem>, WebError> {
    let mut filter = FindingsFilter {
        limit: Some(200),
        ..FindingsFilter::default()
    };
    // Findings are paged by id, oldest first: stop at the page that passes `id`.
    loop {
        let page = read::findings_page(state.store.pool(), mint, &filter).await?;
        if let Some(f) = page.findings.iter().find(|f| f.id == id) {
            return Ok(Some(f.clone()));
        }
        let passed = page.findings.last().is_some_and(|f| f.id > id);
        match page.next_cursor {
            Some(next) if !passed => filter.cursor = Some(next),
            _ => return Ok(None),
        }
    }
}

/// The label `detail` of `item` (totals as numbers for the per-epoch findings).
fn detail_of(mint: &MintKey, item: &FindingItem) -> Result<Option<Value>, String> {
    let kind: FindingKind = item.kind.parse().map_err(|e| format!("kind: {e}"))?;
    let finding = OpenFinding {
        mint: *mint,
        kind,
        key: String::new(),
        y: item
            .y
            .as_deref()
            .map(Point::parse)
            .transpose()
            .map_err(|e| e.to_string())?,
        unit: item
            .unit
            .as_deref()
            .map(Unit::parse)
            .transpose()
            .map_err(|e| e.to_string())?,
        epoch: item
            .epoch
            .map(|e| Epoch::from_i128(i128::from(e)))
            .transpose()
            .map_err(|e| e.to_string())?,
        event_ids: Vec::new(),
        detail: item.detail.clone(),
    };
    label_detail(&finding)
}

/// `GET /mints/{key}/findings/{id}/evidence.json`.
pub async fn download(
    State(state): State<ApiState>,
    Path((key, id)): Path<(String, i64)>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let mint = MintKey::parse(&key).map_err(|e| WebError::BadRequest(format!("mint key: {e}")))?;
    let item = find(&state, &mint, id)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("mint {mint} has no finding {id}")))?;
    let mut events = Vec::with_capacity(item.events.len());
    for hex in &item.events {
        let event_id =
            EventId::parse(hex).map_err(|e| WebError::Internal(format!("stored id: {e}")))?;
        let json = state
            .store
            .event_json(&event_id)
            .await?
            .ok_or_else(|| WebError::Internal(format!("proving event {hex} is not stored")))?;
        events.push(RawValue::from_string(json).map_err(|e| WebError::Internal(e.to_string()))?);
    }
    let file = EvidenceFile {
        finding: item.kind.clone(),
        mint: mint.to_hex(),
        y: item.y.clone(),
        detail: detail_of(&mint, &item).map_err(WebError::Internal)?,
        resolved: item.resolved,
        events,
        how_to_verify: HOW_TO_VERIFY,
    };
    let body = serde_json::to_vec_pretty(&file).map_err(|e| WebError::Internal(e.to_string()))?;
    let mut response = cached(&headers, StatusCode::OK, "application/json", body);
    let disposition = format!(
        "attachment; filename=\"mintwatch-{}-{}-{id}.json\"",
        item.kind,
        &mint.to_hex()[..16]
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
