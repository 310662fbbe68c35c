//! A wallet on a real mint over nostr only (issue 15): `mintwatch wallet`, given nothing but the
//! mint's key and a relay, mints 1,000 sat, sends and receives between two wallets, melts, and
//! a third wallet restores the first's proofs from its seed words; cdk's wallet over the
//! `NostrMintConnector` checks proof states. Against a real nutshell mint (whose access log shows
//! every call coming from the gateway's own address, none from the wallets) and a real cdk mint.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod gateway_support;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use cdk::dhke::hash_to_curve;
use cdk::nuts::{CheckStateRequest, MintQuoteBolt11Request, State, Token};
use cdk::wallet::MintConnector;
use cdk_common::{MintQuoteRequest, MintQuoteResponse};
use gateway_support::cdk::CdkMint;
use gateway_support::shell::{balance, wallet, wallet_run};
use gateway_support::{
    index_agreeing, key_file, mint_key, wait_published, Gateway, NutshellBehindGateway,
};
use mintwatch_api::nostr::NostrService;
use mintwatch_testkit::{wait_for, TestRelay};
use mintwatch_wallet::{NostrMintConnector, Patience, Relays};
use nostr::ToBech32;
use nostr_sdk::prelude::PublicKey;

/// The source address the gateway's calls to the mint come from (the wallets' would be
/// 127.0.0.1).
const GATEWAY_SOURCE: &str = "127.0.0.2";

/// The seed words in a wallet directory.
fn words(dir: &Path) -> String {
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("wallet.json")).expect("file"))
            .expect("JSON");
    file["mnemonic"].as_str().expect("words").to_string()
}

/// A connector of the test's own to the mint (for what the shell wallet does not print).
async fn connector(pk: PublicKey, relay: &str) -> NostrMintConnector {
    let relays = Relays::connect(&[relay.to_string()], Duration::from_secs(10))
        .await
        .expect("relay");
    NostrMintConnector::new(relays, pk, vec![relay.to_string()], Patience::default())
}

/// Waits until the gateway's 17338 is on `relay`: it publishes it once connected, which can be
/// after `/readyz` answers.
async fn nmc_info_published(relay: &TestRelay) {
    let published = wait_for(Duration::from_secs(30), || async {
        !relay.events_of_kind(17338).await.is_empty()
    })
    .await;
    assert!(published, "the gateway published its NMC service info");
}

/// The whole shell session against the mint `pk` behind a gateway on `relay`; `melt_invoice`
/// is an invoice of `melt_sat` sat the mint's Lightning backend pays.
async fn shell_session(pk: PublicKey, relay: &str, melt_invoice: &str, melt_sat: u64) {
    let alice = tempfile::tempdir().expect("dir");
    let bob = tempfile::tempdir().expect("dir");
    let carol = tempfile::tempdir().expect("dir");
    let key = pk.to_hex();

    // A wallet's whole configuration: the mint's key and one relay.
    let added = wallet(alice.path(), &["add-mint", &key, "--relay", relay]);
    assert!(added.contains("methods: info keys"), "{added}");
    assert!(added.contains(&format!("relays (NMC): {relay}")), "{added}");
    assert!(
        added.contains("announced (38172): network regtest"),
        "{added}"
    );
    let minted = wallet(alice.path(), &["mint", "1000", "--wait-secs", "60"]);
    assert!(minted.contains("minted 1000 sat"), "{minted}");
    assert_eq!(balance(alice.path()), 1000);

    // Alice sends 300 to Bob, who names the mint by npub.
    let sent = wallet(alice.path(), &["send", "300"]);
    let token = sent
        .lines()
        .find(|l| l.starts_with("cashu"))
        .unwrap_or_else(|| panic!("no token in {sent}"))
        .to_string();
    let parsed = Token::from_str(&token).expect("token");
    assert_eq!(
        parsed.mint_url().expect("url").to_string(),
        format!("nmc://{key}"),
        "the token names the mint by key, not by URL"
    );
    let npub = pk.to_bech32().expect("npub");
    wallet(bob.path(), &["add-mint", &npub, "--relay", relay]);
    let received = wallet(bob.path(), &["receive", &token]);
    // The mint may charge an input fee on the swap (nutshell: 100 ppk per proof).
    let got: u64 = received
        .lines()
        .find_map(|l| l.strip_prefix("received ")?.strip_suffix(" sat"))
        .unwrap_or_else(|| panic!("no amount in {received}"))
        .parse()
        .expect("sat");
    assert!((290..=300).contains(&got), "{received}");
    assert_eq!(balance(bob.path()), got);

    // The same token again: the mint's own "already spent" (11001), through NMC and cdk.
    let again = wallet_run(bob.path(), &["receive", &token]);
    assert!(!again.status.success(), "a spent token is refused");
    let why = String::from_utf8_lossy(&again.stderr).to_lowercase();
    assert!(why.contains("spent"), "{why}");
    assert_eq!(balance(bob.path()), got, "nothing lost");

    // Proof states (NUT-07) over NMC: the token's proofs are spent.
    let mint = connector(pk, relay).await;
    let ys = parsed
        .token_secrets()
        .into_iter()
        .map(|s| hash_to_curve(s.as_bytes()).expect("Y"))
        .collect::<Vec<_>>();
    let states = mint
        .post_check_state(CheckStateRequest { ys: ys.clone() })
        .await
        .expect("checkstate");
    assert_eq!(states.states.len(), ys.len());
    assert!(
        states.states.iter().all(|s| s.state == State::Spent),
        "{states:?}"
    );

    // Alice pays an invoice.
    let before = balance(alice.path());
    let melted = wallet(alice.path(), &["melt", melt_invoice]);
    assert!(melted.contains("paid: Paid"), "{melted}");
    let after = balance(alice.path());
    assert!(
        after <= before - melt_sat && after + melt_sat + 10 >= before,
        "{before} - {melt_sat} sat (and at most 10 sat of fees) = {after}"
    );

    // Carol recovers Alice's proofs from her seed words alone.
    wallet(carol.path(), &["init", "--restore", &words(alice.path())]);
    wallet(carol.path(), &["add-mint", &key, "--relay", relay]);
    let restored = wallet(carol.path(), &["restore"]);
    assert!(
        restored.contains(&format!("balance {after} sat")),
        "restored Alice's {after} sat: {restored}"
    );
}

