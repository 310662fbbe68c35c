//! The events mintwatch publishes (PROTOCOL.md §5): NIP-85 assertions, NIP-32 evidence labels,
//! and the NIP-44 v2 encrypted query service.
//!
//! Every builder takes the indexer's (or wallet's) `nostr::Keys` and typed input, signs with
//! `EventBuilder::sign_with_keys`, and returns a [`SignedEvent`]. Every reader takes a
//! [`SignedEvent`] and returns typed values or a typed error; nothing here panics on input.
//!
//! - [`assertion`]: kind 30382, one mint's rank and the components behind it.
//! - [`evidence`]: kind 1985, a finding with the full signed events that prove it.
//! - [`recheck`]: each finding derived again from a label's embedded events.
//! - [`query`]: kinds 18172/28172/28173, the encrypted request/response service.
//! - [`nip44`]: NIP-44 v2 with its internals exposed for the vectors.

pub mod assertion;
pub mod evidence;
pub mod nip44;
pub mod query;
pub mod recheck;

pub use assertion::{build_assertion, parse_assertion, MintAssertion};
pub use evidence::{
    build_evidence_label, verify_evidence_label, verify_evidence_label_structure,
    verify_evidence_label_with, Evidence, EvidenceError, VerifiedEvidence,
};
pub use query::{
    build_request, build_response, build_service_info, open_request, open_response,
    parse_service_info, CheckSpent, CheckSpentResult, DirectoryQuery, ErrorCode, EvidenceQuery,
    Method, MintParam, OpenError, OpenedResponse, Query, Response, ServiceError, Sort, SpentStatus,
    MAX_ANSWER_PLAINTEXT, MAX_EVENTS_PER_Y,
};
pub use recheck::{epoch_detail, FindingRecheck, NoRecheck, ProtocolRecheck, Recheck};

use crate::event::SignedEvent;
use crate::ParseError;

/// The NIP-32 namespace of mintwatch's labels.
pub const LABEL_NAMESPACE: &str = "cashu.mintwatch";

/// Why an output event could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    /// An input value is out of its allowed range or inconsistent.
    #[error("invalid input: {0}")]
    Invalid(#[from] ParseError),
    /// The evidence would not verify on its own, so it is not published.
    #[error("evidence does not verify: {0}")]
    Evidence(#[from] EvidenceError),
    /// Encryption failed (bad peer key, message too long).
    #[error("encryption failed: {0}")]
    Encrypt(#[from] nip44::Nip44Error),
    /// Serialising the content failed.
    #[error("content could not be serialised: {0}")]
    Json(String),
    /// `nostr` refused to build or sign the event.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// Builds and signs one event with `nostr`, then converts it to mintwatch's event type.
pub(crate) fn sign(
    keys: &nostr::Keys,
    kind: u16,
    tags: Vec<Vec<String>>,
    content: String,
) -> Result<SignedEvent, BuildError> {
    let tags = tags
        .into_iter()
        .map(|t| nostr::Tag::parse(t).map_err(|e| BuildError::Sign(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let event = nostr::EventBuilder::new(nostr::Kind::Custom(kind), content)
        .tags(tags)
        .sign_with_keys(keys)
        .map_err(|e| BuildError::Sign(e.to_string()))?;
    Ok(SignedEvent::from(&event))
}

/// A two-element tag.
pub(crate) fn tag2(name: &str, value: impl Into<String>) -> Vec<String> {
    vec![name.to_string(), value.into()]
}
