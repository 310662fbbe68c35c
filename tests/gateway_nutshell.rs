//! The gateway beside a real nutshell mint (PyPI `cashu` 0.21.0 from `scripts/setup.sh`,
//! FakeWallet backend), on SQLite and on PostgreSQL: real traffic from nutshell's CLI wallet and
//! from a bulk wallet over its HTTP API, an in-process relay, and a mintwatch indexer reading it.
//! No mock mint: every spent `Y` is checked against the mint's own database and its NUT-07.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod gateway_support;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use gateway_support::nutshell::{Books, Nutshell};
use gateway_support::wallet::BulkWallet;
use gateway_support::{
    assert_exactly_the_books, assert_indexer_agrees, assert_published_after_one_rotation, key_file,
    mint_key, published, wait_published, Gateway,
};
use mintwatch_testkit::{wait_for, TestRelay};
use nostr_relay_builder::prelude::{MemoryDatabase, MemoryDatabaseOptions, RateLimit};
use nostr_relay_builder::{LocalRelay, RelayBuilder};

/// Traffic of every kind through nutshell's own CLI wallet: mint, send/receive (swaps), melt,
/// a keyset rotation, and spending proofs of the rotated-out keyset afterwards.
async fn cli_traffic_before(mint: &Nutshell) {
    mint.cli("alice", &["invoice", "1000"]);
    mint.send_receive("alice", "bob", 100);
}

async fn cli_traffic_after(mint: &Nutshell) {
    mint.send_receive("bob", "alice", 40);
    mint.melt("alice", 50).await;
    mint.rotate("sat");
    mint.cli("alice", &["invoice", "200"]);
    // Proofs of the old keyset are spent after the rotation: burns of the closed epoch.
    mint.send_receive("alice", "bob", 300);
    mint.melt("bob", 30).await;
}