/// An invoice of `sat` sat from the mint's own quote, asked over NMC.
async fn invoice_over_nmc(pk: PublicKey, relay: &str, sat: u64) -> String {
    let quote = connector(pk, relay)
        .await
        .post_mint_quote(MintQuoteRequest::Bolt11(MintQuoteBolt11Request {
            amount: sat.into(),
            unit: cdk::nuts::CurrencyUnit::Sat,
            description: None,
            pubkey: None,
        }))
        .await
        .expect("mint quote");
    match quote {
        MintQuoteResponse::Bolt11(q) => q.request,
        other => panic!("a bolt11 quote: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shell_wallet_uses_a_nutshell_mint_over_nostr_only() {
    let relay = TestRelay::start(None).await;
    let beside = NutshellBehindGateway::start(
        "wallet over nmc nutshell seed",
        &[&relay.url],
        &["--mint-source", GATEWAY_SOURCE],
    )
    .await;
    let (mint, pk) = (&beside.mint, beside.key);
    nmc_info_published(&relay).await;
    let calls_before = mint.access_log().len();

    // nutshell's FakeWallet pays an invoice of one of its own unpaid quotes.
    let invoice = invoice_over_nmc(pk, &relay.url, 100).await;
    shell_session(pk, &relay.url, &invoice, 100).await;

    // Every call the mint saw since the gateway started came from the gateway's address.
    let calls: Vec<(String, String)> = mint.access_log().split_off(calls_before);
    for wanted in [
        "POST /v1/mint/bolt11",
        "POST /v1/swap",
        "POST /v1/melt/bolt11",
        "POST /v1/checkstate",
        "POST /v1/restore",
    ] {
        assert!(
            calls.iter().any(|(_, call)| call == wanted),
            "the mint served {wanted}: {calls:?}"
        );
    }
    let strangers: Vec<_> = calls
        .iter()
        .filter(|(client, _)| client != GATEWAY_SOURCE)
        .collect();
    assert!(
        strangers.is_empty(),
        "calls not from the gateway: {strangers:?}"
    );

    // The mint's reputation from a mintwatch indexer's query service, over the same relay.
    let ledger = mint.ledger().await;
    let published = wait_published(&relay.url, &pk, &ledger, Duration::from_secs(120)).await;
    let index = index_agreeing(&relay.url, mint, &ledger, &published).await;
    let service_keys = nostr_sdk::prelude::Keys::generate();
    let service = NostrService::new(vec![relay.url.clone()], service_keys.clone())
        .start(index.store.clone())
        .await
        .expect("query service");
    let dave = tempfile::tempdir().expect("dir");
    let index_key = service_keys.public_key().to_hex();
    let report = wallet(
        dave.path(),
        &[
            "check-mint",
            &pk.to_hex(),
            "--index",
            &index_key,
            "--index-relay",
            &relay.url,
        ],
    );
    assert!(
        report.contains(&format!("mintwatch report of {}", pk.to_hex())),
        "{report}"
    );
    assert!(
        report.contains("self-signed"),
        "the index's verdict: {report}"
    );
    assert!(
        report.contains("\"rank\""),
        "the rank and its components: {report}"
    );
    service.stop().await;
    index.drop().await;
    beside.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shell_wallet_uses_a_cdk_mint_over_nostr_only() {
    let relay = TestRelay::start(None).await;
    let seed = "wallet over nmc cdk seed";
    let mint = CdkMint::start(seed).await;
    let dir = tempfile::tempdir().expect("dir");
    key_file(dir.path(), seed);
    let gateway = Gateway::start(&mint, &[&relay.url], dir.path(), &[]);
    gateway.wait_ready().await;
    nmc_info_published(&relay).await;
    let (pk, _) = mint_key(&mint);
    // cdk's fake Lightning backend pays any invoice it can read.
    let invoice = mintwatch_testkit::cdk_mint::fake_invoice(100);
    shell_session(pk, &relay.url, &invoice, 100).await;
    drop(gateway);
    mint.stop().await;
}
