//! mintwatch api

/// mintwatch on nostr: assertions, evidence labels and the encrypted query service.
pub mod nostr;
