//! What a batch write reports, what the analyze stage records, and the parsing of stored keys
//! at the edge.

use std::collections::BTreeSet;

use mintwatch_protocol::{Epoch, EventId, FindingKind, MintKey, Point, Unit};

use super::StoreError;

/// What one [`Store::write_batch`](super::Store::write_batch) changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutcome {
    /// Events inserted by this batch (not previously stored), in batch order.
    pub new_events: Vec<EventId>,
    /// Mints whose stored data changed (new events about them, new sightings of their events,
    /// reviews of them added or deleted): the analyze stage updates only these.
    pub changed_mints: BTreeSet<MintKey>,
    /// BURN entries written.
    pub burns: u64,
    /// MINT entries written.
    pub issued: u64,
    /// (event, relay) sightings that were new.
    pub new_sightings: u64,
    /// What the analyze stage has to look at, from the new events and the changed mints.
    pub changes: crate::analysis_queue::BatchChanges,
    /// The batch's row in the analysis queue, written in its transaction (`None`: nothing to
    /// analyse).
    pub queued: Option<i64>,
}

/// A finding to record (or update, when one with the same mint, kind and key exists).
#[derive(Debug, Clone, PartialEq)]
pub struct NewFinding {
    /// The mint it is about.
    pub mint: MintKey,
    /// What it is.
    pub kind: FindingKind,
    /// What makes it one finding, chosen by whoever derives it (e.g. the `Y` of a double-spend,
    /// `<unit>:<epoch>` of a liability inversion): re-deriving it updates the same row.
    pub key: String,
    /// The `Y`, for double-spends and collisions.
    pub y: Option<Point>,
    /// The unit, when the finding is per unit.
    pub unit: Option<Unit>,
    /// The epoch, when the finding is per epoch.
    pub epoch: Option<Epoch>,
    /// The signed events that prove it.
    pub event_ids: Vec<EventId>,
    /// Totals and anything else worth showing.
    pub detail: serde_json::Value,
}

pub(crate) fn event_id(bytes: &[u8], field: &'static str) -> Result<EventId, StoreError> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::corrupt(field, format!("{} bytes", bytes.len())))?;
    Ok(EventId(arr))
}

pub(crate) fn mint_key(bytes: &[u8], field: &'static str) -> Result<MintKey, StoreError> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::corrupt(field, format!("{} bytes", bytes.len())))?;
    MintKey::from_x_only_bytes(arr).map_err(|e| StoreError::corrupt(field, e))
}

pub(crate) fn unsigned(v: i64, field: &'static str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|e| StoreError::corrupt(field, e))
}
