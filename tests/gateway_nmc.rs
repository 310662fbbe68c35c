//! Nostr Mint Connect served by the gateway beside a real nutshell mint (issue 15): a client made
//! of `mintwatch_protocol::nmc` and a relay pool, with no HTTP of its own, mints and swaps, and
//! every rule of NMC.md §5 is checked: a request delivered through two relays and re-published
//! executes once and gets one answer, a spent proof is the mint's own `MINT_ERROR` 11001, bad
//! input gets `BAD_REQUEST` or `NOT_IMPLEMENTED`, an expired request gets nothing, a flood from
//! one key gets one `RATE_LIMITED`, and a stopped mint gives `UNAVAILABLE`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod gateway_support;

use std::time::Duration;

use cashu::dhke::construct_proofs;
use cashu::nuts::{BlindSignature, KeySet, Proof};
use gateway_support::nmc_client::NmcClient;
use gateway_support::nutshell::{Books, Nutshell};
use gateway_support::wallet::outputs;
use gateway_support::{key_file, mint_key, Gateway, NutshellBehindGateway};
use mintwatch_protocol::nmc::NmcErrorCode;
use mintwatch_testkit::TestRelay;
use serde_json::{json, Value};
use sqlx::Connection;

const WAIT: Duration = Duration::from_secs(30);

async fn spent_proofs(db: &str) -> i64 {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{db}?mode=ro"))
        .await
        .expect("mint db");
    sqlx::query_scalar("SELECT count(*) FROM proofs_used")
        .fetch_one(&mut conn)
        .await
        .expect("count")
}

