//! The typed hand-offs between stages. Crawl produces [`Delivery`]s; dedup and verify turn the
//! events among them into [`Verified`] values; store takes a [`StoreBatch`] and commits it whole.
//! The hand-offs the store accepts are the store crate's ([`mintwatch_store::batch`]), re-exported
//! here so every stage's hand-off is named in one place.

pub use mintwatch_store::batch::{Content, Cursor, Rejection, RelayUrl, StoreBatch, Verified};

/// What crawl hands to the pipeline, in the order the relay delivered it.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// One event's JSON object, verbatim as the relay sent it.
    Event {
        /// The relay that delivered it.
        relay: RelayUrl,
        /// The event JSON, verbatim (it is the evidence).
        json: Box<str>,
    },
    /// A cursor that covers every event delivered before it on this relay and filter.
    Cursor(Cursor),
    /// Something the relay sent that was refused before parsing an event (garbage, flood,
    /// an event that does not match the filter), counted per relay and reason.
    Rejected {
        /// The relay.
        relay: RelayUrl,
        /// A stable reason label.
        reason: &'static str,
    },
}
