//! The ingest pipeline (dedup → verify → store → analyze) fed with small events (kinds 38172 and
//! 38000) from memory, into a fresh PostgreSQL database, against the nostr-sdk client receiving
//! the same events from an in-process relay in the same run (it verifies every event itself).
//!
//! `cargo bench -p mintwatch-indexer --bench pipeline`; `MW_BENCH_EVENTS` sets the corpus size
//! (default 100,000), `MW_BENCH_BATCH` the ingest batch size (default: ingest's default),
//! `MW_BENCH_ROUNDS` how many interleaved rounds of both paths run (default 3; best of each).

#![allow(clippy::expect_used, missing_docs)]

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use nostr_sdk::prelude::{Filter, Kind};

use mintwatch_indexer::analyze::{AnalyzeConfig, Analyzer};
use mintwatch_indexer::ingest::{Ingest, IngestConfig};
use mintwatch_indexer::pipeline::{Delivery, RelayUrl};
use mintwatch_indexer::verify::KnownMintKeys;
use mintwatch_protocol::SignedEvent;
use mintwatch_testkit::stage_sums::Sums;
use mintwatch_testkit::{bench, connected_client, corpus, ingest_all, machine, TestDb, TestRelay};

const MINTS: usize = 1_000;

/// Raw BIP-340 verification of every event's signature (parsed beforehand) on all cores: the
/// ceiling of any pipeline that checks every signature on this machine, measured in this run.
fn raw_verify_ceiling(events: &[SignedEvent]) -> f64 {
    use rayon::prelude::*;
    use secp256k1::SECP256K1;
    let prepared = bench::raw_verify_inputs(events);
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let ok = prepared
            .par_iter()
            .filter(|p| SECP256K1.verify_schnorr(&p.0, &p.1, &p.2).is_ok())
            .count();
        best = best.min(t.elapsed());
        assert_eq!(ok, events.len(), "every signature verifies");
    }
    bench::rate(events.len() as u64, best)
}

/// nostr-sdk: a `Client` subscribed to a relay that holds the events, until it has them all.
async fn nostr_sdk_path(events: &[SignedEvent]) -> Duration {
    let relay = TestRelay::start(None).await;
    relay.store(events).await;
    let client = connected_client(&relay.url).await;
    let filter = Filter::new()
        .kinds([Kind::Custom(38172), Kind::Custom(38000)])
        .limit(events.len());
    let start = Instant::now();
    let mut stream = client
        .stream_events(filter, Duration::from_secs(600))
        .await
        .expect("subscribe");
    let mut got = 0usize;
    while let Some(_event) = stream.next().await {
        got += 1;
        if got == events.len() {
            break;
        }
    }
    let took = start.elapsed();
    assert_eq!(got, events.len(), "nostr-sdk received every event");
    client.shutdown().await;
    relay.shutdown();
    took
}

/// mintwatch: deliveries straight into `Ingest::run`, until it has stored and analyzed them all.
async fn pipeline_path(json: &[Box<str>], sums: &Sums) -> Duration {
    let db = TestDb::new().await;
    let analyzer = Analyzer::new(
        db.store.clone(),
        AnalyzeConfig {
            as_of: Some(1_800_000_000),
            ..AnalyzeConfig::default()
        },
    );
    let ingest = Ingest::new(
        db.store.clone(),
        analyzer,
        IngestConfig {
            batch_size: std::env::var("MW_BENCH_BATCH")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(IngestConfig::default().batch_size),
            ..IngestConfig::default()
        },
        KnownMintKeys::default(),
    );
    let stats = ingest.stats();
    let relay: RelayUrl = Arc::from("ws://bench.invalid");
    sums.reset();
    let start = Instant::now();
    // Through the same kind of bounded queue the service puts between crawl and ingest.
    ingest_all(
        ingest,
        json.iter().map(|j| Delivery::Event {
            relay: relay.clone(),
            json: j.clone(),
        }),
    )
    .await;
    let took = start.elapsed();
    let stored = stats.stored.load(Ordering::Relaxed);
    assert_eq!(stored, json.len() as u64, "every event stored");
    assert_eq!(db.count("events").await, json.len() as i64);
    assert_eq!(db.count("mints").await, MINTS as i64);
    let (write_s, batches) = sums.get("mintwatch_db_write_seconds");
    let (analyze_s, _) = sums.get("mintwatch_analyze_seconds");
    println!(
        "    {batches} batches; store {write_s:.2} s, analyze {analyze_s:.2} s of {:.2} s wall \
         (verify overlaps the store stage)",
        took.as_secs_f64()
    );
    sums.print_stages();
    db.drop().await;
    took
}

fn main() {
    let n: usize = std::env::var("MW_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let sums = Sums::install();
    println!("machine: {}", machine::machine());
    let gen = Instant::now();
    let events = corpus::small_events(n, MINTS);
    let json: Vec<Box<str>> = events
        .iter()
        .map(|e| e.to_json().into_boxed_str())
        .collect();
    let avg = json.iter().map(|j| j.len()).sum::<usize>() / n;
    println!(
        "corpus: {n} events (kinds 38172/38000, ~{avg} B JSON, {MINTS} mints), generated in {:.1} s (not counted)",
        gen.elapsed().as_secs_f64()
    );
    let rt = bench::runtime();
    let ceiling = raw_verify_ceiling(&events);
    println!(
        "  raw secp256k1 verify of this corpus, {} cores: {ceiling:.0} events/s (the ceiling of \
         any path that verifies every signature; best of 3, before the paths run)",
        rayon::current_num_threads()
    );
    // Both paths run `rounds` times, interleaved, so a slow spell of the machine (another
    // process, a PostgreSQL checkpoint) hits both; the figures are each path's best round.
    let rounds: usize = std::env::var("MW_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    rt.block_on(async {
        let (mut sdk, mut ours) = (Duration::MAX, Duration::MAX);
        for round in 1..=rounds {
            let sdk_round = nostr_sdk_path(&events).await;
            println!("  load: {}", machine::load());
            let ours_round = pipeline_path(&json, &sums).await;
            println!("  load: {}", machine::load());
            println!(
                "  round {round}/{rounds}: nostr-sdk {:.2} s, mintwatch {:.2} s ({:.2} ×)",
                sdk_round.as_secs_f64(),
                ours_round.as_secs_f64(),
                sdk_round.as_secs_f64() / ours_round.as_secs_f64()
            );
            sdk = sdk.min(sdk_round);
            ours = ours.min(ours_round);
        }
        let (sdk_r, ours_r) = (
            bench::rate(n as u64, sdk),
            bench::rate(n as u64, ours),
        );
        println!("  best of {rounds} rounds each:");
        println!(
            "  nostr-sdk Client from in-process relay   {sdk_r:>9.0} events/s  ({:.2} s, baseline)",
            sdk.as_secs_f64()
        );
        println!(
            "  mintwatch pipeline into PostgreSQL        {ours_r:>9.0} events/s  ({:.2} s, {:.2} × nostr-sdk)",
            ours.as_secs_f64(),
            ours_r / sdk_r
        );
        println!(
            "  of the raw verify ceiling: nostr-sdk {:.2}, mintwatch {:.2}",
            sdk_r / ceiling,
            ours_r / ceiling
        );
    });
}
