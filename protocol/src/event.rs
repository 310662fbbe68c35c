//! The NIP-01 event and its checks: the id recomputed from the canonical serialization, and the
//! BIP-340 signature over the id. Checks run one at a time or as a batch on rayon.
//!
//! mintwatch keeps its own event type rather than `nostr::Event` because the ingest path verifies
//! hundreds of thousands of events a second: the author key stays 32 raw bytes until a batch
//! parses each distinct author once (the x-only parse is a square root), and the id is compared
//! as bytes.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use rayon::prelude::*;
use secp256k1::schnorr::Signature;
use secp256k1::{Message, XOnlyPublicKey, SECP256K1};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ParseError, Reason};
use crate::kinds::MAX_EVENT_JSON_BYTES;

/// A 32-byte event id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub [u8; 32]);

impl EventId {
    /// Parses 64 hex characters.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let mut out = [0u8; 32];
        if s.len() != 64 {
            return Err(ParseError::malformed(
                "id",
                format!("expected 64 hex characters, found {}", s.len()),
            ));
        }
        hex::decode_to_slice(s, &mut out)
            .map_err(|e| ParseError::malformed("id", e.to_string()))?;
        Ok(Self(out))
    }

    /// Lowercase 64-hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl FromStr for EventId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", self.to_hex())
    }
}

/// A signed nostr event as received. Its fields are well-formed (hex of the right length), but
/// nothing about the id or signature is known until [`SignedEvent::verify`] says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEvent {
    /// The claimed id.
    pub id: EventId,
    /// The author's x-only key, unparsed.
    pub pubkey: [u8; 32],
    /// Unix seconds.
    pub created_at: u64,
    /// The kind.
    pub kind: u16,
    /// Tags, verbatim.
    pub tags: Vec<Vec<String>>,
    /// Content, verbatim.
    pub content: String,
    /// The claimed BIP-340 signature.
    pub sig: [u8; 64],
}

/// Why an event failed its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The id is not the hash of the event's canonical serialization.
    #[error("id does not match the event's content")]
    IdMismatch,
    /// The author key is not a valid x-only key.
    #[error("pubkey is not a valid x-only key")]
    BadPubkey,
    /// The signature does not verify against the author key and id.
    #[error("signature does not verify")]
    BadSignature,
}

impl VerifyError {
    /// A short stable label for metrics and counters.
    pub fn label(self) -> &'static str {
        match self {
            VerifyError::IdMismatch => "id_mismatch",
            VerifyError::BadPubkey => "bad_pubkey",
            VerifyError::BadSignature => "bad_signature",
        }
    }
}

#[derive(Deserialize)]
struct WireEvent<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pubkey: std::borrow::Cow<'a, str>,
    created_at: u64,
    kind: u16,
    tags: Vec<Vec<String>>,
    content: String,
    #[serde(borrow)]
    sig: std::borrow::Cow<'a, str>,
}

#[derive(Serialize)]
struct WireEventOut<'a> {
    id: String,
    pubkey: String,
    created_at: u64,
    kind: u16,
    tags: &'a [Vec<String>],
    content: &'a str,
    sig: String,
}

fn hex_field<const N: usize>(field: &str, s: &str) -> Result<[u8; N], ParseError> {
    let mut out = [0u8; N];
    if s.len() != 2 * N {
        return Err(ParseError::malformed(
            field,
            format!("expected {} hex characters, found {}", 2 * N, s.len()),
        ));
    }
    hex::decode_to_slice(s, &mut out).map_err(|e| ParseError::malformed(field, e.to_string()))?;
    Ok(out)
}

