//! What the store accepts: the verified events of a batch with their typed content, sightings,
//! cursors and refusal counters, committed whole by [`Store::write_batch`](crate::Store::write_batch).
//! The indexer builds these (its `pipeline` module re-exports them beside its own hand-offs).

use std::sync::Arc;

use mintwatch_protocol::broadcast::{CashuData, FinEpoch, MintInfo};
use mintwatch_protocol::nip87::{Deletion, FedimintAnnouncement, MintAnnouncement, Recommendation};
use mintwatch_protocol::SignedEvent;

/// A relay's URL as configured, shared cheaply between the messages it produced.
pub type RelayUrl = Arc<str>;

/// Where a crawl of one (relay, filter) stands. Stored with the events it covers, so a restart
/// resumes from here without losing or repeating anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The relay.
    pub relay: RelayUrl,
    /// A stable name of the filter (e.g. `public` or `mint-authors`).
    pub filter: String,
    /// Backfill has covered everything created at or after this time (it walks `until`
    /// backwards); `None` until the first page is done.
    pub backfill_until: Option<u64>,
    /// Whether backfill reached the end of the relay's history.
    pub backfill_done: bool,
    /// The newest `created_at` received (live subscriptions restart from here).
    pub newest_seen: Option<u64>,
}

/// The typed content of a verified event.
#[derive(Debug, Clone)]
pub enum Content {
    /// 38172.
    MintAnnouncement(MintAnnouncement),
    /// 38173.
    FedimintAnnouncement(FedimintAnnouncement),
    /// 38000 about a mint or federation.
    Recommendation(Recommendation),
    /// 5.
    Deletion(Deletion),
    /// 11467.
    MintInfo(MintInfo),
    /// 4919.
    CashuData(CashuData),
    /// 1337 from a known mint key.
    FinEpoch(FinEpoch),
}

/// An event whose id and signature verified and whose content parsed.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The event. A 4919's `content` is emptied once decoded: read [`Verified::content`], or
    /// [`Verified::json`] for the event as signed.
    pub event: SignedEvent,
    /// Its JSON, verbatim as received.
    pub json: Box<str>,
    /// The relay that delivered it first.
    pub relay: RelayUrl,
    /// Its typed content.
    pub content: Content,
}

/// A count of refusals for one relay and reason.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rejection {
    /// The relay.
    pub relay: RelayUrl,
    /// A stable reason label (`id_mismatch`, `bad_signature`, `malformed`, `too_large`, ...).
    pub reason: String,
    /// The event kind, if known.
    pub kind: Option<u16>,
}

/// What the store commits in one transaction.
#[derive(Debug, Clone, Default)]
pub struct StoreBatch {
    /// New verified events (not yet in the store as far as dedup knows; the store is idempotent
    /// anyway).
    pub events: Vec<Verified>,
    /// (relay, event id) sightings of events already known, for "relays where seen".
    pub seen_again: Vec<(RelayUrl, mintwatch_protocol::EventId)>,
    /// Cursors covering everything in this batch and before.
    pub cursors: Vec<Cursor>,
    /// Refusals to add to the per-relay counters.
    pub rejections: Vec<(Rejection, u64)>,
}
