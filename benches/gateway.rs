//! The gateway's two figures (docs/PERFORMANCE.md §6), `MINTWATCH_BENCH=latency|backfill|all`
//! (default all).
//!
//! Latency: a real nutshell mint, the gateway at its default `--batch-secs 5`, a wallet spending
//! 10 proofs at random moments; for each spend, the time from the mint's answer to the arrival,
//! through the relay (which forwards an event once it has accepted it), of the 4919 carrying
//! their `Y`s. p50/p99 against the target batch interval + 1 s; the baseline is the swap's own
//! HTTP round trip.
//!
//! Backfill: a real nutshell mint whose database holds `MINTWATCH_BENCH_PROOFS` spent
//! proofs (default 1,000,000; nutshell creates the schema and its keyset, the bench adds the
//! proofs with real `Y = hash_to_curve(secret)`), then `mintwatch gateway` from an empty state
//! until an in-process relay has acknowledged every entry. Reports entries/s and the gateway's
//! peak RSS (VmHWM), and as the baseline of the same run the rate of a bare streaming read of the
//! same rows (the floor any publisher of this database pays).
//!
//! `cargo bench --bench gateway` (after `scripts/setup.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/gateway_support/mod.rs"]
mod gateway_support;

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use gateway_support::nutshell::{Books, Nutshell};
use gateway_support::{key_file, Gateway};
use mintwatch_testkit::{wait_for, TestRelay};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Row};

