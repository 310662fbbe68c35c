//! The events mintwatch publishes (PROTOCOL.md §5): NIP-85 assertions, NIP-32 evidence labels,
//! and the NIP-44 v2 encrypted query service.
//!
//! - [`nip44`]: NIP-44 v2 with its internals exposed for the vectors.

pub mod nip44;
