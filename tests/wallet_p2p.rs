//! Wallet to wallet over nostr (issue 16), against a real nutshell mint behind the gateway and
//! in-process relays: NUT-18 payment requests both ways with cdk's own implementation, a gift
//! wrap delivered twice redeemed once, payments refused with nothing lost, nutzaps with their
//! 7376, and `sent` learning of a redemption from the index, never from the mint.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod gateway_support;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cdk::nuts::{
    CheckStateRequest, CurrencyUnit, PaymentRequest, PaymentRequestPayload, State, Token,
};
use cdk::wallet::{
    CreateRequestParams, MintConnector, ReceiveOptions, WalletBuilder, WalletConfig,
    WalletRepositoryBuilder,
};
use cdk::Amount;
use gateway_support::cdk::fund;
use gateway_support::shell::{balance, wallet, wallet_run, wallet_spawn};
use gateway_support::{FollowingIndex, NutshellBehindGateway};
use mintwatch_testkit::{wait_for, TestRelay};
use mintwatch_wallet::{mint_url_of, NostrMintConnector, Patience, Relays, WalletHome};
use nostr_sdk::prelude::{Filter, Keys, Kind, PublicKey};

const LINE_WAIT: Duration = Duration::from_secs(90);

/// A wallet directory with the mint added and `sat` minted, its relays set to `relays`.
fn funded_wallet(dir: &Path, mint: &PublicKey, relays: &[&str], sat: u64) {
    let mut args = vec!["add-mint".to_string(), mint.to_hex()];
    for r in relays {
        args.push("--relay".into());
        args.push(r.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    wallet(dir, &args);
    if sat > 0 {
        let out = wallet(dir, &["mint", &sat.to_string()]);
        assert!(out.contains(&format!("minted {sat} sat")), "{out}");
    }
}

/// `--relay r` for each relay.
fn relay_flags<'a>(relays: &[&'a str]) -> Vec<&'a str> {
    relays.iter().flat_map(|r| ["--relay", *r]).collect()
}

/// A `request` printed by `mintwatch wallet request`.
fn request(dir: &Path, sat: u64, relays: &[&str]) -> String {
    let mut args = vec!["request", "--description", "test"];
    let amount = sat.to_string();
    args.push(&amount);
    args.extend(relay_flags(relays));
    let out = wallet(dir, &args);
    let creq = out.trim().to_string();
    assert!(creq.starts_with("creqA"), "a NUT-18 request: {out}");
    creq
}

/// cdk's wallet on the mint over NMC (the only way this mint is reached).
async fn nmc_connector(mint: PublicKey, relay: &str) -> NostrMintConnector {
    let relays = Relays::connect(&[relay.to_string()], Duration::from_secs(10))
        .await
        .expect("relay");
    NostrMintConnector::new(relays, mint, vec![relay.to_string()], Patience::default())
}

/// The states of proofs by `Y`, asked of the mint over NMC by the test (never by the wallets).
async fn states(mint: PublicKey, relay: &str, ys: &[String]) -> Vec<State> {
    let connector = nmc_connector(mint, relay).await;
    let ys = ys
        .iter()
        .map(|y| cdk::nuts::PublicKey::from_hex(y).expect("Y"))
        .collect();
    connector
        .post_check_state(CheckStateRequest { ys })
        .await
        .expect("checkstate over NMC")
        .states
        .into_iter()
        .map(|s| s.state)
        .collect()
}

/// The records of a wallet's `name` (`sent.jsonl`, `received.jsonl`).
fn records(dir: &Path, name: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a record"))
        .collect()
}

fn sent_records(dir: &Path) -> Vec<serde_json::Value> {
    records(dir, "sent.jsonl")
}