async fn publish_and_index(books: Books, seed: &str) {
    let relay = TestRelay::start(None).await;
    let mint = Nutshell::start(seed, books).await;
    cli_traffic_before(&mint).await;
    let dir = tempfile::tempdir().expect("dir");
    key_file(dir.path(), seed);
    let gateway = Gateway::start(&mint, &[&relay.url], dir.path(), &[]);
    gateway.wait_ready().await;
    cli_traffic_after(&mint).await;

    let ledger = mint.ledger().await;
    let p = assert_published_after_one_rotation(&relay.url, &mint, &ledger).await;

    // The gateway's metrics say the same, and it is caught up.
    let entries = (ledger.spent.len() + ledger.issued.len()) as f64;
    let caught_up = wait_for(Duration::from_secs(20), || async {
        gateway
            .metric("mintwatch_gateway_entries_published_total")
            .await
            == entries
            && gateway.metric("mintwatch_gateway_lag_rows").await == 0.0
    })
    .await;
    let text = gateway.metrics().await;
    assert!(
        caught_up,
        "metrics disagree with the mint's {entries} entries:\n{text}"
    );
    for name in mintwatch_gateway::telemetry::ALL {
        assert!(text.contains(name), "{name} is not exported:\n{text}");
    }
    assert!(gateway.metric("mintwatch_gateway_relay_acks_total").await >= p.batches as f64);
    assert_eq!(gateway.metric("mintwatch_gateway_identity_ok").await, 1.0);

    assert_indexer_agrees(&relay.url, &mint, &ledger, &p).await;
    drop(gateway);
    mint.stop().await;
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nutshell_mint_on_sqlite_is_published_exactly_and_indexed_self_signed() {
    publish_and_index(Books::Sqlite, "gateway test seed sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nutshell_mint_on_postgres_is_published_exactly_and_indexed_self_signed() {
    publish_and_index(Books::Postgres, "gateway test seed postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_with_another_key_refuses_to_start_naming_both_keys() {
    let relay = TestRelay::start(None).await;
    let mint = Nutshell::start("the mint own seed", Books::Sqlite).await;
    let dir = tempfile::tempdir().expect("dir");
    key_file(dir.path(), "somebody else seed");
    let gateway = Gateway::start(&mint, &[&relay.url], dir.path(), &[]);
    let line = gateway
        .process
        .wait_for_line(Duration::from_secs(30), |l| l.contains("not the mint's"));
    let info = mint.info().await;
    let theirs = info["pubkey"].as_str().expect("pubkey");
    assert!(line.contains(theirs), "{line}");
    let ours = mintwatch_gateway::key::from_nutshell_seed("somebody else seed")
        .expect("key")
        .public_key()
        .to_hex();
    assert!(line.contains(&ours), "{line}");
    let (pk, _) = mint_key(&mint);
    assert_eq!(
        published(&relay.url, &pk).await.ids.len(),
        0,
        "nothing published"
    );
    mint.stop().await;
    relay.shutdown();
}

/// Makes `rounds` × ~2,000 entries: 1,000 1-sat proofs minted, then swapped.
async fn bulk_traffic(wallet: &mut BulkWallet, rounds: usize) {
    for _ in 0..rounds {
        wallet.mint(1_000).await;
        while wallet.proofs.len() >= 900 {
            wallet.swap().await;
            if wallet.proofs.len() < 1_000 {
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_a_busy_publication_then_restart_repeats_and_loses_nothing() {
    let relay = TestRelay::start(None).await;
    let seed = "gateway kill test seed";
    let mint = Nutshell::start(seed, Books::Sqlite).await;
    let mut wallet = BulkWallet::new(&mint.url);
    // nutshell makes about 2,000 entries in 40 s here: few entries, in small events (4 KiB:
    // about 20 MINT or 45 BURN entries), make a long publication to interrupt.
    bulk_traffic(&mut wallet, 2).await;
    let dir = tempfile::tempdir().expect("dir");
    key_file(dir.path(), seed);
    let extra = ["--max-event-kib", "4"];
    let (pk, _) = mint_key(&mint);
    let mut interrupted = 0;
    let mut previous_ys = 0;
    for acks_before_kill in [3.0, 40.0, 80.0] {
        let gateway = Gateway::start(&mint, &[&relay.url], dir.path(), &extra);
        let busy = wait_for(Duration::from_secs(60), || async {
            gateway.metric("mintwatch_gateway_relay_acks_total").await >= acks_before_kill
        })
        .await;
        assert!(
            busy,
            "no publication to interrupt:\n{}",
            gateway.process.output()
        );
        // SIGKILL (Running's drop), in the middle of the publication.
        drop(gateway);
        let ledger = mint.ledger().await;
        let ys = published(&relay.url, &pk).await.ys.len();
        if ys < ledger.spent.len() {
            interrupted += 1;
        }
        assert!(ys >= previous_ys, "a restart lost published Ys");
        previous_ys = ys;
    }
    assert!(
        interrupted >= 2,
        "only {interrupted} of 3 kills landed before the end of the publication"
    );
    // The last run publishes the rest while the mint is busy.
    let gateway = Gateway::start(&mint, &[&relay.url], dir.path(), &extra);
    bulk_traffic(&mut wallet, 1).await;
    let ledger = mint.ledger().await;
    assert!(
        ledger.spent.len() >= 3_000,
        "a busy mint: {} spent",
        ledger.spent.len()
    );
    let p = wait_published(&relay.url, &pk, &ledger, Duration::from_secs(180)).await;
    assert_exactly_the_books(&p, &ledger, &mint).await;
    assert!(
        p.largest_event <= 4 * 1024,
        "largest event {} B",
        p.largest_event
    );
    assert_indexer_agrees(&relay.url, &mint, &ledger, &p).await;
    drop(gateway);
    mint.stop().await;
    relay.shutdown();
}

/// A real relay (nostr-relay-builder) whose own rate limit answers `rate-limited:` to a writer
/// faster than `per_minute` events.
async fn rate_limited_relay(per_minute: u32) -> (LocalRelay, String) {
    let db = Arc::new(MemoryDatabase::with_opts(MemoryDatabaseOptions {
        events: true,
        max_events: None,
    }));
    let builder = RelayBuilder::default()
        .addr(Ipv4Addr::LOCALHOST.into())
        .database(db)
        .rate_limit(RateLimit {
            max_reqs: 100,
            notes_per_minute: per_minute,
        })
        .max_filter_limit(100_000);
    let relay = LocalRelay::new(builder);
    relay.run().await.expect("relay runs");
    let url = relay.url().await.to_string();
    (relay, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limiting_relay_gets_everything_later_nothing_twice_and_stalls_no_other() {
    let fast = TestRelay::start(None).await;
    let (slow, slow_url) = rate_limited_relay(40).await;
    let seed = "gateway rate limit test seed";
    let mint = Nutshell::start(seed, Books::Sqlite).await;
    let mut wallet = BulkWallet::new(&mint.url);
    // About 3,000 entries in 8 KiB events: some 60 events, more than the relay takes a minute.
    bulk_traffic(&mut wallet, 1).await;
    let dir = tempfile::tempdir().expect("dir");
    key_file(dir.path(), seed);
    let gateway = Gateway::start(
        &mint,
        &[&slow_url, &fast.url],
        dir.path(),
        &["--max-event-kib", "8"],
    );
    let ledger = mint.ledger().await;
    let (pk, _) = mint_key(&mint);
    // The other relay has everything while the limited one is still refusing.
    let p_fast = wait_published(&fast.url, &pk, &ledger, Duration::from_secs(60)).await;
    assert_exactly_the_books(&p_fast, &ledger, &mint).await;
    assert!(
        p_fast.ids.len() > 40,
        "enough events to pass the limit: {}",
        p_fast.ids.len()
    );
    let limited = wait_for(Duration::from_secs(30), || async {
        gateway
            .metrics()
            .await
            .lines()
            .any(|l| l.contains("reason=\"rate-limited\"") && !l.ends_with(" 0"))
    })
    .await;
    assert!(
        limited,
        "the relay never said rate-limited:\n{}",
        gateway.metrics().await
    );
    let behind = published(&slow_url, &pk).await.ids.len();
    assert!(
        behind < p_fast.ids.len(),
        "the limited relay is behind ({behind})"
    );
    // Later, the limited relay has everything, each entry once.
    let p_slow = wait_published(&slow_url, &pk, &ledger, Duration::from_secs(240)).await;
    assert_exactly_the_books(&p_slow, &ledger, &mint).await;
    assert_eq!(p_slow.ids.len(), p_fast.ids.len());
    drop(gateway);
    mint.stop().await;
    slow.shutdown();
    fast.shutdown();
}