impl SignedEvent {
    /// `Ok` if the event is of `kind`; otherwise a `kind` error naming the kind expected and the
    /// kind found (every parser's first check).
    pub(crate) fn expect_kind(&self, kind: u16) -> Result<(), ParseError> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(ParseError::new(
                "kind",
                Reason::WrongKind {
                    expected: kind,
                    found: self.kind,
                },
            ))
        }
    }

    /// Parses one event from its JSON object. Refuses JSON over
    /// [`MAX_EVENT_JSON_BYTES`](crate::kinds::MAX_EVENT_JSON_BYTES).
    pub fn from_json(json: &str) -> Result<Self, ParseError> {
        if json.len() > MAX_EVENT_JSON_BYTES {
            return Err(ParseError::new(
                "event",
                Reason::TooLarge {
                    limit: MAX_EVENT_JSON_BYTES,
                    found: json.len(),
                },
            ));
        }
        let wire: WireEvent<'_> = serde_json::from_str(json)
            .map_err(|e| ParseError::malformed("event", e.to_string()))?;
        Self::from_wire(wire)
    }

    /// Parses one event from an already-parsed JSON value (as found inside a relay message).
    pub fn from_value(value: &serde_json::Value) -> Result<Self, ParseError> {
        // Serialising back keeps one parsing path, so both entry points accept exactly the same.
        let json = serde_json::to_string(value)
            .map_err(|e| ParseError::malformed("event", e.to_string()))?;
        Self::from_json(&json)
    }

    fn from_wire(wire: WireEvent<'_>) -> Result<Self, ParseError> {
        Ok(Self {
            id: EventId(hex_field::<32>("id", &wire.id.to_ascii_lowercase())?),
            pubkey: hex_field::<32>("pubkey", &wire.pubkey.to_ascii_lowercase())?,
            created_at: wire.created_at,
            kind: wire.kind,
            tags: wire.tags,
            content: wire.content,
            sig: hex_field::<64>("sig", &wire.sig.to_ascii_lowercase())?,
        })
    }

    /// The event as compact JSON with keys in NIP-01 order.
    pub fn to_json(&self) -> String {
        let out = WireEventOut {
            id: self.id.to_hex(),
            pubkey: hex::encode(self.pubkey),
            created_at: self.created_at,
            kind: self.kind,
            tags: &self.tags,
            content: &self.content,
            sig: hex::encode(self.sig),
        };
        // Serialising plain strings, numbers and arrays cannot fail.
        serde_json::to_string(&out).unwrap_or_default()
    }

    /// The event as a JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.to_json()).unwrap_or(serde_json::Value::Null)
    }

    /// The author key as lowercase hex.
    pub fn pubkey_hex(&self) -> String {
        hex::encode(self.pubkey)
    }

    /// The id the event's fields hash to: SHA-256 of `[0,pubkey,created_at,kind,tags,content]`
    /// serialised as compact JSON (serde_json escapes exactly as NIP-01 requires).
    pub fn compute_id(&self) -> EventId {
        compute_id(
            &self.pubkey,
            self.created_at,
            self.kind,
            &self.tags,
            &self.content,
        )
    }

    /// Recomputes the id and verifies the signature.
    pub fn verify(&self) -> Result<(), VerifyError> {
        let key = XOnlyPublicKey::from_slice(&self.pubkey).map_err(|_| VerifyError::BadPubkey)?;
        self.verify_with_key(&key)
    }

    /// Checks with an already-parsed author key (the key must be this event's `pubkey`).
    fn verify_with_key(&self, key: &XOnlyPublicKey) -> Result<(), VerifyError> {
        if self.compute_id() != self.id {
            return Err(VerifyError::IdMismatch);
        }
        verify_schnorr_parsed(key, &self.id.0, &self.sig)
    }

    /// The values of the first tag named `name` (everything after the name).
    pub fn tag(&self, name: &str) -> Option<&[String]> {
        self.tags
            .iter()
            .find(|t| t.first().map(String::as_str) == Some(name))
            .map(|t| &t[1..])
    }

    /// The first value of the first tag named `name`.
    pub fn tag_value(&self, name: &str) -> Option<&str> {
        self.tag(name).and_then(|v| v.first()).map(String::as_str)
    }

    /// Every tag named `name`, each as its values after the name.
    pub fn tags_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [String]> + 'a {
        self.tags
            .iter()
            .filter(move |t| t.first().map(String::as_str) == Some(name))
            .map(|t| &t[1..])
    }
}

/// The NIP-01 id of an event's fields.
pub fn compute_id(
    pubkey: &[u8; 32],
    created_at: u64,
    kind: u16,
    tags: &[Vec<String>],
    content: &str,
) -> EventId {
    let canonical = (0u8, hex::encode(pubkey), created_at, kind, tags, content);
    // Serialising plain strings, numbers and arrays cannot fail.
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    EventId(Sha256::digest(&bytes).into())
}

/// Verifies a BIP-340 signature over a 32-byte message with libsecp256k1: the very check an
/// event's signature gets (there the message is the event id).
pub fn verify_schnorr(
    pubkey: &[u8; 32],
    message: &[u8; 32],
    sig: &[u8; 64],
) -> Result<(), VerifyError> {
    let key = XOnlyPublicKey::from_slice(pubkey).map_err(|_| VerifyError::BadPubkey)?;
    verify_schnorr_parsed(&key, message, sig)
}

