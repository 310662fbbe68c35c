//! End to end: the indexer service (crawl → dedup → verify → store → analyze) against an
//! in-process relay serving a simulated corpus of 100 mints (4919 batches of about a thousand
//! burnt `Y`s and a thousand issued signatures each, 11467 identities, 38172 announcements, 1337
//! epoch closes, 38000 reviews), into a fresh PostgreSQL database.
//!
//! The relay runs in a child process (this binary again, `MW_BENCH_ROLE=relay`): it generates the
//! corpus (timed separately, not counted), loads it and serves it, so the memory its
//! MemoryDatabase takes for the corpus is not in the indexer's peak RSS. The relay still uses CPU
//! on the same machine while it serves.
//!
//! `cargo bench -p mintwatch-indexer --bench end_to_end`; `MW_BENCH_BURNS` is a comma-separated
//! list of corpus sizes in burns (default `250000,1000000`), one relay and one database each.

#![allow(clippy::expect_used, missing_docs)]

use std::io::{Read, Write};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mintwatch_indexer::analyze::AnalyzeConfig;
use mintwatch_indexer::crawl::CrawlConfig;
use mintwatch_indexer::ingest::IngestConfig;
use mintwatch_indexer::service::{IndexerConfig, RunningIndexer};
use mintwatch_sim::{SimConfig, Simulator};
use mintwatch_testkit::stage_sums::Sums;
use mintwatch_testkit::{bench, corpus, machine, TestDb, TestRelay};

const MINTS: usize = 100;
/// In the past, so backfill (which walks back from now) finds every event.
const AS_OF: u64 = corpus::AS_OF;

fn sim_config() -> SimConfig {
    corpus::burns_sim_config(AS_OF, MINTS, Vec::new())
}

/// The child: generate rounds until `burns` are published, load them into a relay, print
/// `READY <url> <served events> <burns> <gen s> <load s>` and serve until stdin closes.
fn relay_child(target_burns: u64) {
    let rt = bench::runtime();
    rt.block_on(async {
        let relay = TestRelay::start(None).await;
        let mut sim = Simulator::new(sim_config()).expect("valid simulation");
        let (mut burns, mut gen, mut load) = (0u64, Duration::ZERO, Duration::ZERO);
        while burns < target_burns {
            let t = Instant::now();
            let events = sim.next_round();
            gen += t.elapsed();
            burns += events.iter().map(corpus::burns_in).sum::<u64>();
            let t = Instant::now();
            relay.store(&events).await;
            load += t.elapsed();
        }
        let served = relay.served_ids().await.len();
        println!(
            "READY {} {served} {burns} {:.1} {:.1} {}",
            relay.url,
            gen.as_secs_f64(),
            load.as_secs_f64(),
            sim.round()
        );
        std::io::stdout().flush().expect("flush");
        let mut rest = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut rest);
        relay.shutdown();
    });
}

fn config(url: String) -> IndexerConfig {
    IndexerConfig {
        crawl: CrawlConfig {
            relays: vec![url],
            max_events_per_sec: 1_000_000,
            burst: 1_000_000,
            ..CrawlConfig::default()
        },
        ingest: IngestConfig::default(),
        analyze: AnalyzeConfig {
            as_of: Some(AS_OF),
            ..AnalyzeConfig::default()
        },
        queue: 1024,
        queue_bytes: 0,
    }
}

async fn one_size(target_burns: u64, sums: Sums) {
    let (mut child, f) =
        bench::spawn_role("relay", &[("MW_BENCH_TARGET", target_burns.to_string())]);
    let url = f[0].clone();
    let served: u64 = f[1].parse().expect("served");
    let burns: u64 = f[2].parse().expect("burns");
    println!(
        "corpus: {MINTS} mints, {} rounds, {served} events served, {burns} burns; generated in {} s, \
         loaded into the relay in {} s (neither counted)",
        f[5], f[3], f[4]
    );
    let child_pid = child.id().to_string();

    let me = "self";
    let rss_before = machine::status_kib(me, "VmRSS").unwrap_or(0);
    let db = TestDb::new().await;
    let start = Instant::now();
    let indexer = RunningIndexer::start(db.store.clone(), config(url))
        .await
        .expect("indexer starts");
    let stats = indexer.ingest_stats().clone();
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut last = (Instant::now(), 0u64);
    while stats.received.load(Ordering::Relaxed) < served {
        assert!(Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(100)).await;
        if last.0.elapsed() >= Duration::from_secs(10) {
            let b = stats.burns.load(Ordering::Relaxed);
            println!(
                "    {:>5.0} s: {} events received, {b} burns stored ({:.0}/s lately), RSS {:.0} MiB, load {}",
                start.elapsed().as_secs_f64(),
                stats.received.load(Ordering::Relaxed),
                (b - last.1) as f64 / last.0.elapsed().as_secs_f64(),
                machine::mib(machine::status_kib(me, "VmRSS").unwrap_or(0)),
                machine::load()
            );
            last = (Instant::now(), b);
        }
    }
    let received_at = start.elapsed();
    indexer.stop().await.expect("ingest ends cleanly");
    let took = start.elapsed();
    let stored = stats.stored.load(Ordering::Relaxed);
    let stored_burns = stats.burns.load(Ordering::Relaxed);
    let peak = machine::status_kib(me, "VmHWM").unwrap_or(0);
    let relay_peak = machine::status_kib(&child_pid, "VmHWM").unwrap_or(0);
    drop(child.stdin.take());
    let _ = child.wait();

    assert_eq!(stored_burns, burns, "every burn stored");
    assert_eq!(db.count("burns").await, burns as i64);
    assert_eq!(db.count("mints").await, MINTS as i64);
    println!(
        "  {stored} events, {stored_burns} burns: all received after {:.1} s, fully analyzed after {:.1} s",
        received_at.as_secs_f64(),
        took.as_secs_f64()
    );
    println!(
        "  {:>9.0} events/s, {:>9.0} burns/s; indexer peak RSS {:.0} MiB (VmHWM; {:.0} MiB before start), relay child peak RSS {:.0} MiB; load {}",
        bench::rate(stored, took),
        bench::rate(stored_burns, took),
        machine::mib(peak),
        machine::mib(rss_before),
        machine::mib(relay_peak),
        machine::load()
    );
    let (write_s, batches) = sums.get("mintwatch_db_write_seconds");
    let (analyze_s, _) = sums.get("mintwatch_analyze_seconds");
    println!(
        "  {batches} batches; store {write_s:.1} s, analyze {analyze_s:.1} s of {:.1} s wall",
        took.as_secs_f64()
    );
    sums.print_stages();
    db.drop().await;
}

fn main() {
    if std::env::var("MW_BENCH_ROLE").as_deref() == Ok("relay") {
        let target = std::env::var("MW_BENCH_TARGET")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(250_000);
        relay_child(target);
        return;
    }
    let sizes: Vec<u64> = std::env::var("MW_BENCH_BURNS")
        .unwrap_or_else(|_| "250000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    if std::env::var("RUST_LOG").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    println!("machine: {}", machine::machine());
    let rt = bench::runtime();
    // Peak RSS is per process, so each size runs in a process of its own.
    if sizes.len() > 1 {
        for s in sizes {
            let status = Command::new(std::env::current_exe().expect("current exe"))
                .env("MW_BENCH_BURNS", s.to_string())
                .status()
                .expect("size run starts");
            assert!(status.success(), "run for {s} burns failed");
        }
        return;
    }
    let sums = Sums::install();
    rt.block_on(one_size(sizes[0], sums));
    let _ = std::io::stdout().flush();
    let _ = Write::flush(&mut std::io::stderr());
}
