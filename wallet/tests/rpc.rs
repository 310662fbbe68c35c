//! The exchange rule of NMC.md §5 on the wallet's side, against a real in-process relay: the
//! answer's subscription is open before the request goes out, a request not answered in time is
//! published once more (the same signed event) and that answer is taken, and a request never
//! answered is published exactly twice before the wallet gives up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mintwatch_protocol::nmc::{build_request, NmcRequest};
use mintwatch_protocol::SignedEvent;
use mintwatch_testkit::TestRelay;
use mintwatch_wallet::rpc::Exchange;
use mintwatch_wallet::{Patience, Relays, RpcError};
use nostr_sdk::prelude::{
    EventBuilder, Filter, Keys, Kind, PublicKey, RelayMessage, RelayPoolNotification, Tag,
};
use serde_json::Value;

const PATIENCE: Patience = Patience {
    first: Duration::from_millis(1_500),
    rest: Duration::from_secs(10),
};

/// A service on `relays` that counts every delivery (one per relay per publication) of each request addressed to `addressed` and
/// answers it, signed with `keys`, on its `answer_at`-th delivery (never, for 0).
async fn service(
    relays: &[&str],
    keys: Keys,
    addressed: PublicKey,
    answer_at: usize,
) -> Arc<Mutex<HashMap<String, usize>>> {
    let client = nostr_sdk::Client::new(keys.clone());
    for relay in relays {
        client.add_relay(*relay).await.expect("relay");
    }
    client.connect().await;
    client.wait_for_connection(Duration::from_secs(5)).await;
    let mut notes = client.notifications();
    client
        .subscribe(
            Filter::new().kind(Kind::Custom(27338)).pubkey(addressed),
            None,
        )
        .await
        .expect("subscribe");
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let counts = seen.clone();
    tokio::spawn(async move {
        while let Ok(note) = notes.recv().await {
            // Every delivery, not only an event's first.
            let RelayPoolNotification::Message {
                message: RelayMessage::Event { event, .. },
                ..
            } = note
            else {
                continue;
            };
            let n = {
                let mut seen = counts.lock().expect("counts");
                let n = seen.entry(event.id.to_hex()).or_insert(0);
                *n += 1;
                *n
            };
            if n == answer_at {
                let answer = EventBuilder::new(Kind::Custom(27339), "answer")
                    .tags([Tag::public_key(event.pubkey), Tag::event(event.id)])
                    .sign_with_keys(&keys)
                    .expect("sign");
                client.send_event(&answer).await.expect("answer");
            }
        }
    });
    seen
}

async fn connect(relays: &[&str]) -> Relays {
    let urls: Vec<String> = relays.iter().map(|r| r.to_string()).collect();
    Relays::connect(&urls, Duration::from_secs(5))
        .await
        .expect("connect")
}

/// Exchanges `req` with `mint` through `relays`, publishing to `publish_to` (every relay of the
/// pool when empty).
async fn ask(
    relays: &Relays,
    req: &SignedEvent,
    mint: &Keys,
    publish_to: &[String],
    patience: Patience,
) -> Result<SignedEvent, RpcError> {
    relays
        .exchange(Exchange {
            request: req,
            answer_kind: 27339,
            responder: mint.public_key(),
            publish_to,
            patience,
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_goes_to_every_relay_of_the_mint_at_once() {
    let (a, b) = (TestRelay::start(None).await, TestRelay::start(None).await);
    let mint = Keys::generate();
    // Answered on its second delivery: the copy through the second relay, not a re-publication.
    let seen = service(&[&a.url, &b.url], mint.clone(), mint.public_key(), 2).await;
    let relays = connect(&[&a.url, &b.url]).await;
    let (_, req) = request(&mint);
    let both = [a.url.clone(), b.url.clone()];
    // No time to hear an answer to a re-publication: success is the first one's.
    ask(
        &relays,
        &req,
        &mint,
        &both,
        Patience {
            first: Duration::from_secs(20),
            rest: Duration::ZERO,
        },
    )
    .await
    .expect("answered after the first publication");
    assert_eq!(
        seen.lock().expect("counts").get(&req.id.to_hex()),
        Some(&2),
        "one delivery per relay, no re-publication"
    );
}

fn request(to: &Keys) -> (Keys, SignedEvent) {
    let wallet = Keys::generate();
    let body = NmcRequest {
        method: "info".into(),
        params: Value::Null,
    };
    let event = build_request(&wallet, &to.public_key(), &body, None).expect("request");
    (wallet, event)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_request_is_published_once_more_and_that_answer_is_taken() {
    let relay = TestRelay::start(None).await;
    let mint = Keys::generate();
    let seen = service(&[&relay.url], mint.clone(), mint.public_key(), 2).await;
    let relays = connect(&[&relay.url]).await;
    let (_, req) = request(&mint);
    let answer = ask(&relays, &req, &mint, &[], PATIENCE)
        .await
        .expect("the second publication is answered");
    assert_eq!(answer.kind, 27339);
    assert_eq!(answer.tag_value("e"), Some(req.id.to_hex().as_str()));
    assert_eq!(seen.lock().expect("counts").get(&req.id.to_hex()), Some(&2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_never_answered_is_published_exactly_twice() {
    let relay = TestRelay::start(None).await;
    let mint = Keys::generate();
    let seen = service(&[&relay.url], mint.clone(), mint.public_key(), 0).await;
    let relays = connect(&[&relay.url]).await;
    let (_, req) = request(&mint);
    let quick = Patience {
        first: Duration::from_millis(800),
        rest: Duration::from_millis(1_500),
    };
    let outcome = ask(&relays, &req, &mint, &[], quick).await;
    assert!(matches!(outcome, Err(RpcError::NoAnswer(_))), "{outcome:?}");
    assert_eq!(seen.lock().expect("counts").get(&req.id.to_hex()), Some(&2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_signed_by_another_key_is_not_taken() {
    let relay = TestRelay::start(None).await;
    let mint = Keys::generate();
    let impostor = Keys::generate();
    // The impostor answers every request addressed to the mint at once; the mint never does.
    let impostor_seen = service(&[&relay.url], impostor, mint.public_key(), 1).await;
    let relays = connect(&[&relay.url]).await;
    let (_, req) = request(&mint);
    let outcome = ask(
        &relays,
        &req,
        &mint,
        &[],
        Patience {
            first: Duration::from_millis(800),
            rest: Duration::from_millis(800),
        },
    )
    .await;
    assert!(matches!(outcome, Err(RpcError::NoAnswer(_))), "{outcome:?}");
    assert!(
        impostor_seen
            .lock()
            .expect("counts")
            .contains_key(&req.id.to_hex()),
        "the impostor saw the request and answered it"
    );
}
