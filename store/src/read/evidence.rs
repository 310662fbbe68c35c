//! The unresolved findings with the events that prove them, for the evidence labels.

use std::collections::HashMap;

use sqlx::Row;

use mintwatch_protocol::{Epoch, EventId, MintKey, Point, SignedEvent, Unit};

use crate::{Store, StoreError};

fn corrupt(field: &'static str, why: impl ToString) -> StoreError {
    StoreError::corrupt(field, why)
}

/// An unresolved finding as stored: the same fields the analyze stage records it with.
pub type OpenFinding = crate::records::NewFinding;

/// The unresolved findings of `mint`, or of every mint, sorted by mint, kind and key.
pub async fn open_findings(
    store: &Store,
    mint: Option<&MintKey>,
) -> Result<Vec<OpenFinding>, StoreError> {
    let rows = sqlx::query(
        "SELECT mint, kind, finding_key, y, unit, epoch, event_ids, detail FROM findings
         WHERE NOT resolved AND ($1::bytea IS NULL OR mint = $1)
         ORDER BY mint, kind, finding_key",
    )
    .bind(mint.map(|m| m.as_bytes().to_vec()))
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(finding).collect()
}

/// A finding recorded or resolved since a scan's watermark.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangedFinding {
    /// The finding as stored now.
    pub finding: OpenFinding,
    /// Whether it is resolved now.
    pub resolved: bool,
}

/// The findings whose row changed at or after `since` (unix seconds, the database's clock):
/// recorded, re-recorded or resolved. Reads an index on `updated_at`, not the whole table.
pub async fn findings_changed_since(
    store: &Store,
    since: i64,
) -> Result<Vec<ChangedFinding>, StoreError> {
    let rows = sqlx::query(
        "SELECT mint, kind, finding_key, y, unit, epoch, event_ids, detail, resolved
         FROM findings WHERE updated_at >= to_timestamp($1::bigint)
         ORDER BY mint, kind, finding_key",
    )
    .bind(since)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ChangedFinding {
                finding: finding(r)?,
                resolved: r.try_get("resolved")?,
            })
        })
        .collect()
}

fn finding(r: &sqlx::postgres::PgRow) -> Result<OpenFinding, StoreError> {
    let mint: Vec<u8> = r.try_get("mint")?;
    let kind: String = r.try_get("kind")?;
    let y: Option<Vec<u8>> = r.try_get("y")?;
    let unit: Option<String> = r.try_get("unit")?;
    let epoch: Option<i64> = r.try_get("epoch")?;
    let ids: Vec<Vec<u8>> = r.try_get("event_ids")?;
    Ok(OpenFinding {
        mint: <[u8; 32]>::try_from(mint.as_slice())
            .map_err(|_| corrupt("findings.mint", "not 32 bytes"))
            .and_then(|b| MintKey::from_x_only_bytes(b).map_err(|e| corrupt("findings.mint", e)))?,
        kind: kind.parse().map_err(|e| corrupt("findings.kind", e))?,
        key: r.try_get("finding_key")?,
        y: y.map(|y| Point::from_bytes(&y).map_err(|e| corrupt("findings.y", e)))
            .transpose()?,
        unit: unit
            .map(|u| Unit::parse(&u).map_err(|e| corrupt("findings.unit", e)))
            .transpose()?,
        epoch: epoch
            .map(|e| Epoch::from_i128(e.into()).map_err(|e| corrupt("findings.epoch", e)))
            .transpose()?,
        event_ids: ids
            .iter()
            .map(|i| {
                <[u8; 32]>::try_from(i.as_slice())
                    .map(EventId)
                    .map_err(|_| corrupt("findings.event_ids", "not 32 bytes"))
            })
            .collect::<Result<_, _>>()?,
        detail: r.try_get("detail")?,
    })
}

/// The stored events among `ids`, parsed from their verbatim JSON.
pub async fn events_by_id(
    store: &Store,
    ids: &[EventId],
) -> Result<HashMap<EventId, SignedEvent>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let raw: Vec<Vec<u8>> = ids.iter().map(|i| i.0.to_vec()).collect();
    let rows: Vec<(String,)> = sqlx::query_as("SELECT json FROM events WHERE id = ANY($1)")
        .bind(&raw)
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|(json,)| {
            let e = SignedEvent::from_json(json).map_err(|e| corrupt("events.json", e))?;
            Ok((e.id, e))
        })
        .collect()
}
