//! # mintwatch-protocol
//!
//! The pure protocol library under mintwatch's I/O crates: no sockets, no database, no async.
//! It turns the bytes that relays deliver into typed values, and typed values back into signed
//! events, and it proves each step against the published vectors in `protocol/tests/vectors/`.
//!
//! - [`types`]: values that parse ([`MintKey`], [`Point`]/[`Y`], [`Amount`], [`Unit`], [`Epoch`],
//!   [`KeysetId`], [`Network`]) so that nothing invalid passes the edge.
//! - [`event`]: the NIP-01 event, its id and BIP-340 signature checks, one at a time or as a
//!   parallel batch.
//! - [`nip87`]: mint and fedimint announcements, recommendations, deletions.
//! - [`broadcast`]: the Nostr Broadcast kinds (11467 mint identity, 4919 batches, 1337 epochs).
//! - [`ecash`]: Cashu crypto: `hash_to_curve`, keyset ids, DLEQ.
//! - [`findings`]: the names of what mintwatch can prove against a mint.
//! - [`relay_message`]: NIP-01 relay → client messages, read without copying events.
//! - [`output`]: the events mintwatch publishes (NIP-85, NIP-32, the NIP-44 query service).
//!
//! The simulated mints that tests, benches and the demo publish are built on this crate in
//! `mintwatch-sim` (`sim/`); nothing here depends on them.

pub mod broadcast;
pub mod ecash;
pub mod error;
pub mod event;
pub mod findings;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod kinds;
pub mod nip87;
pub mod nmc;
pub mod on_curve;
pub mod output;
pub mod ratelimit;
pub mod relay_message;
pub mod reputation;
mod serde_text;
pub mod types;

pub use error::{ParseError, Reason};
pub use event::{EventId, SignedEvent, VerifyError};
pub use findings::FindingKind;
pub use types::{
    Amount, Epoch, IdentityLevel, KeysetId, MintKey, MintUrl, Network, Point, Unit, Y,
};