fn received_records(dir: &Path) -> Vec<serde_json::Value> {
    records(dir, "received.jsonl")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nut18_over_nostr_works_both_ways_with_cdks_own_implementation() {
    let relay = TestRelay::start(None).await;
    let beside =
        NutshellBehindGateway::start("p2p interop nutshell seed", &[&relay.url], &[]).await;
    let mint = beside.key;
    let ours = tempfile::tempdir().expect("dir");
    funded_wallet(ours.path(), &mint, &[&relay.url], 300);

    // cdk's wallet repository, its wallet for the mint over NMC (cdk names the mint nmc://<key>,
    // as ours does).
    let theirs = tempfile::tempdir().expect("dir");
    let db =
        Arc::new(cdk_redb::WalletRedbDatabase::new(&theirs.path().join("cdk.redb")).expect("db"));
    let seed = [7u8; 64];
    let repo = WalletRepositoryBuilder::new()
        .localstore(db.clone())
        .seed(seed)
        .build()
        .await
        .expect("cdk wallet repository");
    let connector = nmc_connector(mint, &relay.url).await;
    let cdk_wallet = repo
        .create_wallet(
            mint_url_of(&mint),
            CurrencyUnit::Sat,
            Some(WalletConfig::new().with_mint_connector(Arc::new(connector.clone()))),
        )
        .await
        .expect("cdk wallet over NMC");
    // Minting waits on quote states, which the repository's wallets ask over a WebSocket the
    // mint's NMC does not have: this wallet on the same books polls instead.
    let minter = WalletBuilder::new()
        .mint_url(mint_url_of(&mint))
        .unit(CurrencyUnit::Sat)
        .localstore(db)
        .seed(seed)
        .use_http_subscription()
        .client(connector)
        .build()
        .expect("cdk wallet");
    fund(&minter, 200).await;
    assert_eq!(
        u64::from(cdk_wallet.total_balance().await.expect("balance")),
        200
    );

    // cdk pays our request: our `listen` redeems it.
    let creq = request(ours.path(), 64, &[&relay.url]);
    let before = balance(ours.path());
    let mut listen = wallet_spawn(ours.path(), &["listen", "--count", "1"]);
    listen.wait_for_line(LINE_WAIT, |_| true);
    let prepared = cdk_wallet
        .prepare_pay_request(
            PaymentRequest::from_str(&creq).expect("parses in cdk"),
            None,
        )
        .await
        .expect("cdk prepares our request");
    prepared.confirm().await.expect("cdk pays over nostr");
    let line = listen.find_line(LINE_WAIT, |l| l.starts_with("received "));
    assert!(line.starts_with("received 64 sat (request "), "{line}");
    assert_eq!(listen.wait_exit(LINE_WAIT).map(|s| s.success()), Some(true));
    assert_eq!(
        balance(ours.path()),
        before + 64,
        "exactly the amount asked"
    );

    // We pay cdk's request: cdk's own wait for a nostr payment receives it.
    let (their_request, wait) = repo
        .create_request(CreateRequestParams {
            amount: Some(21),
            unit: "sat".into(),
            transport: "nostr".into(),
            nostr_relays: Some(vec![relay.url.clone()]),
            mints: Some(vec![mint_url_of(&mint).to_string()]),
            ..Default::default()
        })
        .await
        .expect("cdk makes a request");
    let wait = wait.expect("a nostr request");
    let their_before = u64::from(cdk_wallet.total_balance().await.expect("balance"));
    let paid = wallet(ours.path(), &["pay", &their_request.to_string()]);
    assert!(paid.starts_with("paid 21 sat at mint "), "{paid}");
    // cdk 0.18.3's own `wait_for_nostr_payment` cannot take a payment that arrives while it
    // waits: its NostrPaymentEventStream moves the receiver into a pending future, and on the
    // next wake finds no receiver and ends, so the function returns 0. The test does what that
    // function does, with the keys cdk's `create_request` made: nostr-sdk's `unwrap_gift_wrap`,
    // cdk's `PaymentRequestPayload`, and cdk's wallet receiving the token.
    let client = nostr_sdk::Client::new(wait.keys.clone());
    client.add_relay(relay.url.as_str()).await.expect("relay");
    client.connect().await;
    let filter = Filter::new().kind(Kind::GiftWrap).pubkey(wait.pubkey);
    let deadline = Instant::now() + LINE_WAIT;
    let mut wraps = Vec::new();
    while wraps.is_empty() && Instant::now() < deadline {
        wraps = client
            .fetch_events(filter.clone(), Duration::from_secs(2))
            .await
            .map(|events| events.into_iter().collect::<Vec<_>>())
            .unwrap_or_default();
    }
    let arrived = !wraps.is_empty();
    assert!(arrived, "our gift wrap reached cdk's receiving key");
    assert_eq!(wraps.len(), 1);
    let rumor = client
        .unwrap_gift_wrap(&wraps[0])
        .await
        .expect("cdk's key opens our gift wrap")
        .rumor;
    assert_eq!(rumor.kind, Kind::PrivateDirectMessage);
    let payload: PaymentRequestPayload =
        serde_json::from_str(&rumor.content).expect("cdk's payload type reads ours");
    assert!(
        payload.proofs.iter().all(|p| p.dleq.is_some()),
        "DLEQ proofs travel"
    );
    let token = Token::new(
        payload.mint.clone(),
        payload.proofs,
        payload.memo,
        payload.unit,
    );
    let received = repo
        .get_wallet(&payload.mint, &CurrencyUnit::Sat)
        .await
        .expect("cdk's wallet for the mint named in the payload")
        .receive(&token.to_string(), ReceiveOptions::default())
        .await
        .expect("cdk receives");
    assert_eq!(received, Amount::from(21));
    assert_eq!(
        u64::from(cdk_wallet.total_balance().await.expect("balance")),
        their_before + 21
    );
    // Our record of it: the proofs cdk swapped are spent.
    let sent = sent_records(ours.path());
    let last = sent.last().expect("recorded");
    assert_eq!(last["how"], "request");
    let ys: Vec<String> = serde_json::from_value(last["ys"].clone()).expect("ys");
    assert!(states(mint, &relay.url, &ys)
        .await
        .iter()
        .all(|s| *s == State::Spent));
    beside.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_delivered_twice_is_redeemed_once_and_refusals_lose_nothing() {
    let (one, two) = (TestRelay::start(None).await, TestRelay::start(None).await);
    let relays = [one.url.as_str(), two.url.as_str()];
    let beside = NutshellBehindGateway::start("p2p twice nutshell seed", &relays, &[]).await;
    let mint = beside.key;
    let alice = tempfile::tempdir().expect("dir");
    let bob = tempfile::tempdir().expect("dir");
    funded_wallet(alice.path(), &mint, &relays, 400);
    funded_wallet(bob.path(), &mint, &relays, 0);

    // One gift wrap, published to both relays, which both deliver to bob's listen; the second
    // payment is the sentinel that the first was not handled twice.
    let first = request(bob.path(), 30, &relays);
    let second = request(bob.path(), 40, &relays);
    let mut listen = wallet_spawn(bob.path(), &["listen", "--count", "2"]);
    listen.wait_for_line(LINE_WAIT, |_| true);
    wallet(alice.path(), &["pay", &first]);
    wallet(alice.path(), &["pay", &second]);
    assert_eq!(listen.wait_exit(LINE_WAIT).map(|s| s.success()), Some(true));
    let out = listen.output();
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("received ")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines.iter().any(|l| l.starts_with("received 30 sat")),
        "{out}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("received 40 sat")),
        "{out}"
    );
    assert_eq!(balance(bob.path()), 70);

    // A new listen sees both gift wraps again on both relays and skips them: the next payment
    // is the first thing it handles.
    let third = request(bob.path(), 5, &relays);
    let mut again = wallet_spawn(bob.path(), &["listen", "--count", "1"]);
    again.wait_for_line(LINE_WAIT, |_| true);
    wallet(alice.path(), &["pay", &third]);
    assert_eq!(again.wait_exit(LINE_WAIT).map(|s| s.success()), Some(true));
    let out = again.output();
    let handled: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("received ") || l.starts_with("refused "))
        .collect();
    assert_eq!(handled.len(), 1, "{out}");
    assert!(handled[0].starts_with("received 5 sat"), "{out}");
    assert_eq!(balance(bob.path()), 75);
    assert_eq!(received_records(bob.path()).len(), 3);

    // Proofs already spent: alice pays, then takes her own payment back before bob listens.
    // Bob is told why, and nothing is added.
    let taken_back = request(bob.path(), 10, &relays);
    wallet(alice.path(), &["pay", &taken_back]);
    let token = sent_records(alice.path())
        .last()
        .expect("sent")
        .get("token")
        .and_then(|t| t.as_str())
        .expect("the token is kept")
        .to_string();
    wallet(alice.path(), &["receive", &token]);
    let mut refused = wallet_spawn(bob.path(), &["listen", "--count", "1"]);
    let line = refused.find_line(LINE_WAIT, |l| l.starts_with("refused "));
    assert!(line.contains("already spent"), "{line}");
    assert_eq!(
        refused.wait_exit(LINE_WAIT).map(|s| s.success()),
        Some(true)
    );
    assert_eq!(balance(bob.path()), 75, "nothing added");

    // A request naming a mint the payer does not have: refused before anything leaves.
    let elsewhere = tempfile::tempdir().expect("dir");
    let (mut other, _) = WalletHome::open(elsewhere.path(), None).expect("wallet");
    let stranger = Keys::generate().public_key();
    other.file.relays = relays.iter().map(|r| r.to_string()).collect();
    other.save().expect("save");
    let foreign = mintwatch_wallet::request::make_request(
        &other,
        Some(10),
        &[stranger],
        &other.file.relays,
        None,
    )
    .expect("request");
    let alice_before = balance(alice.path());
    let out = wallet_run(alice.path(), &["pay", &foreign.encoded]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("accepts only mints"), "{err}");
    assert_eq!(balance(alice.path()), alice_before, "nothing left alice");

    // A nutzap at a mint bob does not accept: refused, the token kept, its proofs unspent.
    let carol = tempfile::tempdir().expect("dir");
    {
        let (mut home, _) = WalletHome::open(carol.path(), None).expect("carol");
        home.file.relays = relays.iter().map(|r| r.to_string()).collect();
        home.file.mints.push(mintwatch_wallet::home::KnownMint {
            key: stranger.to_hex(),
            relays: vec![one.url.clone()],
        });
        home.save().expect("save");
    }
    let profile = wallet(carol.path(), &["profile"]);
    let carol_npub = profile
        .lines()
        .find_map(|l| l.strip_prefix("published 10019 for "))
        .expect("npub")
        .to_string();
    // Alice's wallet would refuse (carol lists no mint of hers); a careless sender does not.
    let out = wallet_run(alice.path(), &["nutzap", &carol_npub, "7"]);
    assert!(!out.status.success(), "alice's wallet checks the profile");
    let (alice_home, _) = WalletHome::open(alice.path(), None).expect("alice");
    let session = alice_home.session(mint).await.expect("session");
    let pool = Relays::connect(std::slice::from_ref(&one.url), Duration::from_secs(10))
        .await
        .expect("relay");
    let carol_key = PublicKey::parse(&carol_npub).expect("npub");
    let mut careless = mintwatch_wallet::nutzap::fetch_profile(&pool, &carol_key)
        .await
        .expect("carol's 10019");
    careless.mints.push(mint_url_of(&mint).to_string());
    let zap = mintwatch_wallet::nutzap::send_nutzap(
        &alice_home,
        &session,
        &carol_key,
        &careless,
        7,
        "here",
    )
    .await
    .expect("sent anyway");
    drop(session);
    drop(alice_home);
    let mut carol_listen = wallet_spawn(carol.path(), &["listen", "--count", "1"]);
    let line = carol_listen.find_line(LINE_WAIT, |l| l.starts_with("refused "));
    assert!(line.contains("does not accept"), "{line}");
    assert_eq!(
        carol_listen.wait_exit(LINE_WAIT).map(|s| s.success()),
        Some(true)
    );
    let kept = received_records(carol.path());
    assert_eq!(kept.len(), 1);
    assert!(kept[0]["token"]
        .as_str()
        .is_some_and(|t| t.starts_with("cashu")));
    assert!(states(mint, &one.url, &zap.ys)
        .await
        .iter()
        .all(|s| *s == State::Unspent));
    beside.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nutzap_is_redeemed_with_its_history_and_sent_learns_it_from_the_index() {
    let relay = TestRelay::start(None).await;
    let beside = NutshellBehindGateway::start("p2p sent nutshell seed", &[&relay.url], &[]).await;
    let mint = beside.key;
    let alice = tempfile::tempdir().expect("dir");
    let bob = tempfile::tempdir().expect("dir");
    funded_wallet(alice.path(), &mint, &[&relay.url], 200);
    funded_wallet(bob.path(), &mint, &[&relay.url], 0);

    // A real indexer following the relay, and its query service.
    let following = FollowingIndex::start(&relay.url).await;
    let index_flags = [
        "--index",
        &following.key.public_key().to_hex(),
        "--index-relay",
        &relay.url,
    ]
    .map(str::to_string);

    // Bob's nutzap profile: his npub, a P2PK key that is not it.
    let profile = wallet(bob.path(), &["profile", "--relay", &relay.url]);
    let npub = profile
        .lines()
        .find_map(|l| l.strip_prefix("published 10019 for "))
        .expect("npub")
        .to_string();
    let p2pk = profile
        .lines()
        .find_map(|l| l.trim().strip_prefix("P2PK key: "))
        .expect("p2pk key");
    let bob_key = PublicKey::parse(&npub).expect("npub");
    assert!(p2pk.starts_with("02"));
    assert_ne!(
        &p2pk[2..],
        bob_key.to_hex(),
        "the lock key is not the nostr key"
    );

    let zapped = wallet(
        alice.path(),
        &["nutzap", &npub, "25", "--comment", "thanks"],
    );
    assert!(zapped.starts_with("nutzapped 25 sat"), "{zapped}");
    let sent = sent_records(alice.path());
    let zap_id = sent.last().expect("sent")["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_ne!(
        relay.events_of_kind(9321).await[0].pubkey,
        bob_key,
        "signed by a fresh key"
    );

    // Not redeemed yet, as the index sees it.
    let mut args: Vec<&str> = vec!["sent"];
    args.extend(index_flags.iter().map(String::as_str));
    let before = wallet(alice.path(), &args);
    assert!(
        before.contains(&format!("{zap_id} nutzap 25 sat")) && before.contains("not redeemed"),
        "{before}"
    );
    let calls_before = beside.mint.access_log().len();

    let mut listen = wallet_spawn(bob.path(), &["listen", "--count", "1"]);
    let line = listen.find_line(LINE_WAIT, |l| l.starts_with("received "));
    let redeemed_at = Instant::now();
    assert!(line.starts_with("received 25 sat (nutzap "), "{line}");
    assert!(line.contains("history 7376 "), "{line}");
    assert_eq!(listen.wait_exit(LINE_WAIT).map(|s| s.success()), Some(true));
    assert_eq!(balance(bob.path()), 25);
    // The 7376, signed by bob, tags the nutzap redeemed.
    let history = relay.events_of_kind(7376).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].pubkey, bob_key);
    assert!(history[0]
        .tags
        .iter()
        .any(|t| matches!(t.as_slice(), [e, id, _relay, marker] if e == "e" && *id == zap_id && marker == "redeemed")));

    // `sent` turns to redeemed from the mint's 4919 feed, via the index.
    let mut last = String::new();
    let turned = wait_for(Duration::from_secs(60), || {
        // A blocking child per poll: the test's runtime has threads to spare.
        let out = wallet(alice.path(), &args);
        let done =
            out.contains(&format!("{zap_id} nutzap 25 sat")) && out.contains(": redeemed (4919 ");
        last = out;
        async move { done }
    })
    .await;
    let took = redeemed_at.elapsed();
    assert!(turned, "sent never showed the redemption: {last}");
    // The gateway publishes each second, the index is fresh within 2 s (PERFORMANCE.md §7); one
    // `sent` round trip is well under the rest.
    assert!(took < Duration::from_secs(15), "took {took:?}");
    // The mint was never asked for these proofs' states.
    let calls: Vec<(String, String)> = beside.mint.access_log().split_off(calls_before);
    assert!(
        !calls.iter().any(|(_, c)| c == "POST /v1/checkstate"),
        "a checkstate reached the mint: {calls:?}"
    );
    assert!(
        calls.iter().any(|(_, c)| c == "POST /v1/swap"),
        "bob's redemption is in the log: {calls:?}"
    );
    following.stop().await;
    beside.stop().await;
}