fn proofs() -> usize {
    std::env::var("MINTWATCH_BENCH_PROOFS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Adds `n` spent proofs of the mint's keyset to its SQLite database.
async fn fill(db: &str, n: usize) {
    let mut conn = sqlx::SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(db))
        .await
        .expect("open the mint's database");
    let keyset: String = sqlx::query_scalar("SELECT id FROM keysets WHERE active LIMIT 1")
        .fetch_one(&mut conn)
        .await
        .expect("nutshell made its keyset");
    let start = Instant::now();
    let now = nostr_sdk::Timestamp::now().as_secs() as i64 - 86_400;
    let mut tx = conn.begin().await.expect("tx");
    for chunk in 0..n.div_ceil(1_000) {
        let rows = (n - chunk * 1_000).min(1_000);
        let mut sql =
            String::from("INSERT INTO proofs_used (amount, id, c, secret, y, created) VALUES ");
        let mut values = Vec::with_capacity(rows);
        for i in 0..rows {
            let secret = format!("bench-secret-{}-{}", chunk, i);
            let y = cashu::dhke::hash_to_curve(secret.as_bytes()).expect("h2c");
            values.push((secret, y.to_hex()));
        }
        for i in 0..rows {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str("(?, ?, ?, ?, ?, ?)");
        }
        let mut q = sqlx::query(&sql);
        for (i, (secret, y)) in values.iter().enumerate() {
            q = q
                .bind(1i64 << (i % 10))
                .bind(&keyset)
                .bind(y)
                .bind(secret)
                .bind(y)
                .bind(now + (chunk as i64));
        }
        q.execute(&mut *tx).await.expect("insert proofs");
    }
    tx.commit().await.expect("commit");
    eprintln!(
        "filled {n} spent proofs in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// The baseline: stream `y, amount, id` of every spent proof, as the gateway's query does.
async fn bare_read(db: &str) -> (usize, f64) {
    let mut conn = sqlx::SqliteConnection::connect_with(
        &SqliteConnectOptions::new().filename(db).read_only(true),
    )
    .await
    .expect("open");
    let start = Instant::now();
    let mut rows =
        sqlx::query("SELECT rowid, y, amount, id FROM proofs_used ORDER BY rowid").fetch(&mut conn);
    let mut n = 0usize;
    let mut bytes = 0usize;
    while let Some(r) = rows.try_next().await.expect("row") {
        let y: String = r.get(1);
        bytes += y.len();
        n += 1;
    }
    assert!(bytes > 0);
    (n, start.elapsed().as_secs_f64())
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn latency() {
    use gateway_support::wallet::BulkWallet;
    use mintwatch_protocol::broadcast::{CashuData, GroupContents};
    use nostr_sdk::prelude::{Filter, Kind, RelayPoolNotification, Timestamp};
    let spends: usize = std::env::var("MINTWATCH_BENCH_SPENDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let seed = "gateway latency bench seed";
    let mint = Nutshell::start(seed, Books::Sqlite).await;
    let mut wallet = BulkWallet::new(&mint.url);
    wallet.mint(1_000).await;
    let relay = TestRelay::start(None).await;
    let dir = tempfile::tempdir().expect("dir");
    key_file(dir.path(), seed);
    let gateway = Gateway::start(&mint, &[&relay.url], dir.path(), &["--batch-secs", "5"]);
    let (pk, _) = gateway_support::mint_key(&mint);
    let client = mintwatch_testkit::connected_client(&relay.url).await;
    let mut notes = client.notifications();
    client
        .subscribe(
            Filter::new()
                .author(pk)
                .kind(Kind::Custom(4919))
                .since(Timestamp::now()),
            None,
        )
        .await
        .expect("subscribe");
    // Let the backfill of the wallet's own minting pass.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let mut lat = Vec::new();
    let mut http = Vec::new();
    let mut rng_state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..spends {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        tokio::time::sleep(Duration::from_millis(rng_state % 5_000)).await;
        let sent = Instant::now();
        let ys = wallet.swap_n(10).await;
        let answered = Instant::now();
        http.push((answered - sent).as_secs_f64());
        let want: std::collections::HashSet<String> = ys.into_iter().collect();
        let arrived = loop {
            let note = tokio::time::timeout(Duration::from_secs(30), notes.recv())
                .await
                .expect("a 4919 within 30 s")
                .expect("notifications");
            if let RelayPoolNotification::Event { event, .. } = note {
                let groups = CashuData::decode_content(&event.content).expect("4919");
                let hit = groups.iter().any(|g| match &g.contents {
                    GroupContents::Burn(b) => b.iter().any(|e| want.contains(&e.y.to_hex())),
                    GroupContents::Mint(_) => false,
                });
                if hit {
                    break Instant::now();
                }
            }
        };
        lat.push((arrived - answered).as_secs_f64());
    }
    lat.sort_by(f64::total_cmp);
    http.sort_by(f64::total_cmp);
    println!(
        "publication latency spend -> 4919 accepted by the relay, {spends} spends, --batch-secs 5: \
         p50 {:.2} s, p99 {:.2} s, max {:.2} s (target p99 <= 6 s)",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat[lat.len() - 1]
    );
    println!(
        "baseline: the swap's HTTP round trip p50 {:.3} s, p99 {:.3} s",
        percentile(&http, 0.5),
        percentile(&http, 0.99)
    );
    client.disconnect().await;
    drop(gateway);
    mint.stop().await;
    relay.shutdown();
}

fn main() {
    let rt = mintwatch_testkit::bench::runtime();
    let which = std::env::var("MINTWATCH_BENCH").unwrap_or_else(|_| "all".into());
    if which == "all" || which == "latency" {
        rt.block_on(latency());
    }
    if which != "all" && which != "backfill" {
        return;
    }
    rt.block_on(async {
        let n = proofs();
        let seed = "gateway backfill bench seed";
        // nutshell creates and migrates its database and its keyset, then stops.
        let mint = Nutshell::start(seed, Books::Sqlite).await;
        let db = mint.db.clone();
        let mint = mint.restart_with(|| fill(&db, n)).await;

        let (read, read_secs) = bare_read(&mint.db).await;
        assert_eq!(read, n);
        let relay = TestRelay::start(None).await;
        let dir = tempfile::tempdir().expect("dir");
        key_file(dir.path(), seed);
        let start = Instant::now();
        let gateway = Gateway::start(&mint, &[&relay.url], dir.path(), &[]);
        let done = wait_for(Duration::from_secs(1_800), || async {
            gateway
                .metric("mintwatch_gateway_relay_acked_entries_total")
                .await
                >= n as f64
        })
        .await;
        let secs = start.elapsed().as_secs_f64();
        assert!(done, "not all acknowledged:\n{}", gateway.metrics().await);
        let rss = peak_rss_kib(gateway.process.id());
        println!(
            "gateway backfill: {n} spent proofs acknowledged in {secs:.1} s = {:.0} entries/s; \
             peak RSS {:.0} MiB",
            n as f64 / secs,
            rss as f64 / 1024.0
        );
        println!(
            "baseline: bare streaming read {:.0} rows/s ({read_secs:.2} s); gateway/read = {:.3}",
            n as f64 / read_secs,
            (n as f64 / secs) / (n as f64 / read_secs)
        );
        drop(gateway);
        mint.stop().await;
        relay.shutdown();
    });
}
