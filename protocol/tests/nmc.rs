//! Nostr Mint Connect events (docs/NMC.md §2, §4, §5): what a wallet builds the mint side opens
//! and answers, what it must ignore, what it must answer with an error, and what the wallet then
//! reads back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mintwatch_protocol::kinds::{NMC_REQUEST, NMC_RESPONSE};
use mintwatch_protocol::nmc::{
    build_info, build_request, build_response, open_request, open_response, parse_info, NmcError,
    NmcErrorCode, NmcInfo, NmcMethod, NmcRequest, NmcResponse, Refusal, MAX_PLAINTEXT,
    MAX_REQUEST_AGE_SECS,
};
use mintwatch_protocol::output::nip44::{self, ConversationKey};
use mintwatch_protocol::SignedEvent;
use nostr::Keys;
use serde_json::json;

fn swap() -> NmcRequest {
    NmcRequest {
        method: "swap".into(),
        params: json!({"inputs": [], "outputs": []}),
    }
}

/// The request's `created_at`: "now" for the mint side.
fn at(request: &SignedEvent) -> u64 {
    request.created_at
}

#[test]
fn a_request_round_trips_to_its_response() {
    let mint = Keys::generate();
    let wallet = Keys::generate();
    let request = build_request(&wallet, &mint.public_key(), &swap(), None).unwrap();
    assert_eq!(request.kind, NMC_REQUEST);
    assert_eq!(request.tag_value("encryption"), Some("nip44_v2"));
    let opened = open_request(&mint, &request, at(&request)).unwrap();
    assert_eq!(opened.requester, wallet.public_key());
    assert_eq!(opened.method, NmcMethod::Swap);
    assert_eq!(opened.params, swap().params);

    let answer = NmcResponse::ok("swap", json!({"signatures": []}));
    let response = build_response(&mint, &request, &answer).unwrap();
    assert_eq!(response.kind, NMC_RESPONSE);
    let read = open_response(&wallet, &response).unwrap();
    assert_eq!(read.mint, mint.public_key());
    assert_eq!(read.request, request.id);
    assert_eq!(read.response, answer);
    // Only the requester can read it.
    assert!(open_response(&Keys::generate(), &response).is_err());
}

#[test]
fn requests_not_for_this_mint_or_out_of_time_are_ignored() {
    let mint = Keys::generate();
    let wallet = Keys::generate();
    let request = build_request(&wallet, &mint.public_key(), &swap(), None).unwrap();
    let now = at(&request);
    let ignored = |r: Result<_, Refusal>| matches!(r, Err(Refusal::Ignore(_)));
    assert!(ignored(open_request(&Keys::generate(), &request, now)));
    assert!(ignored(open_request(
        &mint,
        &request,
        now + MAX_REQUEST_AGE_SECS + 1
    )));
    assert!(open_request(&mint, &request, now + MAX_REQUEST_AGE_SECS).is_ok());
    let mut forged = request.clone();
    forged.created_at += 1;
    assert!(ignored(open_request(&mint, &forged, now)));
    let expiring = build_request(&wallet, &mint.public_key(), &swap(), Some(now + 10)).unwrap();
    assert!(open_request(&mint, &expiring, now + 9).is_ok());
    assert!(ignored(open_request(&mint, &expiring, now + 10)));
}

fn answered(r: Result<mintwatch_protocol::nmc::OpenedRequest, Refusal>) -> (String, NmcError) {
    match r {
        Err(Refusal::Answer { result_type, error }) => (result_type, error),
        other => panic!("expected an error answer, got {other:?}"),
    }
}

/// A request signed by `wallet` to `mint` whose content is `content` as is.
fn raw_request(wallet: &Keys, mint: &Keys, content: String) -> SignedEvent {
    let event = nostr::EventBuilder::new(nostr::Kind::Custom(NMC_REQUEST), content)
        .tags([nostr::Tag::parse(["p", &mint.public_key().to_hex()]).unwrap()])
        .sign_with_keys(wallet)
        .unwrap();
    SignedEvent::from(&event)
}

fn encrypted(wallet: &Keys, mint: &Keys, plaintext: &str) -> String {
    let ck = ConversationKey::from_keys(wallet, &mint.public_key()).unwrap();
    nip44::encrypt(&ck, plaintext.as_bytes()).unwrap()
}

#[test]
fn bad_requests_are_answered_with_their_error_code() {
    let mint = Keys::generate();
    let wallet = Keys::generate();

    let garbage = raw_request(&wallet, &mint, "not encrypted".into());
    let (_, e) = answered(open_request(&mint, &garbage, at(&garbage)));
    assert_eq!(e.code, NmcErrorCode::BadRequest);

    let not_json = raw_request(&wallet, &mint, encrypted(&wallet, &mint, "{method"));
    let (_, e) = answered(open_request(&mint, &not_json, at(&not_json)));
    assert_eq!(e.code, NmcErrorCode::BadRequest);

    let unknown = raw_request(
        &wallet,
        &mint,
        encrypted(&wallet, &mint, r#"{"method":"transfer","params":{}}"#),
    );
    let (result_type, e) = answered(open_request(&mint, &unknown, at(&unknown)));
    assert_eq!(e.code, NmcErrorCode::NotImplemented);
    assert_eq!(result_type, "transfer");

    let huge = format!(
        r#"{{"method":"restore","params":{{"outputs":"{}"}}}}"#,
        "x".repeat(MAX_PLAINTEXT)
    );
    let too_large = raw_request(&wallet, &mint, encrypted(&wallet, &mint, &huge));
    let (_, e) = answered(open_request(&mint, &too_large, at(&too_large)));
    assert_eq!(e.code, NmcErrorCode::PayloadTooLarge);
    // The wallet side refuses to build it at all.
    let request = NmcRequest {
        method: "restore".into(),
        params: json!({"outputs": "x".repeat(MAX_PLAINTEXT)}),
    };
    assert!(build_request(&wallet, &mint.public_key(), &request, None).is_err());
}

#[test]
fn an_answer_too_large_becomes_payload_too_large_never_a_cut() {
    let mint = Keys::generate();
    let wallet = Keys::generate();
    let request = build_request(&wallet, &mint.public_key(), &swap(), None).unwrap();
    let big = NmcResponse::ok("swap", json!({"signatures": "x".repeat(MAX_PLAINTEXT)}));
    let response = build_response(&mint, &request, &big).unwrap();
    let read = open_response(&wallet, &response).unwrap().response;
    assert_eq!(read.result, None);
    assert_eq!(
        read.error.map(|e| e.code),
        Some(NmcErrorCode::PayloadTooLarge)
    );
    assert_eq!(read.result_type, "swap");
}

#[test]
fn the_service_info_names_methods_relays_and_encryption() {
    let mint = Keys::generate();
    let info = NmcInfo {
        methods: NmcMethod::ALL.to_vec(),
        relays: vec!["wss://relay.example".into(), "ws://127.0.0.1:7777".into()],
        url: Some("https://mint.example".into()),
    };
    let event = build_info(&mint, &info).unwrap();
    event.verify().unwrap();
    assert_eq!(event.tag_value("v"), Some("1"));
    assert_eq!(parse_info(&event).unwrap(), info);
    assert_eq!(event.content.split(' ').count(), 13);
}
