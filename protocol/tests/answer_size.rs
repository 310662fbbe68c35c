//! Every query service answer can be read by rust-nostr 0.44's NIP-44 (the `nostr` crate most
//! Rust wallets use), which refuses plaintexts above 65,408 bytes: the largest `check_spent`
//! answer the service can give fits, and the service info says the limits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mintwatch_protocol::ecash::hash_to_curve;
use mintwatch_protocol::output::query::MAX_CHECK_SPENT_YS;
use mintwatch_protocol::output::{
    build_request, build_response, build_service_info, open_request, CheckSpent, CheckSpentResult,
    Method, Query, Response, SpentStatus, MAX_ANSWER_PLAINTEXT, MAX_EVENTS_PER_Y,
};
use nostr::Keys;

fn worst_check_spent_answer() -> Response {
    let results = (0..MAX_CHECK_SPENT_YS)
        .map(|i| SpentStatus {
            y: hash_to_curve(format!("secret {i}").as_bytes()).expect("point"),
            burnt: true,
            // Every Y double-spent: the most event ids an answer lists.
            events: (0..MAX_EVENTS_PER_Y)
                .map(|e| hex::encode([(i % 251) as u8 ^ e as u8; 32]))
                .collect(),
        })
        .collect();
    let result = serde_json::to_value(CheckSpentResult { results }).expect("json");
    Response::ok(Method::CheckSpent, result)
}

#[test]
fn the_largest_check_spent_answer_decrypts_with_rust_nostr_0_44() {
    let service = Keys::generate();
    let wallet = Keys::generate();
    let answer = worst_check_spent_answer();
    let plaintext = serde_json::to_string(&answer).expect("json");
    assert!(
        plaintext.len() <= MAX_ANSWER_PLAINTEXT,
        "{} bytes",
        plaintext.len()
    );

    let request = build_request(
        &wallet,
        &service.public_key(),
        &Query::CheckSpent(CheckSpent {
            ys: vec![hash_to_curve(b"asked").expect("point")],
            mint: None,
        }),
    )
    .expect("request");
    assert!(open_request(&service, &request).is_ok());
    let event = build_response(&service, &request, &answer).expect("response");
    let decrypted =
        nostr::nips::nip44::decrypt(wallet.secret_key(), &service.public_key(), &event.content)
            .expect("rust-nostr 0.44 reads the largest answer");
    assert_eq!(decrypted, plaintext);
}

#[test]
fn rust_nostr_0_44_refuses_one_byte_more_so_the_limit_is_its_own() {
    let a = Keys::generate();
    let b = Keys::generate();
    let at_limit = "x".repeat(MAX_ANSWER_PLAINTEXT);
    assert!(nostr::nips::nip44::encrypt(
        a.secret_key(),
        &b.public_key(),
        &at_limit,
        nostr::nips::nip44::Version::V2
    )
    .is_ok());
    let over = "x".repeat(MAX_ANSWER_PLAINTEXT + 1);
    assert!(nostr::nips::nip44::encrypt(
        a.secret_key(),
        &b.public_key(),
        &over,
        nostr::nips::nip44::Version::V2
    )
    .is_err());
}

#[test]
fn a_request_over_the_ys_limit_is_refused_and_the_service_info_states_the_limits() {
    let service = Keys::generate();
    let wallet = Keys::generate();
    let too_many = CheckSpent {
        ys: (0..=MAX_CHECK_SPENT_YS)
            .map(|i| hash_to_curve(format!("y {i}").as_bytes()).expect("point"))
            .collect(),
        mint: None,
    };
    assert!(build_request(&wallet, &service.public_key(), &Query::CheckSpent(too_many)).is_err());

    let info = build_service_info(&service, &[Method::CheckSpent]).expect("info");
    let tag = |name: &str| {
        info.tags_named(name)
            .next()
            .and_then(|v| v.first().cloned())
            .unwrap_or_default()
    };
    assert_eq!(tag("max_ys"), MAX_CHECK_SPENT_YS.to_string());
    assert_eq!(tag("max_plaintext"), MAX_ANSWER_PLAINTEXT.to_string());
}