/// Mints `n` 1-sat proofs over NMC only.
async fn mint_over_nmc(client: &mut NmcClient, n: u64) -> Vec<Proof> {
    let quote = client
        .call(
            "mint_quote",
            json!({"payment_method": "bolt11", "amount": n, "unit": "sat"}),
        )
        .await;
    let id = quote["quote"].as_str().expect("quote id").to_string();
    let mut paid = false;
    for _ in 0..100 {
        let state = client
            .call(
                "mint_quote_state",
                json!({"payment_method": "bolt11", "quote_id": id}),
            )
            .await;
        if state["state"] == json!("PAID") {
            paid = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(paid, "the FakeWallet pays the invoice");
    let keysets = client.call("keysets", Value::Null).await;
    let active = keysets["keysets"]
        .as_array()
        .expect("keysets")
        .iter()
        .find(|k| k["active"] == json!(true) && k["unit"] == json!("sat"))
        .expect("an active sat keyset")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let keys = client
        .call("keyset_keys", json!({"keyset_id": active}))
        .await;
    let set: KeySet = serde_json::from_value(keys["keysets"][0].clone()).expect("keyset");
    let out = outputs(set.id, usize::try_from(n).expect("small"));
    let signed = client
        .call(
            "mint",
            json!({"payment_method": "bolt11", "quote": id, "outputs": out.messages}),
        )
        .await;
    let signatures: Vec<BlindSignature> =
        serde_json::from_value(signed["signatures"].clone()).expect("signatures");
    construct_proofs(signatures, out.rs, out.secrets, &set.keys).expect("proofs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_uses_a_real_mint_over_nostr_only_and_every_rule_holds() {
    let relay_a = TestRelay::start(None).await;
    let relay_b = TestRelay::start(None).await;
    let seed = "gateway nmc test seed";
    let mint = Nutshell::start(seed, Books::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    key_file(dir.path(), seed);
    let gateway = Gateway::start(&mint, &[&relay_a.url, &relay_b.url], dir.path(), &[]);
    gateway.wait_ready().await;
    let (pk, _) = mint_key(&mint);
    let mut client = NmcClient::connect(&[&relay_a.url, &relay_b.url], pk).await;

    // The mint's info over nostr is what it serves over HTTP.
    let info = client.call("info", Value::Null).await;
    let http: Value = reqwest::get(format!("{}/v1/info", mint.url))
        .await
        .expect("info")
        .json()
        .await
        .expect("json");
    assert_eq!(info["pubkey"], http["pubkey"]);

    let mut proofs = mint_over_nmc(&mut client, 40).await;
    assert_eq!(proofs.len(), 40);

    // One signed swap delivered through both relays, then re-published: one swap at the mint,
    // one response (the same event), delivered by each relay.
    let before = spent_proofs(&mint.db).await;
    let inputs: Vec<Proof> = proofs.drain(..10).collect();
    let keyset = inputs[0].keyset_id;
    // The test mint charges an input fee: 10 inputs pay 1 sat (NUT-02, rounded up).
    let out = outputs(keyset, 9);
    let swap = client.request(
        "swap",
        json!({"inputs": &inputs, "outputs": out.messages}),
        None,
    );
    client.send(&swap, Some(&relay_a.url)).await;
    client.send(&swap, Some(&relay_b.url)).await;
    let first = client.response(swap.id, WAIT).await.expect("an answer");
    assert!(first.error.is_none(), "{:?}", first.error);
    let answer_id = client.response_event(swap.id).expect("heard").id;
    client.send(&swap, None).await;
    let deliveries = client.deliveries(swap.id, Duration::from_secs(3)).await;
    assert!(
        deliveries >= 2,
        "both relays carried the answer: {deliveries}"
    );
    assert_eq!(
        client.response_event(swap.id).expect("heard").id,
        answer_id,
        "every delivery is the same answer"
    );
    assert_eq!(
        spent_proofs(&mint.db).await,
        before + 10,
        "the swap ran once"
    );

    // The same proofs again: the mint's own error, passed through.
    let out = outputs(keyset, 9);
    let again = client.request(
        "swap",
        json!({"inputs": &inputs, "outputs": out.messages}),
        None,
    );
    client.send(&again, None).await;
    let spent = client.response(again.id, WAIT).await.expect("an answer");
    let error = spent.error.expect("an error");
    assert_eq!(error.code, NmcErrorCode::MintError);
    assert_eq!(
        error.cashu.as_ref().and_then(|c| c["code"].as_u64()),
        Some(11001)
    );

    // Outside the table, and not decryptable.
    let unknown = client.request("transfer", json!({}), None);
    client.send(&unknown, None).await;
    let r = client.response(unknown.id, WAIT).await.expect("an answer");
    assert_eq!(r.error.map(|e| e.code), Some(NmcErrorCode::NotImplemented));
    let keys = nostr_sdk::prelude::Keys::generate();
    let garbage = nostr_sdk::prelude::EventBuilder::new(
        nostr_sdk::prelude::Kind::Custom(27338),
        "not encrypted",
    )
    .tags([nostr_sdk::prelude::Tag::parse(["p", &pk.to_hex()]).unwrap()])
    .sign_with_keys(&keys)
    .unwrap();
    let garbage = mintwatch_protocol::SignedEvent::from(&garbage);
    client.remember(&garbage, keys);
    client.send(&garbage, None).await;
    let r = client.response(garbage.id, WAIT).await.expect("an answer");
    assert_eq!(r.error.map(|e| e.code), Some(NmcErrorCode::BadRequest));

    // Expired: no answer, while a request sent after it is answered (the sentinel).
    let now = nostr_sdk::prelude::Timestamp::now().as_secs();
    let expired = client.request("info", Value::Null, Some(now - 1));
    client.send(&expired, None).await;
    client.call("keysets", Value::Null).await;
    assert!(client
        .response(expired.id, Duration::from_secs(2))
        .await
        .is_none());

    // A flood from one key (its allowance is 20 at once): one RATE_LIMITED, then silence;
    // another requester is still served (the sentinel).
    let flooder = nostr_sdk::prelude::Keys::generate();
    let flood: Vec<_> = (0..26)
        .map(|_| client.request_as(flooder.clone(), "keysets", Value::Null, None))
        .collect();
    for r in &flood {
        client.send(r, Some(&relay_a.url)).await;
    }
    client.call("keysets", Value::Null).await;
    let mut answered = 0;
    let mut limited = 0;
    for r in &flood {
        match client.response(r.id, Duration::from_millis(200)).await {
            Some(resp) if resp.error.is_none() => answered += 1,
            Some(resp) => {
                assert_eq!(resp.error.map(|e| e.code), Some(NmcErrorCode::RateLimited));
                limited += 1;
            }
            None => {}
        }
    }
    assert!((20..=22).contains(&answered), "{answered} answered");
    assert_eq!(limited, 1, "told once");

    // The mint stopped: UNAVAILABLE.
    mint.stop().await;
    let down = client.request("keysets", Value::Null, None);
    client.send(&down, None).await;
    let r = client.response(down.id, WAIT).await.expect("an answer");
    assert_eq!(r.error.map(|e| e.code), Some(NmcErrorCode::Unavailable));
    drop(gateway);
}

/// An independent client (`tests/nmc_client/nmc_wallet.mjs`: nostr-tools and @noble/curves on
/// Node.js, written from NMC.md alone, nothing of this repository's code) mints 64 sat, swaps
/// them, checks their states and is refused a double spend, through the gateway's relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_nostr_tools_client_mints_and_swaps_over_nmc() {
    let relay = TestRelay::start(None).await;
    let beside =
        NutshellBehindGateway::start("gateway nmc nostr-tools seed", &[&relay.url], &[]).await;
    let (pk, db) = (beside.key, beside.mint.db.clone());
    let before = spent_proofs(&db).await;

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
        "/tests/nmc_client/nmc_wallet.mjs"
    );
    let relay_url = relay.url.clone();
    let mint_hex = pk.to_hex();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg("--experimental-websocket")
            .arg(script)
            .arg(&relay_url)
            .arg(&mint_hex)
            .env("NODE_PATH", &modules)
            .output()
            .expect("node (scripts/setup.sh installs Node.js)")
    })
    .await
    .expect("node ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the nostr-tools client failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in ["minted 64", "double spend refused 11001", "ok"] {
        assert!(stdout.lines().any(|l| l == line), "{line:?} in {stdout}");
    }
    // The swap pays the keyset's input fee (nutshell: 100 ppk for each of the 7 proofs).
    let swapped: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("swapped "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no swap in {stdout}"));
    assert!((60..=64).contains(&swapped), "{stdout}");
    let unspent = swapped.count_ones();
    let states = format!("checkstate spent 7 unspent {unspent}");
    assert!(
        stdout.lines().any(|l| l == states),
        "{states:?} in {stdout}"
    );
    // The mint's books: the seven minted proofs spent by the one swap, the refused one not.
    assert_eq!(spent_proofs(&db).await, before + 7);
    beside.stop().await;
}
