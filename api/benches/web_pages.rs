//! The website's server time and page weight over a store of ≥ 1,000,000 burns and ≥ 10,000
//! mints (issue 17's targets: p99 ≤ 50 ms, ≤ 100 KiB per page before compression, charts
//! included).
//!
//! `cargo bench -p mintwatch-api --bench web_pages`
//!
//! - The store is the database `mintwatch_bench_web` (`MW_BENCH_DB` to rename it), filled through
//!   the real path (signed events into `mintwatch_indexer`'s `Ingest` from memory): 9,900
//!   self-signed 38172 announcements and 20,000 reviews of them (`common::small_events`), then the
//!   simulator's 100 mints (one of each misbehaviour) round by round until 1,000,000 burns. Kept
//!   and reused when it holds the counts; `MW_BENCH_REBUILD=1` refills it.
//! - Server time: each request goes through the real router (`mintwatch_api::router`, website and
//!   all its layers) in process with `tower::ServiceExt::oneshot`, one at a time, body read to the
//!   end; no network. Baseline in the same run: `GET /healthz` through the same router.
//! - Routes: the directory's first page (rank order), a text search, a filtered page; the pages of
//!   the simulated mints (those with 4919 batches: charts, findings and ~10,000 burns each) and of
//!   random announcement-only mints.
//! - Page weight: the HTML of each page plus the stylesheet it loads (no page but `/spent` loads a
//!   script), before compression; the largest seen is printed.
//!
//! `MW_BENCH_N` sets the requests per route (default 300).

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

#[path = "../../indexer/benches/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use sqlx::Connection;
use tokio::sync::mpsc;
use tower::ServiceExt;

use mintwatch_api::{metrics_recorder, router, ApiState};
use mintwatch_indexer::analyze::{AnalyzeConfig, Analyzer};
use mintwatch_indexer::ingest::{Ingest, IngestConfig};
use mintwatch_indexer::pipeline::{Delivery, RelayUrl};
use mintwatch_indexer::store::Store;
use mintwatch_indexer::testing::server_url;
use mintwatch_indexer::verify::KnownMintKeys;
use mintwatch_protocol::simulate::{Misbehaviour, Simulator};

const MIN_BURNS: i64 = 1_000_000;
const MIN_MINTS: i64 = 10_000;
const SIM_MINTS: usize = 100;
const DIRECTORY_MINTS: usize = 9_900;
const DIRECTORY_REVIEWS: usize = 20_000;
const AS_OF: u64 = 1_790_000_000;

async fn counts(store: &Store) -> (i64, i64) {
    let burns: i64 = sqlx::query_scalar("SELECT count(*) FROM burns")
        .fetch_one(store.pool())
        .await
        .expect("count burns");
    let mints: i64 = sqlx::query_scalar("SELECT count(*) FROM mints")
        .fetch_one(store.pool())
        .await
        .expect("count mints");
    (burns, mints)
}

async fn bench_store(name: &str) -> Store {
    let url = format!("{}/{name}", server_url());
    let rebuild = std::env::var("MW_BENCH_REBUILD").is_ok_and(|v| v == "1");
    let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", server_url()))
        .await
        .expect("connect to PostgreSQL");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut admin)
            .await
            .expect("pg_database");
    if exists && !rebuild {
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let (burns, mints) = counts(&store).await;
        if burns >= MIN_BURNS && mints >= MIN_MINTS {
            println!("corpus: reusing {name} ({burns} burns, {mints} mints; MW_BENCH_REBUILD=1 to refill)");
            return store;
        }
        store.close().await;
    }
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .expect("drop");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create");
    let store = Store::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    fill(&store).await;
    let (burns, mints) = counts(&store).await;
    assert!(
        burns >= MIN_BURNS && mints >= MIN_MINTS,
        "{burns} burns, {mints} mints"
    );
    println!("corpus: filled {name}: {burns} burns, {mints} mints (kept for the next run)");
    store
}

