//! Wallet to wallet over nostr (docs/PERFORMANCE.md §10), against a real nutshell mint behind
//! the gateway (a feed batch each second) and one local relay: the time from `pay` (a NUT-18
//! payment, gift-wrapped) to the receiver's `listen` having redeemed it, against the same
//! ecash handed over in process (take out, receive: the two swaps without the delivery) as the
//! baseline; then the time from that redemption to the sender's `sent` showing it, answered by
//! a real indexer's `check_spent` from the mint's 4919 feed. p50/p99 of each.
//!
//! `cargo bench --bench p2p` (after `scripts/setup.sh`); `MINTWATCH_BENCH_ROUNDS` (default 40).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/gateway_support/mod.rs"]
mod gateway_support;

use std::path::Path;
use std::time::{Duration, Instant};

use cdk::amount::SplitTarget;
use cdk::nuts::PaymentMethod;
use cdk::wallet::ReceiveOptions;
use cdk::Amount;
use futures::StreamExt;
use gateway_support::{FollowingIndex, NutshellBehindGateway};
use mintwatch_testkit::bench::{ms, percentile, rounds};
use mintwatch_testkit::TestRelay;
use mintwatch_wallet::records::Outcome;
use mintwatch_wallet::request::{make_request, pay, plan_payment};
use mintwatch_wallet::sending::take_out;
use mintwatch_wallet::sent::status_of;
use mintwatch_wallet::{Inbox, IndexClient, MintRef, Patience, Relays, WalletHome};

fn report(what: &str, mut took: Vec<Duration>) -> Duration {
    took.sort();
    let p50 = percentile(&took, 0.5);
    println!(
        "{what}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} rounds)",
        ms(p50),
        ms(percentile(&took, 0.99)),
        ms(*took.last().expect("rounds")),
        took.len()
    );
    p50
}

async fn home(dir: &Path, mint: &str, relay: &str) -> WalletHome {
    let (mut home, _) = WalletHome::open(dir, None).expect("wallet");
    home.file.relays = vec![relay.to_string()];
    home.save().expect("save");
    home.add_mint(&MintRef::parse(mint).expect("key"), &[relay.to_string()])
        .await
        .expect("mint added");
    home
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let relay = TestRelay::start(None).await;
        let beside = NutshellBehindGateway::start("p2p bench seed", &[&relay.url], &[]).await;
        let mint = beside.key.to_hex();
        let (a, b) = (
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
        );
        let alice = home(a.path(), &mint, &relay.url).await;
        let bob = home(b.path(), &mint, &relay.url).await;
        let alice_mint = alice.session(beside.key).await.expect("session");
        let bob_mint = bob.session(beside.key).await.expect("session");
        let rounds = rounds(40);
        let quote = alice_mint
            .wallet
            .mint_quote(
                PaymentMethod::BOLT11,
                Some(Amount::from(20 * rounds as u64 + 100)),
                None,
                None,
            )
            .await
            .expect("quote");
        alice_mint
            .wallet
            .proof_stream(quote, SplitTarget::default(), None)
            .next()
            .await
            .expect("stream")
            .expect("minted");

        let following = FollowingIndex::start(&relay.url).await;
        let index = IndexClient::new(
            Relays::connect(std::slice::from_ref(&relay.url), Duration::from_secs(10))
                .await
                .expect("relay"),
            following.key.public_key(),
            Patience::default(),
        );

        let mut inbox = Inbox::open(&bob).await.expect("inbox");
        let (mut delivered, mut handed, mut seen) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            // Baseline: the same two swaps, the token handed over in process.
            let started = Instant::now();
            let out = take_out(&alice, &alice_mint, 8, None).await.expect("out");
            bob_mint
                .wallet
                .receive(&out.token.to_string(), ReceiveOptions::default())
                .await
                .expect("received");
            handed.push(started.elapsed());

            let made = make_request(&bob, Some(8), &[beside.key], &bob.file.relays, None)
                .expect("request");
            inbox.refresh(&bob).await.expect("refresh");
            let plan = plan_payment(&made.encoded, &[beside.key], None, None).expect("plan");
            let started = Instant::now();
            let record = pay(&alice, &alice_mint, &plan).await.expect("paid");
            let got = inbox.next(&bob).await.expect("handled");
            assert_eq!(got.outcome, Outcome::Redeemed, "{got:?}");
            delivered.push(started.elapsed());

            let redeemed = Instant::now();
            loop {
                let status = status_of(&index, record.clone()).await.expect("sent");
                if status.redeemed() {
                    break;
                }
                assert!(
                    redeemed.elapsed() < Duration::from_secs(60),
                    "never seen spent"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            seen.push(redeemed.elapsed());
        }
        let base = report(
            "baseline: take out + receive in process (two swaps over NMC)",
            handed,
        );
        let p2p = report(
            "pay -> listen redeemed (two swaps + gift wrap via the relay)",
            delivered,
        );
        println!(
            "  p50 ratio {:.2}, the delivery's own p50 {:.1} ms",
            p2p.as_secs_f64() / base.as_secs_f64(),
            ms(p2p.saturating_sub(base))
        );
        report(
            "redeemed -> sent shows it (feed batch 1 s + index + check_spent)",
            seen,
        );
        following.stop().await;
        beside.stop().await;
    });
}
