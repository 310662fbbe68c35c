//! HTTP load on the read API, and round trips through the nostr query service, over a store of
//! ≥ 1,000,000 burns and ≥ 10,000 mints.
//!
//! `cargo bench --bench http_load` (in the root package: it fills its store with the indexer, and
//! the API crate depends on no indexer)
//!
//! - The store is the database `mintwatch_bench_http` (`MW_BENCH_DB` to rename it), filled through
//!   the real path: signed events (the simulator's 4919s with real `Y`s, 11467s, 38172s, 1337s and
//!   38000 reviews; plus 9,900 self-signed 38172 announcements with names, URLs and descriptions
//!   and 20,000 reviews of them) into `mintwatch_indexer`'s `Ingest` from memory. Filling takes
//!   minutes, so the database is kept and reused when it holds the expected counts;
//!   `MW_BENCH_REBUILD=1` drops and refills it.
//! - The server is the real router (`mintwatch_api::serve`) in a child process (this binary again,
//!   `MW_BENCH_ROLE=server`) on 127.0.0.1, random port, its own 2-worker runtime.
//! - Closed loop (maximum throughput): `wrk` (`MW_BENCH_WRK`, default `/usr/bin/wrk`), 2 threads,
//!   32 connections, with a Lua script picking a random path (or body) from a file per request.
//! - Open loop (latency at a fixed rate): requests scheduled at fixed times from this process
//!   (tokio + reqwest, one task per request, keep-alive pool), latency measured from the
//!   *scheduled* time, so a stalled server shows up in the percentiles instead of slowing the
//!   generator down (no coordinated omission).
//! - Baselines in the same run: the same generators against `GET /healthz` (no database), and the
//!   bare SQL lookup of one `Y` through sqlx from this process.
//! - Query service: `NostrService` on an in-process relay, a nostr-sdk wallet sending NIP-44
//!   requests (a fresh key each, as a private wallet does) one at a time; baseline: the same
//!   wallet's own ephemeral event echoed by the relay, and `QueryService::answer` in process.
//!
//! - Website: each page kind through the real router in process (`web.rs`), against `/healthz`.
//!
//! `MW_BENCH_SECS` sets each open-loop measurement's length (default 10 s, after 2 s of warm-up).
//! `MW_BENCH_ONLY=nostr` runs only the query service, `MW_BENCH_ONLY=http` only the HTTP part,
//! `MW_BENCH_ONLY=web` only the website;
//! `MW_BENCH_ROUTES=spent/{Y},q=word` keeps only the HTTP routes whose name contains one of the
//! comma-separated parts (the `/healthz` baseline always runs).

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

mod directory;
mod http;
mod load;
mod query_service;
mod samples;
mod server;
mod store;
mod wallet;
mod web;

use rand::rngs::StdRng;
use rand::SeedableRng;

use mintwatch_testkit::{bench, machine};

fn main() {
    if std::env::var("MW_BENCH_ROLE").as_deref() == Ok("server") {
        server::server_child();
        return;
    }
    println!("machine: {}", machine::machine());
    let secs: f64 = std::env::var("MW_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10.0);
    let db = std::env::var("MW_BENCH_DB").unwrap_or_else(|_| "mintwatch_bench_http".into());
    let rt = bench::runtime();
    rt.block_on(async {
        let store = store::bench_store(&db).await;
        let mut rng = StdRng::seed_from_u64(42);
        let s = samples::samples(&store, &mut rng).await;
        println!(
            "samples: {} burnt Ys, {} unknown Ys, {} mint keys, {} search words",
            s.known.len(),
            s.unknown.len(),
            s.mints.len(),
            s.words.len()
        );
        let mut routes = samples::routes(&s, &mut rng);
        if let Ok(keep) = std::env::var("MW_BENCH_ROUTES") {
            routes.retain(|r| {
                r.name.starts_with("GET /healthz") || keep.split(',').any(|k| r.name.contains(k))
            });
        }

        let only = std::env::var("MW_BENCH_ONLY").unwrap_or_default();
        let runs = |part: &str| only.is_empty() || only == part;
        if runs("http") {
            http::http_load(&store, &s, &routes, &db, secs).await;
        }
        if runs("nostr") {
            query_service::query_service(&store, &s, &mut rng).await;
        }
        if runs("web") {
            web::web_pages(&store).await;
        }
        println!("\nload at the end: {}", machine::load());
        store.close().await;
    });
}