async fn fill(store: &Store) {
    let start = Instant::now();
    let analyze = AnalyzeConfig {
        as_of: Some(AS_OF),
        ..AnalyzeConfig::default()
    };
    let ingest = Ingest::new(
        store.clone(),
        Analyzer::new(store.clone(), analyze.clone()),
        IngestConfig::default(),
        KnownMintKeys::default(),
    );
    let (tx, rx) = mpsc::channel(1024);
    let run = tokio::spawn(ingest.run(rx));
    let relay: RelayUrl = Arc::from("ws://bench.invalid");
    let directory = tokio::task::block_in_place(|| {
        common::small_events(DIRECTORY_MINTS + DIRECTORY_REVIEWS, DIRECTORY_MINTS)
    });
    let mut sim = Simulator::new(common::burns_sim_config(
        AS_OF,
        SIM_MINTS,
        Misbehaviour::defaults(),
    ))
    .expect("valid simulation");
    let mut batch = directory;
    let mut burns = 0u64;
    loop {
        for e in batch.drain(..) {
            tx.send(Delivery::Event {
                relay: relay.clone(),
                json: e.to_json().into_boxed_str(),
            })
            .await
            .expect("ingest is running");
        }
        if burns >= MIN_BURNS as u64 {
            break;
        }
        batch = tokio::task::block_in_place(|| sim.next_round());
        burns += batch.iter().map(common::burns_in).sum::<u64>();
        println!(
            "  fill: round {}, {burns} burns, {:.0} s",
            sim.round(),
            start.elapsed().as_secs_f64()
        );
    }
    drop(tx);
    run.await.expect("ingest task").expect("ingest ends");
    Analyzer::new(store.clone(), analyze)
        .refresh_all()
        .await
        .expect("analysis");
    sqlx::query("VACUUM ANALYZE")
        .execute(store.pool())
        .await
        .expect("vacuum");
    println!("  fill: done in {:.0} s", start.elapsed().as_secs_f64());
}

struct Timing {
    p50: Duration,
    p99: Duration,
    max_bytes: usize,
}

/// Each path through the router once per round, `n` rounds; server time per request.
async fn measure(app: &axum::Router, paths: &[String], n: usize) -> Timing {
    let mut times = Vec::with_capacity(n);
    let mut max_bytes = 0;
    for i in 0..n {
        let path = &paths[i % paths.len()];
        let start = Instant::now();
        let response = app
            .clone()
            .oneshot(
                Request::get(path.as_str())
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        times.push(start.elapsed());
        assert_eq!(
            status,
            StatusCode::OK,
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
        max_bytes = max_bytes.max(body.len());
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    Timing {
        p50: at(0.50),
        p99: at(0.99),
        max_bytes,
    }
}

fn main() {
    println!("machine: {}", common::machine());
    let n: usize = std::env::var("MW_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let db = std::env::var("MW_BENCH_DB").unwrap_or_else(|_| "mintwatch_bench_web".into());
    common::runtime().block_on(async {
        let store = bench_store(&db).await;
        let app = router(ApiState::new(
            store.clone(),
            metrics_recorder().expect("recorder"),
        ));
        let sim_mints: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT key FROM mints WHERE burn_count > 0 ORDER BY key")
                .fetch_all(store.pool())
                .await
                .expect("mints with burns");
        let mut others: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT key FROM mints WHERE burn_count = 0 ORDER BY key")
                .fetch_all(store.pool())
                .await
                .expect("other mints");
        others.shuffle(&mut StdRng::seed_from_u64(42));
        others.truncate(300);
        let css = app
            .clone()
            .oneshot(
                Request::get("/static/site.css")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        let css = axum::body::to_bytes(css.into_body(), usize::MAX)
            .await
            .expect("css")
            .len();
        let page = |k: &Vec<u8>| format!("/mints/{}", hex::encode(k));
        let routes: Vec<(&str, Vec<String>)> = vec![
            ("GET /healthz (baseline)", vec!["/healthz".into()]),
            ("directory, first page by rank", vec!["/".into()]),
            ("directory, search \"bank\"", vec!["/?q=bank".into()]),
            (
                "directory, filtered (self-signed, has findings)",
                vec!["/?identity=self-signed&findings=with&sort=activity".into()],
            ),
            (
                "mint page, simulated mints (~10k burns, charts)",
                sim_mints.iter().map(page).collect(),
            ),
            (
                "mint page, announcement-only mints",
                others.iter().map(page).collect(),
            ),
        ];
        println!(
            "{} mints with burns, {} requests per route, stylesheet {css} bytes",
            sim_mints.len(),
            n
        );
        println!(
            "{:<52} {:>9} {:>9} {:>13}",
            "route", "p50 ms", "p99 ms", "max KiB+css"
        );
        let mut baseline = None;
        for (name, paths) in &routes {
            // Warm-up: one pass over the paths (plans, caches).
            measure(&app, paths, paths.len().min(50)).await;
            let t = measure(&app, paths, n).await;
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            let weight = (t.max_bytes + css) as f64 / 1024.0;
            let ratio = baseline.map_or(String::new(), |b: Duration| {
                format!(
                    "  (p50 {:.0}× baseline)",
                    t.p50.as_secs_f64() / b.as_secs_f64()
                )
            });
            println!(
                "{name:<52} {:>9.2} {:>9.2} {:>13.1}{ratio}",
                ms(t.p50),
                ms(t.p99),
                weight
            );
            baseline.get_or_insert(t.p50);
        }
        println!("load at the end: {}", common::load());
        store.close().await;
    });
}