/// The shared core of [`verify_schnorr`] and the event checks, so that a batch can parse each
/// author key once and still run exactly the same signature check.
fn verify_schnorr_parsed(
    key: &XOnlyPublicKey,
    message: &[u8; 32],
    sig: &[u8; 64],
) -> Result<(), VerifyError> {
    let sig = Signature::from_slice(sig).map_err(|_| VerifyError::BadSignature)?;
    let msg = Message::from_digest(*message);
    SECP256K1
        .verify_schnorr(&sig, &msg, key)
        .map_err(|_| VerifyError::BadSignature)
}

/// Verifies a batch in parallel on the current rayon pool. Each distinct author key is parsed
/// once per batch. The result has one entry per event, in order.
pub fn verify_batch(events: &[SignedEvent]) -> Vec<Result<(), VerifyError>> {
    verify_batch_by(events, |e| e)
}

/// [`verify_batch`] over any items that hold an event (`event` picks it out), so a caller whose
/// events sit inside larger records need not copy them into a slice of their own.
pub fn verify_batch_by<T, F>(items: &[T], event: F) -> Vec<Result<(), VerifyError>>
where
    T: Sync,
    F: Fn(&T) -> &SignedEvent + Sync,
{
    let mut distinct: Vec<[u8; 32]> = items.iter().map(|i| event(i).pubkey).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let keys: HashMap<[u8; 32], Option<XOnlyPublicKey>> = distinct
        .par_iter()
        .map(|pk| (*pk, XOnlyPublicKey::from_slice(pk).ok()))
        .collect();
    items
        .par_iter()
        .map(&event)
        .map(|event| match keys.get(&event.pubkey) {
            Some(Some(key)) => event.verify_with_key(key),
            _ => Err(VerifyError::BadPubkey),
        })
        .collect()
}

impl From<&nostr::Event> for SignedEvent {
    fn from(e: &nostr::Event) -> Self {
        Self {
            id: EventId(e.id.to_bytes()),
            pubkey: e.pubkey.to_bytes(),
            created_at: e.created_at.as_secs(),
            kind: e.kind.as_u16(),
            tags: e.tags.iter().map(|t| t.as_slice().to_vec()).collect(),
            content: e.content.clone(),
            sig: *e.sig.as_ref(),
        }
    }
}

impl SignedEvent {
    /// Converts to a `nostr::Event` (for publishing with nostr-sdk).
    pub fn to_nostr(&self) -> Result<nostr::Event, ParseError> {
        use nostr::JsonUtil;
        nostr::Event::from_json(self.to_json())
            .map_err(|e| ParseError::malformed("event", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nostr::{EventBuilder, Keys, Kind, Tag};

    fn sample() -> SignedEvent {
        let keys = Keys::generate();
        let event = EventBuilder::new(Kind::Custom(38172), "hello \"world\"\n\u{1}é")
            .tags([Tag::parse(["d", "x"]).expect("tag")])
            .sign_with_keys(&keys)
            .expect("sign");
        SignedEvent::from(&event)
    }

    #[test]
    fn nostr_built_events_verify_and_round_trip() {
        let e = sample();
        assert_eq!(e.verify(), Ok(()));
        let back = SignedEvent::from_json(&e.to_json()).expect("parse");
        assert_eq!(back, e);
        assert_eq!(back.to_nostr().expect("nostr").id.to_bytes(), e.id.0);
    }

    #[test]
    fn changes_after_signing_fail() {
        let e = sample();
        let mut c = e.clone();
        c.content.push('!');
        assert_eq!(c.verify(), Err(VerifyError::IdMismatch));
        let mut t = e.clone();
        t.tags.push(vec!["p".into(), "x".into()]);
        assert_eq!(t.verify(), Err(VerifyError::IdMismatch));
        let mut s = e.clone();
        s.sig[0] ^= 1;
        assert_eq!(s.verify(), Err(VerifyError::BadSignature));
        let mut k = e;
        k.created_at += 1;
        assert_eq!(k.verify(), Err(VerifyError::IdMismatch));
    }

    #[test]
    fn batch_matches_single() {
        let mut events: Vec<_> = (0..16).map(|_| sample()).collect();
        events[3].content.push('x');
        events[7].sig[10] ^= 0xff;
        let batch = verify_batch(&events);
        let single: Vec<_> = events.iter().map(SignedEvent::verify).collect();
        assert_eq!(batch, single);
        assert_eq!(batch.iter().filter(|r| r.is_ok()).count(), 14);
    }

    #[test]
    fn oversized_json_is_refused() {
        let big = format!("{{\"content\":\"{}\"}}", "a".repeat(MAX_EVENT_JSON_BYTES));
        let err = SignedEvent::from_json(&big).expect_err("too large");
        assert_eq!(err.reason.label(), "too_large");
    }
}
