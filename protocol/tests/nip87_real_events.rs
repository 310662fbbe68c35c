//! Real NIP-87 events collected from relays (`tests/vectors/nip87-real/`): the valid ones
//! pass the event checks, one at a time and as a batch; the tampered ones and any change made
//! after signing are refused.

mod common;

use mintwatch_protocol::event::verify_batch;
use mintwatch_protocol::{SignedEvent, VerifyError};

const VALID: &str = "nip87-real/bitcoinmints-nip87-sample.jsonl";
const TAMPERED: &str = "nip87-real/bitcoinmints-nip87-sample-TAMPERED.jsonl";

fn load(name: &str) -> Vec<SignedEvent> {
    let lines = common::load_jsonl(name);
    assert!(!lines.is_empty(), "{name} has no events");
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            SignedEvent::from_json(line).unwrap_or_else(|e| panic!("{name} line {}: {e}", i + 1))
        })
        .collect()
}

#[test]
fn real_nip87_events_verify_single_and_batch() {
    let events = load(VALID);
    for event in &events {
        assert_eq!(event.verify(), Ok(()), "event {}", event.id);
        // What the checks accept survives a round trip through our own serialisation.
        let again = SignedEvent::from_json(&event.to_json()).expect("round trip");
        assert_eq!(&again, event);
    }
    let batch = verify_batch(&events);
    assert_eq!(batch.len(), events.len());
    assert!(batch.iter().all(Result::is_ok), "batch: {batch:?}");
    assert!(
        events.iter().any(|e| e.kind == 38172)
            && events.iter().any(|e| e.kind == 38173)
            && events.iter().any(|e| e.kind == 38000),
        "the sample should hold all three NIP-87 kinds"
    );
    common::report(VALID, events.len());
}

#[test]
fn tampered_nip87_events_fail_single_and_batch() {
    let events = load(TAMPERED);
    for event in &events {
        assert_eq!(
            event.verify(),
            Err(VerifyError::IdMismatch),
            "event {}",
            event.id
        );
    }
    let batch = verify_batch(&events);
    assert_eq!(batch, vec![Err(VerifyError::IdMismatch); events.len()]);
    common::report(TAMPERED, events.len());
}

/// Every way of editing a signed event: each must be refused as an id mismatch.
fn edits(event: &SignedEvent) -> Vec<(&'static str, SignedEvent)> {
    let mut out = Vec::new();

    let mut e = event.clone();
    e.content.push(' ');
    out.push(("content appended", e));

    let mut e = event.clone();
    e.content = String::new();
    if e.content != event.content {
        out.push(("content emptied", e));
    }

    let mut e = event.clone();
    e.created_at += 1;
    out.push(("created_at", e));

    let mut e = event.clone();
    e.kind ^= 1;
    out.push(("kind", e));

    let mut e = event.clone();
    e.tags.push(vec!["t".into(), "edited".into()]);
    out.push(("tag added", e));

    let mut e = event.clone();
    if let Some(value) = e.tags.first_mut().and_then(|t| t.get_mut(1)) {
        value.push('x');
        out.push(("first tag value", e));
    }

    let mut e = event.clone();
    if !e.tags.is_empty() {
        e.tags.pop();
        out.push(("last tag removed", e));
    }

    let mut e = event.clone();
    if e.tags.len() > 1 {
        e.tags.swap(0, 1);
        out.push(("tags reordered", e));
    }

    out
}

#[test]
fn real_nip87_events_edited_after_signing_fail() {
    let events = load(VALID);
    let mut edited = Vec::new();
    for event in &events {
        for (what, e) in edits(event) {
            assert_eq!(
                e.verify(),
                Err(VerifyError::IdMismatch),
                "event {}: {what}",
                event.id
            );
            edited.push(e);
        }
        // The claimed id rewritten to match the edit: now the signature gives it away.
        let mut e = event.clone();
        e.content.push(' ');
        e.id = e.compute_id();
        assert_eq!(
            e.verify(),
            Err(VerifyError::BadSignature),
            "event {}",
            event.id
        );
        edited.push(e);
    }
    let batch = verify_batch(&edited);
    let single: Vec<_> = edited.iter().map(SignedEvent::verify).collect();
    assert_eq!(batch, single);
    assert!(batch.iter().all(Result::is_err));
    common::report(VALID, edited.len());
}
