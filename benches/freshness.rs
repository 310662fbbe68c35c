//! Freshness (issue 12): how long after a round of events is published on a relay the HTTP API
//! shows its effect on a mint's report, over a steady stream.
//!
//! `cargo bench --bench freshness` (root package: it runs the indexer and the API together, in
//! process, with their production settings)
//!
//! - A fresh database, an in-process relay, the indexer crawling it live and the API on a random
//!   port; simulated mints (20 honest, 50 burns and 50 issued signatures per 4919, 20 reviews a
//!   round) publish one round every `MW_BENCH_INTERVAL_MS` (default 1000, one simulated second
//!   a round) for `MW_BENCH_ROUNDS` rounds (default 60), live.
//! - Measured per round, for 4 of the mints: from the end of the round's publication until
//!   `GET /v1/mints/{key}` shows a chain that includes the round's 4919 (its length counts it).
//!   The chain status is written with the mint's statistics and rank, by the analysis after the
//!   batch, so it means the whole report (reviews, rank and its components, chain) was recomputed
//!   with the round's events. Open loop: a round goes out every interval whatever the answers do.
//! - Baseline in the same run: from the same instant until the round's 4919 of that mint is
//!   stored (`Store::known_ids`), what the crawl, verify and store stages take; the difference is
//!   what analysis adds.

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mintwatch_indexer::crawl::{ConnState, CrawlConfig};
use mintwatch_indexer::service::{IndexerConfig, RunningIndexer};
use mintwatch_protocol::{kinds, EventId, SignedEvent};
use mintwatch_sim::{SimConfig, Simulator};
use mintwatch_testkit::{bench, machine, wait_for, TestDb, TestRelay};

const SAMPLED: usize = 4;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name}: n={} p50={:.0} ms p90={:.0} ms p99={:.0} ms max={:.0} ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.9),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(f64::NAN)
    );
}

/// The last 4919 of each of the first `SAMPLED` mints that published one in `events`.
fn heads(events: &[SignedEvent]) -> Vec<([u8; 32], EventId)> {
    let mut out: Vec<([u8; 32], EventId)> = Vec::new();
    for e in events.iter().filter(|e| e.kind == kinds::CASHU_DATA) {
        let key = e.pubkey;
        if let Some(slot) = out.iter().position(|(k, _)| *k == key) {
            out[slot].1 = e.id;
        } else if out.len() < SAMPLED {
            out.push((key, e.id));
        }
    }
    out
}

/// Adds the 4919s of `events` to each mint's chain length.
fn count(chains: &mut HashMap<[u8; 32], u64>, events: &[SignedEvent]) {
    for e in events.iter().filter(|e| e.kind == kinds::CASHU_DATA) {
        *chains.entry(e.pubkey).or_default() += 1;
    }
}

async fn until_stored(store: &mintwatch_store::Store, id: EventId, from: Instant) -> f64 {
    loop {
        if store
            .known_ids(&[id])
            .await
            .expect("known ids")
            .contains(&id)
        {
            return from.elapsed().as_secs_f64() * 1e3;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Until the report's chain holds at least `length` events (the round's 4919 and every one
/// before it): a later round may already be in, so the head alone would miss a round whose
/// report was overtaken.
async fn until_visible(http: &reqwest::Client, url: &str, length: u64, from: Instant) -> f64 {
    loop {
        let report: serde_json::Value = http
            .get(url)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .unwrap_or_default();
        if report["chain"]["length"].as_u64().unwrap_or(0) >= length {
            return from.elapsed().as_secs_f64() * 1e3;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn main() {
    println!("machine: {}", machine::machine());
    let rounds = env_or("MW_BENCH_ROUNDS", 60);
    let interval = Duration::from_millis(env_or("MW_BENCH_INTERVAL_MS", 1000));
    let rt = bench::runtime();
    rt.block_on(async {
        let db = TestDb::new().await;
        let relay = TestRelay::start(None).await;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        // Rounds 5 s apart in simulated time (the simulator's least), the history ending now, so
        // live rounds are at most a few minutes ahead of real time (a live subscription asks
        // from now on, and any later `created_at` is taken).
        let mut sim = Simulator::new(SimConfig {
            seed: 5,
            start_time: now - 15,
            round_interval_secs: 5,
            honest_mints: 20,
            rounds: 0,
            burns_per_batch: 50,
            mints_per_batch: 50,
            reviewers: 40,
            reviews_per_round: 20,
            misbehaviours: Vec::new(),
            ..SimConfig::default()
        })
        .expect("simulation");
        // History before the indexer starts: three rounds to backfill. `chains` counts each
        // mint's 4919s published so far: its chain length once they are all in.
        let mut chains: HashMap<[u8; 32], u64> = HashMap::new();
        for _ in 0..3 {
            let events = sim.next_round();
            count(&mut chains, &events);
            relay.store(&events).await;
        }
        let indexer = RunningIndexer::start(
            db.store.clone(),
            IndexerConfig {
                crawl: CrawlConfig {
                    relays: vec![relay.url.clone()],
                    ..CrawlConfig::default()
                },
                ..IndexerConfig::default()
            },
        )
        .await
        .expect("indexer");
        let metrics = mintwatch_api::metrics_recorder().expect("metrics");
        let state = mintwatch_api::ApiState::new(db.store.clone(), metrics);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(mintwatch_api::serve(
            listener,
            state,
            std::future::pending(),
        ));
        let live = wait_for(Duration::from_secs(60), || async {
            indexer
                .crawl_stats()
                .snapshot()
                .iter()
                .all(|r| r.state == ConnState::Live)
        })
        .await;
        assert!(live, "the crawl never went live");

        let http = reqwest::Client::new();
        let (mut stored, mut visible) = (Vec::new(), Vec::new());
        // Open loop: a round goes out every interval whatever the answers do, and each sampled
        // mint is watched on a task of its own, so a slow answer shows up in the percentiles
        // instead of slowing the stream down.
        let started = Instant::now();
        let mut waits = Vec::new();
        for round in 0..rounds {
            let events = sim.next_round();
            count(&mut chains, &events);
            relay.publish(&events).await;
            let published = Instant::now();
            for (key, id) in heads(&events) {
                let url = format!("http://{addr}/v1/mints/{}", hex::encode(key));
                let length = chains.get(&key).copied().unwrap_or(0);
                let (store, http) = (db.store.clone(), http.clone());
                waits.push(tokio::spawn(async move {
                    let s = until_stored(&store, id, published).await;
                    let v = until_visible(&http, &url, length, published).await;
                    (s, v)
                }));
            }
            let next = started + interval * (round as u32 + 1);
            tokio::time::sleep_until(next.into()).await;
        }
        for w in waits {
            let (s, v) = tokio::time::timeout(Duration::from_secs(120), w)
                .await
                .expect("every round visible within 120 s")
                .expect("task");
            stored.push(s);
            visible.push(v);
        }
        println!(
            "{rounds} rounds of {} events every {} ms, {SAMPLED} mints sampled a round",
            sim.next_round().len(),
            interval.as_millis()
        );
        summary("publish -> stored (baseline)", stored);
        summary("publish -> visible in GET /v1/mints/{key}", visible);
        let _ = indexer.stop().await;
        db.drop().await;
    });
}
