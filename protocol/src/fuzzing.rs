//! One harness per parser of outside input, shared by the cargo-fuzz targets (`fuzz/`) and the
//! bounded property tests that run them on stable Rust in CI (`protocol/tests/fuzz_harness.rs`).
//!
//! Each harness takes arbitrary bytes and must return normally: a parser may refuse its input,
//! but a panic, an overflow or a runaway allocation is a bug. Where a value parses, the harness
//! also checks a property that must hold of it (it round-trips, or the message keeps the event
//! verbatim), so the fuzzer finds wrong answers as well as crashes. Built only with the
//! `fuzzing` feature.

use base64::Engine;

use crate::broadcast::{CashuData, FinEpoch, MintInfo};
use crate::event::SignedEvent;
use crate::kinds;
use crate::nip87::{Deletion, FedimintAnnouncement, MintAnnouncement, Recommendation};
use crate::output::nip44::{self, ConversationKey};
use crate::output::query::{open_request, Query};
use crate::output::{parse_assertion, parse_service_info, verify_evidence_label};
use crate::relay_message::{EventHead, RelayMessage};

/// The kinds whose content and tags a parser of this crate reads.
const PARSED_KINDS: [u16; 9] = [
    kinds::MINT_ANNOUNCEMENT,
    kinds::FEDIMINT_ANNOUNCEMENT,
    kinds::RECOMMENDATION,
    kinds::DELETION,
    kinds::MINT_INFO,
    kinds::CASHU_DATA,
    kinds::FIN_EPOCH,
    kinds::ASSERTION,
    kinds::SERVICE_INFO,
];

/// A fixed service key for the harnesses that need one (the secret is 1..=32 as bytes).
fn service_keys() -> nostr::Keys {
    let secret: [u8; 32] = std::array::from_fn(|i| i as u8 + 1);
    let secret = nostr::SecretKey::from_slice(&secret).expect("1..=32 is a valid secret key");
    nostr::Keys::new(secret)
}

/// A relay → client message (NIP-01) as a relay may send it: whatever parses as an `EVENT`
/// borrows its event verbatim from the message, and its header is read without panicking.
pub fn relay_message(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(RelayMessage::Event { event, .. }) = RelayMessage::parse(&text) {
        assert!(
            text.contains(event.get()),
            "the event must be a verbatim slice of the message"
        );
        let _ = EventHead::parse(event);
    }
}

/// An event's JSON: what parses re-serialises to an event that parses to the same value, and
/// its id and signature checks answer without panicking.
pub fn event_json(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(event) = SignedEvent::from_json(&text) {
        let _ = event.verify();
        let again = SignedEvent::from_json(&event.to_json()).expect("our own JSON parses");
        assert_eq!(again, event, "an event must round-trip through its JSON");
    }
}

/// Every kind's content and tag parser, over an event read from the bytes and given each kind
/// in turn (so any tags and content reach every parser), plus the content decoders alone.
pub fn event_contents(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = MintInfo::decode_content(&text);
    let _ = FinEpoch::decode_content(&text);
    let _ = CashuData::decode_content(&text);
    let Ok(event) = SignedEvent::from_json(&text) else {
        return;
    };
    for kind in PARSED_KINDS {
        let mut e = event.clone();
        e.kind = kind;
        match kind {
            kinds::MINT_ANNOUNCEMENT => drop(MintAnnouncement::parse(&e)),
            kinds::FEDIMINT_ANNOUNCEMENT => drop(FedimintAnnouncement::parse(&e)),
            kinds::RECOMMENDATION => drop(Recommendation::parse(&e)),
            kinds::DELETION => drop(Deletion::parse(&e)),
            kinds::MINT_INFO => drop(MintInfo::parse(&e)),
            kinds::CASHU_DATA => drop(CashuData::parse(&e)),
            kinds::FIN_EPOCH => drop(FinEpoch::parse(&e)),
            kinds::ASSERTION => drop(parse_assertion(&e)),
            _ => drop(parse_service_info(&e)),
        }
    }
}

/// The 4919 content decoder on the bytes as text and as base64 of the bytes (so the CBOR walk
/// is reached); whatever decodes re-encodes to content that decodes to the same groups.
pub fn cashu_data(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = CashuData::decode_content(&text);
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    if let Ok(groups) = CashuData::decode_content(&encoded) {
        let again = CashuData { groups, prev: None };
        assert_eq!(
            CashuData::decode_content(&again.encode_content()).as_ref(),
            Ok(&again.groups)
        );
    }
}

/// NIP-44 v2 decryption of a payload anyone can send, and unpadding of the plaintext: refused
/// or read, never a panic; what decrypts encrypts and decrypts again to the same text.
pub fn nip44_payload(data: &[u8]) {
    let ck = ConversationKey::from_bytes([7u8; 32]);
    let text = String::from_utf8_lossy(data);
    let _ = nip44::decrypt(&ck, &text);
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    if let Ok(plain) = nip44::decrypt(&ck, &encoded) {
        let sealed = nip44::encrypt(&ck, plain.as_bytes()).expect("a decrypted text re-encrypts");
        assert_eq!(nip44::decrypt(&ck, &sealed).as_deref(), Ok(plain.as_str()));
    }
    let _ = nip44::unpad(data);
}

/// A query-service request: its decrypted body as JSON, and a whole request event opened with
/// the service's key (kind, signature, `p`, decryption, body): each refusal is an answer.
pub fn query_request(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = Query::from_json(&text);
    if let Ok(event) = SignedEvent::from_json(&text) {
        let mut request = event;
        request.kind = kinds::SERVICE_REQUEST;
        let _ = open_request(&service_keys(), &request);
    }
}

/// An NMC request (kind 27338) as a gateway opens it at a fixed time, and its plaintext as
/// JSON: a request that opens names a method of the table, and its HTTP call either builds or
/// is a `BAD_REQUEST`; a refusal is an answer or silence, never a panic.
pub fn nmc_request(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = serde_json::from_str::<crate::nmc::NmcRequest>(&text);
    if let Ok(mut request) = SignedEvent::from_json(&text) {
        request.kind = kinds::NMC_REQUEST;
        if let Ok(opened) = crate::nmc::open_request(&service_keys(), &request, request.created_at)
        {
            if let Err(e) = crate::nmc::http_call(opened.method, &opened.params) {
                assert_eq!(e.code, crate::nmc::NmcErrorCode::BadRequest);
            }
        }
    }
}

/// An evidence label (NIP-32 kind 1985) verified on its own, embedded events and re-check
/// included.
pub fn evidence_label(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(mut label) = SignedEvent::from_json(&text) {
        label.kind = kinds::LABEL;
        let _ = verify_evidence_label(&label);
    }
}

/// A harness: takes any bytes, returns normally or panics on a bug.
pub type Harness = fn(&[u8]);

/// Every harness of this module, by name: the fuzz targets and the property tests use the
/// same table.
pub const HARNESSES: [(&str, Harness); 8] = [
    ("relay_message", relay_message),
    ("event_json", event_json),
    ("event_contents", event_contents),
    ("cashu_data", cashu_data),
    ("nip44_payload", nip44_payload),
    ("query_request", query_request),
    ("nmc_request", nmc_request),
    ("evidence_label", evidence_label),
];
