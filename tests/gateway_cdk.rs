//! The gateway beside a real cdk mint (cdk 0.18 in process: `cdk-postgres` books, the
//! `cdk-fake-wallet` Lightning backend, `cdk-axum` serving its HTTP API), with cdk's own wallet
//! making the traffic: mint, send and receive (swaps), melt, a keyset rotation and spending the
//! rotated-out keyset's proofs. And the same traffic against cdk-mintd, cdk's own mint binary, on
//! its default SQLite books. No mock mint: every spent `Y` is checked against the mint's own
//! database and its NUT-07, and a mintwatch indexer reading the relay must agree with the books.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod gateway_support;

use std::time::Duration;

use gateway_support::cdk::{fund, melt, send_receive, CdkMint, CdkUnderTest};
use gateway_support::cdk_mintd::CdkMintd;
use gateway_support::{
    assert_indexer_agrees, assert_published_after_one_rotation, key_file, Gateway,
};
use mintwatch_testkit::TestRelay;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cdk_mint_on_postgres_is_published_exactly_and_indexed_self_signed() {
    let seed = "gateway cdk test seed";
    published_exactly_and_indexed(CdkMint::start(seed).await, seed).await;
}

/// cdk-mintd rotates a keyset when it is started with a rotation configured: stopped, the new
/// configuration applied, started again, while the gateway keeps running beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdk_mintd_on_sqlite_is_published_exactly_and_indexed_self_signed() {
    let seed = "gateway cdk-mintd test seed";
    published_exactly_and_indexed(CdkMintd::start(seed).await, seed).await;
}

/// Traffic before and while the gateway runs (swaps, melts, a rotation, the old keyset's proofs
/// spent), then every `Y` and `B_` published exactly once and an indexer that agrees with the
/// mint's books.
async fn published_exactly_and_indexed(mut mint: impl CdkUnderTest, seed: &str) {
    let relay = TestRelay::start(None).await;
    let alice = mint.wallet("alice").await;
    let bob = mint.wallet("bob").await;
    fund(&alice, 1_000).await;
    send_receive(&alice, &bob, 100).await;

    let dir = tempfile::tempdir().expect("dir");
    key_file(dir.path(), seed);
    let gateway = Gateway::start(&mint, &[&relay.url], dir.path(), &[]);
    gateway.wait_ready().await;
    // Readiness can come before the mint's database is opened: wait for the line itself.
    let opened = gateway.process.find_line(Duration::from_secs(30), |l| {
        l.contains("mint database opened")
    });
    assert!(
        opened.contains("kind=\"cdk\"") || opened.contains("kind=cdk"),
        "the gateway found a cdk database: {opened}"
    );

    // While the gateway runs: more swaps, a melt, a rotation, and the old keyset's proofs spent.
    send_receive(&bob, &alice, 40).await;
    melt(&alice, 50).await;
    mint.rotate().await;
    fund(&alice, 200).await;
    send_receive(&alice, &bob, 300).await;
    melt(&bob, 30).await;

    let ledger = mint.ledger().await;
    let p = assert_published_after_one_rotation(&relay.url, &mint, &ledger).await;
    assert_indexer_agrees(&relay.url, &mint, &ledger, &p).await;
    drop(gateway);
    mint.stop().await;
    relay.shutdown();
}
