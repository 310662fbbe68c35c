//! The website's server time and page weight (issue 17's targets: p99 ≤ 50 ms, ≤ 100 KiB per
//! page before compression, charts included), over the same store as the HTTP load.
//!
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

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use tower::ServiceExt;

use mintwatch_api::{metrics_recorder, router, ApiState};
use mintwatch_store::Store;
use mintwatch_testkit::machine;

struct Timing {
    p50: Duration,
    p99: Duration,
    max_bytes: usize,
}

/// Each path through the router in turn, `n` requests; server time per request.
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

async fn keys(store: &Store, sql: &str) -> Vec<Vec<u8>> {
    sqlx::query_scalar(sql)
        .fetch_all(store.pool())
        .await
        .expect("mint keys")
}

/// Server time per page kind, and the heaviest page of each.
pub(crate) async fn web_pages(store: &Store) {
    let n: usize = std::env::var("MW_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let app = router(ApiState::new(
        store.clone(),
        metrics_recorder().expect("recorder"),
    ));
    let sim_mints = keys(
        store,
        "SELECT key FROM mints WHERE burn_count > 0 ORDER BY key",
    )
    .await;
    let mut others = keys(
        store,
        "SELECT key FROM mints WHERE burn_count = 0 ORDER BY key",
    )
    .await;
    others.shuffle(&mut StdRng::seed_from_u64(42));
    others.truncate(300);
    let css = measure(&app, &["/static/site.css".to_string()], 1)
        .await
        .max_bytes;
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
    println!();
    println!(
        "website: {} mints with burns, {n} requests per route, stylesheet {css} bytes",
        sim_mints.len()
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
    println!("load at the end: {}", machine::load());
}
