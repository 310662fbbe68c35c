//! Every query service answer can be read by rust-nostr 0.44's NIP-44 (the `nostr` crate most
//! Rust wallets use), which refuses plaintexts above 65,408 bytes, and by nostr-tools (the
//! JavaScript library most web wallets use): the largest `check_spent` answer the service can
//! give fits, and the service info says the limits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mintwatch_protocol::ecash::hash_to_curve;
use mintwatch_protocol::output::query::MAX_CHECK_SPENT_YS;
use mintwatch_protocol::output::{
    build_request, build_response, build_service_info, open_request, CheckSpent, CheckSpentResult,
    Method, Query, Response, SpentStatus, MAX_ANSWER_PLAINTEXT, MAX_EVENTS_PER_Y,
};
use mintwatch_protocol::SignedEvent;
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

/// The plaintext of the largest answer and the 28173 that carries it from `service` to `wallet`,
/// answering a request the service can open.
fn worst_answer_event(service: &Keys, wallet: &Keys) -> (String, SignedEvent) {
    let answer = worst_check_spent_answer();
    let plaintext = serde_json::to_string(&answer).expect("json");
    let request = build_request(
        wallet,
        &service.public_key(),
        &Query::CheckSpent(CheckSpent {
            ys: vec![hash_to_curve(b"asked").expect("point")],
            mint: None,
        }),
    )
    .expect("request");
    assert!(open_request(service, &request).is_ok());
    let event = build_response(service, &request, &answer).expect("response");
    (plaintext, event)
}

#[test]
fn the_largest_check_spent_answer_decrypts_with_rust_nostr_0_44() {
    let service = Keys::generate();
    let wallet = Keys::generate();
    let (plaintext, event) = worst_answer_event(&service, &wallet);
    assert!(
        plaintext.len() <= MAX_ANSWER_PLAINTEXT,
        "{} bytes",
        plaintext.len()
    );
    let decrypted =
        nostr::nips::nip44::decrypt(wallet.secret_key(), &service.public_key(), &event.content)
            .expect("rust-nostr 0.44 reads the largest answer");
    assert_eq!(decrypted, plaintext);
}

/// nostr-tools (npm, installed by `scripts/setup.sh` under `MINTWATCH_NODE_MODULES`) decrypts
/// `payload` for `receiver` from `sender` (`tests/nip44/nostr_tools_decrypt.cjs`).
fn nostr_tools_decrypt(receiver: &Keys, sender: &Keys, payload: &str) -> Result<String, String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let modules = std::env::var("MINTWATCH_NODE_MODULES").unwrap_or_else(|_| {
        format!(
            "{}/.cache/mintwatch-node/node_modules",
            std::env::var("HOME").unwrap_or_else(|_| "/root".into())
        )
    });
    assert!(
        std::path::Path::new(&modules).join("nostr-tools").is_dir(),
        "nostr-tools is not installed under {modules}: run scripts/setup.sh"
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/nip44/nostr_tools_decrypt.cjs"
    );
    let mut child = Command::new("node")
        .arg(script)
        .env("NODE_PATH", &modules)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node (scripts/setup.sh installs Node.js's npm packages)");
    let input = serde_json::json!({
        "secret": receiver.secret_key().to_secret_hex(),
        "sender": sender.public_key().to_hex(),
        "payload": payload,
    });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write to node");
    let out = child.wait_with_output().expect("node ran");
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).expect("utf-8 plaintext"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

#[test]
fn the_largest_check_spent_answer_decrypts_with_nostr_tools() {
    let service = Keys::generate();
    let wallet = Keys::generate();
    let (plaintext, event) = worst_answer_event(&service, &wallet);
    let decrypted = nostr_tools_decrypt(&wallet, &service, &event.content)
        .expect("nostr-tools reads the largest answer");
    assert_eq!(decrypted, plaintext);
    // The check can fail: a payload for another key is refused.
    let stranger = Keys::generate();
    assert!(nostr_tools_decrypt(&stranger, &service, &event.content).is_err());
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
